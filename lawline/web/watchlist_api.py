"""The public-opinion watch list (舆情预警词), edited by admins in the browser: thin
routes over lawline/transcripts/alert_phrases.py.

  GET /api/alert-phrases   the list in force (saved, or the settings'), and its history
  PUT /api/alert-phrases {phrases: {category: [phrase...]}}   save it (admins; audited):
                           every process takes it within seconds
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel

from lawline.cases.models import AuditEntry
from lawline.transcripts import alert_phrases
from lawline.web.db import in_transaction
from lawline.web.deps import Admin, DbDep, QueueDep, SettingsDep, Staff

router = APIRouter(prefix="/api/alert-phrases")


class PhrasesIn(BaseModel):
    phrases: dict[str, list[str]]


@router.get("")
async def watch_list(queue: QueueDep, settings: SettingsDep, _: Staff) -> dict[str, Any]:
    redis, keys = queue.store.redis, queue.store.keys
    out = await alert_phrases.in_force(redis, keys, settings.transcripts.alert_phrases)
    return {**out, "history": await alert_phrases.history(redis, keys, 20)}


@router.put("")
async def save_watch_list(
    body: PhrasesIn, queue: QueueDep, settings: SettingsDep, db: DbDep, admin: Admin
) -> dict[str, Any]:
    redis, keys = queue.store.redis, queue.store.keys
    try:
        version = await alert_phrases.save(redis, keys, body.phrases, admin.subject, time.time())
    except alert_phrases.PhrasesRefused as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    counts = sum(len(v) for v in body.phrases.values())
    detail = f"version {version}: {len(body.phrases)} categories, {counts} phrases"
    entry = AuditEntry(
        at=datetime.now(UTC), actor=admin.subject, action="alerts.phrases", case_id="",
        detail=detail,
    )  # fmt: skip
    await in_transaction(db, lambda s: s.add(entry), {})
    return await watch_list(queue, settings, admin)
