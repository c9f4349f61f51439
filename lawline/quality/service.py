"""Reviewing every finished call, and what supervisors do with the reviews.

`QualityReviewer` runs in the web process: every POLL_S it reviews the calls that ended
with a transcript and have no review yet (oldest first, a batch at a time), by the
centre's rules, and stores each review with the contact. A call whose review fails (a
record lawline cannot read) is set aside, counted and logged by its id, and the rest go
on. Supervisors list the reviews worst first, read one's evidence, and confirm or
correct its score (audited); the monthly figures per lawyer stand beside the citizens'
ratings.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Integer, and_, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from lawline.cases.models import AuditEntry, LedgerContact, TranscriptLine
from lawline.quality.models import QualityReview
from lawline.quality.review import Line, holds_of, review
from lawline.quality.rules import QualitySettings

log = logging.getLogger(__name__)

POLL_S = 10.0
BATCH = 50


class ReviewError(Exception):
    """What a supervisor asked of a review cannot be done (the message says why)."""


def pending(session: Session, limit: int, skip: set[str]) -> list[str]:
    """Ended calls with transcript lines and no review yet, oldest first."""
    # Holds alone are no transcript: a call nobody's words were kept of is not reviewed.
    has_lines = exists().where(
        TranscriptLine.contact_id == LedgerContact.id, TranscriptLine.kind != "hold"
    )
    reviewed = exists().where(QualityReview.contact_id == LedgerContact.id)
    query = (
        select(LedgerContact.id)
        .where(and_(LedgerContact.state == "ended", has_lines, ~reviewed))
        .order_by(LedgerContact.ended_at)
        .limit(limit + len(skip))
    )
    return [cid for cid in session.scalars(query) if cid not in skip][:limit]


def review_contact(
    session: Session, contact_id: str, settings: QualitySettings, now: datetime
) -> QualityReview:
    contact = session.get(LedgerContact, contact_id)
    if contact is None:
        raise LookupError(contact_id)
    rows = session.scalars(
        select(TranscriptLine).where(
            TranscriptLine.contact_id == contact_id, TranscriptLine.kind.in_(("final", "hold"))
        )
    ).all()
    lines = [
        Line(r.leg, float(r.start), float(r.end), r.text or "") for r in rows if r.kind == "final"
    ]
    end = max((ln.end for ln in lines), default=0.0)
    marks = [(float(r.start), r.text) for r in rows if r.kind == "hold"]
    result = review(lines, settings.rules, holds_of(marks, end))
    row = QualityReview(
        contact_id=contact_id,
        lawyer=contact.lawyer or contact.first_lawyer,
        reviewed_at=now,
        score=result.score,
        critical_failed=result.critical_failed,
        findings=[f.json() for f in result.findings],
        note="",
    )
    session.add(row)
    return row


class QualityReviewer:
    def __init__(self, db: sessionmaker[Session], settings: QualitySettings) -> None:
        self.db = db
        self.settings = settings
        self.reviewed = 0
        self.set_aside: set[str] = set()

    async def run(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.review_due)
            except Exception:
                log.exception("quality reviews not made this round")
            await asyncio.sleep(POLL_S)

    def review_due(self, now: datetime | None = None) -> int:
        """Review what is due now (a batch); how many were reviewed."""
        with self.db() as session:
            due = pending(session, BATCH, self.set_aside)
        done = 0
        for contact_id in due:
            try:
                with self.db() as session, session.begin():
                    review_contact(session, contact_id, self.settings, now or datetime.now(UTC))
                done += 1
            except IntegrityError:
                pass  # another web process reviewed it first
            except Exception as exc:
                self.set_aside.add(contact_id)
                log.error(
                    "quality review set aside",
                    extra={"contact": contact_id, "error": type(exc).__name__},
                )
        self.reviewed += done
        return done


def review_list(
    session: Session, limit: int, unconfirmed: bool, lawyer: str | None, pass_score: float = 80
) -> list[dict[str, Any]]:
    """Worst first: critical failures, then the lowest scores."""
    query = select(QualityReview, LedgerContact.rating, LedgerContact.ended_at).join(
        LedgerContact, LedgerContact.id == QualityReview.contact_id
    )
    if unconfirmed:
        query = query.where(QualityReview.confirmed_at.is_(None))
    if lawyer:
        query = query.where(QualityReview.lawyer == lawyer)
    query = query.order_by(
        QualityReview.critical_failed.desc(), QualityReview.score, QualityReview.reviewed_at
    ).limit(limit)
    return [
        {
            "contact_id": r.contact_id,
            "lawyer": r.lawyer,
            "ended_at": ended.isoformat() if ended else None,
            "score": r.score,
            "critical_failed": r.critical_failed,
            "passed": not r.critical_failed and r.score >= pass_score,
            "failed": [f["name"] for f in r.findings if not f["held"]],
            "confirmed_score": r.confirmed_score,
            "rating": rating,
        }
        for r, rating, ended in session.execute(query)
    ]


def review_of(session: Session, contact_id: str) -> dict[str, Any]:
    r = session.get(QualityReview, contact_id)
    if r is None:
        raise ReviewError("这通电话还没有质量评价")
    return {
        "contact_id": r.contact_id,
        "lawyer": r.lawyer,
        "reviewed_at": r.reviewed_at.isoformat(),
        "score": r.score,
        "critical_failed": r.critical_failed,
        "findings": r.findings,
        "confirmed_score": r.confirmed_score,
        "reviewer": r.reviewer,
        "note": r.note,
        "confirmed_at": r.confirmed_at.isoformat() if r.confirmed_at else None,
    }


def confirm(
    session: Session, contact_id: str, reviewer: str, score: float, note: str, now: datetime
) -> None:
    """The supervisor's score stands (the rules' is kept beside it); audited."""
    r = session.get(QualityReview, contact_id)
    if r is None:
        raise ReviewError("这通电话还没有质量评价")
    r.confirmed_score, r.reviewer, r.note, r.confirmed_at = score, reviewer, note, now
    detail = f"contact {contact_id} score {score:g} (rules {r.score:g})"
    session.add(
        AuditEntry(at=now, actor=reviewer, action="quality.confirm", case_id="", detail=detail)
    )


def month_figures(session: Session, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Per lawyer, for calls reviewed in [start, end): how many, the mean score (the
    supervisor's where they gave one), critical failures, and the citizens' mean rating."""
    score = func.coalesce(QualityReview.confirmed_score, QualityReview.score)
    query = (
        select(
            QualityReview.lawyer,
            func.count(),
            func.avg(score),
            func.sum(func.cast(QualityReview.critical_failed, Integer)),
            func.avg(LedgerContact.rating),
        )
        .join(LedgerContact, LedgerContact.id == QualityReview.contact_id)
        .where(QualityReview.reviewed_at >= start, QualityReview.reviewed_at < end)
        .group_by(QualityReview.lawyer)
        .order_by(QualityReview.lawyer)
    )
    return [
        {
            "lawyer": lawyer,
            "reviewed": n,
            "mean_score": round(float(mean), 1) if mean is not None else None,
            "critical_failed": int(crit or 0),
            "mean_rating": round(float(rating), 2) if rating is not None else None,
        }
        for lawyer, n, mean, crit, rating in session.execute(query)
    ]
