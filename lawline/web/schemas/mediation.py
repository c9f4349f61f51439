"""Mediation cases' bodies: the parties, the schedule, the outcome and agreed terms."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from lawline.cases.service import Triage
from lawline.mediation import service as mediation
from lawline.mediation.service import MAX_PARTIES, Outcome, PartyRole, Reach
from lawline.queue.skills import Domain
from lawline.web.schemas.cases import CaseOut
from lawline.web.schemas.fields import check_id, check_number


class PartyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=50)
    role: PartyRole
    reach: Reach
    phone: str = Field(default="", max_length=32, description="digits, optionally after '+'")
    terminal_id: str = Field(default="", max_length=64)
    address: str = Field(default="", max_length=200)

    @field_validator("phone")
    @classmethod
    def _phone(cls, v: str) -> str:
        return check_number(v) if v else v

    @field_validator("terminal_id")
    @classmethod
    def _terminal(cls, v: str) -> str:
        return (check_id(v) or "") if v else v

    @field_validator("name", "address")
    @classmethod
    def _one_line(cls, v: str) -> str:
        if any(c in v for c in "\r\n\t\x00"):
            raise ValueError("one line of text")
        return v.strip()

    def fields(self) -> mediation.PartyFields:
        return mediation.PartyFields(
            self.name, self.role, self.reach, self.phone, self.terminal_id, self.address
        )


Parties = list[PartyIn]


class MediationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    domain: Domain | None = None
    summary: str = Field(default="", max_length=4000, description="the dispute, in brief")
    triage: Triage = Triage.COMPLEX
    scheduled_at: AwareDatetime | None = None
    parties: Parties = Field(min_length=2, max_length=MAX_PARTIES)
    # Staff may open it for a mediator; a mediator opens their own.
    mediator: str | None = Field(default=None, min_length=1, max_length=64)
    # The contact it comes from (a citizen chose mediation in the menu).
    contact_id: str | None = Field(default=None, min_length=1, max_length=64)


class PartiesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    parties: Parties = Field(min_length=2, max_length=MAX_PARTIES)


class ScheduleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scheduled_at: AwareDatetime | None


class TermIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=2000, description="what is agreed")
    how: str = Field(default="", max_length=500, description="how it is performed")
    by: str = Field(default="", max_length=100, description="by when")


class OutcomeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Outcome
    facts: str = Field(default="", max_length=8000, description="main facts and issues")
    terms: list[TermIn] = Field(default_factory=list, max_length=50)
    oral: bool = False

    @model_validator(mode="after")
    def _terms_fit(self) -> OutcomeIn:
        if self.outcome == Outcome.NONE and self.terms:
            raise ValueError("no agreement was reached: there are no agreed terms")
        return self


def party_json(p: Any) -> dict[str, Any]:
    return {
        "name": p.name,
        "role": p.role,
        "reach": p.reach,
        "phone": p.phone,
        "terminal_id": p.terminal_id,
        "address": p.address,
    }


class MediationOut(BaseModel):
    case: CaseOut
    state: str
    scheduled_at: datetime | None
    contact_id: str | None
    outcome: str
    facts: str
    terms: list[dict[str, str]]
    oral: bool
    consent_at: datetime | None
    closed_at: datetime | None
    parties: list[dict[str, Any]]
    # The mediation record (调解笔录): who said what in the room, in order.
    record: list[dict[str, Any]]
    recordings: int  # its rooms' recorded sides (after the consent announcement)
    # The articles the mediator pinned in the room: the agreement's 调解依据.
    basis: list[str] = []

    @classmethod
    def of(cls, record: mediation.MediationRecord, now: datetime) -> MediationOut:
        m = record.mediation
        return cls(
            case=CaseOut.of(record.case, now),
            state=m.state,
            scheduled_at=m.scheduled_at,
            contact_id=m.contact_id,
            outcome=m.outcome,
            facts=m.facts,
            terms=list(m.terms or []),
            oral=m.oral,
            consent_at=m.consent_at,
            closed_at=m.closed_at,
            parties=[party_json(p) for p in record.parties],
            record=list(m.record or []),
            recordings=len(m.recordings or []),
        )
