"""Transcripts in Redis: stored per contact, streamed live to whoever watches it.

Keys (transcripts/keys.py):

  P:transcript:ID       stream  the contact's finals, gaps, holds and status changes
  P:transcript-meta:ID  hash    started_at, status, recording:NAME -> path of each leg's audio
  P:live:ID             pubsub  every segment as it happens, partials included

Partials are only published: they are replaced a few times a second and the
record needs only the finals. The ledger (the case database) takes the stream
over when the contact ends; until then the keys live for `TRANSCRIPT_TTL_S`.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis

from lawline.queue.store import QueueStore
from lawline.transcripts.keys import TranscriptKeys
from lawline.transcripts.segments import Hold, Kind, Leg, Segment
from lawline.transcripts.text import AlertMatch

TRANSCRIPT_TTL_S = 30 * 24 * 3600


class TranscriptStore:
    def __init__(self, queue_store: QueueStore, clock: Callable[[], float] = time.time) -> None:
        self.queue_store = queue_store
        self.redis: Redis = queue_store.redis
        self.keys = TranscriptKeys(queue_store.prefix)
        self.clock = clock

    async def started(self, contact_id: str, started_at: float, **meta: str) -> float:
        """Record a transcript's start; returns the start of the contact's first part
        (a transferred contact's transcript goes on from there)."""
        key = self.keys.meta(contact_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hsetnx(key, "started_at", repr(started_at))
            if meta:
                pipe.hset(key, mapping=meta)
            pipe.expire(key, TRANSCRIPT_TTL_S)
            pipe.hget(key, "started_at")
            *_, first = await pipe.execute()
        return float(first)

    async def segment(self, contact_id: str, seg: Segment) -> None:
        data = json.dumps(seg.to_json(), ensure_ascii=False)
        async with self.redis.pipeline(transaction=False) as pipe:
            if seg.kind not in (Kind.PARTIAL, Kind.LISTENING):
                key = self.keys.transcript(contact_id)
                pipe.xadd(key, {"segment": data})
                pipe.expire(key, TRANSCRIPT_TTL_S)
            if seg.kind == Kind.STATUS:
                pipe.hset(self.keys.meta(contact_id), "status", data)
            pipe.publish(self.keys.live(contact_id), data)
            await pipe.execute()

    async def hold(self, contact_id: str, on: bool, at: float) -> Segment | None:
        """The lawyer put the caller on hold (or came back) at `at` (epoch seconds): kept
        with the transcript on its own clock, for the quality review. None if the
        transcript has not started (nothing to put it on)."""
        if not isinstance(on, bool) or not math.isfinite(at):
            raise ValueError("a hold needs on: true or false and a time")
        started = await self.redis.hget(self.keys.meta(contact_id), "started_at")
        if started is None:
            return None
        # The web process's clock against the worker's: both kept by NTP; never before
        # the transcript's start.
        t = max(0.0, at - float(started))
        seg = Segment(Kind.HOLD, Leg.LAWYER, Hold.ON if on else Hold.OFF, t, t)
        await self.segment(contact_id, seg)
        return seg

    async def alert(self, contact_id: str, seg: Segment, match: AlertMatch) -> bool:
        now = self.clock()
        alert = {
            "contact_id": contact_id,
            "category": match.category,
            "phrase": match.phrase,
            "leg": seg.leg.value if seg.leg else "",
            "text": seg.text,
            "start": round(seg.start, 2),
            "at": now,
        }
        return await self.queue_store.raise_alert(
            contact_id, json.dumps(alert, ensure_ascii=False), now
        )

    async def closed(self, contact_id: str) -> None:
        await self.queue_store.transcript_closed(contact_id, self.clock())

    async def read_entries(self, contact_id: str) -> list[tuple[str, Segment]]:
        """The stored segments with their stream ids (the ledger's idempotency key)."""
        entries = await self.redis.xrange(self.keys.transcript(contact_id))
        return [(i, Segment.from_json(json.loads(f["segment"]))) for i, f in entries]

    async def read(self, contact_id: str) -> tuple[dict[str, Any], list[Segment]]:
        """The stored transcript: its meta (started_at, recordings...) and its segments."""
        meta = await self.redis.hgetall(self.keys.meta(contact_id))
        entries = await self.redis.xrange(self.keys.transcript(contact_id))
        segments = [Segment.from_json(json.loads(f["segment"])) for _, f in entries]
        out: dict[str, Any] = {k: v for k, v in meta.items() if not k.startswith("recording:")}
        out["recordings"] = sorted(v for k, v in meta.items() if k.startswith("recording:"))
        if "started_at" in out:
            out["started_at"] = float(out["started_at"])
        if "status" in out:
            out["status"] = json.loads(out["status"])
        return out, segments
