"""Today's figures of the service queues and the lawyers, folded from the event stream:
what the wallboard shows (web/wallboard.py), from the centre's midnight.

A plain fold with time passed in: `Today.apply` takes the stream's events in order;
`Today.figures(now)` says where the day stands. The definitions are the industry's, on
the counts the queue's scripts keep (queue/scripts, `P:stats:SVC`), day by day:
- offered: contacts that entered the queue; answered: taken by a lawyer (a callback
  whose dial-out failed is taken back, as the scripts take it back); abandoned: the
  caller hung up, or the callback was given up.
- service level: answered within `routing.service_level_s` of entering, of everyone
  answered or abandoned. A caller who hangs up inside the threshold counts against it
  (the strict reading; `abandoned_in_sl` says how many did, for a centre that reads it
  otherwise).
- ASA (average speed of answer): the answered contacts' mean wait; abandon rate:
  abandoned of answered and abandoned.
- A lawyer's AHT: talk time of the conversations they finished (ended, or handed on)
  per conversation, plus the wrap-up time; occupancy: time talking or in wrap-up, of
  the time on duty and not on a break (available, ringing, talking, wrap-up).
History: answered and abandoned per half hour, by when it happened.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lawline.queue.model import Contact
from lawline.queue.skills import LawyerState, Service
from lawline.queue.store import Event

SLOT_S = 1800  # the history's half hours
ON_DUTY = (LawyerState.AVAILABLE, LawyerState.OFFERED, LawyerState.BUSY, LawyerState.WRAPUP)
WORKING = (LawyerState.BUSY, LawyerState.WRAPUP)


@dataclass
class ServiceToday:
    entered: int = 0
    answered: int = 0
    answered_in_sl: int = 0
    abandoned: int = 0
    abandoned_in_sl: int = 0
    wait_answered_s: float = 0.0

    def figures(self) -> dict[str, float | int | None]:
        closed = self.answered + self.abandoned
        return {
            "offered": self.entered,
            "answered": self.answered,
            "abandoned": self.abandoned,
            "abandoned_in_sl": self.abandoned_in_sl,
            "service_level": self.answered_in_sl / closed if closed else None,
            "asa_s": self.wait_answered_s / self.answered if self.answered else None,
            "abandon_rate": self.abandoned / closed if closed else None,
        }


@dataclass
class LawyerToday:
    state: LawyerState = LawyerState.OFFLINE
    since: float = 0.0
    handled: int = 0
    talk_s: float = 0.0
    seconds: dict[LawyerState, float] = field(default_factory=dict)


@dataclass(frozen=True)
class _Answer:
    service: Service
    slot: int
    waited: float
    in_sl: bool


class Today:
    def __init__(self, day_start: float, service_level_s: float, wrapup_s: float) -> None:
        self.day_start = day_start
        self.sl_s = service_level_s
        self.wrapup_s = wrapup_s
        self.services = {svc: ServiceToday() for svc in Service}
        self.lawyers: dict[str, LawyerToday] = {}
        self.slots: dict[int, dict[str, int]] = {}  # half hour -> answered, abandoned, in_sl
        self._answers: dict[str, _Answer] = {}  # answered today, until ended (undone if failed)

    def _slot(self, at: float, what: str, n: int = 1) -> None:
        slot = self.slots.setdefault(
            int((at - self.day_start) // SLOT_S), {"answered": 0, "abandoned": 0, "in_sl": 0}
        )
        slot[what] += n

    def apply(self, ev: Event) -> None:
        if ev.at < self.day_start:
            return
        if ev.lawyer is not None:
            self._lawyer_state(ev.lawyer.id, ev.lawyer.state, ev.lawyer.state_since or ev.at)
        c = ev.contact
        if c is None:
            return
        if ev.type == "contact.entered":
            self.services[c.service].entered += 1
        elif ev.type == "contact.answered" and c.answered_at is not None:
            self._answered(c, c.answered_at)
        elif ev.type == "contact.callback_failed":
            self._take_back(c.id)
        elif ev.type == "contact.abandoned":
            self._take_back(c.id)  # a callback given up was counted answered
            day = self.services[c.service]
            day.abandoned += 1
            if ev.at - c.entered_at <= self.sl_s:
                day.abandoned_in_sl += 1
            self._slot(ev.at, "abandoned")
        elif ev.type in ("contact.ended", "contact.transferred") and ev.lawyer is not None:
            lawyer = self.lawyers.setdefault(ev.lawyer.id, LawyerToday())
            lawyer.handled += 1
            if ev.type == "contact.transferred":  # answered_at is cleared by then
                lawyer.talk_s += float(ev.raw.get("talk_s") or 0)
            elif c.answered_at is not None:
                lawyer.talk_s += max(0.0, ev.at - c.answered_at)
            if ev.type == "contact.ended":
                self._answers.pop(c.id, None)

    def _answered(self, c: Contact, at: float) -> None:
        waited = at - c.entered_at
        answer = _Answer(
            c.service, int((at - self.day_start) // SLOT_S), waited, waited <= self.sl_s
        )
        self._answers[c.id] = answer
        day = self.services[c.service]
        day.answered += 1
        day.wait_answered_s += waited
        day.answered_in_sl += answer.in_sl
        self._slot(at, "answered")
        if answer.in_sl:
            self._slot(at, "in_sl")

    def _take_back(self, contact_id: str) -> None:
        answer = self._answers.pop(contact_id, None)
        if answer is None:
            return
        day = self.services[answer.service]
        day.answered -= 1
        day.wait_answered_s -= answer.waited
        day.answered_in_sl -= answer.in_sl
        slot = self.slots[answer.slot]
        slot["answered"] -= 1
        slot["in_sl"] -= answer.in_sl

    def _lawyer_state(self, lawyer_id: str, state: LawyerState, since: float) -> None:
        lawyer = self.lawyers.setdefault(lawyer_id, LawyerToday(state, since))
        if state != lawyer.state or since != lawyer.since:
            start = max(lawyer.since, self.day_start)
            lawyer.seconds[lawyer.state] = lawyer.seconds.get(lawyer.state, 0.0) + max(
                0.0, since - start
            )
            lawyer.state, lawyer.since = state, since

    def lawyer_figures(self, lawyer_id: str, now: float) -> dict[str, Any]:
        lawyer = self.lawyers.get(lawyer_id, LawyerToday())
        seconds = dict(lawyer.seconds)
        if lawyer.since:
            seconds[lawyer.state] = seconds.get(lawyer.state, 0.0) + max(
                0.0, now - max(lawyer.since, self.day_start)
            )
        on_duty = sum(seconds.get(s, 0.0) for s in ON_DUTY)
        working = sum(seconds.get(s, 0.0) for s in WORKING)
        return {
            "handled": lawyer.handled,
            "aht_s": lawyer.talk_s / lawyer.handled + self.wrapup_s if lawyer.handled else None,
            "occupancy": working / on_duty if on_duty else None,
        }

    def history(self) -> list[dict[str, Any]]:
        """Each half hour so far that saw an answer or an abandon, in order."""
        out = []
        for slot in sorted(self.slots):
            s = self.slots[slot]
            closed = s["answered"] + s["abandoned"]
            out.append(
                {
                    "start": self.day_start + slot * SLOT_S,
                    "answered": s["answered"],
                    "abandoned": s["abandoned"],
                    "service_level": s["in_sl"] / closed if closed else None,
                }
            )
        return out
