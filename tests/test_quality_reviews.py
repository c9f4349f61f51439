"""Every finished call with a transcript is reviewed in the background by the centre's
rules and kept with the contact; supervisors list the reviews worst first, read one's
evidence, confirm or correct its score (audited), and see the month per lawyer beside
the citizens' ratings. A real app over SQLite."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from lawline.cases.models import AuditEntry, LedgerContact, TranscriptLine
from lawline.config import Settings
from lawline.quality.models import QualityReview
from lawline.quality.rules import QualitySettings
from lawline.quality.service import QualityReviewer
from lawline.web.auth import Role
from tests.lawline_server import Running, running_lawline
from tests.test_quality_rules import GOOD, L

NOW = datetime.now(UTC)


@pytest.fixture
async def lawline(clean_redis_url: str, tmp_path: Path) -> AsyncIterator[Running]:
    # The reviews are made by hand here (review_due), not by the background round.
    settings = Settings(
        data_dir=tmp_path, secret_key="test-secret", quality=QualitySettings(enabled=False)
    )
    async with running_lawline(settings, clean_redis_url) as running:
        yield running


def a_call(session: object, cid: str, lawyer: str, lines: list, rating: int | None) -> None:
    at = NOW - timedelta(minutes=10)
    session.add(  # type: ignore[attr-defined]
        LedgerContact(
            id=cid, channel="voice", service="consultation", language="zh", state="ended",
            entered_at=at, answered_at=at, ended_at=at + timedelta(minutes=2),
            first_lawyer=lawyer, lawyer=lawyer, rating=rating, last_event_id="1-0",
        )
    )  # fmt: skip
    for i, line in enumerate(lines):
        session.add(  # type: ignore[attr-defined]
            TranscriptLine(
                contact_id=cid, entry_id=f"{i}-0", kind="final", leg=line.leg,
                start=line.start, end=line.end, text=line.text,
            )
        )  # fmt: skip


async def test_calls_are_reviewed_and_supervisors_confirm_the_worst(lawline: Running) -> None:
    db = lawline.app.state.db
    reviewer: QualityReviewer = lawline.app.state.quality

    with db() as s, s.begin():
        a_call(s, "good", "xu", GOOD, 5)
        a_call(s, "fees", "li", [*GOOD, L(35, "您先给我转账五百块。")], 2)
        a_call(s, "rude", "li", [L(0, "喂。"), L(100, "嗯。")], None)
        # A call still going on is not reviewed; neither is one without a transcript.
        s.add(LedgerContact(id="live", channel="voice", service="consultation", language="zh",
                            state="connected", entered_at=NOW, last_event_id="2-0"))  # fmt: skip
    assert await asyncio.to_thread(reviewer.review_due) == 3
    assert reviewer.review_due() == 0  # each call once

    async with lawline.client("zhao", Role.SUPERVISOR) as http:
        listed = (await http.get("/api/quality/reviews")).json()
        assert [r["contact_id"] for r in listed] == ["fees", "rude", "good"]  # worst first
        assert listed[0]["critical_failed"] and listed[0]["failed"] == ["索要费用"]
        assert listed[2]["score"] == 100
        one = (await http.get("/api/quality/reviews/fees")).json()
        fees = next(f for f in one["findings"] if f["rule"] == "fees")
        assert fees["evidence"][0] == {
            "leg": "lawyer", "start": 35, "end": 38, "text": "您先给我转账五百块。"
        }  # fmt: skip

        r = await http.post("/api/quality/reviews/rude", json={"score": 70, "note": "语气生硬"})
        assert r.status_code == 200 and r.json()["confirmed_score"] == 70
        assert (await http.post("/api/quality/reviews/none", json={"score": 1})).status_code == 404
        assert (
            await http.post("/api/quality/reviews/rude", json={"score": 101})
        ).status_code == 422
        left = (await http.get("/api/quality/reviews", params={"unconfirmed": True})).json()
        assert [r["contact_id"] for r in left] == ["fees", "good"]

        month = (await http.get("/api/quality/figures")).json()
        li = next(m for m in month if m["lawyer"] == "li")
        assert (li["reviewed"], li["critical_failed"], li["mean_rating"]) == (2, 1, 2)
        rules_fees = next(r for r in listed if r["contact_id"] == "fees")["score"]
        assert li["mean_score"] == pytest.approx((rules_fees + 70) / 2, abs=0.1)

    async with lawline.client("xu", Role.LAWYER) as http:
        assert (await http.get("/api/quality/reviews")).status_code == 403
    with db() as s:
        audit = s.scalars(select(AuditEntry).where(AuditEntry.action == "quality.confirm")).all()
        rude = next(r for r in listed if r["contact_id"] == "rude")["score"]
        expected = [("zhao", f"contact rude score 70 (rules {rude:g})")]
        assert [(a.actor, a.detail) for a in audit] == expected
        assert s.get(QualityReview, "live") is None


async def test_holds_reach_the_review_through_the_ledger(lawline: Running) -> None:
    """The transcript as Redis has it (the console's holds, the worker's `ended` with its
    time, written by two processes in either order) into the ledger, then reviewed: a
    hold still on at hang-up ends there, and a call of holds alone is not reviewed."""
    from lawline.cases.ingest import _store_lines
    from lawline.transcripts.segments import Kind, Leg, Segment

    db = lawline.app.state.db
    reviewer: QualityReviewer = lawline.app.state.quality

    def hold(on: str, t: float) -> Segment:
        return Segment(Kind.HOLD, Leg.LAWYER, on, t, t)

    finals = [Segment(Kind.FINAL, Leg(x.leg), x.text, x.start, x.end) for x in GOOD]
    stream = [
        *[(f"{i}-0", s) for i, s in enumerate(finals)],
        ("20-0", hold("on", 50.0)),  # after the goodbye: nobody explained it
        ("21-0", Segment(Kind.STATUS, None, "ended", 250.0, 250.0)),  # hung up on the music
        ("22-0", hold("on", 260.0)),  # a console's late word after the end: not closed
        ("23-0", hold("sideways", 10.0)),  # not a hold mark: not kept
    ]
    with db() as s, s.begin():
        a_call(s, "held", "xu", [], 5)
        a_call(s, "only", "xu", [], 5)
        _store_lines(s, "held", stream)
        _store_lines(s, "held", stream)  # applied again: nothing twice
        _store_lines(s, "only", [("1-0", hold("on", 5.0)), ("2-0", hold("off", 9.0))])
    with db() as s:
        kept = s.scalars(
            select(TranscriptLine)
            .where(TranscriptLine.contact_id == "held", TranscriptLine.kind == "hold")
            .order_by(TranscriptLine.start)
        ).all()
        assert [(r.text, r.start, r.entry_id) for r in kept] == [
            ("on", 50.0, "20-0"),
            ("off", 250.0, "21-0"),
            ("on", 260.0, "22-0"),
        ]
    assert await asyncio.to_thread(reviewer.review_due) == 1  # "only" has no words
    with db() as s:
        review = s.get(QualityReview, "held")
        assert review is not None
        found = {f["rule"]: f for f in review.findings}
    assert not found["hold"]["held"] and found["silence"]["held"]
    assert "超过120秒" in found["hold"]["why"] and "未说明" in found["hold"]["why"]
    assert {"hold": True, "start": 50.0, "end": 250.0} in found["hold"]["evidence"]
