"""Shared fixtures: real, private redis-servers (each starts in about 50 ms)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from lawline.redis_server import EmbeddedRedis


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
    client = redis.Redis.from_url(shared_redis.url)
    try:
        client.flushall()
    finally:
        client.close()
    return shared_redis.url
