"""What a waiting caller is told: their place and a rough wait.

The estimate is the classic one app_queue and most ACDs give: the callers
ahead (and this one) are served by the lawyers on duty for the queue, each
taking one average handle time (talk plus wrap-up). It is an announcement, not
a promise: the voice menu rounds it to whole minutes.
"""

from __future__ import annotations


def average_handle_s(handled: float, talk_s: float, wrapup_s: float, default_s: float) -> float:
    """Average talk time of the queue's handled contacts plus wrap-up."""
    if handled <= 0:
        return default_s
    return talk_s / handled + wrapup_s


def estimated_wait_s(position: int, staffed: int, handle_s: float) -> float | None:
    """Seconds until this caller is likely answered; None when nobody is on duty for them."""
    if staffed <= 0:
        return None
    return position * handle_s / staffed


def service_level(answered_in_sl: float, answered: float, abandoned: float) -> float | None:
    """Share of contacts answered within the threshold, of all that were answered or abandoned."""
    total = answered + abandoned
    return None if total <= 0 else answered_in_sl / total


def answer_rate(answered: float, abandoned: float) -> float | None:
    total = answered + abandoned
    return None if total <= 0 else answered / total
