"""One bad event never halts the ledger: on a real Redis stream and both databases
(SQLite and a private PostgreSQL), a poisoned event in the middle of a batch is set
aside on the dead-letter stream, the rest of the batch is in the ledger, the consumer
keeps going, and the log says which event and why, never what it held."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import replace

import pytest
from redis.asyncio import Redis
from sqlalchemy import select

from lawline.cases.ingest import LedgerIngest
from lawline.cases.models import LedgerContact
from lawline.db import make_engine, session_factory, upgrade
from lawline.queue.keys import LEDGER_GROUP, QueueKeys
from lawline.queue.store import QueueStore
from lawline.transcripts.store import TranscriptStore
from tests.queue_helpers import T0, contact, ledger_caught_up

LONG_CALLER = "1380013800013800138000138001380013800138"  # 40 digits: longer than the column


async def until(check: Callable[[], object], seconds: float = 20) -> None:
    """Poll `check` until it is true, or fail after `seconds`."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not await asyncio.to_thread(check):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("the ledger never got there")
        await asyncio.sleep(0.05)


def _ids(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            return set(s.scalars(select(LedgerContact.id)))
    finally:
        engine.dispose()


async def _call(store: QueueStore, cid: str, at: float, caller: str = "13800138000") -> None:
    assert await store.add_contact(replace(contact(cid, at), caller=caller), at)
    await store.abandon(cid, at + 1, "caller hung up")


async def test_a_poisoned_event_is_set_aside_and_the_ledger_goes_on(
    redis: Redis, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    upgrade(database_url)
    store = QueueStore(redis, "ll")
    for i in range(5):
        await _call(store, f"before{i}", T0 + i)
    # A SIP caller is unbounded: 40 digits reach the queue and its event stream.
    await _call(store, "spoofed", T0 + 10, caller=LONG_CALLER)
    # An event nobody can decode, carrying a number in its raw text.
    await redis.xadd(
        "ll:events",
        {
            "type": "contact.entered",
            "at": str(T0),
            "contact": '{"id": "x", "caller": "13911112222"',
        },
    )
    poisoned = [
        eid
        for eid, f in await redis.xrange("ll:events")
        if '"spoofed"' in f["contact"] or '"x"' in f["contact"]
    ]
    assert len(poisoned) == 3  # two events of the spoofed call, one undecodable
    for i in range(5):
        await _call(store, f"after{i}", T0 + 20 + i)
    if database_url.startswith("postgresql"):
        # What only PostgreSQL refuses (a NUL in text) is caught when the batch is
        # retried event by event.
        nul = replace(contact("nul", T0 + 30), caller="13800138000")
        assert await store.add_contact(nul, T0 + 30)
        await redis.hset(store.keys.contact("nul"), "domain", "lab\x00our")
        await store.abandon("nul", T0 + 31, "caller hung up")

    engine = make_engine(database_url)
    ingest = LedgerIngest(
        redis, QueueKeys("ll"), session_factory(engine), TranscriptStore(store), consumer="one"
    )
    task = asyncio.create_task(ingest.run())
    try:
        good = {f"before{i}" for i in range(5)} | {f"after{i}" for i in range(5)}
        await until(lambda: _ids(database_url) >= good)
        want = len(poisoned) + database_url.startswith("postgresql")
        dead = await _dead(redis)
        for _ in range(400):
            if len(dead := await _dead(redis)) >= want:
                break
            await asyncio.sleep(0.05)
        assert set(poisoned) <= set(dead)
        assert "caller" in dead[poisoned[0]]["reason"]
        assert json.loads(dead[poisoned[0]]["fields"])["type"] == "contact.entered"
        assert "spoofed" not in _ids(database_url) and "x" not in _ids(database_url)
        # The consumer keeps going: a later call is in the ledger, nothing is pending.
        await _call(store, "later", T0 + 40)
        await until(lambda: "later" in _ids(database_url))
        # Every event read (the call's last may come a batch after the one that put it
        # in the ledger) and nothing left pending.
        for _ in range(400):
            if await ledger_caught_up(redis):
                break
            await asyncio.sleep(0.05)
        pending = await redis.xpending_range("ll:events", LEDGER_GROUP, "-", "+", 10)
        assert await ledger_caught_up(redis), (pending, ingest.applied, ingest.set_aside)
        if database_url.startswith("postgresql"):
            refused = [d for d in dead.values() if "database refused" in d["reason"]]
            assert len(refused) == 1, dead
        assert int(await redis.get("ll:events:dead:count") or 0) == len(await _dead(redis))
    finally:
        ingest.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        engine.dispose()
    # Which event, and why: never the number it carried.
    set_aside = [r for r in caplog.records if r.getMessage() == "ledger: event set aside"]
    assert {r.__dict__["event"] for r in set_aside} >= set(poisoned)
    for number in (LONG_CALLER, "13911112222", "13800138000"):
        assert number not in caplog.text
        assert not [r for r in caplog.records if number in _fields_of(r)]


async def _dead(redis: Redis) -> dict[str, dict[str, str]]:
    return {f["event_id"]: f for _, f in await redis.xrange(QueueKeys("ll").dead_events)}


def _fields_of(record: logging.LogRecord) -> str:
    out = []
    for value in record.__dict__.values():
        try:
            out.append(str(value))
        except Exception:  # a field that cannot be shown cannot leak either
            continue
    return " ".join(out)
