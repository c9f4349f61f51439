"""The centre's rule documents edited in the browser (the watch list, the routing
policy): the one in force in Redis with its version, who saved it and when, and every
version in its history. Saving is one script (scripts/saveVersioned-2.lua); each
process looks for a new version at most every few seconds and takes it."""

from __future__ import annotations

import json
from typing import Any

from redis.asyncio import Redis

from lawline.queue.store import load_script_sources

HISTORY_KEPT = 1000
_SAVE = load_script_sources()["saveVersioned"]


async def save(redis: Redis, key: str, history_key: str, doc: Any, by: str, now: float) -> int:
    """Save `doc` (JSON-able) as the one in force; its version."""
    script = redis.register_script(_SAVE)
    text = json.dumps(doc, ensure_ascii=False)
    return int(await script(keys=[key, history_key], args=[text, by, repr(now), HISTORY_KEPT]))


async def version(redis: Redis, key: str) -> int:
    raw = await redis.hget(key, "version")
    return int(raw) if raw is not None else 0


async def in_force(redis: Redis, key: str) -> dict[str, Any] | None:
    """{doc, version, by, at}, or None while none was saved."""
    saved = await redis.hgetall(key)
    if "doc" not in saved:
        return None
    return {
        "doc": json.loads(saved["doc"]),
        "version": int(saved.get("version", 0)),
        "by": saved.get("by", ""),
        "at": float(saved["at"]) if saved.get("at") else None,
    }


async def history(redis: Redis, history_key: str, count: int = 50) -> list[dict[str, Any]]:
    """Every saved version, newest first."""
    return [
        {
            "version": int(f.get("version", 0)),
            "by": f.get("by", ""),
            "at": float(f["at"]) if f.get("at") else None,
            "doc": json.loads(f.get("doc", "null")),
        }
        for _, f in await redis.xrevrange(history_key, count=count)
    ]
