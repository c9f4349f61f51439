"""`lawline serve` runs its telephony workers as child processes and keeps them up.

Each worker is `lawline telephony-worker` with its own SIP port and RTP port
range, joined to the same Redis. A worker that dies is started again; its
callers' contacts were already abandoned by the line dropping (or will be, by
the caller's own BYE reaching nobody and the queue seeing no more of them).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass

from lawline.config import Settings

log = logging.getLogger(__name__)

RESTART_DELAY_S = 1.0
STOP_TIMEOUT_S = 10.0
RTP_PORTS_PER_WORKER = 400


@dataclass
class WorkerSpec:
    name: str
    sip_port: int
    rtp_port: int


def worker_specs(settings: Settings) -> list[WorkerSpec]:
    """One worker on the configured SIP port for now; a pool behind a SIP front comes next."""
    tel = settings.telephony
    return [
        WorkerSpec(
            f"worker-{i + 1}", settings.sip_port + i, tel.rtp_port + i * RTP_PORTS_PER_WORKER
        )
        for i in range(tel.workers)
    ]


class WorkerSupervisor:
    def __init__(self, settings: Settings, redis_url: str) -> None:
        self.specs = worker_specs(settings)
        self.env = {
            **os.environ,
            "LAWLINE_REDIS_URL": redis_url,
            "LAWLINE_DATA_DIR": str(settings.data_dir),
        }
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._stopping = False

    def _start(self, spec: WorkerSpec) -> None:
        # Its own session: Ctrl+C reaches serve, which stops workers itself (and a
        # worker killed by the terminal would be restarted mid-shutdown). The
        # parent-death signal stops it if serve itself is killed.
        setpriv = shutil.which("setpriv")
        prefix = [setpriv, "--pdeathsig", "TERM", "--"] if setpriv else []
        self.procs[spec.name] = subprocess.Popen(
            [
                *prefix, sys.executable, "-m", "lawline", "telephony-worker",
                "--sip-port", str(spec.sip_port), "--rtp-port", str(spec.rtp_port),
                "--name", spec.name,
            ],
            env=self.env,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip

    async def run(self) -> None:
        """Start every worker and restart any that dies, until cancelled; then stop them."""
        for spec in self.specs:
            self._start(spec)
        try:
            while True:
                await asyncio.sleep(RESTART_DELAY_S)
                for spec in self.specs:
                    code = self.procs[spec.name].poll()
                    if code is not None:
                        log.error("telephony worker died, restarting", extra={
                            "worker": spec.name, "exit_code": code,
                        })  # fmt: skip
                        self._start(spec)
        finally:
            await asyncio.to_thread(self.stop)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for name, proc in self.procs.items():
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                log.error("telephony worker did not stop, killing it", extra={"worker": name})
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait()
