"""The centre's clock: which day it is, where a day begins and ends, and how a moment
reads, all in the centre's time zone (the `timezone` setting, Asia/Shanghai unless
configured), whatever zone the server or a browser runs in.

Moments are stored and compared in UTC; anything a person reads as a date, and
anything built from a date (case numbers, daily counters, a report's range), goes
through here so that a call at 00:08 Beijing time belongs to that Beijing day.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# A plain date, or a moment (with its offset, or the centre's wall clock without one).
DayOrMoment = date | datetime


@lru_cache(maxsize=16)
def zone(name: str) -> ZoneInfo:
    """The named IANA zone; ValueError (a clear one) for a name zoneinfo does not know."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ValueError(f"unknown time zone {name!r} (an IANA name, e.g. Asia/Shanghai)") from e


def local(moment: datetime | float, tz: tzinfo) -> datetime:
    """A moment (aware datetime or Unix seconds) on the centre's wall clock."""
    if isinstance(moment, datetime):
        return moment.astimezone(tz)
    return datetime.fromtimestamp(moment, tz)


def today(moment: datetime | float, tz: tzinfo) -> date:
    """The centre's date at this moment."""
    return local(moment, tz).date()


def day_stamp(moment: datetime | float, tz: tzinfo) -> str:
    """YYYYMMDD of the centre's date (case numbers, per-day counters)."""
    return f"{today(moment, tz):%Y%m%d}"


def day_start(day: date, tz: tzinfo) -> datetime:
    """Midnight beginning this centre's day, in UTC."""
    return datetime.combine(day, time(0), tz).astimezone(UTC)


def day_bounds(day: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """[start, end) of this centre's day, in UTC."""
    return day_start(day, tz), day_start(day + timedelta(days=1), tz)


def moment(value: DayOrMoment, tz: tzinfo, *, end: bool = False) -> datetime:
    """An API bound in UTC. A plain date is a whole centre's day: its start, or (`end`,
    an inclusive upper bound) the start of the next day. A datetime without an offset
    is read on the centre's wall clock."""
    if not isinstance(value, datetime):
        return day_bounds(value, tz)[1 if end else 0]
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value.astimezone(UTC)


def span(since: DayOrMoment, until: DayOrMoment, tz: tzinfo) -> tuple[datetime, datetime]:
    """[since, until) in UTC; `until` as a plain date includes that whole day."""
    return moment(since, tz), moment(until, tz, end=True)


def readable(value: datetime, tz: tzinfo) -> str:
    """\"2026-12-03 00:08:05": a moment as a person in the centre reads it."""
    return local(value, tz).strftime("%Y-%m-%d %H:%M:%S")
