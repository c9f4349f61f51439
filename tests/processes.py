"""Child processes the tests start (speech services, a TURN server)."""

from __future__ import annotations

import contextlib
import os
import subprocess


def stop_process(proc: subprocess.Popen[bytes], grace_s: float = 10) -> None:
    """SIGTERM, then SIGKILL if it has not exited within the grace period."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def renice(pid: int, nice: int) -> None:
    """Every thread of `pid` to this niceness (Linux keeps it per thread); threads and
    processes started from them afterwards inherit it. Gone processes are skipped."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return
    for tid in tasks:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.setpriority(os.PRIO_PROCESS, int(tid), nice)
