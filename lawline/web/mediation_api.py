"""Mediation cases over HTTP (thin routes over lawline/mediation/service.py): mediators
open and keep their own, supervisors and admins see all and may open one for a
mediator. Every read and change is audited with the case."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Literal, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy.orm import Session

from lawline.accounts.models import User
from lawline.accounts.roles import Role
from lawline.cases import service as cases
from lawline.cases.access import Actor
from lawline.hints import records as hint_records
from lawline.mediation import agreement as agreements
from lawline.mediation import service as mediation
from lawline.mediation.service import MediationFields, MediationState, Term
from lawline.web.auth import STAFF_ROLES, Principal, require
from lawline.web.db import in_transaction
from lawline.web.deps import DbDep, SettingsDep
from lawline.web.schemas.mediation import (
    MediationIn,
    MediationOut,
    OutcomeIn,
    PartiesIn,
    ScheduleIn,
)

router = APIRouter(prefix="/api/mediations")
T = TypeVar("T")
MediatorOrStaff = Annotated[Principal, Depends(require(Role.MEDIATOR, Role.SUPERVISOR, Role.ADMIN))]
_ERRORS = {
    cases.NotFound: status.HTTP_404_NOT_FOUND,
    cases.Forbidden: status.HTTP_403_FORBIDDEN,
    cases.CaseError: status.HTTP_409_CONFLICT,
    agreements.AgreementError: status.HTTP_409_CONFLICT,
}
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _actor(p: Principal) -> Actor:
    return Actor(p.subject, staff=p.role in STAFF_ROLES)


async def _db(db: DbDep, work: Callable[[Session], T]) -> T:
    return await in_transaction(db, work, _ERRORS)


@router.post("", status_code=status.HTTP_201_CREATED)
async def open_mediation(
    body: MediationIn, db: DbDep, settings: SettingsDep, p: MediatorOrStaff
) -> MediationOut:
    """Open a mediation case with its parties (from a contact, if given)."""
    now, actor = datetime.now(UTC), _actor(p)
    fields = MediationFields(
        domain=body.domain.value if body.domain else "",
        summary=body.summary,
        triage=body.triage,
        scheduled_at=body.scheduled_at,
        parties=[party.fields() for party in body.parties],
    )

    def work(s: Session) -> MediationOut:
        record = mediation.open_mediation(
            s,
            fields,
            actor,
            now,
            settings.cases,
            tz=settings.zone,
            mediator=body.mediator,
            contact_id=body.contact_id,
        )
        return MediationOut.of(record, now)

    return await _db(db, work)


@router.get("")
async def list_mediations(
    db: DbDep,
    p: MediatorOrStaff,
    state: MediationState | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> list[dict[str, object]]:
    """A mediator's own mediations (staff: all), soonest scheduled first."""
    now, actor = datetime.now(UTC), _actor(p)

    def work(s: Session) -> list[dict[str, object]]:
        return [
            {
                "id": c.id,
                "owner": c.owner,
                "domain": c.domain,
                "summary": c.summary[:200],
                "citizen_name": c.citizen_name,
                "state": m.state,
                "scheduled_at": m.scheduled_at,
                "outcome": m.outcome,
                "deadline": c.deadline,
                "overdue": cases.is_overdue(c, now),
            }
            for c, m in mediation.list_mediations(s, actor, state, limit)
        ]

    return await _db(db, work)


@router.get("/{case_id}")
async def get_mediation(case_id: str, db: DbDep, p: MediatorOrStaff) -> MediationOut:
    now, actor = datetime.now(UTC), _actor(p)

    def work(s: Session) -> MediationOut:
        out = MediationOut.of(mediation.get_mediation(s, case_id, actor, now), now)
        out.basis = hint_records.pinned_citations(s, case_id)
        return out

    return await _db(db, work)


@router.put("/{case_id}/parties")
async def replace_parties(
    case_id: str, body: PartiesIn, db: DbDep, p: MediatorOrStaff
) -> MediationOut:
    now, actor = datetime.now(UTC), _actor(p)
    parties = [party.fields() for party in body.parties]
    return await _db(
        db,
        lambda s: MediationOut.of(mediation.replace_parties(s, case_id, parties, actor, now), now),
    )


@router.put("/{case_id}/schedule")
async def reschedule(case_id: str, body: ScheduleIn, db: DbDep, p: MediatorOrStaff) -> MediationOut:
    now, actor = datetime.now(UTC), _actor(p)
    return await _db(
        db,
        lambda s: MediationOut.of(
            mediation.reschedule(s, case_id, body.scheduled_at, actor, now), now
        ),
    )


@router.post("/{case_id}/outcome")
async def record_outcome(
    case_id: str, body: OutcomeIn, db: DbDep, p: MediatorOrStaff
) -> MediationOut:
    """The mediation ends with its outcome and agreed terms; its case closes."""
    now, actor = datetime.now(UTC), _actor(p)
    terms = [Term(t.text, t.how, t.by) for t in body.terms]

    def work(s: Session) -> MediationOut:
        record = mediation.record_outcome(
            s, case_id, body.outcome, body.facts, terms, actor, now, oral=body.oral
        )
        return MediationOut.of(record, now)

    return await _db(db, work)


@router.get("/{case_id}/agreement.{kind}")
async def agreement(
    case_id: str,
    kind: Literal["docx", "pdf"],
    db: DbDep,
    settings: SettingsDep,
    p: MediatorOrStaff,
) -> Response:
    """The mediation agreement (调解协议书) to print and sign: Word from the centre's
    template, or PDF. Only once an agreement was reached; the export is audited."""
    now, actor = datetime.now(UTC), _actor(p)

    def work(s: Session) -> agreements.Agreement:
        record = mediation.get_mediation(s, case_id, actor, now, audit=False)
        mediator = s.get(User, record.case.owner)
        name = (mediator.display_name if mediator else "") or record.case.owner
        basis = hint_records.pinned_citations(s, case_id)
        made = agreements.agreement_of(
            record, settings.mediation.committee, name, settings.zone, basis
        )
        cases.audit_change(s, actor, "export", case_id, now, f"mediation agreement {kind}")
        return made

    made = await _db(db, work)
    try:
        if kind == "docx":
            body = await run_in_threadpool(
                agreements.render_docx, settings.agreement_template, made
            )
        else:
            body = await run_in_threadpool(agreements.render_pdf, made, settings.mediation.pdf_font)
    except agreements.AgreementError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    media = DOCX if kind == "docx" else "application/pdf"
    name = f"mediation-agreement-{case_id}.{kind}"
    return Response(
        body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )
