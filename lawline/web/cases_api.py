"""The case ledger over HTTP: contacts as recorded, and cases (thin routes over
lawline/cases/service.py). A lawyer works on their own cases and contacts;
supervisors and admins on all. Every case read or change is audited."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from lawline.cases import reports
from lawline.cases import service as cases
from lawline.cases.audit import Read, record_read, search_detail
from lawline.cases.models import (
    AuditEntry,
    Case,
    CaseNote,
    ContactEvent,
    Handover,
    LedgerContact,
    LegalAidApplication,
    TranscriptLine,
)
from lawline.cases.search import said_in
from lawline.cases.service import Actor, CaseFields, CaseStatus, Referral, Triage
from lawline.phone_numbers import normalise_number
from lawline.queue.skills import Domain, Service
from lawline.web.auth import STAFF_ROLES, Principal, Role, mask_number, require
from lawline.web.db import in_transaction
from lawline.web.schemas import Disposition, check_number

router = APIRouter(prefix="/api")
Anyone = Annotated[Principal, Depends(require())]
Staff = Annotated[Principal, Depends(require(Role.SUPERVISOR, Role.ADMIN))]
T = TypeVar("T")


def _actor(p: Principal) -> Actor:
    return Actor(p.subject, staff=p.role in STAFF_ROLES)


def _now() -> datetime:
    return datetime.now(UTC)


# Most specific first: NotFound and Forbidden are CaseErrors too.
_ERRORS = {
    cases.NotFound: status.HTTP_404_NOT_FOUND,
    cases.Forbidden: status.HTTP_403_FORBIDDEN,
    cases.CaseError: status.HTTP_409_CONFLICT,
}


async def _db(request: Request, work: Callable[[Session], T]) -> T:
    """Run `work` in one transaction in a worker thread; CaseError becomes 4xx."""
    return await in_transaction(request, work, _ERRORS)


async def audit_read(request: Request, p: Principal, action: Read, detail: str) -> None:
    """An audit row for a read served from elsewhere (a stored transcript in Redis)."""
    now = _now()
    await _db(request, lambda s: record_read(s, p.subject, action, now, detail))


# ----- bodies ---------------------------------------------------------------------------


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


# ----- the ledger's contacts -------------------------------------------------------------


def _contact_json(c: LedgerContact, staff: bool, owner_of_case: bool) -> dict[str, Any]:
    # One rule for citizens' numbers: supervisors see them, and so does the lawyer who
    # owns the case a contact belongs to (they follow it up); everywhere else, a lawyer
    # sees the last four digits, as on an offer.
    reveal = staff or owner_of_case
    return {
        "id": c.id, "channel": c.channel, "service": c.service, "domain": c.domain,
        "language": c.language, "caller": c.caller if reveal else mask_number(c.caller),
        "green": c.green, "callback": c.callback, "state": c.state,
        "entered_at": c.entered_at, "answered_at": c.answered_at, "ended_at": c.ended_at,
        "first_lawyer": c.first_lawyer, "lawyer": c.lawyer, "end_reason": c.end_reason,
        "rating": c.rating, "menu_path": c.menu_path, "origin": c.origin,
        "case_form": c.case_form,
        "recordings": c.recordings if staff else [], "case_id": c.case_id,
    }  # fmt: skip


def _owned_cases(s: Session, actor: Actor, case_ids: set[str]) -> set[str | None]:
    if actor.staff or not case_ids:
        return set()
    q = select(Case.id).where(Case.id.in_(case_ids), Case.owner == actor.id)
    return set(s.scalars(q))


@router.get("/ledger/contacts/{contact_id}")
async def ledger_contact(contact_id: str, request: Request, p: Anyone) -> dict[str, Any]:
    """One contact as recorded: its timeline and its transcript (the read is audited)."""
    now, actor = _now(), _actor(p)

    def work(s: Session) -> dict[str, Any]:
        c = s.get(LedgerContact, contact_id)
        if c is None:
            raise cases.NotFound("no such contact in the ledger")
        case = s.get(Case, c.case_id) if c.case_id else None
        owner = case is not None and case.owner == actor.id
        # The owner of the case it belongs to (after a hand-over, a joined call) may read it.
        if not actor.staff and not owner and actor.id not in (c.first_lawyer, c.lawyer):
            raise cases.Forbidden("this contact is not yours")
        events = s.scalars(select(ContactEvent).where(ContactEvent.contact_id == contact_id)
                           .order_by(ContactEvent.at, ContactEvent.event_id)).all()  # fmt: skip
        lines = s.scalars(select(TranscriptLine).where(TranscriptLine.contact_id == contact_id)
                          .order_by(TranscriptLine.start)).all()  # fmt: skip
        record_read(s, actor.id, Read.CONTACT, now, f"contact {contact_id}")
        return _contact_json(c, actor.staff, owner) | {
            "timeline": [{"at": e.at, "type": e.type, "lawyer": e.lawyer, "state": e.state,
                          "reason": e.reason} for e in events],
            "transcript": [{"kind": t.kind, "leg": t.leg, "start": t.start, "end": t.end,
                            "text": t.text} for t in lines],
        }  # fmt: skip

    return await _db(request, work)


@router.get("/ledger/contacts")
async def ledger_contacts(
    request: Request,
    p: Anyone,
    number: Annotated[str | None, Query(max_length=32)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    lawyer: Annotated[str | None, Query(max_length=64)] = None,
    service: Service | None = None,
    domain: Domain | None = None,
    state: Annotated[str | None, Query(max_length=16)] = None,
    name: Annotated[str | None, Query(max_length=100, description="citizen's name")] = None,
    words: Annotated[str | None, Query(max_length=200, description="said in the call")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """Contacts as recorded, newest first: a lawyer's own, or (staff) anyone's. Search
    by number, dates, lawyer, service, domain, state, the citizen's name (from their
    cases) and words in the transcript. Audited, the number masked, name and words
    hashed."""
    now, actor = _now(), _actor(p)
    if number is not None:
        try:
            number = normalise_number(number)
        except ValueError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"number: {exc}") from None
    filters = {"since": since, "until": until, "lawyer": lawyer, "service": service,
               "domain": domain, "state": state, "limit": limit}  # fmt: skip
    detail = search_detail(filters, request.app.state.secret, number, name, words)

    def work(s: Session) -> list[dict[str, Any]]:
        q = select(LedgerContact).order_by(LedgerContact.entered_at.desc()).limit(limit)
        if not actor.staff:
            q = q.where(
                or_(LedgerContact.first_lawyer == actor.id, LedgerContact.lawyer == actor.id)
            )
        elif lawyer:
            q = q.where(LedgerContact.first_lawyer == lawyer)
        if number:
            q = q.where(LedgerContact.caller == number)
        if since:
            q = q.where(LedgerContact.entered_at >= since)
        if until:
            q = q.where(LedgerContact.entered_at < until)
        if service:
            q = q.where(LedgerContact.service == service.value)
        if domain:
            q = q.where(LedgerContact.domain == domain.value)
        if state:
            q = q.where(LedgerContact.state == state)
        if name:
            named = select(Case.id).where(Case.citizen_name.contains(name, autoescape=True))
            q = q.where(LedgerContact.case_id.in_(named))
        if words:
            q = said_in(s, q, words)
        found = sorted(s.scalars(q), key=lambda c: c.entered_at, reverse=True)
        owned = _owned_cases(s, actor, {c.case_id for c in found if c.case_id})
        record_read(s, actor.id, Read.SEARCH, now, f"{detail} found={len(found)}")
        return [_contact_json(c, actor.staff, c.case_id in owned) for c in found]

    return await _db(request, work)


# ----- cases ---------------------------------------------------------------------------


@router.post("/cases", status_code=status.HTTP_201_CREATED)
async def open_case(body: CaseIn, request: Request, p: Anyone) -> CaseOut:
    """Open a case from a contact (the owner is the lawyer who first took it), or join
    the contact to an earlier case of the same citizen (`join_case`)."""
    now, actor = _now(), _actor(p)
    fields = CaseFields(
        triage=body.triage, service=body.service.value,
        domain=body.domain.value if body.domain else "", summary=body.summary, told=body.told,
        disposition=body.disposition.value if body.disposition else "",
        referral_to=body.referral_to, referral_body=body.referral_body,
        citizen_name=body.citizen_name,
    )  # fmt: skip
    settings = request.app.state.settings.cases

    def work(s: Session) -> CaseOut:
        case = cases.open_case(s, body.contact_id, fields, actor, now, settings, body.join_case)
        return CaseOut.of(case, now)

    return await _db(request, work)


@router.get("/cases")
async def list_cases(
    request: Request,
    p: Anyone,
    status_: Annotated[CaseStatus | None, Query(alias="status")] = None,
    overdue: bool = False,
    owner: Annotated[str | None, Query(max_length=64)] = None,
) -> list[CaseOut]:
    """A lawyer's own cases, soonest deadline first; staff see all (or one owner's).
    `overdue=true`: open cases past their deadline."""
    now, actor = _now(), _actor(p)

    def work(s: Session) -> list[CaseOut]:
        found = cases.list_cases(s, actor, now, status_, overdue, owner)
        return [CaseOut.of(c, now) for c in found]

    return await _db(request, work)


@router.get("/cases/{case_id}")
async def get_case(case_id: str, request: Request, p: Anyone) -> CaseDetail:
    now, actor = _now(), _actor(p)

    def work(s: Session) -> CaseDetail:
        case = cases.get_case(s, case_id, actor, now)
        contacts = s.scalars(select(LedgerContact.id).where(LedgerContact.case_id == case_id))
        notes = s.scalars(select(CaseNote).where(CaseNote.case_id == case_id)
                          .order_by(CaseNote.at)).all()  # fmt: skip
        handovers = s.scalars(select(Handover).where(Handover.case_id == case_id)
                              .order_by(Handover.at)).all()  # fmt: skip
        aid = s.scalars(select(LegalAidApplication)
                        .where(LegalAidApplication.case_id == case_id)
                        .order_by(LegalAidApplication.created_at)).all()  # fmt: skip
        return CaseDetail(
            **CaseOut.of(case, now).model_dump(),
            contacts=list(contacts),
            notes=[{"at": n.at, "author": n.author, "text": n.text} for n in notes],
            handovers=[{"at": h.at, "from": h.from_lawyer, "to": h.to_lawyer, "by": h.by,
                        "reason": h.reason} for h in handovers],
            legal_aid=[{"id": a.id, "created_at": a.created_at, "created_by": a.created_by,
                        "applicant_name": a.applicant_name, "exemptions": a.exemptions,
                        "status": a.status} for a in aid],
        )  # fmt: skip

    return await _db(request, work)


@router.patch("/cases/{case_id}")
async def update_case(case_id: str, body: CasePatch, request: Request, p: Anyone) -> CaseOut:
    now, actor = _now(), _actor(p)
    changes = {k: (v.value if hasattr(v, "value") else v)
               for k, v in body.model_dump(exclude_unset=True).items()}  # fmt: skip
    settings = request.app.state.settings.cases

    def work(s: Session) -> CaseOut:
        return CaseOut.of(cases.update_case(s, case_id, changes, actor, now, settings), now)

    return await _db(request, work)


@router.post("/cases/{case_id}/handover")
async def hand_over(case_id: str, body: HandoverIn, request: Request, p: Anyone) -> CaseOut:
    """Formally hand the case to another lawyer: the new owner, recorded with a reason."""
    now, actor = _now(), _actor(p)
    if await request.app.state.queue.store.get_lawyer(body.to_lawyer) is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "no such lawyer")

    def work(s: Session) -> CaseOut:
        cases.hand_over(s, case_id, body.to_lawyer, body.reason, actor, now)
        return CaseOut.of(cases.get_case(s, case_id, Actor(actor.id, True), now, False), now)

    return await _db(request, work)


@router.post("/cases/{case_id}/notes", status_code=status.HTTP_201_CREATED)
async def add_note(case_id: str, body: NoteIn, request: Request, p: Anyone) -> dict[str, Any]:
    now, actor = _now(), _actor(p)

    def work(s: Session) -> dict[str, Any]:
        n = cases.add_note(s, case_id, body.text, actor, now)
        return {"at": n.at, "author": n.author, "text": n.text}

    return await _db(request, work)


@router.post("/cases/{case_id}/close")
async def close_case(case_id: str, body: CloseIn, request: Request, p: Anyone) -> CaseOut:
    now, actor = _now(), _actor(p)
    disposition = body.disposition.value if body.disposition else ""

    def work(s: Session) -> CaseOut:
        return CaseOut.of(cases.close_case(s, case_id, disposition, actor, now), now)

    return await _db(request, work)


@router.get("/cases/{case_id}/audit")
async def case_audit(case_id: str, request: Request, _: Staff) -> list[dict[str, Any]]:
    """Who read or changed this case, when."""

    def work(s: Session) -> list[dict[str, Any]]:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.case_id == case_id)
                         .order_by(AuditEntry.at, AuditEntry.id)).all()  # fmt: skip
        return [{"at": a.at, "actor": a.actor, "action": a.action, "detail": a.detail}
                for a in rows]  # fmt: skip

    return await _db(request, work)


@router.get("/audit")
async def audit_trail(
    request: Request,
    _: Staff,
    actor: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=32)] = None,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict[str, Any]]:
    """Who read or changed what, newest first: cases, ledger contacts, transcripts,
    searches and exports."""

    def work(s: Session) -> list[dict[str, Any]]:
        q = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
        if actor:
            q = q.where(AuditEntry.actor == actor)
        if action:
            q = q.where(AuditEntry.action == action)
        if since:
            q = q.where(AuditEntry.at >= since)
        return [{"at": a.at, "actor": a.actor, "action": a.action, "case_id": a.case_id,
                 "detail": a.detail} for a in s.scalars(q)]  # fmt: skip

    return await _db(request, work)


@router.post("/cases/{case_id}/legal-aid", status_code=status.HTTP_201_CREATED)
async def start_legal_aid(
    case_id: str, body: LegalAidIn, request: Request, p: Anyone
) -> dict[str, Any]:
    """Start a legal-aid application from the case, with the applicant's details."""
    now, actor = _now(), _actor(p)
    applicant = body.model_dump(exclude={"exemptions"})

    def work(s: Session) -> dict[str, Any]:
        app = cases.start_legal_aid(s, case_id, applicant, body.exemptions, actor, now)
        return {"id": app.id, "case_id": app.case_id, "status": app.status,
                "exemptions": app.exemptions, "means_test": not app.exemptions}  # fmt: skip

    return await _db(request, work)


# ----- reports ---------------------------------------------------------------------------

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _range(since: datetime, until: datetime) -> None:
    if until <= since:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "until must be after since")


@router.get("/ledger/export", response_model=None)
async def export_ledger(
    request: Request,
    p: Staff,
    since: datetime,
    until: datetime,
    format: Annotated[Literal["csv", "xlsx"], Query()] = "xlsx",
) -> Response:
    """The ledger of every contact that entered in [since, until), for the monthly report
    (audited: who exported which range)."""
    _range(since, until)
    tz = ZoneInfo(request.app.state.settings.timezone)
    now = _now()

    def work(s: Session) -> bytes:
        rows = reports.Counted(reports.ledger_rows(s, since, until))
        body = reports.to_csv(rows).encode() if format == "csv" else reports.to_xlsx(rows, tz)
        detail = f"{since.isoformat()}..{until.isoformat()} {format} rows={rows.count}"
        record_read(s, p.subject, Read.EXPORT, now, detail)
        return body

    body = await _db(request, work)
    name = f"ledger-{since:%Y%m%d}-{until:%Y%m%d}.{format}"
    media = "text/csv; charset=utf-8" if format == "csv" else XLSX
    return Response(body, media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip


@router.get("/ledger/figures")
async def ledger_figures(
    request: Request, _: Staff, since: datetime, until: datetime
) -> dict[str, Any]:
    """The figures centres publish, for [since, until)."""
    _range(since, until)
    return await _db(request, lambda s: reports.figures(s, since, until))


@router.get("/grades")
async def lawyer_grades(request: Request, _: Staff) -> list[dict[str, Any]]:
    """Each rated lawyer's ratings and star level (five levels, rules in `cases.stars`)."""
    settings = request.app.state.settings.cases
    return await _db(request, lambda s: list(reports.grades(s, settings)))
