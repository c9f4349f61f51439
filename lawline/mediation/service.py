"""Mediation cases: opened by a mediator (or for one, by staff), their parties, their
schedule, and their end: the outcome and the agreed terms.

Plain functions over a database session, time passed in, like cases/service.py: a
mediation is a case there (service "mediation", owned by its mediator, with its
deadline), and every read and change goes to the same audit trail. The people's
mediation law's rules shape the checks: a dispute has two sides (an applicant and a
respondent at least), an agreement states its terms and how and by when each is
performed (Art. 28-29), an oral one is recorded all the same (Art. 30).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from lawline.accounts.models import User
from lawline.accounts.roles import Role
from lawline.cases.access import Actor, may_work_on
from lawline.cases.models import Case
from lawline.cases.service import (
    CaseError,
    CaseStatus,
    Forbidden,
    NotFound,
    Triage,
    audit_change,
    case_number,
    contact_for_case,
    deadline,
)
from lawline.cases.settings import CaseSettings
from lawline.mediation.models import Mediation, MediationParty
from lawline.queue.skills import Service
from lawline.terminals.models import Terminal

MIN_PARTIES = 2  # a dispute has two sides
MAX_PARTIES = 7  # with the mediator, eight in the room


class PartyRole(StrEnum):
    APPLICANT = "applicant"  # 申请人
    RESPONDENT = "respondent"  # 被申请人
    THIRD_PARTY = "third_party"  # 第三人


class Reach(StrEnum):
    """How a party takes part in the room."""

    PHONE = "phone"  # lawline dials them (or they dial in with the room's code)
    TERMINAL = "terminal"  # a village terminal rings
    LINK = "link"  # a one-time link for their own browser
    HALL = "hall"  # in the hall, with the mediator


class MediationState(StrEnum):
    SCHEDULED = "scheduled"
    CLOSED = "closed"


class Outcome(StrEnum):
    AGREEMENT = "agreement"  # 达成协议
    PARTIAL = "partial"  # 部分达成
    NONE = "none"  # 未达成 (the parties are told their other routes, Art. 26)


@dataclass(frozen=True)
class PartyFields:
    name: str
    role: PartyRole
    reach: Reach
    phone: str = ""
    terminal_id: str = ""
    address: str = ""


@dataclass(frozen=True)
class Term:
    """One agreed term, how it is performed and by when (协议内容、履行方式、期限)."""

    text: str
    how: str = ""
    by: str = ""


@dataclass(frozen=True)
class MediationFields:
    domain: str = ""
    summary: str = ""
    triage: Triage = Triage.COMPLEX
    scheduled_at: datetime | None = None
    parties: Sequence[PartyFields] = field(default_factory=tuple)


@dataclass(frozen=True)
class MediationRecord:
    case: Case
    mediation: Mediation
    parties: Sequence[MediationParty]


def _check_parties(session: Session, parties: Sequence[PartyFields]) -> None:
    if not MIN_PARTIES <= len(parties) <= MAX_PARTIES:
        raise CaseError(f"一件调解有 {MIN_PARTIES} 至 {MAX_PARTIES} 位当事人")
    roles = {p.role for p in parties}
    if PartyRole.APPLICANT not in roles or PartyRole.RESPONDENT not in roles:
        raise CaseError("调解需要申请人和被申请人")
    for n, p in enumerate(parties, 1):
        if p.reach == Reach.PHONE and not p.phone:
            raise CaseError(f"第 {n} 位当事人以电话参加：请填写其电话号码")
        if p.reach == Reach.TERMINAL:
            terminal = session.get(Terminal, p.terminal_id) if p.terminal_id else None
            if terminal is None or terminal.revoked_at is not None:
                raise CaseError(f"第 {n} 位当事人：没有这个在用的村务终端")


def _owner(session: Session, actor: Actor, mediator: str | None) -> str:
    """The mediator who owns it: the one opening it, or (staff only) the one named."""
    if mediator is None or mediator == actor.id:
        return actor.id
    if not actor.staff:
        raise Forbidden("只有管理人员可以为其他调解员建立调解")
    user = session.get(User, mediator)
    if user is None or user.disabled or user.role != Role.MEDIATOR.value:
        raise CaseError("没有这位调解员")
    return mediator


def _add_parties(session: Session, case_id: str, parties: Sequence[PartyFields]) -> None:
    for position, p in enumerate(parties):
        session.add(
            MediationParty(
                case_id=case_id,
                position=position,
                name=p.name,
                role=p.role.value,
                reach=p.reach.value,
                phone=p.phone,
                terminal_id=p.terminal_id if p.reach == Reach.TERMINAL else "",
                address=p.address,
            )
        )


def _citizen(parties: Sequence[PartyFields]) -> tuple[str, str]:
    """The number and names the case is found by: the applicants'."""
    applicants = [p for p in parties if p.role == PartyRole.APPLICANT]
    number = next((p.phone for p in applicants if p.phone), "")
    return number, "、".join(p.name for p in applicants)[:100]


def open_mediation(
    session: Session,
    fields: MediationFields,
    actor: Actor,
    now: datetime,
    settings: CaseSettings,
    *,
    tz: tzinfo,
    mediator: str | None = None,
    contact_id: str | None = None,
) -> MediationRecord:
    """A mediation case with its parties; from a contact, that contact joins it."""
    owner = _owner(session, actor, mediator)
    _check_parties(session, fields.parties)
    contact = None if contact_id is None else contact_for_case(session, contact_id, actor)
    number, names = _citizen(fields.parties)
    case = Case(
        id=case_number(now, tz),
        citizen_number=number,
        citizen_name=names,
        owner=owner,
        opened_by=actor.id,
        opened_at=now,
        triage=fields.triage.value,
        service=Service.MEDIATION.value,
        domain=fields.domain,
        summary=fields.summary,
        told="",
        disposition="",
        referral_to="",
        referral_body="",
        deadline=deadline(now, fields.triage, settings),
        status=CaseStatus.OPEN.value,
    )
    session.add(case)
    session.flush()
    mediation = Mediation(
        case_id=case.id,
        state=MediationState.SCHEDULED.value,
        scheduled_at=fields.scheduled_at,
        contact_id=contact_id,
        terms=[],
    )
    session.add(mediation)
    session.flush()
    _add_parties(session, case.id, fields.parties)
    if contact is not None:
        contact.case_id = case.id
    audit_change(session, actor, "open", case.id, now, "mediation")
    return MediationRecord(case, mediation, _parties(session, case.id))


def _parties(session: Session, case_id: str) -> Sequence[MediationParty]:
    return session.scalars(
        select(MediationParty)
        .where(MediationParty.case_id == case_id)
        .order_by(MediationParty.position)
    ).all()


def get_mediation(
    session: Session, case_id: str, actor: Actor, now: datetime, audit: bool = True
) -> MediationRecord:
    """The mediation, its case and parties: its mediator's, or staff's (read audited)."""
    mediation = session.get(Mediation, case_id)
    case = session.get(Case, case_id)
    if mediation is None or case is None:
        raise NotFound("没有这件调解")
    if not may_work_on(actor, case):
        raise Forbidden("这件调解不由您主持")
    if audit:
        audit_change(session, actor, "read", case_id, now, "mediation")
    return MediationRecord(case, mediation, _parties(session, case_id))


def _open_for_change(
    session: Session, case_id: str, actor: Actor, now: datetime
) -> MediationRecord:
    record = get_mediation(session, case_id, actor, now, audit=False)
    if record.mediation.state == MediationState.CLOSED.value:
        raise CaseError("这件调解已经结案")
    return record


def list_mediations(
    session: Session, actor: Actor, state: MediationState | None = None, limit: int = 200
) -> Sequence[tuple[Case, Mediation]]:
    """A mediator's own mediations (staff: everyone's), soonest scheduled first."""
    query = select(Case, Mediation).join(Mediation, Mediation.case_id == Case.id)
    if not actor.staff:
        query = query.where(Case.owner == actor.id)
    if state is not None:
        query = query.where(Mediation.state == state.value)
    query = query.order_by(
        Mediation.scheduled_at.is_(None), Mediation.scheduled_at, Case.opened_at.desc()
    ).limit(limit)
    return [(c, m) for c, m in session.execute(query).all()]


def replace_parties(
    session: Session, case_id: str, parties: Sequence[PartyFields], actor: Actor, now: datetime
) -> MediationRecord:
    record = _open_for_change(session, case_id, actor, now)
    _check_parties(session, parties)
    for party in record.parties:
        session.delete(party)
    session.flush()
    _add_parties(session, case_id, parties)
    record.case.citizen_number, record.case.citizen_name = _citizen(parties)
    audit_change(session, actor, "update", case_id, now, f"parties: {len(parties)}")
    return MediationRecord(record.case, record.mediation, _parties(session, case_id))


def reschedule(
    session: Session, case_id: str, at: datetime | None, actor: Actor, now: datetime
) -> MediationRecord:
    record = _open_for_change(session, case_id, actor, now)
    record.mediation.scheduled_at = at
    audit_change(session, actor, "update", case_id, now, "scheduled")
    return record


def record_consent(session: Session, case_id: str, actor: Actor, now: datetime) -> None:
    """The recording-consent announcement was played in the room (the first time counts)."""
    record = _open_for_change(session, case_id, actor, now)
    if record.mediation.consent_at is None:
        record.mediation.consent_at = now
    audit_change(session, actor, "update", case_id, now, "mediation consent announced")


RECORD_ACTOR = "mediation-room"  # who the audit trail says kept a room's record


def keep_record(
    session: Session,
    case_id: str,
    lines: Sequence[dict[str, object]],
    recordings: Sequence[str],
    now: datetime,
) -> None:
    """The room's transcript lines onto the mediation's record (调解笔录), and its
    recordings' paths, even after the mediation closed (a room's last words arrive as it
    closes); audited with the counts."""
    mediation = session.get(Mediation, case_id)
    if mediation is None or not (lines or recordings):
        return
    mediation.record = [*(mediation.record or []), *lines]
    mediation.recordings = [*(mediation.recordings or []), *recordings]
    room = Actor(RECORD_ACTOR, staff=True)
    detail = f"mediation record: {len(lines)} lines, {len(recordings)} recordings"
    audit_change(session, room, "update", case_id, now, detail)


def record_outcome(
    session: Session,
    case_id: str,
    outcome: Outcome,
    facts: str,
    terms: Sequence[Term],
    actor: Actor,
    now: datetime,
    *,
    oral: bool = False,
) -> MediationRecord:
    """The mediation ends: its outcome, the facts and issues, the agreed terms. The case
    closes with it."""
    record = _open_for_change(session, case_id, actor, now)
    if outcome == Outcome.NONE:
        if terms:
            raise CaseError("未达成协议：不应填写协议内容")
    else:
        if not terms:
            raise CaseError("达成协议的，请填写协议内容")
        if not facts.strip():
            raise CaseError("达成协议的，请填写纠纷主要事实和争议事项")
    m = record.mediation
    m.outcome = outcome.value
    m.facts = facts
    m.terms = [{"text": t.text, "how": t.how, "by": t.by} for t in terms]
    m.oral = oral and outcome != Outcome.NONE
    m.state = MediationState.CLOSED.value
    m.closed_at = now
    record.case.status = CaseStatus.CLOSED.value
    record.case.closed_at = now
    audit_change(session, actor, "close", case_id, now, f"mediation: {outcome.value}")
    return record
