"""Quality review of calls (质量评价), for supervisors: thin routes over
lawline/quality/service.py.

  GET  /api/quality/reviews?limit&unconfirmed&lawyer   worst first
  GET  /api/quality/reviews/{contact_id}               the findings and their evidence
  POST /api/quality/reviews/{contact_id} {score, note} the supervisor's score (audited)
  GET  /api/quality/figures?month=YYYY-MM              per lawyer, beside the ratings
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from lawline import centre_time
from lawline.quality import service
from lawline.quality.service import ReviewError
from lawline.web.db import in_transaction
from lawline.web.deps import DbDep, SettingsDep, Staff

router = APIRouter(prefix="/api/quality")
NOT_FOUND = {ReviewError: 404}


class Confirmation(BaseModel):
    score: float = Field(ge=0, le=100)
    note: str = Field(default="", max_length=500)


@router.get("/reviews")
async def reviews(
    db: DbDep,
    settings: SettingsDep,
    _: Staff,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    unconfirmed: bool = False,
    lawyer: Annotated[str | None, Query(max_length=64)] = None,
) -> list[dict[str, Any]]:
    pass_score = settings.quality.pass_score
    return await in_transaction(
        db, lambda s: service.review_list(s, limit, unconfirmed, lawyer, pass_score), {}
    )


@router.get("/reviews/{contact_id}")
async def review(contact_id: str, db: DbDep, _: Staff) -> dict[str, Any]:
    return await in_transaction(db, lambda s: service.review_of(s, contact_id), NOT_FOUND)


@router.post("/reviews/{contact_id}")
async def confirm(
    contact_id: str, body: Confirmation, db: DbDep, principal: Staff
) -> dict[str, Any]:
    now = datetime.now(UTC)

    def work(s: Any) -> dict[str, Any]:
        service.confirm(s, contact_id, principal.subject, body.score, body.note, now)
        return service.review_of(s, contact_id)

    return await in_transaction(db, work, NOT_FOUND)


@router.get("/figures")
async def figures(
    db: DbDep,
    settings: SettingsDep,
    _: Staff,
    month: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$")] = None,
) -> list[dict[str, Any]]:
    """Per lawyer for the month (the centre's): calls reviewed, mean score, critical
    failures, the citizens' mean rating."""
    tz = settings.zone
    first = (
        datetime.strptime(month, "%Y-%m").date()
        if month
        else centre_time.today(datetime.now(UTC), tz).replace(day=1)
    )
    nxt = first.replace(year=first.year + (first.month == 12), month=first.month % 12 + 1)
    start, end = centre_time.day_start(first, tz), centre_time.day_start(nxt, tz)
    return await in_transaction(db, lambda s: service.month_figures(s, start, end), {})
