"""The telephony workers `lawline serve` runs.

Each worker is `lawline telephony-worker` with its own SIP port and RTP port
range, joined to the same Redis. A worker that dies is started again; its
callers' contacts were already abandoned by the line dropping (or will be, by
the caller's own BYE reaching nobody and the queue seeing no more of them).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from lawline.children import Child, Children
from lawline.config import Settings

RTP_PORTS_PER_WORKER = 400


def worker_children(settings: Settings) -> list[Child]:
    """One worker on the configured SIP port for now; a pool behind a SIP front comes next."""
    tel = settings.telephony
    return [
        Child(f"worker-{i + 1}", [
            "telephony-worker", "--name", f"worker-{i + 1}",
            "--sip-port", str(settings.sip_port + i),
            "--rtp-port", str(tel.rtp_port + i * RTP_PORTS_PER_WORKER),
        ])
        for i in range(tel.workers)
    ]


def worker_supervisor(
    settings: Settings, redis_url: str, extra_env: Mapping[str, str] | None = None
) -> Children:
    env = {
        **os.environ,
        "LAWLINE_REDIS_URL": redis_url,
        "LAWLINE_DATA_DIR": str(settings.data_dir),
        **(extra_env or {}),
    }
    return Children("telephony worker", worker_children(settings), env)
