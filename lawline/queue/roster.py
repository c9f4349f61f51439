"""The duty roster (值班表): is the hotline open now?"""

from __future__ import annotations

from collections.abc import Iterable
from zoneinfo import ZoneInfo

from lawline.queue.model import Lawyer


def hotline_open(
    lawyers: Iterable[Lawyer], now: float, tz: ZoneInfo, open_without_roster: bool
) -> bool:
    """Open while any lawyer's shift covers now.

    A centre that has not entered a roster yet is open whenever a lawyer is on
    duty, if `open_without_roster` says so: a fresh install must not turn every
    caller away.
    """
    lawyers = list(lawyers)
    if open_without_roster and not any(lw.roster for lw in lawyers):
        return True
    return any(lw.on_roster(now, tz) for lw in lawyers)
