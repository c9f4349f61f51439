"""The queue against a real redis-server: QueueStore's Lua scripts and QueueService.

Time is a fake clock the tests move by hand; routing passes and timer sweeps are
called directly (`route()`, `sweep()`), except where a running service is the
point (Redis restarts) or several OS processes share one Redis.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from lawline.config import Settings
from lawline.queue.service import QueueService
from lawline.queue.skills import Domain, GreenReason, Presence, Service
from lawline.queue.store import QueueStore, decode_event
from lawline.redis_server import EmbeddedRedis
from tests.queue_churn_worker import churn_lawyers
from tests.queue_helpers import (
    T0,
    FakeClock,
    Harness,
    check_consistent,
    contact,
    dump_state,
    harness,
    lawyer,
    replay_events,
    routing_settings,
    stop_service,
)

REPO = Path(__file__).resolve().parents[1]
T = TypeVar("T")


@pytest.fixture
async def q(clean_redis_url: str) -> AsyncIterator[Harness]:
    async with harness(clean_redis_url) as h:
        yield h


async def offered_events(h: Harness, contact_id: str) -> list[dict[str, str]]:
    return [
        json.loads(e["contact"])
        for e in await h.events()
        if e["type"] == "contact.offered" and json.loads(e["contact"])["id"] == contact_id
    ]


# ----- one contact's life -------------------------------------------------------------------


async def test_offer_accept_end_wrapup_and_available_again(q: Harness) -> None:
    await q.add_lawyer(lawyer("wang", domains={Domain.LABOUR: 4}))
    await q.add(contact("wages-1", q.clock(), domain=Domain.LABOUR))

    assert await q.route() == [("wages-1", "wang")]
    c = await q.contact_hash("wages-1")
    assert (c["state"], c["lawyer"], float(c["offer_deadline"])) == ("offered", "wang", T0 + 15)
    assert (await q.lawyer_hash("wang"))["state"] == "offered"
    offer_event = (await q.events())[-1]
    assert offer_event["type"] == "contact.offered"
    assert json.loads(offer_event["lawyer"])["offer"] == "wages-1"

    q.clock.advance(5)
    assert await q.service.accept("wages-1", "wang")
    c, lw = await q.contact_hash("wages-1"), await q.lawyer_hash("wang")
    assert (c["state"], float(c["answered_at"])) == ("connected", T0 + 5)
    assert (lw["state"], lw["load_voice"], lw["offer"]) == ("busy", "1", "")
    assert not await q.service.accept("wages-1", "wang"), "an offer is accepted once"

    q.clock.advance(120)
    assert await q.service.end("wages-1", "caller") == 1
    assert await q.service.end("wages-1", "lawyer") == 0
    c, lw = await q.contact_hash("wages-1"), await q.lawyer_hash("wang")
    assert (c["state"], c["ended_by"]) == ("ended", "caller")
    assert (lw["state"], lw["load_voice"], float(lw["wrapup_until"])) == ("wrapup", "0", T0 + 185)

    await q.add(contact("wages-2", q.clock(), domain=Domain.LABOUR))
    assert await q.route() == [], "no offer during wrap-up"
    q.clock.t = T0 + 184.9
    await q.sweep()
    assert await q.route() == []
    assert (await q.lawyer_hash("wang"))["state"] == "wrapup"
    q.clock.t = T0 + 185
    await q.sweep()
    assert (await q.lawyer_hash("wang"))["state"] == "available"
    assert await q.route() == [("wages-2", "wang")]
    types = [
        e["type"]
        for e in await q.events()
        if json.loads(e.get("contact", "{}")).get("id") == "wages-1"
    ]
    assert types == ["contact.entered", "contact.offered", "contact.answered", "contact.ended"]


async def test_ready_ends_wrapup_early(q: Harness) -> None:
    await q.add_lawyer(lawyer("li"))
    await q.add(contact("a", q.clock()))
    await q.route()
    assert await q.service.accept("a", "li")
    assert await q.service.end("a", "lawyer") == 1
    await q.add(contact("b", q.clock()))
    assert await q.route() == []
    q.clock.advance(10)
    assert await q.service.ready("li")
    assert await q.route() == [("b", "li")]


async def test_a_lawyer_extends_wrapup_a_configured_number_of_times(
    clean_redis_url: str,
) -> None:
    settings = routing_settings(
        console_timeout_s=86_400, wrapup_s=60, wrapup_extend_s=90, wrapup_extensions=2
    )
    async with harness(clean_redis_url, settings) as q:
        await q.add_lawyer(lawyer("li"))
        assert await q.service.extend_wrapup("li") == 0, "nothing to extend before a call"
        await q.add(contact("a", q.clock()))
        await q.route()
        assert await q.service.accept("a", "li")
        q.clock.advance(30)
        assert await q.service.end("a", "lawyer") == 1
        assert float((await q.lawyer_hash("li"))["wrapup_until"]) == T0 + 90

        q.clock.advance(50)
        assert await q.service.extend_wrapup("li") == 1
        assert await q.service.extend_wrapup("li") == 1
        assert await q.service.extend_wrapup("li") == -1, "two extensions, not three"
        lw = await q.lawyer_hash("li")
        assert (float(lw["wrapup_until"]), lw["wrapup_extensions"]) == (T0 + 270, "2")
        assert await q.redis.zscore(q.store.keys.wrapups, "li") == T0 + 270
        extended = [e for e in await q.events() if e["type"] == "lawyer.wrapup_extended"]
        assert [json.loads(e["lawyer"])["wrapup_until"] for e in extended] == [
            f"{T0 + 180:.6f}",
            f"{T0 + 270:.6f}",
        ]

        # The old deadline passes and nothing happens; the new one ends it.
        await q.add(contact("b", q.clock()))
        q.clock.t = T0 + 269
        await q.sweep()
        assert await q.route() == [] and (await q.lawyer_hash("li"))["state"] == "wrapup"
        q.clock.t = T0 + 270
        await q.sweep()
        assert await q.route() == [("b", "li")]
        assert (await q.service.lawyer_figures("li"))["wrapups_extended"] == 2  # type: ignore[index]

        # The next wrap-up may be extended afresh.
        assert await q.service.accept("b", "li")
        assert await q.service.end("b", "caller") == 1
        assert await q.service.extend_wrapup("li") == 1
        assert (await q.lawyer_hash("li"))["wrapup_extensions"] == "1"
        assert (await q.service.lawyer_figures("li"))["wrapups_extended"] == 3  # type: ignore[index]


async def test_reject_requeues_with_original_entry_and_offers_to_someone_else(
    q: Harness,
) -> None:
    await q.add_lawyer(lawyer("zhao"))
    await q.add(contact("first", T0))
    assert await q.route() == [("first", "zhao")]
    q.clock.advance(10)
    await q.add_lawyer(lawyer("qian"))
    q.clock.advance(3)
    assert await q.service.reject("first", "zhao")
    await q.pump()

    c = await q.contact_hash("first")
    assert (c["state"], c["lawyer"], float(c["entered_at"])) == ("waiting", "", T0)
    assert await q.redis.zscore(q.store.keys.waiting, "first") == T0
    requeued = (await q.events())[-1]
    assert (requeued["type"], requeued["reason"]) == ("contact.requeued", "rejected")
    # A later caller stays behind: the place in the queue was kept.
    await q.add(contact("second", q.clock()))
    assert [(w.contact.id, w.position) for w in await q.service.waiting()] == [
        ("first", 1),
        ("second", 2),
    ]
    assert ("first", "qian") in await q.route()
    assert (await q.lawyer_hash("zhao"))["missed"] == "0", "a declined offer is not a missed one"
    assert (await q.store.stats(Service.CONSULTATION))["offers_rejected"] == 1


async def test_a_declined_contact_goes_to_another_free_lawyer_not_back(q: Harness) -> None:
    await q.add_lawyer(lawyer("expert", domains={Domain.LABOUR: 5}))
    await q.add_lawyer(lawyer("generalist", domains={Domain.LABOUR: 3}))
    await q.add(contact("wages", T0, domain=Domain.LABOUR))
    assert await q.route() == [("wages", "expert")]
    q.clock.advance(2)
    assert await q.service.reject("wages", "expert")
    assert await q.route() == [("wages", "generalist")]


async def test_offer_timeouts_requeue_and_missed_offers_in_a_row_mean_a_break(
    q: Harness,
) -> None:
    await q.add_lawyer(lawyer("sun"))
    await q.add(contact("caller", T0))
    for missed in (1, 2, 3):
        assert await q.route() == [("caller", "sun")]
        deadline = float((await q.contact_hash("caller"))["offer_deadline"])
        q.clock.advance(14.9)
        await q.sweep()
        assert (await q.contact_hash("caller"))["state"] == "offered", "not before the deadline"
        q.clock.t = deadline
        await q.sweep()
        c, lw = await q.contact_hash("caller"), await q.lawyer_hash("sun")
        assert (c["state"], float(c["entered_at"])) == ("waiting", T0)
        assert lw["missed"] == str(missed)
        if missed < 3:
            assert (lw["presence"], lw["state"]) == ("available", "available")
    assert (lw["presence"], lw["state"], lw["break_reason"]) == ("break", "break", "missed offers")
    assert await q.route() == [], "nobody left on duty"
    assert (await q.store.stats(Service.CONSULTATION))["offers_timeout"] == 3
    assert await q.service.set_presence("sun", Presence.AVAILABLE) == 1
    assert (await q.lawyer_hash("sun"))["missed"] == "0"
    assert await q.route() == [("caller", "sun")]


async def test_an_answered_offer_resets_the_missed_count(clean_redis_url: str) -> None:
    settings = routing_settings(max_missed_offers=2, console_timeout_s=86_400)
    async with harness(clean_redis_url, settings) as q:
        await _miss_answer_miss_answer(q)


async def _miss_answer_miss_answer(q: Harness) -> None:
    await q.add_lawyer(lawyer("zhou"))
    for i in range(3):
        await q.add(contact(f"c{i}", T0 + i))
    for cid in ("c0", "c1"):
        assert await q.route() == [(cid, "zhou")]
        q.clock.advance(15)
        await q.sweep()
        assert await q.route() == [(cid, "zhou")]
        assert await q.service.accept(cid, "zhou")
        assert await q.service.end(cid, "caller") == 1
        assert await q.service.ready("zhou")
    lw = await q.lawyer_hash("zhou")
    assert (lw["presence"], lw["missed"]) == ("available", "0")


@pytest.mark.parametrize("presence", [Presence.OFFLINE, Presence.BREAK])
async def test_lawyer_leaving_with_an_offer_puts_the_contact_back_at_once(
    q: Harness, presence: Presence
) -> None:
    await q.add_lawyer(lawyer("wu"))
    await q.add(contact("caller", T0))
    assert await q.route() == [("caller", "wu")]
    await q.add_lawyer(lawyer("zheng"))
    q.clock.advance(4)
    assert await q.service.set_presence("wu", presence, "lunch") == 1
    await q.pump()
    c, lw = await q.contact_hash("caller"), await q.lawyer_hash("wu")
    assert (c["state"], float(c["entered_at"])) == ("waiting", T0)
    assert (lw["state"], lw["offer"], lw["missed"]) == (presence.value, "", "0")
    assert await q.route() == [("caller", "zheng")]


async def test_a_silent_console_is_taken_offline_and_its_offer_requeued(
    clean_redis_url: str,
) -> None:
    async with harness(clean_redis_url, routing_settings(offer_timeout_s=600)) as q:
        await q.add_lawyer(lawyer("feng"))
        await q.add(contact("caller", T0))
        assert await q.route() == [("caller", "feng")]
        await q.add_lawyer(lawyer("chen"))

        q.clock.advance(10)
        await q.service.console_seen("feng")
        await q.service.console_seen("chen")
        q.clock.advance(20)  # feng last heard from exactly 20 s ago
        await q.sweep()
        assert (await q.lawyer_hash("feng"))["presence"] == "available"
        assert (await q.contact_hash("caller"))["state"] == "offered"
        await q.service.console_seen("chen")

        q.clock.advance(1)
        await q.sweep()
        lw, c = await q.lawyer_hash("feng"), await q.contact_hash("caller")
        assert (lw["presence"], lw["state"], lw["break_reason"]) == (
            "offline",
            "offline",
            "console lost",
        )
        assert (c["state"], float(c["entered_at"]), lw["missed"]) == ("waiting", T0, "0")
        assert (await q.lawyer_hash("chen"))["presence"] == "available"
        assert await q.route() == [("caller", "chen")]


async def test_a_silent_console_mid_call_keeps_the_call(clean_redis_url: str) -> None:
    async with harness(clean_redis_url, routing_settings()) as q:
        await q.add_lawyer(lawyer("han"))
        await q.add(contact("caller", T0))
        await q.route()
        assert await q.service.accept("caller", "han")
        q.clock.advance(60)
        await q.sweep()
        lw = await q.lawyer_hash("han")
        assert (lw["presence"], lw["state"]) == ("offline", "busy")
        assert (await q.contact_hash("caller"))["state"] == "connected"
        assert await q.service.end("caller", "caller") == 1


async def test_caller_hangs_up_while_waiting(q: Harness) -> None:
    await q.add(contact("impatient", T0))
    q.clock.advance(42)
    assert await q.service.abandon("impatient") == 1
    assert await q.service.abandon("impatient") == 0
    await q.pump()
    c = await q.contact_hash("impatient")
    assert (c["state"], float(c["ended_at"])) == ("abandoned", T0 + 42)
    assert await q.redis.zcard(q.store.keys.waiting) == 0
    assert await q.service.waiting() == []
    await q.add_lawyer(lawyer("lu"))
    assert await q.route() == []
    stats = await q.store.stats(Service.CONSULTATION)
    assert (stats["abandoned"], stats["wait_abandoned_s"]) == (1, 42)


async def test_caller_hangs_up_while_offered_frees_the_lawyer_without_a_miss(
    q: Harness,
) -> None:
    await q.add_lawyer(lawyer("lu"))
    await q.add(contact("impatient", T0))
    await q.add(contact("patient", T0 + 1))
    assert await q.route() == [("impatient", "lu")]
    q.clock.advance(5)
    assert await q.service.abandon("impatient") == 1
    await q.pump()
    lw = await q.lawyer_hash("lu")
    assert (lw["state"], lw["offer"], lw["missed"]) == ("available", "", "0")
    assert await q.redis.zcard(q.store.keys.offers) == 0
    assert not await q.service.accept("impatient", "lu")
    assert await q.route() == [("patient", "lu")]
    # A connected contact cannot be abandoned: it is ended.
    assert await q.service.accept("patient", "lu")
    assert await q.service.abandon("patient") == -1
    assert await q.service.abandon("nobody") == -2
    assert (await q.store.stats(Service.CONSULTATION)).get("offers_timeout", 0) == 0


async def test_a_callback_request_keeps_the_place_and_the_offer_says_callback(
    q: Harness,
) -> None:
    await q.add(contact("elder", T0))
    await q.add(contact("younger", T0 + 5))
    q.clock.advance(30)
    assert await q.service.request_callback("elder", "+86 13900000000") == 1
    assert await q.service.request_callback("elder", "+86 13900000000") == 0
    await q.pump()
    assert [(w.contact.id, w.position) for w in await q.service.waiting()] == [
        ("elder", 1),
        ("younger", 2),
    ]
    assert (await q.contact_hash("elder"))["callback_number"] == "+86 13900000000"
    await q.add_lawyer(lawyer("ma"))
    assert await q.route() == [("elder", "ma")]
    [offered] = await offered_events(q, "elder")
    assert offered["callback"] == "1"
    event = (await q.redis.xrevrange(q.store.keys.events, count=1))[0]
    decoded = decode_event(*event)
    assert decoded.contact is not None and decoded.contact.callback
    assert await q.service.request_callback("nobody", "1") == -1


async def test_an_unanswered_callback_frees_the_lawyer_then_retries_at_its_old_place(
    q: Harness,
) -> None:
    await q.add(contact("elder", T0))
    assert await q.service.request_callback("elder", "13900000000") == 1
    await q.add_lawyer(lawyer("ma"))
    assert await q.route() == [("elder", "ma")]
    q.clock.advance(2)
    assert await q.service.accept("elder", "ma")
    q.clock.advance(20)  # rang out
    assert await q.service.callback_failed("elder", "no answer") == 1
    await q.pump()
    # The lawyer is free at once and no conversation or answer is counted.
    lawyer_h = await q.lawyer_hash("ma")
    assert (lawyer_h["state"], lawyer_h.get("handled", "0")) == ("available", "0")
    assert (await q.store.stats(Service.CONSULTATION)).get("answered", 0) == 0
    h = await q.contact_hash("elder")
    assert (h["state"], h["callback_attempts"], h["last_attempt_result"]) == (
        "scheduled",
        "1",
        "no answer",
    )
    # A newer caller is served while the callback waits for its retry time.
    await q.add(contact("newer", q.clock()))
    assert await q.route() == [("newer", "ma")]
    assert await q.service.reject("newer", "ma")
    q.clock.advance(q.service.settings.telephony.callback_retry_s)
    await q.sweep()
    first, *_ = await q.service.waiting()
    assert first.contact.id == "elder", "back at its old place, ahead of the newer caller"
    assert (await q.contact_hash("elder"))["state"] in ("waiting", "offered")


async def test_a_callback_unanswered_every_time_is_given_up(q: Harness) -> None:
    await q.add(contact("away", T0))
    assert await q.service.request_callback("away", "13900000000") == 1
    await q.add_lawyer(lawyer("ma"))
    attempts = q.service.settings.telephony.callback_attempts
    for attempt in range(1, attempts + 1):
        assert await q.route() == [("away", "ma")]
        assert await q.service.accept("away", "ma")
        result = await q.service.callback_failed("away", "busy")
        assert result == (2 if attempt == attempts else 1)
        q.clock.advance(q.service.settings.telephony.callback_retry_s)
        await q.sweep()
    h = await q.contact_hash("away")
    assert (h["state"], h["ended_by"], h["callback_attempts"]) == (
        "abandoned",
        "callback not answered",
        str(attempts),
    )
    assert (await q.store.stats(Service.CONSULTATION))["abandoned"] == 1
    assert await q.service.callback_failed("away", "busy") == -1
    # Only a connected callback can fail: a plain call ends the normal way.
    await q.add(contact("plain", q.clock()))
    assert await q.route() == [("plain", "ma")]
    assert await q.service.accept("plain", "ma")
    assert await q.service.callback_failed("plain", "busy") == -1


async def test_a_transfer_to_a_named_colleague_keeps_the_place_and_carries_a_note(
    q: Harness,
) -> None:
    await q.add(contact("early", T0))
    await q.add_lawyer(lawyer("wang"))
    assert await q.route() == [("early", "wang")]
    assert await q.service.accept("early", "wang")
    await q.add(contact("later", T0 + 10))
    await q.add_lawyer(lawyer("zhao"))
    q.clock.advance(120)
    note = "工伤认定，请赵律师接手"
    assert await q.service.transfer("early", "li", note, to_lawyer="zhao") == -1, "not li's"
    assert await q.service.transfer("early", "wang", note, to_lawyer="nobody") == -2
    assert await q.route() == [("later", "zhao")]
    await q.add_lawyer(lawyer("li"))
    assert await q.service.transfer("early", "wang", note, to_lawyer="zhao") == 1
    await q.pump()
    h = await q.contact_hash("early")
    assert (h["state"], h["preferred_lawyer"], float(h["entered_at"])) == ("waiting", "zhao", T0)
    assert json.loads(h["attrs"])["notes"] == f"wang: {note}"
    assert (await q.lawyer_hash("wang"))["state"] == "wrapup"
    assert await q.route() == [], "li is free but the contact waits for zhao"
    assert await q.service.reject("later", "zhao")
    assert sorted(await q.route()) == [("early", "zhao"), ("later", "li")]
    assert (await q.store.stats(Service.CONSULTATION))["transferred"] == 1


async def test_a_transfer_back_to_another_queue_goes_to_anyone_there(q: Harness) -> None:
    await q.add(contact("caller", T0))
    await q.add_lawyer(lawyer("wang"))
    await q.add_lawyer(lawyer("aid", services={Service.LEGAL_AID: 3}))
    assert await q.route() == [("caller", "wang")]
    assert await q.service.accept("caller", "wang")
    assert await q.service.transfer("caller", "wang", "符合援助条件", to_service=Service.LEGAL_AID)
    assert await q.route() == [("caller", "aid")]


async def test_an_undecodable_event_is_skipped_not_fatal(q: Harness) -> None:
    await q.redis.xadd(q.store.keys.events, {"type": "contact.entered", "contact": "{broken"})
    await q.add(contact("after", T0))
    assert [w.contact.id for w in await q.service.waiting()] == ["after"]


async def test_adding_the_same_contact_twice_changes_nothing(q: Harness) -> None:
    c = contact("retry", T0)
    assert await q.service.add_contact(c)
    assert not await q.service.add_contact(c)
    await q.add_lawyer(lawyer("he"))
    assert await q.route() == [("retry", "he")]
    q.clock.advance(3)
    assert not await q.service.add_contact(contact("retry", q.clock()))
    await q.pump()
    h = await q.contact_hash("retry")
    assert (h["state"], float(h["entered_at"])) == ("offered", T0)
    assert await q.redis.zcard(q.store.keys.waiting) == 0
    entered = [e for e in await q.events() if e["type"] == "contact.entered"]
    assert len(entered) == 1
    assert (await q.store.stats(Service.CONSULTATION))["entered"] == 1


async def test_queue_figures_match_what_happened(q: Harness) -> None:
    await q.add_lawyer(lawyer("xu"))
    await q.add(contact("quick", T0))
    q.clock.advance(5)
    assert await q.route() == [("quick", "xu")]
    assert await q.service.accept("quick", "xu")  # waited 5 s: within the service level
    q.clock.t = T0 + 10
    await q.add(contact("slow", T0 + 10))
    q.clock.t = T0 + 20
    await q.add(contact("gone", T0 + 20))
    q.clock.t = T0 + 50
    assert await q.service.abandon("gone") == 1
    q.clock.t = T0 + 105
    assert await q.service.end("quick", "caller") == 1  # talked 100 s
    q.clock.t = T0 + 165
    await q.sweep()
    assert await q.route() == [("slow", "xu")]
    q.clock.t = T0 + 170
    assert await q.service.accept("slow", "xu")  # waited 160 s
    q.clock.t = T0 + 230
    assert await q.service.end("slow", "lawyer") == 1  # talked 60 s
    await q.add(contact("now", T0 + 230))
    q.clock.t = T0 + 237

    fig = (await q.service.queue_figures())[Service.CONSULTATION]
    assert fig["entered"] == 4
    assert (fig["answered"], fig["abandoned"], fig["answered_in_sl"]) == (2, 1, 1)
    assert fig["service_level"] == pytest.approx(1 / 3)
    assert fig["answer_rate"] == pytest.approx(2 / 3)
    assert fig["handled"] == 2
    assert fig["average_handle_s"] == pytest.approx((100 + 60) / 2 + 60)
    assert fig["average_wait_s"] == pytest.approx((5 + 160) / 2)
    assert (fig["waiting"], fig["longest_wait_s"]) == (1, 7)
    idle = (await q.service.queue_figures())[Service.LEGAL_AID]
    assert (idle["answered"], idle["service_level"], idle["answer_rate"]) == (0, None, None)
    # The caller now waiting hears an estimate from the measured handle time.
    [w] = await q.service.waiting()
    assert (w.contact.id, w.position, w.waited_s) == ("now", 1, 7)
    assert w.estimated_wait_s == pytest.approx(140)

    figures = await q.service.lawyer_figures("xu")
    assert figures is not None
    assert figures["handled"] == 2
    assert figures["seconds_busy"] == pytest.approx(100 + 60)


async def test_waiting_gives_positions_and_an_estimate_only_when_someone_is_on_duty(
    q: Harness,
) -> None:
    await q.add(contact("a", T0))
    await q.add(contact("b", T0 + 10))
    await q.add(contact("herder", T0 + 20, language="mn"))
    await q.add(contact("old-man", T0 + 25, green=GreenReason.ELDERLY))
    q.clock.t = T0 + 30
    before = {w.contact.id: w for w in await q.service.waiting()}
    assert {k: (w.position, w.estimated_wait_s) for k, w in before.items()} == {
        "old-man": (1, None),
        "a": (2, None),
        "b": (3, None),
        "herder": (1, None),
    }
    assert before["a"].waited_s == 30
    # On break or offline is not on duty.
    await q.add_lawyer(lawyer("off-1"), Presence.BREAK)
    await q.add_lawyer(lawyer("off-2", languages={"mn"}), Presence.OFFLINE)
    assert all(w.estimated_wait_s is None for w in await q.service.waiting())
    # Two on duty for Mandarin: default handle time 300 s shared between them.
    await q.add_lawyer(lawyer("on-1"))
    await q.add_lawyer(lawyer("on-2"))
    after = {w.contact.id: w.estimated_wait_s for w in await q.service.waiting()}
    assert after == {"old-man": 150, "a": 300, "b": 450, "herder": None}
    assert (await q.service.position_of("b")) is not None
    assert (await q.service.position_of("nobody")) is None


async def test_a_lawyer_in_wrapup_on_a_second_line_does_not_hold_up_the_queue(
    q: Harness,
) -> None:
    await q.add_lawyer(lawyer("two-lines", domains={Domain.LABOUR: 5}, voice=2))
    for cid in ("first", "second"):
        await q.add(contact(cid, q.clock(), domain=Domain.LABOUR))
        assert await q.route() == [(cid, "two-lines")]
        assert await q.service.accept(cid, "two-lines")
    q.clock.advance(100)
    assert await q.service.end("first", "caller") == 1  # wrap-up of 60 s, second call on
    await q.add_lawyer(lawyer("colleague", domains={Domain.LABOUR: 3}))
    await q.add(contact("third", q.clock(), domain=Domain.LABOUR))
    for _ in range(3):
        q.clock.advance(1)
        await q.route()
    assert (await q.contact_hash("third"))["state"] == "offered"


async def test_stop_returns_right_after_an_event(clean_redis_url: str) -> None:
    """Shutting lawline down on a busy hotline: an event was just folded in."""
    redis = Redis.from_url(clean_redis_url, decode_responses=True)
    service = QueueService(QueueStore(redis), Settings(), tick_s=5, sweep_s=5)
    await service.start()
    try:
        await service.add_contact(contact("caller", time.time()))
        [event] = await service.store.read_events("0-0")
        await asyncio.sleep(0.2)  # the loops are idle, waiting for work
        service.apply(event)
        stopping = asyncio.ensure_future(service.stop())
        done, _ = await asyncio.wait([stopping], timeout=3)  # a bound for a hang
        assert done, "stop() hangs"
    finally:
        await stop_service(service)
        await redis.aclose()


# ----- several processes on one Redis ---------------------------------------------------------


async def test_three_processes_routing_at_once_keep_the_queue_consistent(
    clean_redis_url: str,
) -> None:
    redis = Redis.from_url(clean_redis_url, decode_responses=True)
    try:
        store = QueueStore(redis)
        for lw in churn_lawyers():
            await store.create_lawyer(lw, time.time())
            await store.set_presence(lw.id, Presence.AVAILABLE, time.time())
        procs = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tests.queue_churn_worker",
                clean_redis_url,
                str(worker),
                str(1000 + worker),
                "150",
                cwd=REPO,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            for worker in range(3)
        ]
        outputs = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in procs)), 120)
        for p, (_, err) in zip(procs, outputs, strict=True):
            assert p.returncode == 0, err.decode()
        summaries = [json.loads(out) for out, _ in outputs]

        entries = await redis.xrange(store.keys.events, "-", "+")
        replay = replay_events(entries)
        assert replay.violations == []
        # The run did what it was meant to: offers raced, were answered, declined, timed out.
        assert replay.counts["contact.offered"] >= 5, replay.counts
        assert replay.counts["contact.answered"] >= 2, replay.counts
        assert replay.counts["contact.requeued"] >= 1, replay.counts

        assert await check_consistent(redis) == []
        # Nobody got lost: every contact entered is in Redis, in the state the stream says.
        added = {cid for s in summaries for cid in s["added"]}
        assert len(added) == replay.counts["contact.entered"]
        for cid in added:
            h = await store.get_contact_hash(cid)
            assert h, f"{cid} vanished"
            assert h["state"] == replay.contacts[cid]["state"], cid
            assert h.get("lawyer", "") == replay.contacts[cid].get("lawyer", ""), cid
        for lw in churn_lawyers():
            h = await store.get_lawyer_hash(lw.id)
            seen = replay.lawyers[lw.id]
            for name in ("presence", "state", "offer", "load_voice", "load_video", "missed"):
                assert h[name] == seen[name], (lw.id, name)
    finally:
        await redis.aclose()


# ----- Redis restarts -----------------------------------------------------------------------


async def _busy_queue(q: Harness) -> None:
    """Contacts connected, offered, waiting and waiting for a callback; lawyers in each state."""
    q.clock.t = T0 + 30
    await q.add_lawyer(lawyer("d-wrapup"))
    await q.add(contact("done", T0 - 300))
    assert await q.route() == [("done", "d-wrapup")]
    assert await q.service.accept("done", "d-wrapup")
    assert await q.service.end("done", "caller") == 1
    await q.add_lawyer(lawyer("a-talks", domains={Domain.LABOUR: 5}))
    await q.add_lawyer(lawyer("b-offered", languages={"zh", "mn"}))
    await q.add_lawyer(lawyer("c-break"), Presence.BREAK)
    await q.add(contact("wages", T0, domain=Domain.LABOUR))
    await q.add(contact("herder", T0 + 1, language="mn"))
    assert sorted(await q.route()) == [("herder", "b-offered"), ("wages", "a-talks")]
    assert await q.service.accept("wages", "a-talks")
    for i in range(3):
        await q.add(contact(f"waiting-{i}", T0 + 10 + i, service=Service.LEGAL_AID))
    await q.add(contact("abandoned", T0 + 20))
    assert await q.service.abandon("abandoned") == 1
    assert await q.service.request_callback("waiting-2", "+86 13700000000") == 1
    await q.pump()


def _crash(server: EmbeddedRedis, how: str) -> None:
    if how == "restart":
        server.restart()
    else:
        server.kill()
        server.start()


async def _retry(call: Callable[[], Awaitable[T]]) -> T:
    """A console or API call made just as Redis comes back may need a second try."""
    for _ in range(50):
        try:
            return await call()
        except RedisConnectionError:
            await asyncio.sleep(0.1)
    return await call()


@pytest.mark.parametrize("how", ["restart", "kill"])
async def test_every_contact_and_lawyer_survives_a_redis_restart(
    redis_server: EmbeddedRedis, how: str
) -> None:
    async with harness(redis_server.url) as q:
        await _busy_queue(q)
        before = await dump_state(q.redis)
        await asyncio.to_thread(_crash, redis_server, how)

        fresh = Redis.from_url(redis_server.url, decode_responses=True)
        try:
            assert await dump_state(fresh) == before
            assert await check_consistent(fresh) == []
        finally:
            await fresh.aclose()

        # The same client and scripts go on working on the reloaded state.
        await _retry(q.pump)
        await q.add_lawyer(lawyer("e-new", services={Service.LEGAL_AID: 2}))
        assert await q.route() == [("waiting-0", "e-new")]
        assert await q.service.accept("herder", "b-offered")
        assert await q.service.end("wages", "caller") == 1
        assert await check_consistent(q.redis) == []


async def _until(check: Callable[[], Awaitable[bool]], what: str, limit_s: float = 20) -> None:
    """Wait for something a running service does by itself (a bound, not a timing claim)."""
    for _ in range(int(limit_s / 0.02)):
        try:
            if await check():
                return
        except RedisConnectionError:
            pass
        await asyncio.sleep(0.02)
    raise AssertionError(f"never happened: {what}")


@pytest.mark.parametrize("how", ["restart", "kill"])
async def test_a_running_service_recovers_from_a_redis_restart(
    redis_server: EmbeddedRedis, how: str
) -> None:
    clock = FakeClock()
    redis = Redis.from_url(redis_server.url, decode_responses=True)
    store = QueueStore(redis)
    service = QueueService(store, Settings(), clock=clock, tick_s=0.05, sweep_s=0.05)
    await service.start()
    try:
        await service.create_lawyer(lawyer("a"))
        await service.set_presence("a", Presence.AVAILABLE)
        for i in range(3):
            await service.add_contact(contact(f"c{i}", T0 + i))

        async def c0_offered() -> bool:
            return (await store.get_lawyer_hash("a")).get("offer") == "c0"

        await _until(c0_offered, "c0 offered to a")
        assert await service.accept("c0", "a")

        await asyncio.to_thread(_crash, redis_server, how)

        clock.advance(5)
        await _retry(lambda: service.create_lawyer(lawyer("b")))
        await _retry(lambda: service.set_presence("b", Presence.AVAILABLE))

        async def c1_offered_to_b() -> bool:
            return (await store.get_lawyer_hash("b")).get("offer") == "c1"

        await _until(c1_offered_to_b, "the oldest waiting contact offered to the new lawyer")
        assert (await store.get_contact_hash("c0"))["state"] == "connected"
        assert (await store.get_contact_hash("c2"))["state"] == "waiting"

        async def router_current() -> bool:
            return set(service.router.contacts) == {"c2"}

        await _until(router_current, "the router holds exactly the waiting contacts")
        assert await check_consistent(redis) == []
    finally:
        await stop_service(service)
        await redis.aclose()


# ----- safe to deploy: atomic line loss, declared keys, the ledger's stream, retention ---------


def _before_script(
    store: QueueStore, names: set[str], action: Callable[[], Awaitable[object]]
) -> None:
    """Run `action` once, just before the first of these scripts is called: another process
    acting between whatever the caller read and what it writes, deterministically."""
    call = store._call
    pending = [action]

    async def interleaved(name: str, *args: object, **kwargs: object) -> object:
        if name in names and pending:
            await pending.pop()()
        return await call(name, *args, **kwargs)  # type: ignore[arg-type]

    store._call = interleaved  # type: ignore[method-assign]


async def test_a_lawyer_accepting_as_the_line_goes_is_not_left_talking_to_no_one(
    q: Harness,
) -> None:
    """The telephony worker restarting finds the line of an offered contact gone; the lawyer
    accepts at that very moment. The contact must end (the lawyer to wrap-up), not stay
    connected to a caller who is not there."""
    from lawline.telephony.keys import TelephonyKeys
    from lawline.telephony.lines import HeldLines

    await q.add_lawyer(lawyer("lu"))
    await q.add(contact("gone", T0))
    assert await q.route() == [("gone", "lu")]
    lines = HeldLines(q.redis, q.store.prefix, "node/worker-1")
    await q.redis.sadd(TelephonyKeys(q.store.prefix).held_lines(lines.worker), "gone")
    q.clock.advance(3)
    _before_script(
        q.store,
        {"abandonContact", "endContact", "lineGone"},
        lambda: q.store.accept("gone", "lu", q.clock(), 15),
    )
    assert await lines.release_lost(q.service) == 1
    await q.pump()
    c = await q.contact_hash("gone")
    assert (c["state"], c.get("ended_by")) == ("ended", "line lost")
    lw = await q.lawyer_hash("lu")
    assert (lw["state"], lw["load_voice"], lw["talking"]) == ("wrapup", "0", "")
    assert await check_consistent(q.redis) == []


async def test_the_line_gone_abandons_a_waiting_or_offered_contact_and_ends_a_connected_one(
    q: Harness,
) -> None:
    await q.add_lawyer(lawyer("lu"))
    await q.add_lawyer(lawyer("ma"), Presence.BREAK)
    for cid in ("offered", "waiting"):
        await q.add(contact(cid, q.clock.advance(1)))
    assert await q.route() == [("offered", "lu")]
    assert await q.service.line_gone("waiting", "caller hung up") == 1
    assert await q.service.line_gone("offered", "caller hung up") == 1
    assert (await q.lawyer_hash("lu"))["state"] == "available"
    await q.add(contact("talking", q.clock.advance(1)))
    assert await q.route() == [("talking", "lu")]
    assert await q.service.accept("talking", "lu")
    q.clock.advance(30)
    assert await q.service.line_gone("talking", "caller hung up", ended_by="caller") == 2
    for cid in ("waiting", "offered", "talking"):
        assert await q.service.line_gone(cid, "again") == 0, "over already: nothing changes"
    assert await q.service.line_gone("nobody", "x") == -2
    states = {
        cid: (await q.contact_hash(cid))["state"] for cid in ("waiting", "offered", "talking")
    }
    assert states == {"waiting": "abandoned", "offered": "abandoned", "talking": "ended"}
    stats = await q.store.stats(Service.CONSULTATION)
    assert (stats["abandoned"], stats["handled"], stats["talk_s"]) == (2, 1, 30)
    assert await check_consistent(q.redis) == []


async def test_a_contact_changed_between_the_read_and_the_script_is_read_again(q: Harness) -> None:
    """The store declares the stats key of the contact's queue; a transfer to another queue in
    between makes the script refuse, and the store retries with the new key."""
    await q.add_lawyer(lawyer("lu", services={Service.CONSULTATION: 3, Service.LEGAL_AID: 3}))
    await q.add(contact("moved", T0))
    assert await q.route() == [("moved", "lu")]
    assert await q.service.accept("moved", "lu")
    transfer = q.service.transfer("moved", "lu", "for legal aid", to_service=Service.LEGAL_AID)
    _before_script(q.store, {"lineGone"}, lambda: transfer)
    assert await q.service.line_gone("moved", "caller hung up") == 1
    assert (await q.store.stats(Service.LEGAL_AID))["abandoned"] == 1
    assert "abandoned" not in await q.store.stats(Service.CONSULTATION)


class _Monitor:
    """What redis-server says it ran (MONITOR), script commands included, in order."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.lines: list[tuple[str, list[str]]] = []
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def __aenter__(self) -> _Monitor:
        self._task = asyncio.create_task(self._read())
        await self._ready.wait()
        return self

    async def __aexit__(self, *_: object) -> None:
        # A marker: everything before it has been seen once it arrives.
        client = Redis.from_url(self.url, decode_responses=True)
        await client.echo("monitor-end")
        await client.aclose()
        assert self._task is not None
        await asyncio.wait_for(self._task, 30)

    async def _read(self) -> None:
        import re

        kw = Redis.from_url(self.url).connection_pool.connection_kwargs
        if kw.get("path"):
            reader, writer = await asyncio.open_unix_connection(kw["path"], limit=1 << 24)
        else:
            reader, writer = await asyncio.open_connection(kw["host"], kw["port"], limit=1 << 24)
        if kw.get("password"):  # lawline's Redis always has one; RESP, so any byte may pass
            password = str(kw["password"]).encode()
            writer.write(b"*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n" % (len(password), password))
            assert (await reader.readline()).startswith(b"+OK"), "AUTH refused"
        writer.write(b"MONITOR\r\n")
        await reader.readline()  # +OK
        self._ready.set()
        arg = re.compile(r'"((?:[^"\\]|\\.)*)"')
        line_re = re.compile(r"^\+[\d.]+ \[\d+ ([^\]]+)\] (.*)$")
        while True:
            raw = (await reader.readline()).decode().rstrip("\r\n")
            m = line_re.match(raw)
            if not m:
                continue
            args = [
                a.encode("latin-1", "backslashreplace").decode("unicode_escape")
                for a in arg.findall(m.group(2))
            ]
            if [a.lower() for a in args] == ["echo", "monitor-end"]:
                break
            self.lines.append((m.group(1), args))
        writer.close()


async def test_every_key_a_script_touches_is_declared(
    q: Harness, clean_redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a Redis Cluster a script may only touch the keys it declares. Every script runs
    here (a contact's whole life, callbacks, transfer, presence, snapshot) under MONITOR:
    each key its commands touch must be one of its KEYS."""
    async with _Monitor(clean_redis_url) as mon:
        await q.add_lawyer(lawyer("lu", services={Service.CONSULTATION: 3, Service.LEGAL_AID: 3}))
        await q.add_lawyer(lawyer("ma"))
        await q.add(contact("a", T0))
        await q.add(contact("b", T0 + 1))
        await q.add(contact("c", T0 + 2))
        assert len(await q.route()) == 2
        assert await q.service.reject("a", (await q.contact_hash("a"))["lawyer"])
        assert await q.service.set_presence("ma", Presence.BREAK) == 1
        await q.route()
        for cid in ("a", "b"):
            h = await q.contact_hash(cid)
            if h["state"] == "offered":
                assert await q.service.accept(cid, h["lawyer"])
        assert await q.service.request_callback("c", "13900000000") == 1
        talking = [cid for cid in ("a", "b") if (await q.contact_hash(cid))["state"] == "connected"]
        assert talking
        h = await q.contact_hash(talking[0])
        assert (
            await q.service.transfer(talking[0], h["lawyer"], "n", to_service=Service.LEGAL_AID)
            == 1
        )
        await q.service.line_gone("c", "caller hung up")
        for cid in ("a", "b"):
            await q.service.abandon(cid, "gone")
        await q.service.set_presence("ma", Presence.AVAILABLE)
        await q.add(contact("d", q.clock.advance(1)))
        made = await q.route()
        assert made
        cid, lid = made[0]
        assert await q.service.accept(cid, lid)
        await q.store.save_case(cid, lid, "{}", q.clock())
        await q.store.raise_alert(cid, "{}", q.clock())
        await q.store.transcript_closed(cid, q.clock())
        assert await q.service.end(cid, "lawyer") == 1
        assert await q.service.extend_wrapup(lid) == 1
        await q.store.rate(cid, 5, q.clock())
        q.clock.advance(600)
        await q.sweep()
        await q.add(contact("e", q.clock()))
        await q.store.request_callback("e", "1", q.clock(), "20231115", 3)
        await q.route()
        h = await q.contact_hash("e")
        assert await q.service.accept("e", h["lawyer"])
        assert await q.service.callback_failed("e", "busy") == 1
        q.clock.advance(q.service.settings.telephony.callback_retry_s)
        await q.sweep()
        await q.service.update_lawyer("lu", {"name": "Lu"})
        await q.store.snapshot()
        # The stream's trim, with a ledger that has some pending.
        monkeypatch.setattr("lawline.queue.store.EVENTS_MAXLEN", 10)
        await q.redis.xgroup_create(q.store.keys.events, "ledger", id="0")
        await q.redis.xreadgroup("ledger", "web-1", {q.store.keys.events: ">"}, count=3)
        await _fill(q, 120)
    declared: list[str] | None = None
    script = ""
    checked: set[str] = set()
    for who, args in mon.lines:
        if who != "lua":
            if args and args[0].lower() in ("evalsha", "eval", "evalsha_ro", "eval_ro"):
                declared = args[3 : 3 + int(args[2])]
                script = args[1]
            else:
                declared = None
            continue
        assert declared is not None, f"a script command outside a script: {args}"
        for key in await q.redis.command_getkeys(*args):
            assert key in declared, f"script {script[:8]} touched {key} not in KEYS {declared}"
        checked.add(args[0].upper())
    assert {"HSET", "XADD", "ZADD", "HINCRBY", "EXPIRE", "XINFO", "XPENDING", "XTRIM"} <= checked


async def _fill(q: Harness, n: int) -> None:
    for _ in range(n):
        assert await q.store.transcript_closed("c", q.clock.advance(0.001))


async def test_the_stream_is_never_trimmed_past_what_the_ledger_has_not_acknowledged(
    q: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("lawline.queue.store.EVENTS_MAXLEN", 10)
    await q.add(contact("c", T0))
    events = q.store.keys.events
    await q.redis.xgroup_create(events, "ledger", id="0")
    await _fill(q, 20)
    # The ledger reads 15 and acknowledges 5 of them; the rest stay pending.
    [(_, read)] = await q.redis.xreadgroup("ledger", "web-1", {events: ">"}, count=15)
    await q.redis.xack(events, "ledger", *[eid for eid, _ in read[:5]])
    await _fill(q, 500)
    kept = {eid for eid, _ in await q.redis.xrange(events, "-", "+")}
    assert {eid for eid, _ in read[5:]} <= kept, "pending entries must still be readable"
    # Nothing the ledger has not been given yet is lost either: it reads all of it.
    unread = 0
    while reply := await q.redis.xreadgroup("ledger", "web-1", {events: ">"}, count=1000):
        unread += len(reply[0][1])
        await q.redis.xack(events, "ledger", *[eid for eid, _ in reply[0][1]])
    assert unread == 1 + 20 + 500 - 15
    # Once everything is acknowledged the cap applies again (trimmed by batches of 100).
    await q.redis.xack(events, "ledger", *[eid for eid, _ in read[5:]])
    await _fill(q, 10)
    assert await q.redis.xlen(events) < 10 + 100


async def test_without_a_ledger_group_the_stream_keeps_its_cap(
    q: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("lawline.queue.store.EVENTS_MAXLEN", 10)
    await q.add(contact("c", T0))
    await _fill(q, 1000)
    # Approximate trimming drops whole stream nodes (100 entries by default).
    assert await q.redis.xlen(q.store.keys.events) < 300


async def test_callbacks_to_one_number_are_capped_per_day(clean_redis_url: str) -> None:
    settings = routing_settings(console_timeout_s=86_400, callbacks_per_number_per_day=2)
    async with harness(clean_redis_url, settings) as q:
        for i in range(4):
            await q.add(contact(f"c{i}", T0 + i))
        assert await q.service.request_callback("c0", "13900000000") == 1
        assert await q.service.request_callback("c0", "13900000000") == 0, "the same, again"
        assert await q.service.request_callback("c1", "13900000000") == 1
        assert await q.service.request_callback("c2", "13900000000") == -3
        assert (await q.contact_hash("c2"))["callback"] == "0"
        assert await q.service.request_callback("c2", "13800000000") == 1, "another number"
        q.clock.advance(86_400)  # the next day
        assert await q.service.request_callback("c3", "13900000000") == 1
        ttl = [await q.redis.ttl(k) for k in await q.redis.keys("ll:callbacks-day:*")]
        assert ttl and all(0 < t <= 2 * 86_400 for t in ttl)


async def test_ended_contacts_and_a_numbers_history_expire(clean_redis_url: str) -> None:
    settings = routing_settings(console_timeout_s=86_400, ended_contact_ttl_s=4000)
    async with harness(clean_redis_url, settings) as q:
        await q.add_lawyer(lawyer("lu"))
        await q.add(contact("talked", T0))
        await q.add(contact("left", T0 + 1))
        assert await q.route() == [("talked", "lu")]
        assert await q.service.accept("talked", "lu")
        assert await q.redis.ttl(q.store.keys.contact("talked")) == -1, "live: kept"
        history = q.store.keys.history("+86-talked")
        assert 3900 < await q.redis.ttl(history) <= 4000
        assert await q.service.end("talked", "lawyer") == 1
        assert await q.service.abandon("left") == 1
        for cid in ("talked", "left"):
            assert 3900 < await q.redis.ttl(q.store.keys.contact(cid)) <= 4000
    # 0 keeps them for ever.
    settings = routing_settings(console_timeout_s=86_400, ended_contact_ttl_s=0)
    async with harness(clean_redis_url, settings) as q:
        await q.add(contact("kept", T0 + 2))
        assert await q.service.line_gone("kept", "caller hung up") == 1
        assert await q.redis.ttl(q.store.keys.contact("kept")) == -1
        assert await q.redis.ttl(q.store.keys.history("+86-kept")) == -1


async def test_the_snapshot_reads_again_when_a_contact_joins_while_it_reads(q: Harness) -> None:
    await q.add_lawyer(lawyer("lu"), Presence.BREAK)
    await q.add(contact("first", T0))
    _before_script(
        q.store,
        {"snapshot"},
        lambda: q.store.add_contact(contact("late", T0 + 1), T0 + 1),
    )
    snap = await q.store.snapshot()
    assert [c.id for c in snap.contacts] == ["first", "late"]
    assert [lw.id for lw in snap.lawyers] == ["lu"]
    last = (await q.redis.xrevrange(q.store.keys.events, count=1))[0][0]
    assert snap.last_event_id == last


@pytest.fixture
def cluster_redis_url(tmp_path: Path) -> Iterator[str]:
    """A one-node Redis Cluster owning every slot, on loopback: it refuses a script whose
    declared keys are in different slots, as a real cluster does."""
    import subprocess

    from redis import Redis as SyncRedis

    from tests.ports import free_tcp_port
    from tests.processes import stop_process

    ports = [free_tcp_port()]
    while len(ports) < 2:
        ports += [p for p in [free_tcp_port()] if p != ports[0]]
    proc = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", str(ports[0]),
         "--cluster-enabled", "yes", "--cluster-port", str(ports[1]),
         "--cluster-config-file", str(tmp_path / "nodes.conf"), "--dir", str(tmp_path),
         "--save", "", "--appendonly", "no", "--logfile", str(tmp_path / "redis.log")],
    )  # fmt: skip
    url = f"redis://127.0.0.1:{ports[0]}"
    try:
        client = SyncRedis.from_url(url, decode_responses=True)
        deadline = time.monotonic() + 30
        while True:
            try:
                client.execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 16383)
                break
            except RedisConnectionError:
                log = tmp_path / "redis.log"
                said = log.read_text()[-400:] if log.exists() else ""
                assert proc.poll() is None, f"redis-server (cluster) exited: {said}"
                assert time.monotonic() < deadline, f"redis-server (cluster) did not start: {said}"
                time.sleep(0.05)
        while "cluster_state:ok" not in client.execute_command("CLUSTER", "INFO"):
            assert time.monotonic() < deadline, "the cluster did not come up"
            time.sleep(0.05)
        client.close()
        yield url
    finally:
        stop_process(proc)


async def test_the_queue_runs_on_a_redis_cluster_with_a_hash_tagged_prefix(
    cluster_redis_url: str,
) -> None:
    async with harness(cluster_redis_url, prefix="{ll}") as q:
        await q.add_lawyer(lawyer("lu", services={Service.CONSULTATION: 3, Service.LEGAL_AID: 3}))
        await q.add_lawyer(lawyer("ma"))
        for i, cid in enumerate(("a", "b", "c", "d")):
            await q.add(contact(cid, T0 + i))
        assert len(await q.route()) == 2
        offered = {cid: (await q.contact_hash(cid))["lawyer"] for cid in ("a", "b")}
        assert await q.service.reject("a", offered["a"])
        assert await q.service.accept("b", offered["b"])
        assert await q.service.request_callback("c", "13900000000") == 1
        assert await q.service.set_presence(offered["a"], Presence.BREAK) == 1
        assert await q.service.transfer("b", offered["b"], "n", to_service=Service.LEGAL_AID) == 1
        await q.route()
        assert await q.service.line_gone("d", "caller hung up") == 1
        for cid in ("a", "b", "c"):
            h = await q.contact_hash(cid)
            if h["state"] == "offered":
                assert await q.service.accept(cid, h["lawyer"])
            assert await q.service.line_gone(cid, "caller hung up") in (1, 2)
        await q.service.update_lawyer("lu", {"name": "Lu"})
        await q.sweep()
        await q.service.resync()
        assert await check_consistent(q.redis, "{ll}") == []
    # Without the tag a script's keys fall in different slots: the cluster refuses it.
    client = Redis.from_url(cluster_redis_url, decode_responses=True)
    try:
        with pytest.raises(ResponseError, match="same slot"):
            await QueueStore(client, "ll").add_contact(contact("x", T0), T0)
    finally:
        await client.aclose()


async def test_a_supervisor_gives_a_waiting_caller_to_a_named_lawyer(q: Harness) -> None:
    await q.add(contact("first", T0))
    await q.add(contact("second", T0 + 1))
    assert await q.service.assign("second", "nobody") == -2
    await q.add_lawyer(lawyer("li"))
    await q.service.set_presence("li", Presence.BREAK, "会议")
    await q.pump()
    assert await q.service.assign("second", "li") == 1
    # Held for li: another lawyer on duty takes the other caller, not this one.
    await q.add_lawyer(lawyer("xu"))
    q.clock.advance(2)
    assert await q.route() == [("first", "xu")]
    assert await q.route() == []
    await q.service.set_presence("li", Presence.AVAILABLE)
    assert await q.route() == [("second", "li")]
    # A caller already ringing a lawyer is not taken from them.
    assert await q.service.assign("first", "li") == -1
