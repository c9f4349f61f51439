"""Statute hints in the mediator's room: what a party says (a final of the room's
transcript) brings the articles the dispute turns on to the mediator's page, the
mediator's own words bring none, and each hint shown is kept with the mediation."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from lawline.hints import records
from lawline.transcripts.segments import Kind, Leg, Segment
from lawline.web.auth import Role
from tests.lawline_server import Running, next_frame
from tests.test_mediation import docx_text
from tests.test_mediation_room import lawline, new_mediation, open_room  # noqa: F401

pytestmark = pytest.mark.usefixtures("media")


async def no_frame(desk: Any, kind: str, seconds: float) -> bool:
    """True when no frame of this kind came within `seconds`."""
    try:
        async with asyncio.timeout(seconds):
            while json.loads(await desk.recv())["type"] != kind:
                pass
    except TimeoutError:
        return True
    return False


async def test_a_partys_words_bring_a_wage_article_to_the_mediator_and_it_is_kept(
    lawline: Running,  # noqa: F811 (the fixture imported above)
) -> None:
    cid = await new_mediation(lawline)
    async with lawline.websocket("/api/mediation/ws", "liu", Role.MEDIATOR) as desk:
        await open_room(desk, cid)
        live = lawline.app.state.mediation_rooms.get(cid)
        assert live is not None and live.transcript is not None
        # The room's transcript as the recogniser gives it (Mandarin recognition itself is
        # tests/test_hints_browser.py's, through Whisper; here, the room's part).
        said = Segment(Kind.FINAL, Leg.MEDIATOR, "请双方说一说工资的事情", 0.0, 2.0)
        await live.transcript._segment(said)
        assert await no_frame(desk, "hints", 2.0), "the mediator's own words brought hints"
        said = Segment(Kind.FINAL, Leg.APPLICANT, "老板拖欠了我三个月工资，我想辞职", 2.0, 5.0)
        await live.transcript._segment(said)
        frame = await next_frame(desk, "hints", timeout=30)
        citations = [h["citation"] for h in frame["hints"]]
        # Three, each from the labour laws a wage dispute turns on.
        assert len(citations) == 3, citations
        assert all(any(w in c.split("》")[0] for w in ("劳动", "工资")) for c in citations), (
            citations
        )
        # The mediator keeps the first as the agreement's legal basis (调解依据).
        first = frame["hints"][0]
        pin = {"type": "hint_pin", "case_id": cid, "law": first["law"], "article": first["article"]}
        await desk.send(json.dumps(pin))
        assert (await next_frame(desk, "hint_pinned"))["citation"] == citations[0]
        assert (await next_frame(desk, "result"))["ok"]
        await desk.send(json.dumps({**pin, "article": "第九千条"}))  # no such article
        refused = await next_frame(desk, "result")
        assert not refused["ok"] and "没有这一条" in refused["message"]
        await desk.send(json.dumps({"type": "room_close", "case_id": cid}))
        assert (await next_frame(desk, "result"))["ok"]
    with lawline.app.state.db() as session:
        kept = records.contact_hints(session, cid)
    assert {h["kind"] for h in kept} == {"shown", "pinned"} and {h["lawyer"] for h in kept} == {
        "liu"
    }
    assert {f"《{h['law']}》{h['article']}" for h in kept} == set(citations)
    # Agreed: the agreement names its legal basis.
    async with lawline.client("liu", Role.MEDIATOR) as liu:
        terms = [{"text": "老板于月底前付清工资", "how": "转账", "by": "本月底"}]
        r = await liu.post(
            f"/api/mediations/{cid}/outcome",
            json={"outcome": "agreement", "facts": "拖欠工资三个月", "terms": terms},
        )
        assert r.status_code == 200, r.text
        assert (await liu.get(f"/api/mediations/{cid}")).json()["basis"] == [citations[0]]
        text = docx_text((await liu.get(f"/api/mediations/{cid}/agreement.docx")).content)
    assert f"调解依据：{citations[0]}" in text
