"""The queue's bodies: contacts entering and waiting, lawyers' profiles and presence."""

from __future__ import annotations

import uuid
from datetime import date, time

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lawline.phone_numbers import normalise_number
from lawline.queue.intake import Origin, new_contact
from lawline.queue.model import Contact, ExceptionKind, Lawyer, RosterException, Shift
from lawline.queue.skills import (
    Channel,
    ContactState,
    Domain,
    GreenReason,
    LawyerState,
    Presence,
    Service,
)
from lawline.web.schemas.fields import check_id, check_number


class ShiftIn(BaseModel):
    weekdays: list[int] = Field(description="0 = Monday ... 6 = Sunday", min_length=1)
    start: time
    end: time

    @field_validator("weekdays")
    @classmethod
    def _days(cls, v: list[int]) -> list[int]:
        if any(d < 0 or d > 6 for d in v):
            raise ValueError("weekdays are 0 (Monday) to 6 (Sunday)")
        return v

    def to_shift(self) -> Shift:
        return Shift(frozenset(self.weekdays), self.start, self.end)


class RosterExceptionIn(BaseModel):
    """Leave (请假, whole days) or extra duty (加班, whole days or from start to end
    each day) for a lawyer, on the centre's calendar."""

    model_config = ConfigDict(extra="forbid")

    kind: ExceptionKind
    first: date = Field(description="the first day (YYYY-MM-DD, the centre's calendar)")
    last: date | None = Field(default=None, description="the last day; omit for one day")
    start: time | None = Field(default=None, description="extra duty only; omit for all day")
    end: time | None = None
    reason: str = Field(default="", max_length=100)

    @model_validator(mode="after")
    def _valid(self) -> RosterExceptionIn:
        self.to_exception("check")  # RosterError is a ValueError: a 422 saying why
        return self

    def to_exception(self, exception_id: str | None = None) -> RosterException:
        return RosterException(
            id=exception_id or uuid.uuid4().hex[:12],
            kind=self.kind,
            first=self.first,
            last=self.last or self.first,
            start=self.start,
            end=self.end,
            reason=self.reason.strip(),
        )


class LawyerIn(BaseModel):
    """A duty lawyer's profile. Proficiency 1-5 per service and per legal domain."""

    model_config = ConfigDict(extra="forbid")

    id: str
    name: str = Field(default="", max_length=100)
    services: dict[Service, int] = Field(min_length=1)
    domains: dict[Domain, int] = Field(default_factory=dict)
    languages: list[str] = Field(default_factory=lambda: ["zh"], min_length=1)
    capacity: dict[Channel, int] = Field(default_factory=lambda: {Channel.VOICE: 1})
    roster: list[ShiftIn] = Field(default_factory=list)

    _id = field_validator("id")(check_id)

    @field_validator("services", "domains")
    @classmethod
    def _levels(cls, v: dict[str, int]) -> dict[str, int]:
        for skill, level in v.items():
            if not 1 <= level <= 5:
                raise ValueError(f"proficiency of {skill} must be 1 to 5, not {level}")
        return v

    @field_validator("capacity")
    @classmethod
    def _capacity(cls, v: dict[Channel, int]) -> dict[Channel, int]:
        if any(n < 0 or n > 10 for n in v.values()):
            raise ValueError("capacity per channel is 0 to 10")
        return v

    def to_lawyer(self) -> Lawyer:
        return Lawyer(
            id=self.id,
            name=self.name,
            services=self.services,
            domains=self.domains,
            languages=frozenset(self.languages),
            capacity=self.capacity,
            roster=tuple(s.to_shift() for s in self.roster),
        )


class LawyerPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=100)
    services: dict[Service, int] | None = None
    domains: dict[Domain, int] | None = None
    languages: list[str] | None = Field(default=None, min_length=1)
    capacity: dict[Channel, int] | None = None
    roster: list[ShiftIn] | None = None

    def applied_to(self, current: Lawyer) -> LawyerIn:
        """The whole profile: the lawyer's as stored, with what this patch names."""
        return LawyerIn.model_validate(
            {
                "id": current.id,
                "name": current.name,
                "services": current.services,
                "domains": current.domains,
                "languages": sorted(current.languages),
                "capacity": current.capacity,
                "roster": [s.to_json() for s in current.roster],
                **self.model_dump(exclude_unset=True),
            }
        )

    def profile_changes(self, merged: LawyerIn) -> dict[str, str]:
        """The stored profile fields this patch sets, and only those: a concurrent change
        of the others stays."""
        profile = merged.to_lawyer().to_hash()
        return {f: profile[f] for name in self.model_fields_set for f in _PROFILE_FIELDS[name]}


# LawyerPatch field -> the stored profile fields (Lawyer.to_hash) it sets.
_PROFILE_FIELDS: dict[str, tuple[str, ...]] = {
    "name": ("name",),
    "services": ("services",),
    "domains": ("domains",),
    "languages": ("languages",),
    "capacity": ("cap_voice", "cap_video"),
    "roster": ("roster",),
}


class ColleagueOut(BaseModel):
    id: str
    name: str
    state: LawyerState


class LawyerOut(BaseModel):
    id: str
    name: str
    services: dict[Service, int]
    domains: dict[Domain, int]
    languages: list[str]
    capacity: dict[Channel, int]
    roster: list[dict[str, object]]
    # Dated leave and extra duty (RosterException.to_json).
    exceptions: list[dict[str, str]] = Field(default_factory=list)
    presence: Presence
    break_reason: str
    state: LawyerState
    state_since: float
    offer: str | None
    load: dict[Channel, int]
    talking: str | None = None
    wrapup_until: float = 0.0
    wrapup_extensions: int = 0

    @classmethod
    def of(cls, lw: Lawyer) -> LawyerOut:
        return cls(
            id=lw.id,
            name=lw.name,
            services=dict(lw.services),
            domains=dict(lw.domains),
            languages=sorted(lw.languages),
            capacity=dict(lw.capacity),
            roster=[s.to_json() for s in lw.roster],
            exceptions=[e.to_json() for e in lw.exceptions],
            presence=lw.presence,
            break_reason=lw.break_reason,
            state=lw.state,
            state_since=lw.state_since,
            offer=lw.offer,
            load=dict(lw.load),
            talking=lw.talking,
            wrapup_until=lw.wrapup_until,
            wrapup_extensions=lw.wrapup_extensions,
        )


class PresenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: Presence
    reason: str = Field(default="", max_length=200)


class ContactIn(BaseModel):
    """A contact entering the queue (from a telephony worker or a terminal gateway)."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(default=None, description="Omit to have one made; reuse to retry")
    channel: Channel
    service: Service
    domain: Domain | None = None
    language: str = "zh"
    caller: str = Field(default="", max_length=40, description="digits, optionally after '+'")
    green: GreenReason | None = None
    preferred_lawyer: str | None = None
    attrs: dict[str, str] = Field(default_factory=dict)

    _id = field_validator("id", "preferred_lawyer")(check_id)
    _caller = field_validator("caller")(check_number)

    def to_contact(self, entered_at: float) -> Contact:
        return new_contact(
            self,
            Origin(self.channel, self.caller, self.attrs),
            contact_id=self.id or uuid.uuid4().hex,
            entered_at=entered_at,
            preferred_lawyer=self.preferred_lawyer,
        )


class CallbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    number: str = Field(min_length=3, max_length=40, description="digits, optionally after '+'")

    @field_validator("number")
    @classmethod
    def _number(cls, v: str) -> str:
        number = normalise_number(v)
        if len(number.lstrip("+")) < 3:
            raise ValueError("a callback number has at least 3 digits")
        return number


class ContactOut(BaseModel):
    id: str
    channel: Channel
    service: Service
    domain: Domain | None
    language: str
    caller: str
    green: GreenReason | None
    preferred_lawyer: str | None
    callback: bool
    state: ContactState
    lawyer: str | None
    entered_at: float
    waited_s: float | None = None
    position: int | None = None
    estimated_wait_s: float | None = None

    @classmethod
    def of(cls, c: Contact, caller: str) -> ContactOut:
        return cls(
            id=c.id,
            channel=c.channel,
            service=c.service,
            domain=c.domain,
            language=c.language,
            caller=caller,
            green=c.green,
            preferred_lawyer=c.preferred_lawyer,
            callback=c.callback,
            state=c.state,
            lawyer=c.lawyer,
            entered_at=c.entered_at,
        )


class Outcome(BaseModel):
    ok: bool
    message: str = ""
