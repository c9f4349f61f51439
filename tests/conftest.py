"""Shared fixtures: real, private redis-servers (each starts in about 50 ms)."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from redis import Redis as SyncRedis
from redis.asyncio import Redis as AsyncRedis

from lawline.redis_server import EmbeddedRedis
from lawline.telephony import prompts
from tests.sip_helpers import Worker, telephony_worker


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    """A redis-server of this test's own: kill it, restart it, read its files."""
    with EmbeddedRedis(tmp_path / "redis") as server:
        yield server


@pytest.fixture
def redis_url(redis_server: EmbeddedRedis) -> str:
    return redis_server.url


@pytest.fixture(scope="session")
def shared_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    """One redis-server for the whole run; use it through `clean_redis_url`.

    Never kill or restart it: tests that do that want `redis_server`.
    """
    # No fsync: nothing here needs to survive a crash, and it keeps the run fast.
    with EmbeddedRedis(tmp_path_factory.mktemp("shared-redis"), appendfsync="no") as server:
        yield server


@pytest.fixture
def clean_redis_url(shared_redis: EmbeddedRedis) -> str:
    """The shared redis-server's URL, emptied for this test."""
    client = SyncRedis.from_url(shared_redis.url)
    try:
        client.flushall()
    finally:
        client.close()
    return shared_redis.url


@pytest.fixture
async def redis(clean_redis_url: str) -> AsyncIterator[AsyncRedis]:
    """A client of the shared, emptied redis-server (decoded strings)."""
    client = AsyncRedis.from_url(clean_redis_url, decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
def prompts_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """lawline's generated voice prompts, built once for the run."""
    out = tmp_path_factory.mktemp("prompts")
    prompts.build(out)
    return out


@pytest.fixture
def bridge_worker(tmp_path: Path, clean_redis_url: str, prompts_dir: Path) -> Iterator[Worker]:
    """A telephony worker whose WebRTC peers offer only 127.0.0.1."""
    env = {"LAWLINE_WEBRTC__HOST_ADDRESSES": '["127.0.0.1"]'}
    with telephony_worker(tmp_path, clean_redis_url, prompts_dir, **env) as w:
        yield w


def _pg_tool(name: str) -> str | None:
    """PATH first, then Debian's versioned directory (not on PATH)."""
    found = shutil.which(name) or sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found if isinstance(found, str) else (found[-1] if found else None)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A private PostgreSQL cluster for the run (as the postgres user: it refuses root),
    on a free loopback port; yields its base URL."""
    pytest.importorskip("psycopg", reason="no PostgreSQL driver installed")
    initdb, pg_ctl = _pg_tool("initdb"), _pg_tool("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip("no PostgreSQL server installed (scripts/setup.sh installs it)")
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    # Not under pytest's tmp: the postgres user cannot enter root's directories.
    with tempfile.TemporaryDirectory(prefix="lawline-pg-") as root:
        if as_user:
            shutil.chown(root, "postgres")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        data = f"{root}/data"
        run: dict[str, Any] = {"check": True, "capture_output": True, "timeout": 60}
        subprocess.run([*as_user, initdb, "-D", data, "-A", "trust", "-U", "lawline"], **run)
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
        # A log file of its own: the server would otherwise hold our output pipe open.
        start = [pg_ctl, "-D", data, "-o", options, "-l", f"{root}/log", "-w", "start"]
        subprocess.run([*as_user, *start], **run)
        try:
            yield f"postgresql+psycopg://lawline@127.0.0.1:{port}"
        finally:
            subprocess.run([*as_user, pg_ctl, "-D", data, "-m", "immediate", "stop"], **run)


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """An empty database of this test's own on the run's PostgreSQL."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    base = postgres_server.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return f"{postgres_server}/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The case database on each kind lawline supports."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'lawline.db'}"
    return str(request.getfixturevalue("postgres_url"))
