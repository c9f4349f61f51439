"""Duty roster: shifts in local time, night shifts, the hotline closed outside them."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from lawline.queue.model import Lawyer, Shift
from lawline.queue.roster import duty_hours, hotline_open

TZ = ZoneInfo("Asia/Shanghai")
WEEKDAYS = frozenset(range(5))
DAY = Shift(WEEKDAYS, time(8, 30), time(17, 30))
NIGHT = Shift(frozenset({4}), time(22, 0), time(6, 0))  # Friday night into Saturday


def at(text: str) -> float:
    """A Beijing local time, as the epoch seconds lawline passes around."""
    return datetime.fromisoformat(text).replace(tzinfo=TZ).timestamp()


def test_day_shift_in_local_time() -> None:
    # 2026-11-23 is a Monday.
    assert DAY.covers(datetime.fromisoformat("2026-11-23T08:30"))
    assert not DAY.covers(datetime.fromisoformat("2026-11-23T17:30"))
    assert not DAY.covers(datetime.fromisoformat("2026-11-28T10:00"))  # Saturday


def test_night_shift_runs_past_midnight() -> None:
    assert NIGHT.covers(datetime.fromisoformat("2026-11-27T23:00"))  # Friday
    assert NIGHT.covers(datetime.fromisoformat("2026-11-28T05:59"))  # Saturday morning
    assert not NIGHT.covers(datetime.fromisoformat("2026-11-28T06:00"))
    assert not NIGHT.covers(datetime.fromisoformat("2026-11-28T23:00"))  # Saturday night
    assert not NIGHT.covers(datetime.fromisoformat("2026-11-27T05:00"))  # Friday morning


def test_hotline_closed_outside_every_shift() -> None:
    lawyers = [Lawyer(id="a", roster=(DAY,)), Lawyer(id="b", roster=(NIGHT,)), Lawyer(id="c")]
    assert hotline_open(lawyers, at("2026-11-23T09:00"), TZ, open_without_roster=True)
    assert hotline_open(lawyers, at("2026-11-28T02:00"), TZ, open_without_roster=True)
    # Monday 20:00 Beijing is 12:00 UTC: a server on UTC must still say closed.
    assert not hotline_open(lawyers, at("2026-11-23T20:00"), TZ, open_without_roster=True)


def test_a_centre_without_any_roster() -> None:
    lawyers = [Lawyer(id="a"), Lawyer(id="b")]
    assert hotline_open(lawyers, at("2026-11-23T03:00"), TZ, open_without_roster=True)
    assert not hotline_open(lawyers, at("2026-11-23T03:00"), TZ, open_without_roster=False)


def test_duty_hours_merge_the_shifts_by_time_of_day() -> None:
    """What a village terminal tells a resident when nobody is on duty."""
    weekend = Shift(frozenset({5, 6}), time(8, 30), time(17, 30))
    lawyers = [
        Lawyer(id="a", roster=(DAY,)),
        Lawyer(id="b", roster=(NIGHT, weekend)),
        Lawyer(id="c"),
    ]
    assert duty_hours(lawyers) == [
        {"weekdays": [0, 1, 2, 3, 4, 5, 6], "start": "08:30", "end": "17:30"},
        {"weekdays": [4], "start": "22:00", "end": "06:00"},
    ]
    assert duty_hours([Lawyer(id="c")]) == []
