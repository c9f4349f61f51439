"""The public-opinion watch list as the centre edits it (admins, in the browser).

The settings' list (`transcripts.alert_phrases`) is in force until an admin saves one;
the saved list lives in Redis (queue/keys.py `alert_phrases`), and every process that
transcribes (the telephony workers, the web processes) takes it at its next final once
REFRESH_S have passed since it last looked: `LivePhrases.current()`. Each save is kept
with who and when (`alert_phrases_history`) for the history on the admins' page; saving
is one script (scripts/saveAlertPhrases-2.lua). A list is checked before it is saved:
categories named like `wage_arrears`, each phrase 1 to MAX_LEN characters.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from lawline.queue.keys import QueueKeys
from lawline.transcripts.text import AlertRules, compact

log = logging.getLogger(__name__)

REFRESH_S = 5.0
MAX_CATEGORIES, MAX_PHRASES, MAX_LEN = 20, 200, 40
HISTORY_KEPT = 1000
_CATEGORY = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_SAVE = (resources.files("lawline.transcripts") / "scripts" / "saveAlertPhrases-2.lua").read_text()


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
        version = await self.redis.hget(self.keys.alert_phrases, "version")
        if version is None or int(version) == self.version:
            return
        raw = await self.redis.hget(self.keys.alert_phrases, "phrases")
        self.rules = AlertRules(checked(json.loads(raw or "{}")))
        self.version = int(version)
        log.info("alert phrases updated", extra={"version": self.version})


async def in_force(
    redis: Redis, keys: QueueKeys, configured: Mapping[str, Sequence[str]]
) -> dict[str, Any]:
    """The list in force: saved (with who, when, its version) or the settings'."""
    saved = await redis.hgetall(keys.alert_phrases)
    if "phrases" not in saved:
        return {"phrases": {k: list(v) for k, v in configured.items()}, "version": 0,
                "by": "", "at": None, "from": "settings"}  # fmt: skip
    return {
        "phrases": json.loads(saved["phrases"]),
        "version": int(saved.get("version", 0)),
        "by": saved.get("by", ""),
        "at": float(saved["at"]) if saved.get("at") else None,
        "from": "saved",
    }


async def save(redis: Redis, keys: QueueKeys, phrases: object, by: str, now: float) -> int:
    """Check and save a list (PhrasesRefused if it is not one); its version."""
    kept = checked(phrases)
    script = redis.register_script(_SAVE)
    text = json.dumps(kept, ensure_ascii=False)
    keys_ = [keys.alert_phrases, keys.alert_phrases_history]
    return int(await script(keys=keys_, args=[text, by, repr(now), HISTORY_KEPT]))


async def history(redis: Redis, keys: QueueKeys, count: int = 50) -> list[dict[str, Any]]:
    """The saved lists, newest first."""
    entries = await redis.xrevrange(keys.alert_phrases_history, count=count)
    return [
        {
            "version": int(f.get("version", 0)),
            "by": f.get("by", ""),
            "at": float(f["at"]) if f.get("at") else None,
            "phrases": json.loads(f.get("phrases", "{}")),
        }
        for _, f in entries
    ]
