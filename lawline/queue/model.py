"""Contacts and lawyers as the router sees them.

These mirror the Redis hashes the Lua scripts keep (see store.py); `from_hash`
and `to_hash` convert. They are plain values: no I/O here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo

from lawline.queue.skills import (
    Channel,
    ContactState,
    Domain,
    GreenReason,
    LawyerState,
    Presence,
    Service,
)


@dataclass(frozen=True, slots=True)
class Contact:
    """A call or video session waiting for, or talking to, a duty lawyer."""

    id: str
    channel: Channel
    service: Service
    language: str
    entered_at: float
    domain: Domain | None = None
    caller: str = ""
    green: GreenReason | None = None
    preferred_lawyer: str | None = None
    callback: bool = False
    # Where to call back (the number the trunk gave) and the dial-outs tried so far.
    callback_number: str = ""
    callback_attempts: int = 0
    state: ContactState = ContactState.WAITING
    lawyer: str | None = None
    offer_deadline: float | None = None
    answered_at: float | None = None
    ended_at: float | None = None
    # What the voice menu or terminal recorded (menu path, village...), opaque here.
    attrs: Mapping[str, str] = field(default_factory=dict)
    # Lawyers who declined or missed this contact: offered it again only as a last resort.
    declined_by: frozenset[str] = frozenset()
    # Handed on by a lawyer at this time: a named colleague's window starts here.
    transferred_at: float | None = None

    def to_hash(self) -> dict[str, str]:
        return {
            "id": self.id,
            "channel": self.channel,
            "service": self.service,
            "language": self.language,
            "entered_at": repr(self.entered_at),
            "domain": self.domain or "",
            "caller": self.caller,
            "green": self.green or "",
            "preferred_lawyer": self.preferred_lawyer or "",
            "callback": "1" if self.callback else "0",
            "callback_number": self.callback_number,
            "callback_attempts": str(self.callback_attempts),
            "state": self.state,
            "lawyer": self.lawyer or "",
            "offer_deadline": _num(self.offer_deadline),
            "answered_at": _num(self.answered_at),
            "ended_at": _num(self.ended_at),
            "attrs": json.dumps(dict(self.attrs), ensure_ascii=False),
            "declined_by": _id_list(self.declined_by),
            "transferred_at": _num(self.transferred_at),
        }

    @classmethod
    def from_hash(cls, h: Mapping[str, str]) -> Contact:
        return cls(
            id=h["id"],
            channel=Channel(h["channel"]),
            service=Service(h["service"]),
            language=h["language"],
            entered_at=float(h["entered_at"]),
            domain=Domain(h["domain"]) if h.get("domain") else None,
            caller=h.get("caller", ""),
            green=GreenReason(h["green"]) if h.get("green") else None,
            preferred_lawyer=h.get("preferred_lawyer") or None,
            callback=h.get("callback") == "1",
            callback_number=h.get("callback_number", ""),
            callback_attempts=int(h.get("callback_attempts") or 0),
            state=ContactState(h.get("state", "waiting")),
            lawyer=h.get("lawyer") or None,
            offer_deadline=_opt_float(h.get("offer_deadline")),
            answered_at=_opt_float(h.get("answered_at")),
            ended_at=_opt_float(h.get("ended_at")),
            attrs=json.loads(h.get("attrs") or "{}"),
            declined_by=_parse_id_list(h.get("declined_by", "")),
            transferred_at=_opt_float(h.get("transferred_at")),
        )


@dataclass(frozen=True, slots=True)
class Shift:
    """A recurring duty shift: on these weekdays (0 = Monday), from start to end local time.

    An end before the start runs past midnight (a night shift).
    """

    weekdays: frozenset[int]
    start: time
    end: time

    def covers(self, local: datetime) -> bool:
        t = local.time()
        if self.start <= self.end:
            return local.weekday() in self.weekdays and self.start <= t < self.end
        # Night shift: the evening part belongs to today, the morning part to yesterday.
        if t >= self.start:
            return local.weekday() in self.weekdays
        return t < self.end and (local - timedelta(days=1)).weekday() in self.weekdays

    def to_json(self) -> dict[str, object]:
        return {
            "weekdays": sorted(self.weekdays),
            "start": self.start.strftime("%H:%M"),
            "end": self.end.strftime("%H:%M"),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, object]) -> Shift:
        days = d["weekdays"]
        assert isinstance(days, list)
        return cls(
            weekdays=frozenset(int(x) for x in days),
            start=time.fromisoformat(str(d["start"])),
            end=time.fromisoformat(str(d["end"])),
        )


class ExceptionKind(StrEnum):
    LEAVE = "leave"  # 请假: off duty on these days, whatever the week's shifts say
    EXTRA = "extra"  # 加班/调班: on duty on these days, outside the week's shifts


# Bounds on a lawyer's dated exceptions: enough for a year of leave and holiday duty,
# small enough that every event carrying the profile stays small.
MAX_EXCEPTIONS = 60
MAX_EXCEPTION_DAYS = 92
EARLIEST_DATE = date(2020, 1, 1)
LATEST_DATE = date(2099, 12, 31)


class RosterError(ValueError):
    """A dated exception that cannot be kept: the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class RosterException:
    """A dated change to a lawyer's weekly shifts, on the centre's calendar.

    Leave (请假) takes whole days, first to last inclusive. Extra duty (加班/调班)
    covers `start`-`end` local time on each of those days, or the whole day when no
    times are given; a night past midnight is two entries.
    """

    id: str
    kind: ExceptionKind
    first: date
    last: date
    start: time | None = None
    end: time | None = None
    reason: str = ""

    def __post_init__(self) -> None:
        if not all(EARLIEST_DATE <= d <= LATEST_DATE for d in (self.first, self.last)):
            raise RosterError(f"dates must be between {EARLIEST_DATE} and {LATEST_DATE}")
        if self.last < self.first:
            raise RosterError(f"the last day {self.last} is before the first {self.first}")
        if (self.last - self.first).days + 1 > MAX_EXCEPTION_DAYS:
            raise RosterError(f"at most {MAX_EXCEPTION_DAYS} days in one entry")
        if (self.start is None) != (self.end is None):
            raise RosterError("give both start and end times, or neither (the whole day)")
        if self.kind == ExceptionKind.LEAVE and self.start is not None:
            raise RosterError("leave is taken by whole days: no times")
        if self.start is not None and self.end is not None and not self.start < self.end:
            raise RosterError(
                f"extra duty must end after it starts ({self.start:%H:%M}-{self.end:%H:%M}); "
                "a night past midnight is two entries"
            )
        if len(self.reason) > 100:
            raise RosterError("the reason is at most 100 characters")

    def summary(self) -> str:
        """Kind, days, times and id, without the reason (for the audit trail)."""
        times = f" {self.start:%H:%M}-{self.end:%H:%M}" if self.start and self.end else ""
        return f"{self.kind} {self.first}..{self.last}{times} ({self.id})"

    def days(self, day: date) -> bool:
        return self.first <= day <= self.last

    def covers(self, local: datetime) -> bool:
        if not self.days(local.date()):
            return False
        if self.start is None or self.end is None:
            return True
        return self.start <= local.time() < self.end

    def to_json(self) -> dict[str, str]:
        d = {
            "id": self.id,
            "kind": str(self.kind),
            "first": self.first.isoformat(),
            "last": self.last.isoformat(),
            "reason": self.reason,
        }
        if self.start is not None and self.end is not None:
            d["start"], d["end"] = self.start.strftime("%H:%M"), self.end.strftime("%H:%M")
        return d

    @classmethod
    def from_json(cls, d: Mapping[str, object]) -> RosterException:
        start, end = d.get("start"), d.get("end")
        return cls(
            id=str(d["id"]),
            kind=ExceptionKind(str(d["kind"])),
            first=date.fromisoformat(str(d["first"])),
            last=date.fromisoformat(str(d["last"])),
            start=time.fromisoformat(str(start)) if start else None,
            end=time.fromisoformat(str(end)) if end else None,
            reason=str(d.get("reason") or ""),
        )


@dataclass(frozen=True, slots=True)
class Lawyer:
    """A duty lawyer (值班律师): skills, capacity and what they are doing now."""

    id: str
    name: str = ""
    # Proficiency 1-5 per service and per legal domain; absent means none.
    services: Mapping[Service, int] = field(default_factory=dict)
    domains: Mapping[Domain, int] = field(default_factory=dict)
    languages: frozenset[str] = frozenset({"zh"})
    capacity: Mapping[Channel, int] = field(default_factory=lambda: {Channel.VOICE: 1})
    roster: tuple[Shift, ...] = ()
    # Dated leave and extra duty (see RosterException), changed one at a time by
    # addRosterException / removeRosterException.
    exceptions: tuple[RosterException, ...] = ()
    presence: Presence = Presence.OFFLINE
    break_reason: str = ""
    state: LawyerState = LawyerState.OFFLINE
    state_since: float = 0.0
    offer: str | None = None
    load: Mapping[Channel, int] = field(default_factory=dict)
    # End of pending wrap-up; 0 when none (cleared only by finishWrapup).
    wrapup_until: float = 0.0
    # Times the pending wrap-up was extended (延长整理).
    wrapup_extensions: int = 0
    # The contact the lawyer is talking to now, if any (their console shows it again
    # after a reload).
    talking: str | None = None
    # When the lawyer last became free: the longest idle is offered first.
    idle_since: float = 0.0
    missed: int = 0

    def can_take(self, channel: Channel) -> bool:
        """Free for a new offer on this channel: on duty, nothing pending, room left.

        A lawyer in a voice call takes no video session and vice versa.
        """
        if self.state != LawyerState.AVAILABLE and self.state != LawyerState.BUSY:
            return False
        if self.presence != Presence.AVAILABLE or self.offer is not None:
            return False
        if self.wrapup_until:  # wrap-up of an earlier contact is still pending
            return False
        if self.load.get(channel, 0) >= self.capacity.get(channel, 0):
            return False
        return all(n == 0 for ch, n in self.load.items() if ch != channel)

    def on_roster(self, now: float, tz: ZoneInfo, holidays: frozenset[date] = frozenset()) -> bool:
        """On duty now by the roster: leave wins; then extra duty; then the week's
        shifts, except on the centre's holidays (where only extra duty counts)."""
        local = datetime.fromtimestamp(now, tz)
        if self.on_leave(local.date()):
            return False
        if any(e.kind == ExceptionKind.EXTRA and e.covers(local) for e in self.exceptions):
            return True
        if local.date() in holidays:
            return False
        return any(s.covers(local) for s in self.roster)

    def on_leave(self, day: date) -> bool:
        """On leave (请假) on this day of the centre's calendar: offered no contacts."""
        return any(e.kind == ExceptionKind.LEAVE and e.days(day) for e in self.exceptions)

    @property
    def rostered(self) -> bool:
        """Has any duty entered: weekly shifts or dated extra duty."""
        return bool(self.roster) or any(e.kind == ExceptionKind.EXTRA for e in self.exceptions)

    def with_changes(self, **changes: object) -> Lawyer:
        return replace(self, **changes)  # type: ignore[arg-type]

    def to_hash(self) -> dict[str, str]:
        return {
            "id": self.id,
            "name": self.name,
            "services": json.dumps({str(k): v for k, v in self.services.items()}),
            "domains": json.dumps({str(k): v for k, v in self.domains.items()}),
            "languages": _id_list(self.languages),
            "cap_voice": str(self.capacity.get(Channel.VOICE, 0)),
            "cap_video": str(self.capacity.get(Channel.VIDEO, 0)),
            "roster": json.dumps([s.to_json() for s in self.roster]),
            "exceptions": json.dumps([e.to_json() for e in self.exceptions], ensure_ascii=False),
        }

    @classmethod
    def from_hash(cls, h: Mapping[str, str]) -> Lawyer:
        services, domains, languages, roster = _profile(
            h.get("services", "{}"),
            h.get("domains", "{}"),
            h.get("languages", ""),
            h.get("roster", "[]"),
        )
        return cls(
            id=h["id"],
            name=h.get("name", ""),
            services=services,
            domains=domains,
            languages=languages,
            capacity={
                Channel.VOICE: int(h.get("cap_voice", 0)),
                Channel.VIDEO: int(h.get("cap_video", 0)),
            },
            roster=roster,
            exceptions=_exceptions(h.get("exceptions") or "[]"),
            presence=Presence(h.get("presence", "offline")),
            break_reason=h.get("break_reason", ""),
            state=LawyerState(h.get("state", "offline")),
            state_since=float(h.get("state_since", 0)),
            offer=h.get("offer") or None,
            load={
                Channel.VOICE: int(h.get("load_voice", 0)),
                Channel.VIDEO: int(h.get("load_video", 0)),
            },
            wrapup_until=float(h.get("wrapup_until", 0)),
            wrapup_extensions=int(h.get("wrapup_extensions", 0)),
            talking=h.get("talking") or None,
            idle_since=float(h.get("idle_since", 0)),
            missed=int(h.get("missed", 0)),
        )


@lru_cache(maxsize=8192)
def _profile(
    services: str, domains: str, languages: str, roster: str
) -> tuple[Mapping[Service, int], Mapping[Domain, int], frozenset[str], tuple[Shift, ...]]:
    """Parse a lawyer's profile fields. Every event carries them unchanged, so the
    parsed form is cached on the raw text (callers must not mutate what it returns)."""
    return (
        {Service(k): int(v) for k, v in json.loads(services).items()},
        {Domain(k): int(v) for k, v in json.loads(domains).items()},
        _parse_id_list(languages),
        tuple(Shift.from_json(s) for s in json.loads(roster)),
    )


@lru_cache(maxsize=8192)
def _exceptions(text: str) -> tuple[RosterException, ...]:
    # cjson writes an empty Lua table as {}: no exceptions either way.
    items = json.loads(text)
    return tuple(RosterException.from_json(e) for e in items) if isinstance(items, list) else ()


def _id_list(ids: frozenset[str]) -> str:
    """Comma-delimited on both sides, so Lua can test membership with string.find."""
    return "," + ",".join(sorted(ids)) + "," if ids else ""


def _parse_id_list(text: str) -> frozenset[str]:
    return frozenset(x for x in text.split(",") if x)


def _num(x: float | None) -> str:
    return "" if x is None else repr(x)


def _opt_float(s: str | None) -> float | None:
    return float(s) if s else None
