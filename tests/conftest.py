"""Shared fixtures: real, private redis-servers (each starts in about 50 ms), each on a
unix socket in a 0700 folder with a generated password, as `lawline serve` runs its own."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis import Redis as SyncRedis
from redis.asyncio import Redis as AsyncRedis

from lawline.redis_server import EmbeddedRedis
from lawline.telephony import prompts
from tests.media_server import ensure_media_address, media_env, media_possible, run_janus
from tests.postgres import have_postgres, private_postgres
from tests.processes import renice
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


@pytest.fixture(scope="session", autouse=True)
def media_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The run's Janus (tests/media_server.py), its LAWLINE_MEDIA__* set for the whole run;
    {} where it cannot run (the tests that need it skip: `needs_media`)."""
    if not media_possible():
        yield {}
        return
    ensure_media_address()
    folder = tmp_path_factory.mktemp("janus")
    env = media_env(folder / "config")
    with run_janus(env, folder) as janus:
        os.environ["LAWLINE_TEST_JANUS_PID"] = str(janus.pid)  # for `realtime`
        patch = pytest.MonkeyPatch()
        for key, value in env.items():
            patch.setenv(key, value)
        try:
            yield env
        finally:
            patch.undo()


@pytest.fixture
def media(media_server: dict[str, str]) -> dict[str, str]:
    """The run's media server, or the test skips."""
    if not media_server:
        pytest.skip("needs the run's media server (root, janus, scripts/test.sh's namespace)")
    return media_server


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A test of real-time audio with its own peer in this process is marked `alone`:
    # scripts/test.sh runs those after the others, with nothing beside them.
    for item in items:
        if "realtime" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.alone)


@pytest.fixture
def realtime() -> Iterator[None]:
    """This test's media path ahead of whatever the run's other workers do (the suite
    shares two cores between two of them): its own process, what it starts, and the
    run's Janus, as a centre's machine would run media ahead of transcription. The
    tone checks of an audio path in Python (a test's aiortc peer) otherwise lose
    100 ms windows when a Whisper or browser test on the other core takes the CPU."""
    pids = [os.getpid()]
    if janus := os.environ.get("LAWLINE_TEST_JANUS_PID"):
        pids.append(int(janus))
    for pid in pids:
        renice(pid, -10)
    try:
        yield
    finally:
        for pid in pids:
            renice(pid, 0)


@pytest.fixture
def bridge_worker(
    tmp_path: Path, clean_redis_url: str, prompts_dir: Path, media: dict[str, str]
) -> Iterator[Worker]:
    """A telephony worker whose calls' rooms are on the run's media server."""
    with telephony_worker(tmp_path, clean_redis_url, prompts_dir, **media) as w:
        yield w


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A private PostgreSQL cluster for the run; yields its base URL."""
    pytest.importorskip("psycopg", reason="no PostgreSQL driver installed")
    if not have_postgres():
        pytest.skip("no PostgreSQL server installed (scripts/setup.sh installs it)")
    with private_postgres("lawline-pg-", stop="immediate", timeout_s=60) as url:
        yield url


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
