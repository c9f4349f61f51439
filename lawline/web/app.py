"""The FastAPI application: routes, and the queue service running beside them."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

import lawline
from lawline.config import Settings
from lawline.queue.service import QueueService
from lawline.queue.store import QueueStore
from lawline.redis_client import connect_redis
from lawline.web import api, console, metrics
from lawline.web.auth import load_or_create_secret


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
