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
