"""EmbeddedRedis against a real redis-server."""

from __future__ import annotations

import asyncio
import os
import socket
import stat
import subprocess
from pathlib import Path

import pytest
import redis

from lawline.redis_server import EmbeddedRedis, EmbeddedRedisError


def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, decode_responses=True, socket_timeout=5)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _listening_tcp_ports(pid: int) -> list[str]:
    """TCP ports the process listens on, as `ss` sees them (any address)."""
    out = subprocess.run(
        ["ss", "-Hltnp"], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    return [line.split()[3] for line in out if f"pid={pid}," in line]


def test_private_redis_is_a_unix_socket_with_a_password(redis_server: EmbeddedRedis) -> None:
    """A local user or an SSRF cannot reach it; a process that finds the socket needs the
    password, which only lawline's user can read."""
    pid = redis_server.pid
    assert pid is not None
    assert redis_server.url.startswith("unix://")
    assert _client(redis_server.url).ping()
    assert _listening_tcp_ports(pid) == []
    with pytest.raises(redis.ConnectionError):
        redis.Redis(port=6379, socket_timeout=2).ping()
    without_password = redis.Redis(unix_socket_path=str(redis_server.socket_path))
    with pytest.raises(redis.AuthenticationError):
        without_password.set("lawline:session:forged", "admin")
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(unix_socket_path=str(redis_server.socket_path), password="guess").ping()
    assert stat.S_IMODE(redis_server.socket_path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(redis_server.socket_path.stat().st_mode) & 0o077 == 0
    for secret_file in (redis_server.password_path, redis_server.config_path):
        assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    # Not on the command line, which every local user can read.
    password = redis_server.password_path.read_text().strip()
    assert password not in Path(f"/proc/{pid}/cmdline").read_text()


def test_password_survives_restart(redis_server: EmbeddedRedis) -> None:
    url = redis_server.url
    redis_server.stop()
    redis_server.start()
    assert redis_server.url == url
    assert _client(url).ping()


def test_tcp_on_request_is_loopback_with_a_password(tmp_path: Path) -> None:
    with EmbeddedRedis(tmp_path / "redis", unix_socket=False) as server:
        assert server.url.startswith("redis://:")
        assert "@127.0.0.1:" in server.url
        assert _client(server.url).ping()
        port = int(server.url.rsplit(":", 1)[1].split("/")[0])
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=port, socket_timeout=2).set("k", "v")


def test_data_survives_restart(redis_server: EmbeddedRedis) -> None:
    url = redis_server.url
    _client(url).set("caller", "acknowledged")
    redis_server.restart()
    assert redis_server.url == url  # clients keep their URL
    assert _client(url).get("caller") == "acknowledged"


def test_data_survives_kill_with_fsync_always(redis_server: EmbeddedRedis) -> None:
    client = _client(redis_server.url)
    client.rpush("queue", *[f"caller-{i}" for i in range(100)])
    client.close()
    redis_server.kill()
    assert not redis_server.running
    redis_server.start()
    assert _client(redis_server.url).llen("queue") == 100


def test_stop_leaves_no_process(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path / "redis")
    server.start()
    pid = server.pid
    assert pid is not None
    url = server.url
    server.stop()
    assert not server.running
    assert _gone(pid)
    with pytest.raises(redis.ConnectionError):
        _client(url).ping()
    server.stop()  # a second stop is harmless


def test_port_taken_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = EmbeddedRedis(tmp_path / "redis", port=port, unix_socket=False)
        with pytest.raises(EmbeddedRedisError, match="Address already in use"):
            server.start()
        assert not server.running
    # The failed start let go of the data dir.
    with EmbeddedRedis(tmp_path / "redis"):
        pass


def test_one_server_per_data_dir(redis_server: EmbeddedRedis) -> None:
    with pytest.raises(EmbeddedRedisError, match="in use"):
        EmbeddedRedis(redis_server.data_dir).start()


def test_unix_socket(tmp_path: Path) -> None:
    with EmbeddedRedis(tmp_path / "r", unix_socket=True) as server:
        assert server.url.startswith("unix://")
        client = _client(server.url)
        client.set("k", "v")
        server.restart()
        assert _client(server.url).get("k") == "v"


async def test_supervise_restarts_a_dead_server(redis_server: EmbeddedRedis) -> None:
    _client(redis_server.url).set("caller", "waiting")
    supervisor = asyncio.create_task(redis_server.supervise(interval_s=0.05))
    try:
        old_pid = redis_server.pid
        redis_server.kill()
        for _ in range(200):
            await asyncio.sleep(0.05)
            if redis_server.running:
                break
        assert redis_server.running
        assert redis_server.pid != old_pid
        assert _client(redis_server.url).get("caller") == "waiting"
    finally:
        supervisor.cancel()


async def test_supervise_leaves_a_stopped_server_alone(redis_server: EmbeddedRedis) -> None:
    supervisor = asyncio.create_task(redis_server.supervise(interval_s=0.02))
    try:
        redis_server.stop()
        await asyncio.sleep(0.2)
        assert not redis_server.running
    finally:
        supervisor.cancel()


def test_shared_redis_is_clean(clean_redis_url: str) -> None:
    client = _client(clean_redis_url)
    assert client.dbsize() == 0
    client.set("left", "behind")
