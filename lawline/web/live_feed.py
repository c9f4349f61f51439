"""The web process's one pattern subscription to every live transcript channel, handing
each segment to the consoles watching that contact."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from lawline.transcripts.store import TranscriptStore

log = logging.getLogger(__name__)

LISTENER_QUEUE = 500  # segments a slow console may fall behind before it is cut off
RESUBSCRIBE_S = 1.0


class LiveFeed:
    """Segments published by the bridges, fanned out to local listeners by contact."""

    def __init__(self, store: TranscriptStore, redis: Redis) -> None:
        self.store = store
        self.redis = redis
        self._listeners: dict[str, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            # redis-py can lose a cancel inside a blocking read: do not wait forever.
            await asyncio.wait({self._task}, timeout=5.0)

    @contextlib.asynccontextmanager
    async def watch(self, contact_id: str) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
        q: asyncio.Queue[dict[str, Any]] = asyncio.Queue(LISTENER_QUEUE)
        self._listeners[contact_id].add(q)
        try:
            yield q
        finally:
            self._listeners[contact_id].discard(q)
            if not self._listeners[contact_id]:
                del self._listeners[contact_id]

    async def _run(self) -> None:
        while True:
            try:
                async with self.redis.pubsub() as pubsub:
                    await pubsub.psubscribe(self.store.keys.every_live)
                    async for message in pubsub.listen():
                        if message["type"] == "pmessage":
                            self._dispatch(message["channel"], message["data"])
            except (RedisConnectionError, OSError) as exc:
                log.warning(
                    "live transcripts: redis lost, resubscribing",
                    extra={
                        "error": str(exc),
                    },
                )
                await asyncio.sleep(RESUBSCRIBE_S)

    def _dispatch(self, channel: str, data: str) -> None:
        listeners = self._listeners.get(channel.removeprefix(self.store.keys.live("")))
        if not listeners:
            return
        try:
            segment = json.loads(data)
        except json.JSONDecodeError:
            log.warning("undecodable live segment skipped", extra={"channel": channel})
            return
        for q in list(listeners):
            with contextlib.suppress(asyncio.QueueFull):  # a stuck console misses partials
                q.put_nowait(segment)
