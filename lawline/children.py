"""`lawline serve` runs its helpers (telephony workers, transcribers) as child
processes and keeps them up.

Each child runs in its own session: Ctrl+C reaches serve, which stops the
children itself (a child killed by the terminal would be restarted mid-shutdown).
The parent-death signal stops it if serve itself is killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

RESTART_DELAY_S = 1.0
STOP_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Child:
    name: str
    args: Sequence[str]  # after `python -m lawline`, or the whole command if program
    program: bool = False


class Children:
    """Start every child, restart any that dies, stop them all when cancelled."""

    def __init__(
        self,
        kind: str,
        children: Sequence[Child],
        env: Mapping[str, str],
        log_dir: Path | None = None,
    ) -> None:
        self.kind = kind
        self.children = list(children)
        self.env = dict(env)
        # None: children write to serve's own stdout and stderr.
        self.log_dir = log_dir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def _start(self, child: Child) -> None:
        setpriv = shutil.which("setpriv")
        prefix = [setpriv, "--pdeathsig", "TERM", "--"] if setpriv else []
        lawline = [sys.executable, "-m", "lawline"]
        command = list(child.args) if child.program else [*lawline, *child.args]
        out = None
        if self.log_dir is not None:
            out = (self.log_dir / f"{child.name.replace('/', '_')}.log").open("ab")
        try:
            self.procs[child.name] = subprocess.Popen(
                [*prefix, *command],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT if out else None,
                start_new_session=True,
            )
        finally:
            if out is not None:
                out.close()

    async def run(self) -> None:
        for child in self.children:
            self._start(child)
        try:
            while True:
                await asyncio.sleep(RESTART_DELAY_S)
                for child in self.children:
                    code = self.procs[child.name].poll()
                    if code is not None:
                        log.error(
                            f"{self.kind} died, restarting",
                            extra={
                                "child": child.name,
                                "exit_code": code,
                            },
                        )
                        # Its own forks (Kamailio's) would hold its ports: they go too.
                        _kill_group(self.procs[child.name].pid)
                        self._start(child)
        finally:
            await asyncio.to_thread(self.stop)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
            else:
                _kill_group(proc.pid)
        for name, proc in self.procs.items():
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                log.error(f"{self.kind} did not stop, killing it", extra={"child": name})
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait()
            _kill_group(proc.pid)


def _kill_group(pgid: int) -> None:
    """Whatever is left of a child's session (it leads its own group)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
