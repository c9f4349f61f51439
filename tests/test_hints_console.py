"""The console's hints over its websocket, and the statutes search: who may pin what into
which contact, values bounded, and what the contact's record keeps (on SQLite and
PostgreSQL: the ledger tests' lawline, whose knowledge base is imported at start)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import pytest
from redis.asyncio import Redis

from lawline.queue.store import QueueStore
from lawline.transcripts.segments import Kind, Leg, Segment
from lawline.transcripts.store import TranscriptStore
from lawline.web.auth import Role
from tests.lawline_server import Running, next_frame
from tests.test_ledger import lawline, on_duty, recorded  # noqa: F401 (a fixture)

CALL = {"channel": "voice", "service": "consultation", "domain": "labour", "caller": "13800138000"}
SAID = "老板拖欠了我三个月工资，我想辞职"
# The index is built (or read back from disk) as the web process starts: a few seconds.
FIRST_HINTS_S = 60


async def say(redis_url: str, cid: str, leg: Leg, text: str, at: float) -> None:
    redis = Redis.from_url(redis_url, decode_responses=True)
    try:
        store = TranscriptStore(QueueStore(redis))
        await store.started(cid, time.time())
        await store.segment(cid, Segment(Kind.FINAL, leg, text, at, at + 2.0))
    finally:
        await redis.aclose()


async def send(ws: Any, **frame: Any) -> None:
    await ws.send(json.dumps(frame))


async def test_hints_follow_the_caller_and_a_pin_is_kept_with_the_contact(
    lawline: Running,  # noqa: F811 (the fixture imported above)
    clean_redis_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with lawline.console("wang") as wang, lawline.console("zhao") as zhao:
        await on_duty(wang)
        await next_frame(zhao, "hello")
        async with lawline.client("gw", Role.GATEWAY) as http:
            cid = (await http.post("/api/contacts", json=CALL)).json()["id"]
        await next_frame(wang, "offer")
        await send(wang, type="accept", contact_id=cid)
        await next_frame(wang, "connected")

        # The lawyer's own words are not searched; the caller's are.
        await say(clean_redis_url, cid, Leg.LAWYER, "您好，这里是12348", 0.0)
        await say(clean_redis_url, cid, Leg.CITIZEN, SAID, 3.0)
        hints = (await next_frame(wang, "hints", timeout=FIRST_HINTS_S))["hints"]
        assert len(hints) == 3
        assert all(h["text"] and h["citation"] == f"《{h['law']}》{h['article']}" for h in hints)
        labour = {"劳动合同法", "劳动法", "工资支付暂行规定", "保障农民工工资支付条例"}
        assert labour & {h["law"] for h in hints}, hints
        pick = hints[0]

        # Someone else's contact: refused, nothing recorded.
        await send(zhao, type="hint_pin", contact_id=cid, law=pick["law"], article=pick["article"])
        refused = await next_frame(zhao, "result")
        assert (refused["ok"], refused["message"]) == (False, "this contact is not yours")
        # An article the knowledge base does not hold.
        await send(wang, type="hint_pin", contact_id=cid, law="劳动合同法", article="第九百条")
        assert (await next_frame(wang, "result"))["message"] == "no such article"
        # Values from outside are bounded and typed.
        for bad in (
            {"contact_id": cid, "law": "法" * 201, "article": "第一条"},
            {"contact_id": cid, "law": pick["law"], "article": ["第一条"]},
            {"contact_id": cid, "law": pick["law"]},
            {"contact_id": "x" * 65, "law": pick["law"], "article": pick["article"]},
        ):
            await send(wang, type="hint_pin", **bad)
            assert (await next_frame(wang, "error"))["message"].startswith("'hint_pin'")

        await send(wang, type="hint_pin", contact_id=cid, law=pick["law"], article=pick["article"])
        pinned = await next_frame(wang, "hint_pinned")
        assert pinned["hint"]["citation"] == pick["citation"]
        assert pinned["hint"]["text"] == pick["text"]
        assert (await next_frame(wang, "result"))["ok"]
        await send(wang, type="end", contact_id=cid)
        await next_frame(wang, "ended")

    record = await recorded(lawline, cid, lambda c: c["hints"])
    kept = [(h["kind"], h["citation"], h["lawyer"]) for h in record["hints"]]
    assert ("pinned", pick["citation"], "wang") in kept
    assert {h["citation"] for h in hints} <= {c for k, c, _ in kept if k == "shown"}
    assert len([k for k in kept if k[0] == "pinned"]) == 1
    # What the caller said never reaches a log line.
    assert not [r for r in caplog.records if "拖欠" in r.getMessage() or "拖欠" in str(r.__dict__)]


async def test_the_statutes_are_searched_by_typing(
    lawline: Running,  # noqa: F811 (the fixture imported above)
) -> None:
    async with lawline.client("wang", Role.LAWYER) as http:
        r = await http.get("/api/statutes/search", params={"q": "劳动合同法第38条"})
        assert r.status_code == 200, r.text
        first = r.json()[0]
        assert first["citation"] == "《劳动合同法》第三十八条" and first["spoken"]
        r = await http.get(
            "/api/statutes/search", params={"q": "彩礼", "domain": "marriage_family"}
        )
        assert r.status_code == 200 and len(r.json()) == 5
        for bad in (
            {"q": ""},
            {"q": "字" * 201},
            {"q": "工资", "limit": "11"},
            {"q": "工资", "domain": "x"},
        ):
            assert (await http.get("/api/statutes/search", params=bad)).status_code == 422
    async with lawline.client("gw", Role.GATEWAY) as http:
        assert (await http.get("/api/statutes/search", params={"q": "工资"})).status_code == 403


async def test_health_says_once_the_hints_index_is_built(
    lawline: Running,  # noqa: F811 (the fixture imported above)
) -> None:
    """A process still building its index says so; once it says ready, hints are
    answered from the built index (a load balancer or a bench waits for this)."""
    async with lawline.client("wang", Role.LAWYER) as http:
        deadline = time.monotonic() + FIRST_HINTS_S
        while not (health := (await http.get("/api/health")).json())["hints_ready"]:
            assert health["status"] == "ok"
            assert time.monotonic() < deadline, "the hints index was not built"
            await asyncio.sleep(0.1)
        assert lawline.app.state.hints.ready
        r = await http.get("/api/statutes/search", params={"q": "拖欠工资"})
        assert r.status_code == 200 and r.json()
