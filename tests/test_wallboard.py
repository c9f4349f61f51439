"""The supervisors' wallboard: today's figures folded from the event stream agree with
the queue's own counters (the scripts'), tiles turn amber and red past the centre's
thresholds, lawyers' handled, AHT and occupancy are today's, and nothing on the board
names a caller. Real Redis, the queue on a fake clock."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator

import pytest

from lawline.queue.skills import Service
from lawline.queue.store import Event
from lawline.queue.today import Today
from lawline.web.wallboard import Wallboard, colour
from tests.queue_helpers import T0, Harness, contact, harness, lawyer

SVC = Service.CONSULTATION


@pytest.fixture
async def q(clean_redis_url: str) -> AsyncIterator[Harness]:
    async with harness(clean_redis_url) as h:
        yield h


async def a_morning(q: Harness) -> None:
    """Two answered (one within 15 s), one abandoned, one callback whose dial-out failed
    (answered, then taken back), one waiting."""
    await q.add_lawyer(lawyer("xu"))
    await q.add(contact("quick", T0))
    q.clock.advance(5)
    assert await q.route() == [("quick", "xu")]
    assert await q.service.accept("quick", "xu")
    q.clock.t = T0 + 10
    await q.add(contact("slow", T0 + 10))
    q.clock.t = T0 + 20
    await q.add(contact("gone", T0 + 20))
    q.clock.t = T0 + 50
    assert await q.service.abandon("gone") == 1
    q.clock.t = T0 + 105
    assert await q.service.end("quick", "caller") == 1
    q.clock.t = T0 + 165
    await q.sweep()
    assert await q.route() == [("slow", "xu")]
    q.clock.t = T0 + 170
    assert await q.service.accept("slow", "xu")
    q.clock.t = T0 + 230
    assert await q.service.end("slow", "lawyer") == 1
    await q.sweep()
    q.clock.t = T0 + 300
    await q.sweep()
    await q.add(contact("cb", T0 + 300))
    assert await q.service.request_callback("cb", "13800000000") == 1
    await q.pump()
    assert await q.route() == [("cb", "xu")]
    assert await q.service.accept("cb", "xu")
    await q.pump()
    q.clock.t = T0 + 310
    assert await q.service.callback_failed("cb", "no answer") == 1
    await q.pump()
    await q.add(contact("now", T0 + 330))
    q.clock.t = T0 + 337


async def todays_board(q: Harness) -> dict:
    board = Wallboard(q.service, q.service.settings, clock=q.clock)
    await board._replay()
    return await board.board()


async def test_todays_figures_agree_with_the_queue_counters(q: Harness) -> None:
    await a_morning(q)
    counters = (await q.service.queue_figures())[SVC]
    board = await todays_board(q)
    tile = next(s for s in board["services"] if s["service"] == SVC)
    assert tile["offered"] == counters["entered"] == 5
    assert tile["answered"] == counters["answered"] == 2
    assert tile["abandoned"] == counters["abandoned"] == 1
    assert tile["service_level"] == pytest.approx(counters["service_level"])  # 1 of 3
    assert tile["asa_s"] == pytest.approx(counters["average_wait_s"])
    assert tile["abandon_rate"] == pytest.approx(1 / 3)
    assert (tile["waiting"], tile["longest_wait_s"]) == (counters["waiting"], 7)
    # 1/3 within 15 s and a third abandoned: both red; a wait of 7 s is fine.
    assert tile["colour"] == {
        "longest_wait": "ok",
        "service_level": "red",
        "abandon_rate": "red",
    }
    [xu] = board["lawyers"]
    assert xu["handled"] == 2
    assert xu["aht_s"] == pytest.approx((100 + 60) / 2 + 60)
    assert 0 < xu["occupancy"] < 1
    # The waiting callers, without a number: place, wait, service, village.
    assert [(w["position"], w["waited_s"]) for w in board["waiting"]] == [(1, 7)]
    text = json.dumps(board, ensure_ascii=False)
    assert "+86-" not in text and "13800000000" not in text
    [half_hour] = board["history"]
    assert (half_hour["answered"], half_hour["abandoned"]) == (2, 1)


def test_a_callback_given_up_is_abandoned_not_answered_and_yesterday_is_not_today() -> None:
    day = T0 - 3600
    today = Today(day, service_level_s=15, wrapup_s=60)
    c = contact("cb", T0)

    def ev(kind: str, at: float, **changes: object) -> Event:
        snap = dataclasses.replace(c, **changes)  # type: ignore[arg-type]
        return Event(f"{int(at * 1000)}-0", kind, at, snap, None, "", {})

    today.apply(ev("contact.entered", day - 10))  # yesterday's: not counted
    today.apply(ev("contact.entered", T0))
    today.apply(ev("contact.answered", T0 + 8, answered_at=T0 + 8))
    assert today.services[SVC].figures()["service_level"] == 1
    today.apply(ev("contact.abandoned", T0 + 30))  # the callback given up
    figures = today.services[SVC].figures()
    assert (figures["offered"], figures["answered"], figures["abandoned"]) == (1, 0, 1)
    assert figures["service_level"] == 0 and figures["asa_s"] is None
    assert [(h["answered"], h["abandoned"]) for h in today.history()] == [(0, 1)]


def test_tiles_turn_amber_then_red() -> None:
    assert colour(None, 0.95, 0.8, high_is_bad=False) == "ok"
    assert [colour(v, 0.95, 0.8, high_is_bad=False) for v in (0.97, 0.9, 0.7)] == [
        "ok",
        "amber",
        "red",
    ]
    assert [colour(v, 60, 120, high_is_bad=True) for v in (30, 90, 120)] == ["ok", "amber", "red"]
