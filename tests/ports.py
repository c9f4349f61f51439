"""Ports for the servers and softphones the tests start.

Drawn at random (the suite runs in several processes) above the kernel's ephemeral
range, so no socket opened meanwhile (a client's connection, a browser's ICE, a
forwarder's socket) can take one between the check here and the server's own bind.
Where the kernel leaves too few ports there, the kernel's own pick as before."""

from __future__ import annotations

import random
import socket
from pathlib import Path


def above_ephemeral() -> range:
    """The ports above the kernel's ephemeral range (and below 65400)."""
    high = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[1])
    return range(max(high + 1, 1024), 65400)


def free_both(port: int, host: str = "127.0.0.1") -> bool:
    """Nothing holds `port` on `host`, for UDP or TCP."""
    with (
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp,
    ):
        try:
            tcp.bind((host, port))
            udp.bind((host, port))
        except OSError:
            return False
    return True


def free_sip_port() -> int:
    """A port free on 127.0.0.1 for both UDP and TCP: a SIP user agent (the worker, a
    test softphone) listens on both, and a port free for one may be taken for the other."""
    ports = above_ephemeral()
    if len(ports) >= 1000:
        for _ in range(500):
            port = random.choice(ports)
            if free_both(port):
                return port
    for _ in range(100):
        with (
            socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp,
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp,
        ):
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            try:
                udp.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no port free for both UDP and TCP")


def free_tcp_port() -> int:
    """A TCP port free on 127.0.0.1, for a server the test starts (redis-server,
    PostgreSQL, Janus's API, lawline's web process)."""
    return free_sip_port()
