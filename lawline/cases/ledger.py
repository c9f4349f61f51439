"""Contacts as recorded: one with its timeline and transcript, and the ledger search.

Plain functions over a database session, time passed in; every read is audited in
the same transaction (audit.py), and who may read what is access.py's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from lawline.cases.access import Actor, may_read_contact, sees_number, took_contact
from lawline.cases.audit import Read, record_read
from lawline.cases.models import Case, ContactEvent, LedgerContact, TranscriptLine
from lawline.cases.search import said_in
from lawline.cases.service import Forbidden, NotFound


@dataclass(frozen=True)
class ContactRecord:
    """A contact as recorded, whether its reader sees the number in full, and (read one
    by one) its timeline and transcript."""

    contact: LedgerContact
    full_number: bool
    timeline: Sequence[ContactEvent] = ()
    transcript: Sequence[TranscriptLine] = ()


@dataclass(frozen=True)
class ContactQuery:
    """What a ledger search asks for (all optional but the limit)."""

    number: str | None = None  # normalised
    since: datetime | None = None
    until: datetime | None = None
    lawyer: str | None = None  # staff only: the lawyer who first took it
    service: str | None = None
    domain: str | None = None
    state: str | None = None
    name: str | None = None  # in the citizen's name of the contact's case
    words: str | None = None  # said in the call
    limit: int = 100


def read_contact(session: Session, contact_id: str, actor: Actor, now: datetime) -> ContactRecord:
    """One contact with its timeline and transcript; the read is audited."""
    c = session.get(LedgerContact, contact_id)
    if c is None:
        raise NotFound("no such contact in the ledger")
    case = session.get(Case, c.case_id) if c.case_id else None
    owner = case.owner if case is not None else None
    if not may_read_contact(actor, c, owner):
        raise Forbidden("this contact is not yours")
    events = session.scalars(
        select(ContactEvent)
        .where(ContactEvent.contact_id == contact_id)
        .order_by(ContactEvent.at, ContactEvent.event_id)
    ).all()
    lines = session.scalars(
        select(TranscriptLine)
        .where(TranscriptLine.contact_id == contact_id)
        .order_by(TranscriptLine.start)
    ).all()
    record_read(session, actor.id, Read.CONTACT, now, f"contact {contact_id}")
    return ContactRecord(c, sees_number(actor, owner == actor.id), events, lines)


def search_contacts(
    session: Session, query: ContactQuery, actor: Actor, now: datetime, audit_detail: str
) -> list[ContactRecord]:
    """Contacts newest first: a lawyer's own, or (staff) anyone's. Audited with
    `audit_detail` (the search, its personal terms masked) and how many were found."""
    q = select(LedgerContact).order_by(LedgerContact.entered_at.desc()).limit(query.limit)
    if not actor.staff:
        q = q.where(took_contact(actor.id))
    elif query.lawyer:
        q = q.where(LedgerContact.first_lawyer == query.lawyer)
    if query.number:
        q = q.where(LedgerContact.caller == query.number)
    if query.since:
        q = q.where(LedgerContact.entered_at >= query.since)
    if query.until:
        q = q.where(LedgerContact.entered_at < query.until)
    if query.service:
        q = q.where(LedgerContact.service == query.service)
    if query.domain:
        q = q.where(LedgerContact.domain == query.domain)
    if query.state:
        q = q.where(LedgerContact.state == query.state)
    if query.name:
        named = select(Case.id).where(Case.citizen_name.contains(query.name, autoescape=True))
        q = q.where(LedgerContact.case_id.in_(named))
    if query.words:
        q = said_in(session, q, query.words)
    found = sorted(session.scalars(q), key=lambda c: c.entered_at, reverse=True)
    owned = _owned_cases(session, actor, {c.case_id for c in found if c.case_id})
    record_read(session, actor.id, Read.SEARCH, now, f"{audit_detail} found={len(found)}")
    return [ContactRecord(c, sees_number(actor, c.case_id in owned)) for c in found]


def recent_contacts(
    session: Session, actor: Actor, limit: int, now: datetime
) -> list[ContactRecord]:
    """The contacts this person took themselves, newest first (staff too see only their
    own here: it is a lawyer's list of their calls, not the ledger search). Audited."""
    own = Actor(actor.id)
    return search_contacts(session, ContactQuery(limit=limit), own, now, f"recent limit={limit}")


def _owned_cases(session: Session, actor: Actor, case_ids: set[str]) -> set[str | None]:
    if actor.staff or not case_ids:
        return set()
    q = select(Case.id).where(Case.id.in_(case_ids), Case.owner == actor.id)
    return set(session.scalars(q))
