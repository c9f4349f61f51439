"""Janus as a child of `lawline serve`, kept up like Kamailio (telephony/front.py).

lawline writes Janus's configuration at every start (janus_config.py) and runs it in
the foreground (`janus -C <cfg> -F <folder> -o`, its log on the child's stdout); the
children's supervisor (children.py) restarts it if it dies and stops it on exit.
`MediaSupervisor` also waits until Janus's HTTP API answers (`GET /janus/info` with
the secret) after every start, and only then says the media server is up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from lawline.children import Child, Children
from lawline.config import Settings
from lawline.media.janus_client import JanusClient, JanusError
from lawline.media.janus_config import JanusConfig, JanusConfigError, write_config

log = logging.getLogger(__name__)

CHILD_NAME = "janus"
READY_POLL_S = 0.05


@dataclass(frozen=True)
class MediaServer:
    child: Child
    config: JanusConfig

    def client(self, timeout_s: float = 5.0) -> JanusClient:
        keys = self.config.secrets
        return JanusClient(
            self.config.api_url,
            keys.api_secret,
            self.config.admin_url,
            keys.admin_secret,
            timeout_s=timeout_s,
        )


def prepare_janus(
    settings: Settings, folder: Path | None = None, wrapper: Sequence[str] = ()
) -> MediaServer:
    """Write Janus's files (data_dir/janus, or `folder`); the child that runs it.
    `wrapper` goes before the command (the tests: `ip netns exec <ns>`)."""
    binary = shutil.which(settings.media.janus)
    if binary is None:
        raise JanusConfigError(
            f"{settings.media.janus} not found: install the janus package (scripts/setup.sh)"
        )
    config = write_config(settings, folder)
    args = [*wrapper, binary, "-C", str(config.main_file), "-F", str(config.folder), "-o"]
    return MediaServer(Child(CHILD_NAME, args, program=True), config)


def process_age_s(pid: int) -> float:
    """How long ago the process started (the kernel's record, 10 ms ticks)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, IndexError, ValueError):
        return 0.0
    return max(0.0, uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK"))


async def wait_ready(
    client: JanusClient,
    timeout_s: float,
    alive: Children | None = None,
    server_name: str = "",
) -> float:
    """Seconds until Janus's API answered `info` with the secret (and, given one, its
    server_name: not another Janus on the port); JanusError if it did not within
    timeout_s (or its process exited while waiting)."""
    started = time.monotonic()
    deadline = started + timeout_s
    last: JanusError | None = None
    while time.monotonic() < deadline:
        try:
            info = await client.info()
            if not server_name or info.get("server-name") == server_name:
                return time.monotonic() - started
            last = JanusError(f"another server answers at {client.api_url}")
        except JanusError as exc:
            last = exc
        if alive is not None:
            proc = alive.procs.get(CHILD_NAME)
            if proc is not None and proc.poll() is not None:
                raise JanusError(f"janus exited with {proc.returncode} while starting")
        await asyncio.sleep(READY_POLL_S)
    raise JanusError(f"Janus's API did not answer within {timeout_s} s: {last}")


class MediaSupervisor:
    """Runs Janus (restarted if it dies) and knows whether its API answers."""

    def __init__(
        self,
        server: MediaServer,
        env: Mapping[str, str],
        log_dir: Path | None = None,
        start_timeout_s: float = 20.0,
    ) -> None:
        self.server = server
        self.children = Children("media server", [server.child], env, log_dir)
        self.client = server.client()
        self.start_timeout_s = start_timeout_s
        self.ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.starts = 0  # how many times Janus was started and answered
        # How long the last start took, from the process's start to its API answering.
        self.last_start_s = 0.0

    @property
    def pid(self) -> int | None:
        proc = self.children.procs.get(CHILD_NAME)
        return proc.pid if proc is not None else None

    async def run(self) -> None:
        running = asyncio.create_task(self.children.run())
        try:
            seen: int | None = None
            while True:
                if running.done():
                    running.result()  # its error, if it failed
                    return
                pid = self.pid
                if pid is not None and pid != seen:
                    seen = pid
                    self.ready.clear()
                    await self._until_answering(pid)
                await asyncio.sleep(READY_POLL_S)
        finally:
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running

    async def _until_answering(self, pid: int) -> None:
        try:
            await wait_ready(
                self.client, self.start_timeout_s, self.children, self.server.config.server_name
            )
        except JanusError as exc:
            # Left to the children's supervisor: a Janus that exits is started again.
            log.error("media server not answering", extra={"pid": pid, "error": str(exc)})
            return
        self.starts += 1
        took = process_age_s(pid)
        self.last_start_s = took
        self.ready.set()
        log.info("media server up", extra={"pid": pid, "start_s": round(took, 3)})

    async def start(self) -> None:
        """Run it in a task of its own; return once Janus answers (JanusError if it does
        not within start_timeout_s, and it is stopped)."""
        self._task = asyncio.create_task(self.run())
        try:
            await self.wait_ready()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def wait_ready(self, timeout_s: float | None = None) -> None:
        try:
            async with asyncio.timeout(timeout_s or self.start_timeout_s):
                await self.ready.wait()
        except TimeoutError as exc:
            raise JanusError("the media server (Janus) did not come up") from exc
