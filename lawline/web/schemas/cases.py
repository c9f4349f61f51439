"""The case ledger's bodies: cases and their changes, contacts as recorded, the audit
trail, and the case form a lawyer fills in during a call."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, field_validator

from lawline.cases import service as cases
from lawline.cases.ledger import ContactRecord
from lawline.cases.models import AuditEntry, Case, CaseNote
from lawline.cases.service import CaseRecord, Referral, Triage
from lawline.phone_numbers import mask_number
from lawline.queue.skills import Domain, Service
from lawline.telephony.menu import Menu
from lawline.web.schemas.fields import Disposition, check_number


class CaseForm(BaseModel):
    """The case form a lawyer fills in during the call and saves in wrap-up."""

    model_config = ConfigDict(extra="forbid")

    service: Service
    domain: Domain | None = None
    summary: str = Field(default="", max_length=4000)
    disposition: Disposition | None = None
    # What the citizen was told (答复内容): the record of the advice given.
    advice: str = Field(default="", max_length=4000)


class CaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contact_id: str = Field(min_length=1, max_length=64)
    # Join the contact to this earlier case of the same citizen instead of opening one.
    join_case: str | None = None
    triage: Triage = Triage.GENERAL
    service: Service = Service.CONSULTATION
    domain: Domain | None = None
    citizen_name: str = Field(default="", max_length=100)
    summary: str = Field(default="", max_length=4000)
    told: str = Field(default="", max_length=4000, description="what the citizen was told")
    disposition: Disposition | None = None
    referral_to: Referral = Referral.NONE
    referral_body: str = Field(default="", max_length=200)


class CasePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    triage: Triage | None = None
    service: Service | None = None
    domain: Domain | None = None
    citizen_name: str | None = Field(default=None, max_length=100)
    summary: str | None = Field(default=None, max_length=4000)
    told: str | None = Field(default=None, max_length=4000)
    disposition: Disposition | None = None
    referral_to: Referral | None = None
    referral_body: str | None = Field(default=None, max_length=200)


class HandoverIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to_lawyer: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=1, max_length=2000)


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=4000)


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    disposition: Disposition | None = None


class LegalAidIn(BaseModel):
    """A legal-aid application started from a case."""

    model_config = ConfigDict(extra="forbid")

    applicant_name: str = Field(min_length=1, max_length=100)
    id_number: str = Field(description="resident ID number, 18 characters")
    phone: str = Field(default="", max_length=32, description="digits, optionally after '+'")
    address: str = Field(default="", max_length=300)
    facts: str = Field(default="", max_length=8000)
    exemptions: list[cases.Exemption] = Field(
        default_factory=list, description="why the means test is waived"
    )

    @field_validator("id_number")
    @classmethod
    def _id_number(cls, v: str) -> str:
        if not cases.valid_id_number(v):
            raise ValueError("not a valid resident ID number (18 characters, check digit)")
        return v.upper()

    _phone = field_validator("phone")(check_number)


class CaseOut(BaseModel):
    id: str
    citizen_number: str
    citizen_name: str
    owner: str
    opened_by: str
    opened_at: datetime
    triage: str
    service: str
    domain: str
    summary: str
    told: str
    disposition: str
    referral_to: str
    referral_body: str
    deadline: datetime
    overdue: bool
    status: str
    closed_at: datetime | None

    @classmethod
    def of(cls, case: Case, now: datetime) -> CaseOut:
        fields = {k: getattr(case, k) for k in cls.model_fields if k != "overdue"}
        return cls(**fields, overdue=cases.is_overdue(case, now))


class CaseDetail(CaseOut):
    contacts: list[str]
    notes: list[dict[str, Any]]
    handovers: list[dict[str, Any]]
    legal_aid: list[dict[str, Any]]

    @classmethod
    def of(cls, record: CaseRecord, now: datetime) -> CaseDetail:
        return cls(
            **CaseOut.of(record.case, now).model_dump(),
            contacts=record.contacts,
            notes=[note_json(n) for n in record.notes],
            handovers=[
                {
                    "at": h.at,
                    "from": h.from_lawyer,
                    "to": h.to_lawyer,
                    "by": h.by,
                    "reason": h.reason,
                }
                for h in record.handovers
            ],
            legal_aid=[
                {
                    "id": a.id,
                    "created_at": a.created_at,
                    "created_by": a.created_by,
                    "applicant_name": a.applicant_name,
                    "exemptions": a.exemptions,
                    "status": a.status,
                }
                for a in record.legal_aid
            ],
        )


def note_json(n: CaseNote) -> dict[str, Any]:
    return {"at": n.at, "author": n.author, "text": n.text}


def audit_json(a: AuditEntry, with_case: bool = False) -> dict[str, Any]:
    if with_case:
        return {
            "at": a.at,
            "actor": a.actor,
            "action": a.action,
            "case_id": a.case_id,
            "detail": a.detail,
        }
    return {"at": a.at, "actor": a.actor, "action": a.action, "detail": a.detail}


def ledger_contact_json(record: ContactRecord, staff: bool, menu: Menu) -> dict[str, Any]:
    """A contact as recorded; the number masked unless `record.full_number`, the
    recordings for staff only; with its timeline and transcript if it was read alone.
    `menu_words`: the caller's menu choices in words (法律咨询 › 劳动争议)."""
    c = record.contact
    return {
        "id": c.id,
        "channel": c.channel,
        "service": c.service,
        "domain": c.domain,
        "language": c.language,
        "caller": c.caller if record.full_number else mask_number(c.caller),
        "green": c.green,
        "callback": c.callback,
        "state": c.state,
        "entered_at": c.entered_at,
        "answered_at": c.answered_at,
        "ended_at": c.ended_at,
        "first_lawyer": c.first_lawyer,
        "lawyer": c.lawyer,
        "end_reason": c.end_reason,
        "rating": c.rating,
        "menu_path": c.menu_path,
        "menu_words": menu.path_words(c.menu_path),
        "origin": c.origin,
        "case_form": c.case_form,
        "recordings": c.recordings if staff else [],
        "case_id": c.case_id,
    }


def contact_timeline_json(record: ContactRecord) -> dict[str, Any]:
    return {
        "timeline": [
            {"at": e.at, "type": e.type, "lawyer": e.lawyer, "state": e.state, "reason": e.reason}
            for e in record.timeline
        ],
        "transcript": [
            {"kind": t.kind, "leg": t.leg, "start": t.start, "end": t.end, "text": t.text}
            for t in record.transcript
        ],
    }


class RecentContactOut(BaseModel):
    """One of a lawyer's own recent contacts: what it was, how it ended, its case."""

    id: str
    channel: str
    service: str
    domain: str
    state: str
    entered_at: datetime
    ended_at: datetime | None
    caller: str
    origin: str
    # From the case form the lawyer saved (None: no form saved).
    disposition: str | None
    summary: str
    case_id: str | None
    case_url: str | None

    @classmethod
    def of(cls, record: ContactRecord) -> RecentContactOut:
        c = record.contact
        form = c.case_form if isinstance(c.case_form, dict) else {}
        disposition = form.get("disposition")
        return cls(
            id=c.id,
            channel=c.channel,
            service=c.service,
            domain=c.domain,
            state=c.state,
            entered_at=c.entered_at,
            ended_at=c.ended_at,
            caller=c.caller if record.full_number else mask_number(c.caller),
            origin=c.origin,
            disposition=disposition if isinstance(disposition, str) else None,
            summary=str(form.get("summary") or "")[:200],
            case_id=c.case_id,
            case_url=f"/cases#case/{quote(c.case_id, safe='')}" if c.case_id else None,
        )
