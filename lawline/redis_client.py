"""The Redis client every lawline process uses (web, telephony workers)."""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError


def connect_redis(url: str) -> Redis:
    """A client that rides out a Redis restart: commands retry with backoff for ~10 s."""
    # A blocking pool: under load, callers wait for a connection instead of failing
    # (which the queue would take for Redis being down).
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=64,
        timeout=10,
        decode_responses=True,
        health_check_interval=10,
        retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=12),
        retry_on_error=[RedisConnectionError, RedisTimeoutError, ConnectionResetError],
    )
    return Redis(connection_pool=pool)
