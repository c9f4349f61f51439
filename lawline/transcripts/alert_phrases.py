"""The public-opinion watch list as the centre edits it (admins, in the browser).

The settings' list (`transcripts.alert_phrases`) is in force until an admin saves one;
the saved list lives in Redis (queue/keys.py `alert_phrases`), and every process that
transcribes (the telephony workers, the web processes) takes it at its next final once
REFRESH_S have passed since it last looked: `LivePhrases.current()`. Each save is kept
with who and when (`alert_phrases_history`) for the history on the admins' page; saving
is one script (queue/versioned.py). A list is checked before it is saved:
categories named like `wage_arrears`, each phrase 1 to MAX_LEN characters.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from lawline.queue import versioned
from lawline.queue.keys import QueueKeys
from lawline.transcripts.text import AlertRules, compact

log = logging.getLogger(__name__)

REFRESH_S = 5.0
MAX_CATEGORIES, MAX_PHRASES, MAX_LEN = 20, 200, 40
_CATEGORY = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


class PhrasesRefused(ValueError):
    """The list cannot be saved; the message (Chinese) says why."""


def checked(phrases: object) -> dict[str, list[str]]:
    """The list as it will be kept (phrases trimmed, duplicates and blanks dropped)."""
    if not isinstance(phrases, dict) or not 0 < len(phrases) <= MAX_CATEGORIES:
        raise PhrasesRefused(f"预警类别应为 1 至 {MAX_CATEGORIES} 个")
    out: dict[str, list[str]] = {}
    for category, listed in phrases.items():
        if not isinstance(category, str) or not _CATEGORY.match(category):
            raise PhrasesRefused("类别名称只能用小写字母、数字和下划线")
        if not isinstance(listed, list) or len(listed) > MAX_PHRASES:
            raise PhrasesRefused(f"每个类别最多 {MAX_PHRASES} 个预警词")
        kept: list[str] = []
        for phrase in listed:
            if not isinstance(phrase, str) or len(phrase.strip()) > MAX_LEN:
                raise PhrasesRefused(f"每个预警词最多 {MAX_LEN} 个字")
            if compact(phrase) and phrase.strip() not in kept:
                kept.append(phrase.strip())
        out[category] = kept
    return out


class LivePhrases:
    """The watch list in force in this process: the settings' until one is saved."""

    def __init__(
        self, configured: Mapping[str, Sequence[str]], redis: Redis, keys: QueueKeys
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.rules = AlertRules(configured)
        self.version = 0
        self._looked_at = float("-inf")

    async def current(self) -> AlertRules:
        now = time.monotonic()
        if now - self._looked_at >= REFRESH_S:
            self._looked_at = now
            try:
                await self._refresh()
            except (RedisError, ValueError) as exc:
                log.warning("alert phrases not refreshed", extra={"error": type(exc).__name__})
        return self.rules

    async def _refresh(self) -> None:
        if await versioned.version(self.redis, self.keys.alert_phrases) == self.version:
            return
        saved = await versioned.in_force(self.redis, self.keys.alert_phrases)
        if saved is None:
            return
        self.rules = AlertRules(checked(saved["doc"]))
        self.version = saved["version"]
        log.info("alert phrases updated", extra={"version": self.version})


async def in_force(
    redis: Redis, keys: QueueKeys, configured: Mapping[str, Sequence[str]]
) -> dict[str, Any]:
    """The list in force: saved (with who, when, its version) or the settings'."""
    saved = await versioned.in_force(redis, keys.alert_phrases)
    if saved is None:
        return {"phrases": {k: list(v) for k, v in configured.items()}, "version": 0,
                "by": "", "at": None, "from": "settings"}  # fmt: skip
    return {"phrases": saved.pop("doc"), **saved, "from": "saved"}


async def save(redis: Redis, keys: QueueKeys, phrases: object, by: str, now: float) -> int:
    """Check and save a list (PhrasesRefused if it is not one); its version."""
    kept = checked(phrases)
    return await versioned.save(
        redis, keys.alert_phrases, keys.alert_phrases_history, kept, by, now
    )


async def history(redis: Redis, keys: QueueKeys, count: int = 50) -> list[dict[str, Any]]:
    """The saved lists, newest first."""
    return [
        {**{k: v for k, v in h.items() if k != "doc"}, "phrases": h["doc"]}
        for h in await versioned.history(redis, keys.alert_phrases_history, count)
    ]
