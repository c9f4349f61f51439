"""The FastAPI application: routes, and the queue service running beside them."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

import lawline
from lawline.config import Settings
from lawline.queue.service import QueueService
from lawline.queue.store import QueueStore
from lawline.web import api, console, metrics
from lawline.web.auth import load_or_create_secret


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


def create_app(settings: Settings, redis_url: str) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redis = connect_redis(redis_url)
        queue = QueueService(QueueStore(redis, settings.redis_prefix), settings)
        await queue.start()
        app.state.queue = queue
        try:
            yield
        finally:
            await queue.stop()
            await redis.aclose()

    app = FastAPI(
        title="lawline",
        version=lawline.__version__,
        summary="12348 public legal service hotline: duty-lawyer queue API",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.secret = load_or_create_secret(settings.secret_key, settings.data_dir)
    app.state.open_consoles = Counter()
    app.include_router(api.router)
    app.include_router(console.router)
    app.include_router(metrics.router)
    return app
