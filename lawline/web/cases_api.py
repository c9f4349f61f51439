"""The case ledger over HTTP: contacts as recorded, and cases (thin routes over
lawline/cases/: service.py, ledger.py, audit.py; who may do what is cases/access.py).
A lawyer works on their own cases and contacts; supervisors and admins on all. Every
case read or change is audited."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import Response
from sqlalchemy.orm import Session

from lawline import centre_time
from lawline.cases import audit, ledger, reports
from lawline.cases import service as cases
from lawline.cases.access import Actor
from lawline.cases.audit import Read, record_read, search_detail
from lawline.cases.service import CaseFields, CaseStatus
from lawline.hints.records import contact_hints
from lawline.phone_numbers import normalise_number
from lawline.queue.skills import Domain, Service
from lawline.web.auth import STAFF_ROLES, Principal
from lawline.web.db import in_transaction
from lawline.web.deps import Anyone, DbDep, QueueDep, SecretDep, SettingsDep, Staff
from lawline.web.schemas.cases import (
    CaseDetail,
    CaseIn,
    CaseOut,
    CasePatch,
    CloseIn,
    HandoverIn,
    LegalAidIn,
    NoteIn,
    RecentContactOut,
    audit_json,
    contact_timeline_json,
    ledger_contact_json,
    note_json,
)
from lawline.web.schemas.fields import DayOrTime

router = APIRouter(prefix="/api")
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


async def _db(db: DbDep, work: Callable[[Session], T]) -> T:
    """Run `work` in one transaction in a worker thread; CaseError becomes 4xx."""
    return await in_transaction(db, work, _ERRORS)


async def audit_read(db: DbDep, p: Principal, action: Read, detail: str) -> None:
    """An audit row for a read served from elsewhere (a stored transcript in Redis)."""
    now = _now()
    await _db(db, lambda s: record_read(s, p.subject, action, now, detail))


# ----- the ledger's contacts -------------------------------------------------------------


@router.get("/ledger/contacts/{contact_id}")
async def ledger_contact(
    contact_id: str, db: DbDep, p: Anyone, settings: SettingsDep
) -> dict[str, Any]:
    """One contact as recorded: its timeline and its transcript (the read is audited)."""
    now, actor, menu = _now(), _actor(p), settings.telephony.menu

    def work(s: Session) -> dict[str, Any]:
        record = ledger.read_contact(s, contact_id, actor, now)
        return (
            ledger_contact_json(record, actor.staff, menu)
            | contact_timeline_json(record)
            | {"hints": contact_hints(s, contact_id)}  # shown and pinned, for quality review
        )

    return await _db(db, work)


@router.get("/ledger/contacts")
async def ledger_contacts(
    db: DbDep,
    secret: SecretDep,
    settings: SettingsDep,
    p: Anyone,
    number: Annotated[str | None, Query(max_length=32)] = None,
    since: DayOrTime | None = None,
    until: DayOrTime | None = None,
    lawyer: Annotated[str | None, Query(max_length=64)] = None,
    service: Service | None = None,
    domain: Domain | None = None,
    state: Annotated[str | None, Query(max_length=16)] = None,
    name: Annotated[str | None, Query(max_length=100, description="citizen's name")] = None,
    words: Annotated[
        str | None,
        Query(
            max_length=200,
            description="said in the call (a number of 7 digits or more is never"
            " searched for: it finds nothing; the caller's is `number`)",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """Contacts as recorded, newest first: a lawyer's own, or (staff) anyone's. Search
    by number, dates, lawyer, service, domain, state, the citizen's name (from their
    cases) and words in the transcript. Audited, the number masked, name and words
    hashed."""
    now, actor = _now(), _actor(p)
    tz = settings.zone
    start = None if since is None else centre_time.moment(since, tz)
    end = None if until is None else centre_time.moment(until, tz, end=True)
    if number is not None:
        try:
            number = normalise_number(number)
        except ValueError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"number: {exc}") from None
    filters = {
        "since": start,
        "until": end,
        "lawyer": lawyer,
        "service": service,
        "domain": domain,
        "state": state,
        "limit": limit,
    }
    detail = search_detail(filters, secret, number, name, words)
    query = ledger.ContactQuery(
        number=number,
        since=start,
        until=end,
        lawyer=lawyer,
        service=service.value if service else None,
        domain=domain.value if domain else None,
        state=state,
        name=name,
        words=words,
        limit=limit,
    )

    def work(s: Session) -> list[dict[str, Any]]:
        found = ledger.search_contacts(s, query, actor, now, detail)
        return [ledger_contact_json(r, actor.staff, settings.telephony.menu) for r in found]

    return await _db(db, work)


@router.get("/ledger/my-contacts")
async def my_recent_contacts(
    db: DbDep, p: Anyone, limit: Annotated[int, Query(ge=1, le=50)] = 10
) -> list[RecentContactOut]:
    """The contacts the signed-in person took themselves, newest first, with how each
    ended and a link to its case (a lawyer's recent calls; audited as a search)."""
    now, actor = _now(), _actor(p)

    def work(s: Session) -> list[RecentContactOut]:
        return [RecentContactOut.of(r) for r in ledger.recent_contacts(s, actor, limit, now)]

    return await _db(db, work)


# ----- cases ---------------------------------------------------------------------------


@router.post("/cases", status_code=status.HTTP_201_CREATED)
async def open_case(body: CaseIn, db: DbDep, settings: SettingsDep, p: Anyone) -> CaseOut:
    """Open a case from a contact (the owner is the lawyer who first took it), or join
    the contact to an earlier case of the same citizen (`join_case`)."""
    now, actor = _now(), _actor(p)
    fields = CaseFields(
        triage=body.triage,
        service=body.service.value,
        domain=body.domain.value if body.domain else "",
        summary=body.summary,
        told=body.told,
        disposition=body.disposition.value if body.disposition else "",
        referral_to=body.referral_to,
        referral_body=body.referral_body,
        citizen_name=body.citizen_name,
    )

    def work(s: Session) -> CaseOut:
        case = cases.open_case(
            s,
            body.contact_id,
            fields,
            actor,
            now,
            settings.cases,
            body.join_case,
            tz=settings.zone,
        )
        return CaseOut.of(case, now)

    return await _db(db, work)


@router.get("/cases")
async def list_cases(
    db: DbDep,
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

    return await _db(db, work)


@router.get("/cases/{case_id}")
async def get_case(case_id: str, db: DbDep, p: Anyone) -> CaseDetail:
    now, actor = _now(), _actor(p)

    def work(s: Session) -> CaseDetail:
        return CaseDetail.of(cases.case_record(s, case_id, actor, now), now)

    return await _db(db, work)


@router.patch("/cases/{case_id}")
async def update_case(
    case_id: str, body: CasePatch, db: DbDep, settings: SettingsDep, p: Anyone
) -> CaseOut:
    now, actor = _now(), _actor(p)
    changes = {
        k: (v.value if hasattr(v, "value") else v)
        for k, v in body.model_dump(exclude_unset=True).items()
    }

    def work(s: Session) -> CaseOut:
        return CaseOut.of(cases.update_case(s, case_id, changes, actor, now, settings.cases), now)

    return await _db(db, work)


@router.post("/cases/{case_id}/handover")
async def hand_over(
    case_id: str, body: HandoverIn, db: DbDep, queue: QueueDep, p: Anyone
) -> CaseOut:
    """Formally hand the case to another lawyer: the new owner, recorded with a reason."""
    now, actor = _now(), _actor(p)
    if await queue.store.get_lawyer(body.to_lawyer) is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "no such lawyer")

    def work(s: Session) -> CaseOut:
        cases.hand_over(s, case_id, body.to_lawyer, body.reason, actor, now)
        return CaseOut.of(cases.get_case(s, case_id, Actor(actor.id, True), now, False), now)

    return await _db(db, work)


@router.post("/cases/{case_id}/notes", status_code=status.HTTP_201_CREATED)
async def add_note(case_id: str, body: NoteIn, db: DbDep, p: Anyone) -> dict[str, Any]:
    now, actor = _now(), _actor(p)

    def work(s: Session) -> dict[str, Any]:
        return note_json(cases.add_note(s, case_id, body.text, actor, now))

    return await _db(db, work)


@router.post("/cases/{case_id}/close")
async def close_case(case_id: str, body: CloseIn, db: DbDep, p: Anyone) -> CaseOut:
    now, actor = _now(), _actor(p)
    disposition = body.disposition.value if body.disposition else ""

    def work(s: Session) -> CaseOut:
        return CaseOut.of(cases.close_case(s, case_id, disposition, actor, now), now)

    return await _db(db, work)


@router.get("/cases/{case_id}/audit")
async def case_audit(case_id: str, db: DbDep, _: Staff) -> list[dict[str, Any]]:
    """Who read or changed this case, when."""
    return await _db(db, lambda s: [audit_json(a) for a in audit.case_trail(s, case_id)])


@router.get("/audit")
async def audit_trail(
    db: DbDep,
    settings: SettingsDep,
    _: Staff,
    actor: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=32)] = None,
    since: DayOrTime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict[str, Any]]:
    """Who read or changed what, newest first: cases, ledger contacts, transcripts,
    searches and exports."""
    start = None if since is None else centre_time.moment(since, settings.zone)

    def work(s: Session) -> list[dict[str, Any]]:
        return [audit_json(a, with_case=True) for a in audit.trail(s, actor, action, start, limit)]

    return await _db(db, work)


@router.post("/cases/{case_id}/legal-aid", status_code=status.HTTP_201_CREATED)
async def start_legal_aid(case_id: str, body: LegalAidIn, db: DbDep, p: Anyone) -> dict[str, Any]:
    """Start a legal-aid application from the case, with the applicant's details."""
    now, actor = _now(), _actor(p)
    applicant = body.model_dump(exclude={"exemptions"})

    def work(s: Session) -> dict[str, Any]:
        app = cases.start_legal_aid(s, case_id, applicant, body.exemptions, actor, now)
        return {
            "id": app.id,
            "case_id": app.case_id,
            "status": app.status,
            "exemptions": app.exemptions,
            "means_test": not app.exemptions,
        }

    return await _db(db, work)


# ----- reports ---------------------------------------------------------------------------

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _range(since: DayOrTime, until: DayOrTime, settings: SettingsDep) -> tuple[datetime, datetime]:
    """[since, until) in UTC: plain dates are whole days of the centre's (until's too)."""
    start, end = centre_time.span(since, until, settings.zone)
    if end <= start:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "until must be after since")
    return start, end


@router.get("/ledger/export", response_model=None)
async def export_ledger(
    db: DbDep,
    settings: SettingsDep,
    p: Staff,
    since: DayOrTime,
    until: DayOrTime,
    format: Annotated[Literal["csv", "xlsx"], Query()] = "xlsx",
) -> Response:
    """The ledger of every contact that entered in [since, until), for the monthly report
    (audited: who exported which range). Plain dates are whole days in the centre's time
    zone, until's included: since=2026-12-01&until=2026-12-31 is December."""
    start, end = _range(since, until, settings)
    tz = settings.zone
    now = _now()

    def work(s: Session) -> bytes:
        rows = reports.Counted(reports.ledger_rows(s, start, end))
        body = reports.to_csv(rows, tz).encode() if format == "csv" else reports.to_xlsx(rows, tz)
        detail = f"{start.isoformat()}..{end.isoformat()} {format} rows={rows.count}"
        record_read(s, p.subject, Read.EXPORT, now, detail)
        return body

    body = await _db(db, work)
    last = end - timedelta(microseconds=1)  # the range's last day, for the file's name
    name = f"ledger-{centre_time.day_stamp(start, tz)}-{centre_time.day_stamp(last, tz)}.{format}"
    media = "text/csv; charset=utf-8" if format == "csv" else XLSX
    return Response(
        body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@router.get("/ledger/figures")
async def ledger_figures(
    db: DbDep, settings: SettingsDep, _: Staff, since: DayOrTime, until: DayOrTime
) -> dict[str, Any]:
    """The figures centres publish, for [since, until) (plain dates: whole days in the
    centre's time zone, until's included)."""
    start, end = _range(since, until, settings)
    return await _db(db, lambda s: reports.figures(s, start, end))


@router.get("/grades")
async def lawyer_grades(db: DbDep, settings: SettingsDep, _: Staff) -> list[dict[str, Any]]:
    """Each rated lawyer's ratings and star level (five levels, rules in `cases.stars`)."""
    return await _db(db, lambda s: list(reports.grades(s, settings.cases)))
