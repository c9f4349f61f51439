"""The telephony workers `lawline serve` runs, and the SIP front before them.

Each worker is `lawline telephony-worker` with its own SIP port and RTP port
range, joined to the same Redis. Behind the front (the default) the workers'
SIP is on loopback and Kamailio answers on sip_host:sip_port; their RTP is on
sip_host, so media goes straight between the trunk and the worker. A worker or
Kamailio that dies is started again; a restarted worker first ends the contacts
of the calls it held (see HeldLines.release_lost in lines.py).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from lawline.children import Child, Children
from lawline.config import Settings
from lawline.telephony.front import WorkerAddress, prepare_front, worker_addresses


def worker_children(settings: Settings, workers: list[WorkerAddress]) -> list[Child]:
    return [
        Child(w.name, [
            "telephony-worker", "--name", w.name,
            "--sip-host", w.sip_host, "--sip-port", str(w.sip_port),
            "--media-host", settings.sip_host, "--rtp-port", str(w.rtp_port),
        ])
        for w in workers
    ]  # fmt: skip


def worker_supervisor(
    settings: Settings,
    redis_url: str,
    extra_env: Mapping[str, str] | None = None,
    log_dir: Path | None = None,
) -> Children:
    """Workers, then Kamailio in front of them and the keeper of its SIP accounts."""
    env = {
        **os.environ,
        "LAWLINE_REDIS_URL": redis_url,
        "LAWLINE_DATA_DIR": str(settings.data_dir),
        **(extra_env or {}),
    }
    workers = worker_addresses(settings)
    children = worker_children(settings, workers)
    if settings.telephony.front.enabled and workers:
        children.append(prepare_front(settings, workers, redis_url).child)
        # The terminals' SIP credentials, from the database to Kamailio's table.
        children.append(Child("sip-accounts", ["sip-accounts"]))
    return Children("telephony", children, env, log_dir)
