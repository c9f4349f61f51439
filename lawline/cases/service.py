"""Cases: opened from a contact, owned, handed over, followed up, closed.

Plain functions over a database session, time passed in; every read and change of
a case is written to the audit trail in the same transaction. Who may do what is
in access.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from lawline import centre_time
from lawline.cases.access import Actor, may_read_contact, may_work_on
from lawline.cases.models import (
    AuditEntry,
    Case,
    CaseNote,
    Handover,
    LedgerContact,
    LegalAidApplication,
)
from lawline.cases.settings import CaseSettings


class Triage(StrEnum):
    """How much a matter needs (分类): it sets the deadline."""

    SIMPLE = "simple"
    GENERAL = "general"
    COMPLEX = "complex"


class Referral(StrEnum):
    """Where a matter is sent on (转办)."""

    NONE = ""
    LEGAL_AID_CENTRE = "legal_aid_centre"
    MEDIATION_COMMITTEE = "mediation_committee"
    NOTARY = "notary"
    COURT = "court"
    OTHER_AGENCY = "other_agency"


class CaseStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class CaseError(ValueError):
    """A request on a case that cannot be carried out; the message says why."""


class NotFound(CaseError):
    pass


class Forbidden(CaseError):
    pass


@dataclass(frozen=True)
class CaseFields:
    triage: Triage
    service: str
    domain: str = ""
    summary: str = ""
    told: str = ""
    disposition: str = ""
    referral_to: Referral = Referral.NONE
    referral_body: str = ""
    citizen_name: str = ""


def audit_change(
    session: Session, actor: Actor, action: str, case_id: str, now: datetime, detail: str = ""
) -> None:
    session.add(
        AuditEntry(at=now, actor=actor.id, action=action, case_id=case_id, detail=detail[:1000])
    )


def deadline(opened_at: datetime, triage: Triage, settings: CaseSettings) -> datetime:
    """When a case must be dealt with: its triage sets the days from its opening."""
    return opened_at + timedelta(days=settings.deadline_days[triage.value])


def contact_for_case(session: Session, contact_id: str, actor: Actor) -> LedgerContact:
    """The contact a case is opened from: one the actor may read, in no case yet."""
    contact = session.get(LedgerContact, contact_id)
    if contact is None:
        raise NotFound("no such contact in the ledger (yet)")
    if not may_read_contact(actor, contact):
        raise Forbidden("this contact is not yours")
    if contact.case_id is not None:
        raise CaseError(f"this contact is already in case {contact.case_id}")
    return contact


def open_case(
    session: Session,
    contact_id: str,
    fields: CaseFields,
    actor: Actor,
    now: datetime,
    settings: CaseSettings,
    join: str | None = None,
    *,
    tz: tzinfo,
) -> Case:
    """Open a case from a contact (or join the contact to an earlier case of the same
    citizen). The owner is the lawyer who first took the contact, whoever opens it."""
    contact = contact_for_case(session, contact_id, actor)
    if join is not None:
        case = get_case(session, join, actor, now, audit=False)
        if case.citizen_number and contact.caller and case.citizen_number != contact.caller:
            raise CaseError("that case is another citizen's")
        contact.case_id = case.id
        audit_change(session, actor, "join", case.id, now, f"contact {contact_id}")
        return case
    owner = contact.first_lawyer or contact.lawyer or actor.id
    case = Case(
        id=case_number(now, tz),
        citizen_number=contact.caller,
        citizen_name=fields.citizen_name,
        owner=owner,
        opened_by=actor.id,
        opened_at=now,
        triage=fields.triage.value,
        service=fields.service,
        domain=fields.domain,
        summary=fields.summary,
        told=fields.told,
        disposition=fields.disposition,
        referral_to=fields.referral_to.value,
        referral_body=fields.referral_body,
        deadline=deadline(now, fields.triage, settings),
        status=CaseStatus.OPEN.value,
    )
    session.add(case)
    session.flush()
    contact.case_id = case.id
    audit_change(session, actor, "open", case.id, now, f"contact {contact_id}")
    return case


def case_number(now: datetime, tz: tzinfo) -> str:
    """Readable and unique: the day it was opened (the centre's day) and a random part."""
    return f"{centre_time.day_stamp(now, tz)}-{uuid.uuid4().hex[:8]}"


def get_case(
    session: Session, case_id: str, actor: Actor, now: datetime, audit: bool = True
) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound("no such case")
    if not may_work_on(actor, case):
        raise Forbidden("this case is not yours")
    if audit:
        audit_change(session, actor, "read", case.id, now)
    return case


@dataclass(frozen=True)
class CaseRecord:
    """A case with all that hangs on it, oldest first."""

    case: Case
    contacts: list[str]
    notes: Sequence[CaseNote]
    handovers: Sequence[Handover]
    legal_aid: Sequence[LegalAidApplication]


def case_record(session: Session, case_id: str, actor: Actor, now: datetime) -> CaseRecord:
    """The case (the read is audited), its contacts, notes, hand-overs, legal-aid
    applications."""
    case = get_case(session, case_id, actor, now)
    contacts = session.scalars(select(LedgerContact.id).where(LedgerContact.case_id == case_id))
    notes = session.scalars(
        select(CaseNote).where(CaseNote.case_id == case_id).order_by(CaseNote.at)
    ).all()
    handovers = session.scalars(
        select(Handover).where(Handover.case_id == case_id).order_by(Handover.at)
    ).all()
    aid = session.scalars(
        select(LegalAidApplication)
        .where(LegalAidApplication.case_id == case_id)
        .order_by(LegalAidApplication.created_at)
    ).all()
    return CaseRecord(case, list(contacts), notes, handovers, aid)


def update_case(
    session: Session,
    case_id: str,
    changes: dict[str, object],
    actor: Actor,
    now: datetime,
    settings: CaseSettings,
) -> Case:
    case = get_case(session, case_id, actor, now, audit=False)
    if case.status == CaseStatus.CLOSED:
        raise CaseError("the case is closed")
    for name, value in changes.items():
        if name == "triage":
            triage = Triage(str(value))
            case.triage = triage.value
            case.deadline = deadline(case.opened_at, triage, settings)
        elif name == "referral_to":
            case.referral_to = Referral(str(value)).value
        elif name in (
            "service",
            "domain",
            "summary",
            "told",
            "disposition",
            "referral_body",
            "citizen_name",
        ):
            setattr(case, name, value)
        else:
            raise CaseError(f"{name} cannot be changed here")
    audit_change(session, actor, "update", case.id, now, ", ".join(sorted(changes)))
    return case


def hand_over(
    session: Session, case_id: str, to_lawyer: str, reason: str, actor: Actor, now: datetime
) -> Handover:
    """The formal hand-over: the only way a case changes owner, and it is recorded."""
    case = get_case(session, case_id, actor, now, audit=False)
    if to_lawyer == case.owner:
        raise CaseError("the case is already theirs")
    if not reason.strip():
        raise CaseError("a hand-over needs a reason")
    h = Handover(
        case_id=case.id,
        at=now,
        from_lawyer=case.owner,
        to_lawyer=to_lawyer,
        by=actor.id,
        reason=reason,
    )
    session.add(h)
    case.owner = to_lawyer
    audit_change(session, actor, "handover", case.id, now, f"to {to_lawyer}")
    return h


def add_note(session: Session, case_id: str, text: str, actor: Actor, now: datetime) -> CaseNote:
    case = get_case(session, case_id, actor, now, audit=False)
    note = CaseNote(case_id=case.id, at=now, author=actor.id, text=text)
    session.add(note)
    audit_change(session, actor, "note", case.id, now)
    return note


def close_case(
    session: Session, case_id: str, disposition: str, actor: Actor, now: datetime
) -> Case:
    case = get_case(session, case_id, actor, now, audit=False)
    if case.status == CaseStatus.CLOSED:
        raise CaseError("the case is closed already")
    case.status = CaseStatus.CLOSED.value
    case.closed_at = now
    if disposition:
        case.disposition = disposition
    audit_change(session, actor, "close", case.id, now)
    return case


def list_cases(
    session: Session,
    actor: Actor,
    now: datetime,
    status: CaseStatus | None = None,
    overdue: bool = False,
    owner: str | None = None,
    limit: int = 200,
) -> Sequence[Case]:
    """A lawyer's own cases, or (staff) anyone's; overdue: open past the deadline."""
    q = select(Case).order_by(Case.deadline).limit(limit)
    if not actor.staff:
        q = q.where(Case.owner == actor.id)
    elif owner:
        q = q.where(Case.owner == owner)
    if status is not None:
        q = q.where(Case.status == status.value)
    if overdue:
        q = q.where(Case.status == CaseStatus.OPEN.value, Case.deadline < now)
    return session.scalars(q).all()


class Exemption(StrEnum):
    """Why an applicant needs no means test for legal aid (免于经济困难审查)."""

    ELDERLY = "elderly"
    DISABLED = "disabled"
    MINOR = "minor"
    MIGRANT_WAGES = "migrant_wages"  # a migrant worker claiming unpaid wages


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def valid_id_number(number: str) -> bool:
    """A resident ID number (GB 11643): 17 digits and a check character."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    check = "10X98765432"[total % 11]
    return number[17].upper() == check


def start_legal_aid(
    session: Session,
    case_id: str,
    applicant: dict[str, object],
    exemptions: Sequence[Exemption],
    actor: Actor,
    now: datetime,
) -> LegalAidApplication:
    case = get_case(session, case_id, actor, now, audit=False)
    if case.status == CaseStatus.CLOSED:
        raise CaseError("the case is closed")
    app = LegalAidApplication(
        case_id=case.id,
        created_at=now,
        created_by=actor.id,
        exemptions=[e.value for e in exemptions],
        status="submitted",
        **applicant,
    )
    session.add(app)
    session.flush()
    audit_change(session, actor, "legal_aid", case.id, now, f"application {app.id}")
    return app


def is_overdue(case: Case, now: datetime) -> bool:
    return case.status == CaseStatus.OPEN and case.deadline < now
