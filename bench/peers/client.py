"""Driving webrtc_peers.py (N WebRTC peers in one GStreamer process) from asyncio.

    peers = await WebRTCPeers.start(["--ice-ip", "10.77.19.2"])   # Debian's python3
    offer = await peers.offer("p1")              # complete offer SDP (no trickle)
    answer = await bridge.join_webrtc(room, offer)
    peers.answer("p1", answer)                   # bursts of 1200 Hz start now
    await peers.wait("p1", "heard", 10)          # the far end's 440 Hz heard: its time
    figures = await peers.stats()                # {"cpu_s": .., "peers": {"p1": {...}}}
    await peers.quit()

The child runs in this process's network namespace. Its events' times are
time.monotonic() there, the same clock as here. See webrtc_peers.py for the commands
and each peer's figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

GENERATOR = Path(__file__).resolve().parent / "webrtc_peers.py"
SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's, with python3-gi (bench/setup_bench.sh)


class PeersError(RuntimeError):
    pass


class WebRTCPeers:
    """One generator process; its events by peer (`times[peer][event]`)."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.pid = proc.pid
        self.times: dict[str, dict[str, float]] = {}
        self.errors: list[dict[str, Any]] = []
        self._offers: dict[str, asyncio.Future[str]] = {}
        self._stats: asyncio.Future[dict[str, Any]] | None = None
        self._changed = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None

    @classmethod
    async def start(cls, args: list[str] | None = None) -> WebRTCPeers:
        proc = await asyncio.create_subprocess_exec(
            SYSTEM_PYTHON,
            str(GENERATOR),
            *(args or []),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=16 * 1024 * 1024,  # a stats line holds every peer's windows
        )
        peers = cls(proc)
        assert proc.stdout is not None
        ready = json.loads(await asyncio.wait_for(proc.stdout.readline(), 30))
        if ready.get("event") != "ready":
            raise PeersError(f"generator did not start: {ready}")
        peers._reader = asyncio.create_task(peers._read())
        return peers

    def _send(self, msg: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(msg).encode() + b"\n")

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            event = json.loads(line)
            kind, peer = event.get("event"), event.get("peer", "")
            if kind == "offer":
                future = self._offers.pop(peer, None)
                if future is not None and not future.done():
                    future.set_result(event["sdp"])
            elif kind == "stats":
                if self._stats is not None and not self._stats.done():
                    self._stats.set_result(event)
            elif kind == "error":
                self.errors.append(event)
                future = self._offers.pop(peer, None)
                if future is not None and not future.done():
                    future.set_exception(PeersError(event.get("error", "")))
            if "t" in event and peer:
                self.times.setdefault(peer, {})[kind] = event["t"]
            self._changed.set()
        for future in self._offers.values():  # the generator is gone
            if not future.done():
                future.set_exception(PeersError("generator exited"))

    async def offer(self, peer: str, timeout_s: float = 10) -> str:
        """A new peer's complete offer."""
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._offers[peer] = future
        self._send({"cmd": "offer", "peer": peer})
        return await asyncio.wait_for(future, timeout_s)

    def answer(self, peer: str, sdp: str) -> None:
        self._send({"cmd": "answer", "peer": peer, "sdp": sdp})

    async def wait(self, peer: str, event: str, timeout_s: float) -> float:
        """The time of `event` ("connected", "heard") for `peer`, once it came."""
        async with asyncio.timeout(timeout_s):
            while event not in self.times.get(peer, {}):
                self._changed.clear()
                await self._changed.wait()
        return self.times[peer][event]

    async def wait_closed(self, names: list[str], timeout_s: float) -> None:
        """Until the generator has said `closed` for every one of `names`."""
        async with asyncio.timeout(timeout_s):
            while any("closed" not in self.times.get(n, {}) for n in names):
                self._changed.clear()
                await self._changed.wait()

    async def stats(self, timeout_s: float = 10) -> dict[str, Any]:
        self._stats = asyncio.get_running_loop().create_future()
        self._send({"cmd": "stats"})
        return await asyncio.wait_for(self._stats, timeout_s)

    def close(self, peer: str) -> None:
        self._send({"cmd": "close", "peer": peer})

    async def quit(self) -> None:
        with contextlib.suppress(Exception):
            self._send({"cmd": "quit"})
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 15)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
