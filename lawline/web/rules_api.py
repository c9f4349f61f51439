"""The centre's rules edited by admins in the browser, each in force in every process
within seconds and kept with its history (queue/versioned.py): thin routes over
lawline/transcripts/alert_phrases.py and lawline/queue/live_policy.py.

  GET /api/alert-phrases   the watch list (舆情预警词) in force, and its history
  PUT /api/alert-phrases {phrases: {category: [phrase...]}}   save it (admins; audited)
  GET /api/routing-policy  the routing policy (分流规则) in force, and its history
  PUT /api/routing-policy {default: {steps}, queues: {service: {steps}}}   (admins; audited)
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel

from lawline.cases.models import AuditEntry
from lawline.queue import live_policy
from lawline.transcripts import alert_phrases
from lawline.web.db import in_transaction
from lawline.web.deps import Admin, DbDep, QueueDep, SettingsDep, Staff

router = APIRouter(prefix="/api")


class PhrasesIn(BaseModel):
    phrases: dict[str, list[str]]


@router.get("/alert-phrases")
async def watch_list(queue: QueueDep, settings: SettingsDep, _: Staff) -> dict[str, Any]:
    redis, keys = queue.store.redis, queue.store.keys
    out = await alert_phrases.in_force(redis, keys, settings.transcripts.alert_phrases)
    return {**out, "history": await alert_phrases.history(redis, keys, 20)}


@router.put("/alert-phrases")
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
    await _audit(db, admin.subject, "alerts.phrases", detail)
    return await watch_list(queue, settings, admin)


@router.get("/routing-policy")
async def routing_policy(queue: QueueDep, settings: SettingsDep, _: Staff) -> dict[str, Any]:
    redis, keys = queue.store.redis, queue.store.keys
    out = await live_policy.in_force(redis, keys, settings.routing)
    return {**out, "history": await live_policy.history(redis, keys, 20)}


@router.put("/routing-policy")
async def save_routing_policy(
    body: live_policy.Policies, queue: QueueDep, settings: SettingsDep, db: DbDep, admin: Admin
) -> dict[str, Any]:
    """Checked as the settings' are (422 with why: steps only relax); then in force."""
    version = await live_policy.save(
        queue.store.redis, queue.store.keys, body, admin.subject, time.time()
    )
    await _audit(db, admin.subject, "routing.policy", f"version {version}")
    return await routing_policy(queue, settings, admin)


async def _audit(db: Any, actor: str, action: str, detail: str) -> None:
    entry = AuditEntry(at=datetime.now(UTC), actor=actor, action=action, case_id="", detail=detail)
    await in_transaction(db, lambda s: s.add(entry), {})
