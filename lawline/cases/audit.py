"""The audit trail of reads outside a case: a ledger contact, a transcript, a search
of the ledger, an export, a supervisor listening in on a call (reads and changes of a
case are audited in service.py).

A row names who read and what (`contact <id>`, the export's range). A search is
written without the citizen's details in clear: a number masked to its last four
digits, a name or words said in a call as a keyed hash, so the same search shows as
the same value without anyone reading the name from the trail.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from lawline.cases.models import AuditEntry
from lawline.phone_numbers import mask_number


class Read(StrEnum):
    """What kind of read a row records."""

    CONTACT = "contact.read"
    TRANSCRIPT = "transcript.read"
    SEARCH = "ledger.search"
    EXPORT = "ledger.export"


def record_read(
    session: Session, actor: str, action: Read, now: datetime, detail: str, case_id: str = ""
) -> None:
    """One audit row, in the reader's transaction."""
    session.add(
        AuditEntry(at=now, actor=actor, action=action.value, case_id=case_id, detail=detail[:1000])
    )


class Monitor(StrEnum):
    """A supervisor listening in on a live call (media/monitoring.py)."""

    START = "call.monitor"
    MODE = "call.monitor.mode"
    STOP = "call.monitor.stop"


SUPERVISOR_ON_DUTY = "lawyer.on_duty"  # a supervisor took a lawyer off their break


def record_on_duty(session: Session, actor: str, now: datetime, lawyer_id: str) -> None:
    """A supervisor put a lawyer on a break back on duty (from the wallboard)."""
    detail = f"lawyer {lawyer_id} on duty"
    session.add(
        AuditEntry(at=now, actor=actor, action=SUPERVISOR_ON_DUTY, case_id="", detail=detail)
    )


def record_assignment(
    session: Session, actor: str, now: datetime, contact_id: str, lawyer_id: str
) -> None:
    """A supervisor gave a waiting caller to a named lawyer (from the wallboard)."""
    detail = f"contact {contact_id} to lawyer {lawyer_id}"
    session.add(AuditEntry(at=now, actor=actor, action="contact.assign", case_id="", detail=detail))


def record_monitoring(
    session: Session, actor: str, action: Monitor, now: datetime, contact_id: str, mode: str
) -> None:
    """Who listened in on which call, how (listen, barge, whisper), when: no number."""
    detail = f"contact {contact_id} mode {mode}"
    session.add(AuditEntry(at=now, actor=actor, action=action.value, case_id="", detail=detail))


class RosterChange(StrEnum):
    """Leave or extra duty entered on, or taken off, a lawyer's roster."""

    ADD = "roster.exception.add"
    REMOVE = "roster.exception.remove"


def record_roster_change(
    session: Session, actor: str, action: RosterChange, now: datetime, lawyer_id: str, entry: str
) -> None:
    """Who changed whose roster, how (`entry`: kind, days, times, id): never the reason
    given, which may be a lawyer's health or family."""
    detail = f"lawyer {lawyer_id} {entry}"
    session.add(AuditEntry(at=now, actor=actor, action=action.value, case_id="", detail=detail))


def keyed_hash(text: str, secret: str) -> str:
    """A short keyed hash: equal terms match, the term itself cannot be read back."""
    digest = hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()
    return f"h:{digest[:16]}"


def search_detail(
    filters: Mapping[str, object],
    secret: str,
    number: str | None = None,
    name: str | None = None,
    words: str | None = None,
) -> str:
    """A search as the audit trail keeps it: filters in clear, personal terms not."""
    parts = [f"{k}={v}" for k, v in filters.items() if v not in (None, "")]
    if number:
        parts.append(f"number={mask_number(number)}")
    if name:
        parts.append(f"name={keyed_hash(name, secret)}")
    if words:
        parts.append(f"words={keyed_hash(words, secret)}")
    return " ".join(parts)


def case_trail(session: Session, case_id: str) -> Sequence[AuditEntry]:
    """Who read or changed this case, oldest first."""
    return session.scalars(
        select(AuditEntry)
        .where(AuditEntry.case_id == case_id)
        .order_by(AuditEntry.at, AuditEntry.id)
    ).all()


def trail(
    session: Session, actor: str | None, action: str | None, since: datetime | None, limit: int
) -> Sequence[AuditEntry]:
    """Who read or changed what, newest first, narrowed to one actor, action, period."""
    q = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    if actor:
        q = q.where(AuditEntry.actor == actor)
    if action:
        q = q.where(AuditEntry.action == action)
    if since:
        q = q.where(AuditEntry.at >= since)
    return session.scalars(q).all()
