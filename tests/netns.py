"""Network namespaces of a test's own, for browsers that must not share a network.

The test itself runs in the loopback-only `lawline-tests` namespace, which other
test runs share: nothing here adds to it. Instead each browser gets a namespace
of its own (named `lawline-v7-...`, deleted at teardown), linked to the others by
veth pairs as the test needs, and reaches the lawline server through a small TCP
forwarder: a listening socket made inside the browser's namespace (a thread that
enters it with setns(2)) whose connections are carried to the server's loopback
port here. So the websocket always works, and only the media takes the paths the
test builds (and breaks).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import socket
import stat
import subprocess
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

CLONE_NEWNET = 0x40000000
PREFIX = "lawline-v7-"


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


@contextlib.contextmanager
def namespace(purpose: str) -> Iterator[str]:
    """A new namespace with loopback up, deleted on exit (with its veth ends)."""
    name = f"{PREFIX}{purpose}-{uuid.uuid4().hex[:6]}"
    ip("netns", "add", name)
    try:
        ip("-n", name, "link", "set", "lo", "up")
        yield name
    finally:
        subprocess.run(["ip", "netns", "delete", name], capture_output=True, timeout=30)


def link(ns_a: str, addr_a: str, ns_b: str, addr_b: str, prefix_len: int = 30) -> str:
    """A veth pair between two namespaces, addressed and up; returns the name of a's end
    (take it down and up to cut the path)."""
    tag = uuid.uuid4().hex[:6]
    end_a, end_b = f"v7a{tag}", f"v7b{tag}"
    ip("link", "add", end_a, "netns", ns_a, "type", "veth", "peer", "name", end_b, "netns", ns_b)
    for ns, end, addr in ((ns_a, end_a, addr_a), (ns_b, end_b, addr_b)):
        ip("-n", ns, "addr", "add", f"{addr}/{prefix_len}", "dev", end)
        ip("-n", ns, "link", "set", end, "up")
    return end_a


def local_veth(ends: tuple[str, str], addresses: dict[str, str]) -> None:
    """A veth pair whose two ends both stay in the current namespace, up, with these
    addresses ({end: "a.b.c.d/len"}): private addresses that are not loopback (Janus
    offers no loopback ICE candidate) and from which nothing leaves. Made if missing."""
    if subprocess.run(["ip", "link", "show", ends[0]], capture_output=True).returncode:
        ip("link", "add", ends[0], "type", "veth", "peer", "name", ends[1])
    for end, address in addresses.items():
        ip("addr", "replace", address, "dev", end)
    for end in ends:
        ip("link", "set", end, "up")


def set_link(ns: str, end: str, up: bool) -> None:
    ip("-n", ns, "link", "set", end, "up" if up else "down")


def _listen_inside(ns: str, port: int) -> socket.socket:
    """A socket listening on 127.0.0.1:port inside `ns` (made on a thread that enters it;
    a socket stays in the namespace it was made in)."""
    made: list[socket.socket | BaseException] = []

    def run() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(f"/var/run/netns/{ns}", os.O_RDONLY)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "setns failed")
            finally:
                os.close(fd)
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
            s.listen(64)
            s.setblocking(False)
            made.append(s)
        except BaseException as exc:  # handed to the caller
            made.append(exc)

    t = threading.Thread(target=run)
    t.start()
    t.join()
    result = made[0]
    if isinstance(result, BaseException):
        raise result
    return result


@contextlib.asynccontextmanager
async def forward_into(ns: str, port: int) -> AsyncIterator[None]:
    """127.0.0.1:port inside `ns` carried to 127.0.0.1:port here (the lawline server)."""

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    server = await asyncio.start_server(handle, sock=_listen_inside(ns, port))
    try:
        yield
    finally:
        server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 5)


def chromium_in(ns: str, directory: Path, chromium: str) -> Path:
    """A launcher Playwright can start: Debian's chromium inside `ns`."""
    path = directory / f"chromium-{ns}"
    path.write_text(f'#!/bin/sh\nexec ip netns exec {ns} {chromium} "$@"\n')
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path
