"""The case ledger on a real app, a real Redis and both databases (SQLite and a private
PostgreSQL): contacts recorded from the event stream, cases owned and followed."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import logging
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from redis.asyncio import Redis
from redis.exceptions import ResponseError
from sqlalchemy import func, select

from lawline.cases import reports, search
from lawline.cases.ingest import LedgerIngest
from lawline.cases.models import ContactEvent, LedgerContact
from lawline.cases.settings import CaseSettings
from lawline.config import Settings
from lawline.db import make_engine, session_factory, upgrade
from lawline.queue.keys import LEDGER_GROUP, QueueKeys
from lawline.queue.settings import RoutingSettings
from lawline.queue.skills import Channel, Domain, GreenReason, Service
from lawline.queue.store import QueueStore
from lawline.transcripts.segments import Kind, Leg, Segment
from lawline.transcripts.store import TranscriptStore
from lawline.web import cases_api
from lawline.web.auth import Role
from tests.lawline_server import Running, next_frame, running_lawline
from tests.ledger_helpers import store_transcripts
from tests.queue_helpers import T0, contact, ledger_caught_up

NUMBER = "13800138000"
LAWYER = {
    "name": "王律师",
    "services": {"consultation": 4, "legal_aid": 3},
    "domains": {"labour": 5},
    "languages": ["zh"],
}
CALL = {"channel": "voice", "service": "consultation", "domain": "labour", "caller": NUMBER}


@pytest.fixture
async def lawline(
    clean_redis_url: str, tmp_path: Path, database_url: str
) -> AsyncIterator[Running]:
    settings = Settings(
        data_dir=tmp_path,
        secret_key="test-secret",
        database_url=database_url,
        routing=RoutingSettings(offer_timeout_s=30, wrapup_s=0, console_timeout_s=60),
        cases=CaseSettings(deadline_days={"simple": 0, "general": 7, "complex": 30}, min_ratings=1),
    )
    async with running_lawline(settings, clean_redis_url) as running:
        async with running.client("boss", Role.SUPERVISOR) as http:
            for lid in ("wang", "zhao"):
                r = await http.post("/api/lawyers", json={**LAWYER, "id": lid})
                assert r.status_code == 201, r.text
        yield running


async def on_duty(ws: Any) -> None:
    await next_frame(ws, "hello")
    await ws.send(json.dumps({"type": "state", "state": "available"}))
    assert (await next_frame(ws, "result"))["ok"]


async def a_call_handed_on(lawline: Running, clean_redis_url: str) -> str:
    """A citizen calls; wang answers and transfers to zhao, who answers; the call ends,
    the citizen rates it 4; its transcript is stored. Returns the contact id."""
    async with lawline.console("wang") as wang:
        await on_duty(wang)
        async with lawline.client("worker-1", Role.GATEWAY) as http:
            r = await http.post("/api/contacts", json=CALL)
            cid = r.json()["id"]
        await next_frame(wang, "offer")
        await wang.send(json.dumps({"type": "accept", "contact_id": cid}))
        await next_frame(wang, "connected")
        async with lawline.console("zhao") as zhao:
            await on_duty(zhao)
            await wang.send(
                json.dumps(
                    {"type": "transfer", "contact_id": cid, "to_lawyer": "zhao", "note": "工伤"}
                )
            )
            await next_frame(zhao, "offer")
            await zhao.send(json.dumps({"type": "accept", "contact_id": cid}))
            await next_frame(zhao, "connected")
            form = {"service": "consultation", "domain": "labour", "summary": "欠薪三个月"}
            await zhao.send(json.dumps({"type": "case", "contact_id": cid, "form": form}))
            assert (await next_frame(zhao, "result"))["ok"]
            await zhao.send(json.dumps({"type": "end", "contact_id": cid}))
            await next_frame(zhao, "ended")
    redis = Redis.from_url(clean_redis_url, decode_responses=True)
    try:
        store = TranscriptStore(QueueStore(redis))
        now = time.time()
        await store.started(cid, now)
        await store.segment(cid, Segment(Kind.FINAL, Leg.CITIZEN, "老板拖欠工资三个月", 1.0, 3.5))
        await store.segment(cid, Segment(Kind.FINAL, Leg.LAWYER, "可以申请劳动仲裁", 4.0, 6.0))
        await store.queue_store.rate(cid, 4, now)
        await store.closed(cid)
    finally:
        await redis.aclose()
    return cid


async def recorded(lawline: Running, cid: str, want: Any, seconds: float = 15) -> dict[str, Any]:
    """The ledger's record of a contact, once `want(record)` holds."""
    async with lawline.client("boss", Role.SUPERVISOR) as http:
        for _ in range(int(seconds / 0.1)):
            r = await http.get(f"/api/ledger/contacts/{cid}")
            if r.status_code == 200 and want(r.json()):
                return r.json()
            await asyncio.sleep(0.1)
    raise AssertionError(f"the ledger never had it: {r.status_code} {r.text[:500]}")


async def test_a_call_is_recorded_owned_and_followed_to_its_case(
    lawline: Running, clean_redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    cid = await a_call_handed_on(lawline, clean_redis_url)
    c = await recorded(lawline, cid, lambda c: c["transcript"] and c["rating"])
    assert c["caller"] == NUMBER and c["state"] == "ended" and c["rating"] == 4
    # First-contact accountability: wang took it first, zhao ended it.
    assert (c["first_lawyer"], c["lawyer"]) == ("wang", "zhao")
    types = [e["type"] for e in c["timeline"]]
    assert types[:4] == [
        "contact.entered",
        "contact.offered",
        "contact.answered",
        "contact.transferred",
    ]
    assert types.count("contact.answered") == 2 and "contact.ended" in types
    assert c["case_form"]["summary"] == "欠薪三个月"
    assert [(t["leg"], t["text"]) for t in c["transcript"]] == [
        ("citizen", "老板拖欠工资三个月"),
        ("lawyer", "可以申请劳动仲裁"),
    ]

    # zhao opens the case in wrap-up; wang owns it (first contact).
    async with lawline.client("zhao", Role.LAWYER) as zhao:
        r = await zhao.post(
            "/api/cases",
            json={"contact_id": cid, "triage": "general", "summary": "欠薪", "told": "带劳动合同"},
        )
        assert r.status_code == 201, r.text
        case = r.json()
        assert case["owner"] == "wang" and case["opened_by"] == "zhao"
        opened = datetime.fromisoformat(case["opened_at"])
        assert datetime.fromisoformat(case["deadline"]) - opened == timedelta(days=7)
        assert (await zhao.get(f"/api/cases/{case['id']}")).status_code == 403
        bad = await zhao.post("/api/cases", json={"contact_id": cid, "triage": "urgent"})
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "triage"
        again = await zhao.post("/api/cases", json={"contact_id": cid})
        assert again.status_code == 409  # one contact, one case
        # One rule for numbers: zhao answered the call but does not own its case.
        seen = (await zhao.get(f"/api/ledger/contacts/{cid}")).json()["caller"]
        assert seen == "*******" + NUMBER[-4:]
    async with lawline.client("wang", Role.LAWYER) as wang:
        assert [x["id"] for x in (await wang.get("/api/cases")).json()] == [case["id"]]
        r = await wang.post(f"/api/cases/{case['id']}/notes", json={"text": "已电话回访"})
        assert r.status_code == 201
        # ... the owner, who follows the case up, sees the whole number.
        assert (await wang.get(f"/api/ledger/contacts/{cid}")).json()["caller"] == NUMBER
        listed = (await wang.get("/api/ledger/contacts")).json()
        assert [x["caller"] for x in listed] == [NUMBER]
    async with lawline.client("boss", Role.SUPERVISOR) as boss:
        r = await boss.post(
            f"/api/cases/{case['id']}/handover", json={"to_lawyer": "nobody", "reason": "笔误"}
        )
        assert r.status_code == 422 and r.json()["detail"] == "no such lawyer"
        r = await boss.post(
            f"/api/cases/{case['id']}/handover", json={"to_lawyer": "zhao", "reason": "王律师休假"}
        )
        assert r.status_code == 200 and r.json()["owner"] == "zhao"
        detail = (await boss.get(f"/api/cases/{case['id']}")).json()
        assert detail["contacts"] == [cid]
        assert detail["handovers"][0]["from"] == "wang" and detail["notes"][0]["author"] == "wang"
        audit = [
            (a["actor"], a["action"])
            for a in (await boss.get(f"/api/cases/{case['id']}/audit")).json()
        ]
        assert audit == [("zhao", "open"), ("wang", "note"), ("boss", "handover"), ("boss", "read")]
    # Citizens' numbers never reach the logs.
    assert NUMBER not in caplog.text
    assert not [r for r in caplog.records if NUMBER in _fields_of(r)]


def _fields_of(record: logging.LogRecord) -> str:
    """Every field a structured log line carries, as text."""
    out = []
    for value in record.__dict__.values():
        try:
            out.append(str(value))
        except Exception:  # a field that cannot be shown cannot leak either
            continue
    return " ".join(out)


async def test_overdue_cases_are_flagged_and_a_citizens_later_contact_joins_their_case(
    lawline: Running, clean_redis_url: str
) -> None:
    first = await a_call_handed_on(lawline, clean_redis_url)
    second = await a_call_handed_on(lawline, clean_redis_url)
    for cid in (first, second):
        await recorded(lawline, cid, lambda c: c["transcript"])
    async with lawline.client("wang", Role.LAWYER) as wang:
        r = await wang.post("/api/cases", json={"contact_id": first, "triage": "simple"})
        case = r.json()
        r = await wang.post("/api/cases", json={"contact_id": second, "join_case": case["id"]})
        assert r.status_code == 201 and r.json()["id"] == case["id"]
        await asyncio.sleep(0.05)  # simple: due at once in this centre's settings
        [overdue] = (await wang.get("/api/cases", params={"overdue": "true"})).json()
        assert overdue["id"] == case["id"] and overdue["overdue"]
        r = await wang.post(f"/api/cases/{case['id']}/close", json={"disposition": "answered"})
        assert r.json()["status"] == "closed" and not r.json()["overdue"]
        assert (await wang.get("/api/cases", params={"overdue": "true"})).json() == []
    async with lawline.client("boss", Role.SUPERVISOR) as boss:
        detail = (await boss.get(f"/api/cases/{case['id']}")).json()
        assert sorted(detail["contacts"]) == sorted([first, second])


async def _fill(redis: Redis, n: int) -> None:
    """n contacts entering and leaving: 2n events on the stream."""
    store = QueueStore(redis)
    for i in range(n):
        c = replace(contact(f"k{i:04d}", T0 + i), caller=f"1380013{i:04d}")
        assert await store.add_contact(c, T0 + i)
        await store.abandon(f"k{i:04d}", T0 + i + 1, "caller hung up")


def _counts(url: str) -> tuple[int, int]:
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            return (
                s.scalar(select(func.count()).select_from(LedgerContact)) or 0,
                s.scalar(select(func.count()).select_from(ContactEvent)) or 0,
            )
    finally:
        engine.dispose()


async def test_replaying_the_stream_adds_nothing(redis: Redis, database_url: str) -> None:
    upgrade(database_url)
    await _fill(redis, 50)
    engine = make_engine(database_url)
    ingest = LedgerIngest(
        redis,
        QueueKeys("ll"),
        session_factory(engine),
        TranscriptStore(QueueStore(redis)),
        consumer="a",
    )
    try:
        await ingest.ensure_group()
        entries = await redis.xrange("ll:events")
        await ingest.apply(entries)
        assert _counts(database_url) == (50, 100)
        await ingest.apply(entries)  # a replay, say after a crash before XACK
        await ingest.apply(list(reversed(entries)))  # or out of order
        assert _counts(database_url) == (50, 100)
        with session_factory(engine)() as s:
            assert {c.state for c in s.scalars(select(LedgerContact))} == {"abandoned"}
    finally:
        engine.dispose()


CONSUMER = """
import asyncio, sys
from redis.asyncio import Redis
from lawline.cases.ingest import LedgerIngest
from lawline.db import make_engine, session_factory
from lawline.queue.keys import QueueKeys
from lawline.queue.store import QueueStore
from lawline.transcripts.store import TranscriptStore

async def main():
    redis = Redis.from_url(sys.argv[1], decode_responses=True)
    sessions = session_factory(make_engine(sys.argv[2]))
    ingest = LedgerIngest(redis, QueueKeys("ll"), sessions, TranscriptStore(QueueStore(redis)),
                          consumer="doomed")
    print("consuming", flush=True)
    await ingest.run()

asyncio.run(main())
"""


async def test_a_process_killed_mid_batch_loses_no_ledger_entry(
    redis: Redis, clean_redis_url: str, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    upgrade(url)
    await _fill(redis, 300)
    # Hold the database's write lock: the doomed consumer reads a batch from the stream
    # and then waits to commit it, holding it unacknowledged, when it is killed.
    lock = sqlite3.connect(tmp_path / "ledger.db", timeout=0)
    lock.execute("BEGIN EXCLUSIVE")
    proc = subprocess.Popen(
        [sys.executable, "-c", CONSUMER, clean_redis_url, url], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "consuming"
        pending = 0
        for _ in range(200):
            with contextlib.suppress(ResponseError):  # its group may not exist yet
                pending = (await redis.xpending("ll:events", LEDGER_GROUP))["pending"]
            if pending:
                break
            await asyncio.sleep(0.05)
        assert pending > 0, "the consumer never took a batch"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        lock.rollback()
        lock.close()
    assert _counts(url) == (0, 0)  # it died before committing anything
    engine = make_engine(url)
    ingest = LedgerIngest(
        redis,
        QueueKeys("ll"),
        session_factory(engine),
        TranscriptStore(QueueStore(redis)),
        consumer="heir",
        claim_idle_s=0.1,
    )
    task = asyncio.create_task(ingest.run())
    try:
        for _ in range(400):
            if _counts(url) == (300, 600) and await ledger_caught_up(redis):
                break
            await asyncio.sleep(0.05)
        assert await ledger_caught_up(redis), await redis.xinfo_groups("ll:events")
    finally:
        ingest.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        engine.dispose()
    assert _counts(url) == (300, 600)


async def said(clean_redis_url: str, cid: str, number: str, *lines: str) -> None:
    """A contact that entered and left, whose caller said these lines."""
    redis = Redis.from_url(clean_redis_url, decode_responses=True)
    try:
        qs = QueueStore(redis)
        now = time.time()
        c = contact(cid, now)
        assert await qs.add_contact(replace(c, caller=number, attrs={"menu": "1-1"}), now)
        await qs.abandon(cid, now + 1, "caller hung up")
        store = TranscriptStore(qs)
        await store.started(cid, now, **{f"recording:{cid}-citizen": f"/rec/{cid}-citizen.ogg"})
        for i, text in enumerate(lines):
            await store.segment(cid, Segment(Kind.FINAL, Leg.CITIZEN, text, i * 3.0, i * 3.0 + 2))
        await store.closed(cid)
    finally:
        await redis.aclose()


async def found(lawline: Running, **params: str) -> list[str]:
    async with lawline.client("boss", Role.SUPERVISOR) as http:
        r = await http.get("/api/ledger/contacts", params=params)
        assert r.status_code == 200, r.text
        return sorted(c["id"] for c in r.json())


async def test_contacts_are_found_by_what_was_said_and_who_called(
    lawline: Running, clean_redis_url: str
) -> None:
    await said(clean_redis_url, "wages", "13900000001", "老板拖欠工资三个月了", "一共12个工人")
    await said(clean_redis_url, "divorce", "13900000002", "我想离婚", "孩子的抚养费怎么算")
    await said(clean_redis_url, "silent", "13900000003")
    await recorded(lawline, "silent", lambda c: c["state"] == "abandoned")
    for cid in ("wages", "divorce"):
        c = await recorded(lawline, cid, lambda c: c["transcript"])
        # What the menu recorded and where the audio is, with the contact.
        assert c["menu_path"] == "1-1" and c["recordings"] == [f"/rec/{cid}-citizen.ogg"]
    assert await found(lawline, words="工资") == ["wages"]  # two characters are enough
    assert await found(lawline, words="抚养费") == ["divorce"]
    assert await found(lawline, words="拖欠 工资") == ["wages"]  # spaces do not matter
    assert await found(lawline, words="资工") == []  # but the order does
    assert await found(lawline, words="12个工人") == ["wages"]
    assert await found(lawline, words="离婚", number="13900000001") == []
    assert await found(lawline, number="13900000003") == ["silent"]
    assert await found(lawline, state="abandoned", words="想") == ["divorce"]
    async with lawline.client("wang", Role.LAWYER) as wang:
        r = await wang.post("/api/cases", json={"contact_id": "wages"})
        assert r.status_code == 403  # not a contact wang took
    async with lawline.client("boss", Role.SUPERVISOR) as boss:
        r = await boss.post("/api/cases", json={"contact_id": "wages", "citizen_name": "李大山"})
        assert r.status_code == 201, r.text
    assert await found(lawline, name="大山") == ["wages"]
    # Newest first, and a limit keeps the newest.
    await said(clean_redis_url, "wages-again", "13900000004", "工资还是没有发")
    await recorded(lawline, "wages-again", lambda c: c["transcript"])
    async with lawline.client("boss", Role.SUPERVISOR) as http:
        newest = (await http.get("/api/ledger/contacts", params={"words": "工资"})).json()
        assert [c["id"] for c in newest] == ["wages-again", "wages"]
        one = await http.get("/api/ledger/contacts", params={"words": "工资", "limit": 1})
        assert [c["id"] for c in one.json()] == ["wages-again"]


async def test_a_phrase_is_found_only_where_its_characters_are_adjacent(
    lawline: Running, clean_redis_url: str
) -> None:
    """On PostgreSQL a phrase is searched by its character bigrams: those bigrams
    said apart, or its characters in another order, are not the phrase."""
    await said(clean_redis_url, "adjacent", "13900000011", "老板拖欠工资三个月")
    await said(clean_redis_url, "apart", "13900000012", "拖欠了工资")
    await said(clean_redis_url, "reversed", "13900000013", "工资拖欠")
    # Every bigram of 拖欠工资 (拖欠, 欠工, 工资), none of them next to another.
    await said(clean_redis_url, "spread", "13900000014", "拖欠房租", "欠工钱", "发工资")
    for cid in ("adjacent", "apart", "reversed", "spread"):
        await recorded(lawline, cid, lambda c: c["transcript"])
    assert await found(lawline, words="拖欠工资") == ["adjacent"]
    assert await found(lawline, words="欠工资") == ["adjacent"]
    assert await found(lawline, words="欠工") == ["adjacent", "spread"]
    assert await found(lawline, words="工资拖欠") == ["reversed"]
    assert await found(lawline, words="拖欠了") == ["apart"]
    assert await found(lawline, words="欠") == ["adjacent", "apart", "reversed", "spread"]
    assert await found(lawline, words="钱") == ["spread"]  # the last character said
    assert await found(lawline, words="拖欠工钱") == []


def test_a_phrase_becomes_bigrams_and_is_common_by_its_rarest() -> None:
    def lexemes(words: str) -> list[str]:
        return search.lexemes(search.tokens(words))

    assert lexemes("想") == ["想"]
    assert lexemes("工资") == ["工资"]
    assert lexemes("拖欠工资") == ["拖欠", "欠工", "工资"]
    # A token with no Han neighbour stays whole.
    assert lexemes("iPhone 15 坏了") == ["iphone", "15", "坏了"]
    assert search.lexeme_query(search.tokens("拖欠 b")) == "'拖欠' & 'b'"
    # Its order is checked on the text unless it is one lexeme; "ok ok" is one, twice.
    assert len(search._pg_match(search.tokens("工资"))) == 1
    assert len(search._pg_match(search.tokens("ok ok"))) == 2
    shares = {"拖欠": 0.15, "欠工": 0.15, "工资": 0.2}
    assert search.common(search.tokens("拖欠工资"), shares)
    assert not search.common(search.tokens("拖欠工钱"), shares)  # 工钱: not counted, rare


@pytest.mark.parametrize("share", [0.0, search.COMMON_SHARE, 1.1])
def test_common_and_rare_phrases_find_the_same_newest_contacts(
    database_url: str, share: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL a common phrase is looked for newest contact first, a rarer one
    through the index (0: every phrase is common, 1.1: none is): the same rows."""
    monkeypatch.setattr(search, "COMMON_SHARE", share)
    monkeypatch.setattr(search, "COMMON_SHARE_WITH_RUM", share)
    upgrade(database_url)
    store_transcripts(
        database_url,
        {
            "c1": "老板拖欠工资",
            "c2": "拖欠了工资",
            "c3": "又拖欠工资了",
            "c4": "工资拖欠",
            "c5": "没事",
        },
    )
    engine = make_engine(database_url)
    try:
        with session_factory(engine)() as s:

            def newest(words: str, limit: int = 10) -> list[str]:
                q = select(LedgerContact).order_by(LedgerContact.entered_at.desc()).limit(limit)
                return [c.id for c in s.scalars(search.said_in(s, q, words))]

            assert newest("拖欠工资") == ["c3", "c1"]
            assert newest("拖欠工资", limit=1) == ["c3"]
            assert newest("工资") == ["c4", "c3", "c2", "c1"]
            assert newest("没") == ["c5"]
            assert newest("专利侵权") == []
    finally:
        engine.dispose()


def test_the_bigram_vector_is_built_for_stored_transcripts_and_undone(
    postgres_url: str,
) -> None:
    """Migration 0012 on a ledger that already holds transcripts: their vectors are
    built in the migration, and a downgrade brings back the one-character vector."""
    from alembic import command

    from lawline.db import alembic_config

    def hits(url: str, query: str, words: str) -> list[str]:
        engine = make_engine(url)
        try:
            with engine.connect() as conn:
                rows = conn.exec_driver_sql(
                    f"SELECT contact_id FROM contact_search WHERE {query} ORDER BY 1", (words,)
                )
                return [r[0] for r in rows]
        finally:
            engine.dispose()

    command.upgrade(alembic_config(postgres_url), "0011")
    store_transcripts(postgres_url, {"adjacent": "老板拖欠工资", "apart": "拖欠了工资"})
    old = "body_tsv @@ phraseto_tsquery('simple', %s)"
    new = "body_bigrams @@ %s::tsquery"
    assert hits(postgres_url, old, "拖 欠 工 资") == ["adjacent"]
    upgrade(postgres_url)
    assert hits(postgres_url, new, search.lexeme_query(list("拖欠工资"))) == ["adjacent"]
    assert hits(postgres_url, new, "'工资'") == ["adjacent", "apart"]
    command.check(alembic_config(postgres_url))  # the models agree with the migrations
    command.downgrade(alembic_config(postgres_url), "0011")
    assert hits(postgres_url, old, "拖 欠 工 资") == ["adjacent"]
    upgrade(postgres_url)
    assert hits(postgres_url, new, "'拖欠'") == ["adjacent", "apart"]


async def test_monthly_export_figures_grades_and_a_legal_aid_application(
    lawline: Running, clean_redis_url: str
) -> None:
    handled = await a_call_handed_on(lawline, clean_redis_url)
    await said(clean_redis_url, "gone", "13900000009")
    await recorded(lawline, handled, lambda c: c["rating"])
    await recorded(lawline, "gone", lambda c: c["state"] == "abandoned")
    now = datetime.now(UTC)
    month = {
        "since": (now - timedelta(days=1)).isoformat(),
        "until": (now + timedelta(hours=1)).isoformat(),
    }
    async with lawline.client("boss", Role.SUPERVISOR) as boss:
        r = await boss.get("/api/ledger/export", params={**month, "format": "csv"})
        assert r.status_code == 200, r.text
        rows = list(csv.reader(io.StringIO(r.text.lstrip("\ufeff"))))
        assert rows[0][:2] == ["编号", "来电时间"] and len(rows) == 3
        assert {row[0] for row in rows[1:]} == {handled, "gone"}
        r = await boss.get("/api/ledger/export", params=month)
        sheet = openpyxl.load_workbook(io.BytesIO(r.content)).active
        assert sheet.max_row == 3 and sheet["M1"].value == "首接律师"
        assert sorted(str(sheet.cell(i, 13).value) for i in (2, 3)) == ["None", "wang"]
        earlier = {"since": "2020-01-01T00:00:00+08:00", "until": "2020-02-01T00:00:00+08:00"}
        r = await boss.get("/api/ledger/export", params={**earlier, "format": "csv"})
        assert len(list(csv.reader(io.StringIO(r.text.lstrip("\ufeff"))))) == 1
        backwards = {"since": month["until"], "until": month["since"]}
        assert (await boss.get("/api/ledger/figures", params=backwards)).status_code == 422

        f = (await boss.get("/api/ledger/figures", params=month)).json()
        assert (f["contacts"], f["answered"], f["abandoned"]) == (2, 1, 1)
        assert f["answer_rate"] == 0.5 and f["consultations"] == 1
        assert f["satisfaction"] == 1.0 and f["average_rating"] == 4
        assert f["per_lawyer"]["zhao"]["answered"] == 1
        assert f["per_domain"]["labour"]["contacts"] == 1

        [grade] = (await boss.get("/api/grades")).json()
        assert grade == {"lawyer": "zhao", "ratings": 1, "average_rating": 4.0, "stars": 3}

    async with lawline.client("wang", Role.LAWYER) as wang:
        assert (await wang.get("/api/ledger/export", params=month)).status_code == 403
        case = (await wang.post("/api/cases", json={"contact_id": handled})).json()
        applicant = {
            "applicant_name": "李大山",
            "id_number": "110105194912310021",
            "exemptions": ["migrant_wages"],
        }
        r = await wang.post(f"/api/cases/{case['id']}/legal-aid", json=applicant)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "id_number"
        r = await wang.post(
            f"/api/cases/{case['id']}/legal-aid", json={**applicant, "phone": "=1+2"}
        )
        assert r.status_code == 422 and "phone" in r.text
        r = await wang.post(
            f"/api/cases/{case['id']}/legal-aid",
            json={**applicant, "id_number": "11010519491231002x"},
        )
        assert r.status_code == 201, r.text
        assert r.json()["exemptions"] == ["migrant_wages"] and not r.json()["means_test"]
        bad = {**applicant, "id_number": "11010519491231002X", "exemptions": ["rich"]}
        r = await wang.post(f"/api/cases/{case['id']}/legal-aid", json=bad)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"][-2] == "exemptions"
    async with lawline.client("boss", Role.SUPERVISOR) as boss:
        audit = (await boss.get(f"/api/cases/{case['id']}/audit")).json()
        assert [a["action"] for a in audit] == ["open", "legal_aid"]
        [aid] = (await boss.get(f"/api/cases/{case['id']}")).json()["legal_aid"]
        assert aid["applicant_name"] == "李大山" and aid["exemptions"] == ["migrant_wages"]


async def test_numbers_are_checked_where_they_enter(lawline: Running) -> None:
    long_number = "1" * 40  # fits the API's 40 characters, not the ledger's 32
    async with lawline.client("worker-1", Role.GATEWAY) as http:
        for bad in (long_number, '"+86999" <sip:T1@host>', "=1+2", "++86138"):
            r = await http.post("/api/contacts", json={**CALL, "caller": bad})
            assert r.status_code == 422, r.text
            assert "telephone number is up to 20 digits" in r.text
        r = await http.post("/api/contacts", json={**CALL, "caller": "+86 138-0013-8000"})
        assert r.status_code == 201, r.text
        cid = r.json()["id"]
        assert r.json()["caller"] == "+8613800138000"  # as the ledger will keep it
        for bad in ("=HYPERLINK(1)", long_number, "12"):
            r = await http.post(f"/api/contacts/{cid}/callback", json={"number": bad})
            assert r.status_code == 422, r.text
        r = await http.post(f"/api/contacts/{cid}/callback", json={"number": "138 0013 8000"})
        assert r.json()["ok"], r.text
    async with lawline.client("boss", Role.SUPERVISOR) as boss:
        r = await boss.get("/api/ledger/contacts", params={"number": "=1+2"})
        assert r.status_code == 422 and "number" in r.text
        r = await boss.get("/api/ledger/contacts", params={"number": "+86 138 0013 8000"})
        assert r.status_code == 200


async def test_an_export_holds_no_live_formula(lawline: Running, clean_redis_url: str) -> None:
    """Text from callers and lawyers reaches the monthly export; a spreadsheet must show
    it as text, never run it, and a number must still read as the number."""
    hostile = {
        "eq": '=HYPERLINK("http://127.0.0.1/x","点此")',
        "at": "@SUM(1+1)",
        "minus": "-2+3+cmd|' /C calc'!A0",
        "tab": "\t=1+1",
        "cr": "\r=1+1",
        "plus": "+1+cmd|' /C calc'!A0",
    }
    redis = Redis.from_url(clean_redis_url, decode_responses=True)
    try:
        qs = QueueStore(redis)
        now = time.time()
        for i, (cid, reason) in enumerate(hostile.items()):
            c = replace(contact(cid, now + i), caller="+8613800138000")
            assert await qs.add_contact(c, now + i)
            await qs.abandon(cid, now + i + 0.5, reason)  # the hang-up's reason, as given
    finally:
        await redis.aclose()
    for cid in hostile:
        await recorded(lawline, cid, lambda c: c["state"] == "abandoned")
    day = {
        "since": datetime.fromtimestamp(now - 60, UTC).isoformat(),
        "until": datetime.fromtimestamp(now + 60, UTC).isoformat(),
    }
    reason_col = [k for k, _ in reports.COLUMNS].index("end_reason")
    caller_col = [k for k, _ in reports.COLUMNS].index("caller")
    async with lawline.client("boss", Role.SUPERVISOR) as boss:
        r = await boss.get("/api/ledger/export", params={**day, "format": "csv"})
        rows = list(csv.reader(io.StringIO(r.text.lstrip("\ufeff"), newline="")))[1:]
        assert {row[0]: row[reason_col] for row in rows} == {
            cid: "'" + reason for cid, reason in hostile.items()
        }
        assert {row[caller_col] for row in rows} == {"'+8613800138000"}
        r = await boss.get("/api/ledger/export", params=day)
        sheet = openpyxl.load_workbook(io.BytesIO(r.content)).active
        got = {}
        for row in sheet.iter_rows(min_row=2):
            got[row[0].value] = row[reason_col].value
            assert row[reason_col].data_type == "s" and row[caller_col].data_type == "s"
            assert row[caller_col].value == "+8613800138000"  # reads as the number
        # (openpyxl's own XML writer turns a carriage return into a line feed; with lxml
        # installed it keeps it)
        for cid, reason in hostile.items():
            assert got[cid] in ("'" + reason, "'" + reason.replace("\r", "\n")), cid


async def test_an_export_reads_in_the_centres_words_with_village_and_township(
    lawline: Running, clean_redis_url: str
) -> None:
    """The export the centre hands to the justice bureau: Chinese values under the
    Chinese headers (the pages' words), and where a video call came from."""
    redis = Redis.from_url(clean_redis_url, decode_responses=True)
    try:
        qs = QueueStore(redis)
        now = time.time()
        video = contact(
            "village", now, channel=Channel.VIDEO, domain=Domain.LABOUR, green=GreenReason.ELDERLY
        )
        place = {"terminal": "t1", "village": "石门村", "township": "城关镇"}
        assert await qs.add_contact(replace(video, caller=NUMBER, attrs=place), now)
        await qs.abandon("village", now + 1, "caller hung up")
        phone = contact("phone", now + 2, service=Service.LEGAL_AID)
        assert await qs.add_contact(replace(phone, caller=NUMBER), now + 2)
        await qs.abandon("phone", now + 3, "line lost: telephony worker died")
    finally:
        await redis.aclose()
    for cid in ("village", "phone"):
        await recorded(lawline, cid, lambda c: c["state"] == "abandoned")
    day = {
        "since": datetime.fromtimestamp(now - 60, UTC).isoformat(),
        "until": datetime.fromtimestamp(now + 60, UTC).isoformat(),
    }
    async with lawline.client("boss", Role.SUPERVISOR) as boss:
        r = await boss.get("/api/ledger/export", params={**day, "format": "csv"})
        header, *rows = list(csv.reader(io.StringIO(r.text.lstrip("\ufeff"), newline="")))
        csv_rows = {row[0]: dict(zip(header, row, strict=True)) for row in rows}
        r = await boss.get("/api/ledger/export", params=day)
        sheet = openpyxl.load_workbook(io.BytesIO(r.content)).active
        assert sheet.title == "台账"
        header, *rows = [[c.value for c in row] for row in sheet.iter_rows()]
        xlsx_rows = {row[0]: dict(zip(header, row, strict=True)) for row in rows}
    for got in (csv_rows, xlsx_rows):
        v, p = got["village"], got["phone"]
        assert (v["渠道"], v["乡镇"], v["村"]) == ("村居视频终端", "城关镇", "石门村")
        assert (v["服务类型"], v["法律领域"], v["绿色通道"]) == ("法律咨询", "劳动争议", "老年人")
        assert (v["状态"], v["结束原因"]) == ("未接通", "来电人挂断")
        assert (p["渠道"], p["服务类型"], p["结束原因"]) == (
            "12348 电话",
            "法律援助",
            "线路中断（话务进程重启）",
        )
        assert not p["乡镇"] and not p["村"]
        # No English code anywhere a person reads (ids and numbers aside).
        for row in (v, p):
            for title, value in row.items():
                if title not in ("编号", "来电号码", "来电时间") and isinstance(value, str):
                    assert not re.search(r"[A-Za-z]", value), (title, value)


async def test_reads_of_the_ledger_are_audited(lawline: Running, clean_redis_url: str) -> None:
    await said(clean_redis_url, "wages", "13900000001", "老板拖欠工资三个月了")
    await recorded(lawline, "wages", lambda c: c["transcript"])
    async with lawline.client("boss", Role.SUPERVISOR) as boss:
        r = await boss.post("/api/cases", json={"contact_id": "wages", "citizen_name": "李大山"})
        assert r.status_code == 201
    async with lawline.client("chen", Role.SUPERVISOR) as chen:
        assert (await chen.get("/api/ledger/contacts/wages")).status_code == 200
        assert (
            await chen.get("/api/contacts/wages/transcript", params={"format": "txt"})
        ).status_code == 200
        r = await chen.get(
            "/api/ledger/contacts",
            params={
                "number": "13900000001",
                "name": "李大山",
                "words": "工资",
                "service": "consultation",
            },
        )
        assert [c["id"] for c in r.json()] == ["wages"]
        now = datetime.now(UTC)
        month = {
            "since": (now - timedelta(days=1)).isoformat(),
            "until": (now + timedelta(hours=1)).isoformat(),
            "format": "csv",
        }
        assert (await chen.get("/api/ledger/export", params=month)).status_code == 200
    async with lawline.client("boss", Role.SUPERVISOR) as boss:
        trail = (await boss.get("/api/audit", params={"actor": "chen"})).json()
        assert (await boss.get("/api/audit", params={"limit": 0})).status_code == 422
    rows = {a["action"]: a["detail"] for a in trail}
    assert set(rows) == {"contact.read", "transcript.read", "ledger.search", "ledger.export"}
    assert rows["contact.read"] == "contact wages"
    assert rows["transcript.read"] == "contact wages txt"
    search = rows["ledger.search"]
    assert "service=consultation" in search and "number=*******0001" in search
    assert "found=1" in search and "name=h:" in search and "words=h:" in search
    for term in ("13900000001", "李大山", "大山", "工资"):
        assert term not in search
    assert "csv rows=1" in rows["ledger.export"]
    async with lawline.client("wang", Role.LAWYER) as wang:
        assert (await wang.get("/api/audit")).status_code == 403


# ----- the centre's days ----------------------------------------------------------------

BEIJING = ZoneInfo("Asia/Shanghai")


def beijing(*when: int) -> float:
    return datetime(*when, tzinfo=BEIJING).timestamp()  # type: ignore[misc]


async def entered(clean_redis_url: str, moments: dict[str, float]) -> None:
    """Contacts that entered (and were abandoned) at these moments."""
    redis = Redis.from_url(clean_redis_url, decode_responses=True)
    try:
        qs = QueueStore(redis)
        for cid, at in moments.items():
            assert await qs.add_contact(replace(contact(cid, at), caller=NUMBER), at)
            await qs.abandon(cid, at + 1, "caller hung up")
    finally:
        await redis.aclose()


async def test_a_case_opened_at_0008_beijing_time_is_numbered_that_day(
    lawline: Running, clean_redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """3 December 00:08 in Beijing is still 2 December in UTC: the number takes the
    centre's date."""
    await entered(clean_redis_url, {"night": beijing(2026, 12, 3, 0, 5)})
    await recorded(lawline, "night", lambda c: c["state"] == "abandoned")
    opened = datetime(2026, 12, 3, 0, 8, tzinfo=BEIJING)
    monkeypatch.setattr(cases_api, "_now", lambda: opened.astimezone(UTC))
    async with lawline.client("boss", Role.SUPERVISOR) as boss:
        r = await boss.post("/api/cases", json={"contact_id": "night"})
        assert r.status_code == 201, r.text
        assert r.json()["id"].startswith("20261203-")
        assert datetime.fromisoformat(r.json()["opened_at"]) == opened


async def test_plain_dates_are_whole_days_in_the_centres_time_zone(
    lawline: Running, clean_redis_url: str
) -> None:
    """?since=2026-12-01&until=2026-12-31 is December in Beijing: its first and last
    minutes in, the minutes either side out; times carry their offset (or are read on
    the centre's clock); a bad value is a 422 that says what to give."""
    await entered(clean_redis_url, {
        "nov-last": beijing(2026, 11, 30, 23, 59), "dec-first": beijing(2026, 12, 1, 0, 1),
        "dec-last": beijing(2026, 12, 31, 23, 59), "jan-first": beijing(2027, 1, 1, 0, 1),
    })  # fmt: skip
    await recorded(lawline, "jan-first", lambda c: c["state"] == "abandoned")
    december = {"since": "2026-12-01", "until": "2026-12-31"}
    entered_col = [k for k, _ in reports.COLUMNS].index("entered_at")
    async with lawline.client("boss", Role.SUPERVISOR) as boss:
        r = await boss.get("/api/ledger/export", params={**december, "format": "csv"})
        assert r.status_code == 200, r.text
        assert 'filename="ledger-20261201-20261231.csv"' in r.headers["content-disposition"]
        rows = list(csv.reader(io.StringIO(r.text.lstrip("\ufeff"))))[1:]
        assert {row[0]: row[entered_col] for row in rows} == {
            "dec-first": "2026-12-01 00:01:00",
            "dec-last": "2026-12-31 23:59:00",
        }
        r = await boss.get("/api/ledger/export", params=december)
        sheet = openpyxl.load_workbook(io.BytesIO(r.content)).active
        assert sheet.cell(2, entered_col + 1).value == datetime(2026, 12, 1, 0, 1)

        f = (await boss.get("/api/ledger/figures", params=december)).json()
        assert (f["contacts"], f["abandoned"]) == (2, 2)
        for since, until in [
            ("2026-12-01T00:00:00+08:00", "2027-01-01T00:00:00+08:00"),
            ("2026-11-30T16:00:00Z", "2026-12-31T16:00:00Z"),
            ("2026-12-01T00:00:00 08:00", "2027-01-01 00:00"),  # an unescaped "+"; no offset
        ]:
            r = await boss.get("/api/ledger/figures", params={"since": since, "until": until})
            assert r.json()["contacts"] == 2, (since, until, r.text)
        one_day = {"since": "2026-12-31", "until": "2026-12-31"}
        r = await boss.get("/api/ledger/contacts", params=one_day)
        assert [c["id"] for c in r.json()] == ["dec-last"]
        r = await boss.get("/api/ledger/contacts", params={"until": "2026-11-30"})
        assert [c["id"] for c in r.json()] == ["nov-last"]

        for bad in (
            "2026-13-01",
            "yesterday",
            "1764518400",
            "0001-01-01",
            "2026-12-01T25:00",
            "2026-12-01" + "0" * 50,
        ):
            for path in ("/api/ledger/export", "/api/ledger/figures"):
                r = await boss.get(path, params={**december, "since": bad})
                assert r.status_code == 422, (path, bad, r.text)
                assert "give a date" in r.text or "1970 to 2999" in r.text
            r = await boss.get("/api/ledger/contacts", params={"until": bad})
            assert r.status_code == 422, (bad, r.text)
        backwards = {"since": "2026-12-31", "until": "2026-12-01"}
        r = await boss.get("/api/ledger/export", params=backwards)
        assert r.status_code == 422 and "until must be after since" in r.text
