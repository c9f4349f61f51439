"""The duty roster (值班表): is the hotline open now?"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from zoneinfo import ZoneInfo

from lawline.queue.model import Lawyer


def hotline_open(
    lawyers: Iterable[Lawyer],
    now: float,
    tz: ZoneInfo,
    open_without_roster: bool,
    holidays: frozenset[date] = frozenset(),
) -> bool:
    """Open while any lawyer is on the roster now (Lawyer.on_roster: their shifts and
    extra duty, less leave; on the centre's holidays only extra duty).

    A centre that has not entered a roster yet is open whenever a lawyer is on
    duty, if `open_without_roster` says so: a fresh install must not turn every
    caller away.
    """
    lawyers = list(lawyers)
    if open_without_roster and not any(lw.rostered for lw in lawyers):
        return True
    return any(lw.on_roster(now, tz, holidays) for lw in lawyers)


def duty_hours(lawyers: Iterable[Lawyer]) -> list[dict[str, object]]:
    """When these lawyers are on duty, for telling a resident when to come back: their
    shifts merged by time of day, e.g. [{"weekdays": [0, 1, 2, 3, 4], "start": "08:30",
    "end": "17:30"}], earliest first."""
    days: dict[tuple[str, str], set[int]] = {}
    for lawyer in lawyers:
        for shift in lawyer.roster:
            start, end = shift.start.strftime("%H:%M"), shift.end.strftime("%H:%M")
            days.setdefault((start, end), set()).update(shift.weekdays)
    return [
        {"weekdays": sorted(d), "start": start, "end": end}
        for (start, end), d in sorted(days.items())
    ]
