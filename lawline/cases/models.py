"""The ledger's tables (schema in lawline/db/migrations/versions/0002_ledger.py).

- `contacts`: one row per contact (call, callback, video session, after-hours
  message), kept current from the event stream: the ledger registration.
- `contact_events`: its timeline, one row per event, keyed by the event's stream
  id, so replaying the stream never adds a row twice.
- `transcript_segments`: who said what and when, per contact.
- `cases`: a matter opened from a contact, with its owner (first-contact
  accountability), triage, deadline (time-limited completion), what the citizen
  was told (one-time notification), disposition and referral.
- `case_handovers`, `case_notes`: formal hand-overs and follow-ups.
- `contact_search`: the transcript tokenised for full-text search.
- `legal_aid_applications`: started from a case, with the means-test exemption.
- `audit_log`: who read or changed which case, when.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lawline.db import Base, UtcDateTime


class LedgerContact(Base):
    __tablename__ = "contacts"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    service: Mapped[str] = mapped_column(String(32), index=True)
    domain: Mapped[str] = mapped_column(String(32), default="", server_default="")
    language: Mapped[str] = mapped_column(String(8))
    caller: Mapped[str] = mapped_column(String(32), default="", server_default="", index=True)
    green: Mapped[str] = mapped_column(String(32), default="", server_default="")
    callback: Mapped[bool] = mapped_column(default=False)
    state: Mapped[str] = mapped_column(String(16))
    entered_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The first lawyer who took it (owner of what follows), and the last one.
    first_lawyer: Mapped[str | None] = mapped_column(String(64), index=True)
    first_answer_event: Mapped[str | None] = mapped_column(String(32))  # whose answer it was
    lawyer: Mapped[str | None] = mapped_column(String(64))
    end_reason: Mapped[str] = mapped_column(String(100), default="", server_default="")
    rating: Mapped[int | None] = mapped_column(Integer)
    menu_path: Mapped[str] = mapped_column(String(64), default="", server_default="")
    # Where a video session came from: "village, township" of its terminal.
    origin: Mapped[str] = mapped_column(String(210), default="", server_default="")
    # The case form the lawyer saved during or after the call (JSON), as saved.
    case_form: Mapped[dict[str, object] | None] = mapped_column(JSON)
    recordings: Mapped[list[str]] = mapped_column(JSON, default=list)
    case_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id"), index=True)
    # The newest stream event applied: an older one replayed changes nothing.
    last_event_id: Mapped[str] = mapped_column(String(32))


class ContactEvent(Base):
    __tablename__ = "contact_events"

    # The Redis stream id ("1790000000000-0"): applying it twice is a no-op.
    event_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    contact_id: Mapped[str] = mapped_column(ForeignKey("contacts.id"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    type: Mapped[str] = mapped_column(String(40))
    lawyer: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(200), default="", server_default="")


class TranscriptLine(Base):
    __tablename__ = "transcript_segments"
    __table_args__ = (UniqueConstraint("contact_id", "entry_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    contact_id: Mapped[str] = mapped_column(ForeignKey("contacts.id"), index=True)
    entry_id: Mapped[str] = mapped_column(String(32))  # its id in the transcript stream
    kind: Mapped[str] = mapped_column(String(8))  # final, gap or hold (text: on or off)
    leg: Mapped[str] = mapped_column(String(8))
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text, default="")


class ContactSearch(Base):
    """The transcript as the full-text index takes it (see cases/search.py)."""

    __tablename__ = "contact_search"

    contact_id: Mapped[str] = mapped_column(ForeignKey("contacts.id"), primary_key=True)
    body: Mapped[str] = mapped_column(Text, default="")
    # The contact's, so PostgreSQL's index can give a phrase's newest first (0014).
    entered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    citizen_number: Mapped[str] = mapped_column(String(32), default="", index=True)
    citizen_name: Mapped[str] = mapped_column(String(100), default="")
    owner: Mapped[str] = mapped_column(String(64), index=True)
    opened_by: Mapped[str] = mapped_column(String(64))
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    triage: Mapped[str] = mapped_column(String(16))
    service: Mapped[str] = mapped_column(String(32))
    domain: Mapped[str] = mapped_column(String(32), default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    told: Mapped[str] = mapped_column(Text, default="")  # one-time notification
    disposition: Mapped[str] = mapped_column(String(32), default="")
    referral_to: Mapped[str] = mapped_column(String(32), default="")  # kind of body
    referral_body: Mapped[str] = mapped_column(String(200), default="")  # its name
    deadline: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)  # open, closed
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Handover(Base):
    __tablename__ = "case_handovers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    from_lawyer: Mapped[str] = mapped_column(String(64))
    to_lawyer: Mapped[str] = mapped_column(String(64))
    by: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text, default="")


class CaseNote(Base):
    __tablename__ = "case_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    author: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(32))  # read, open, update, handover...
    case_id: Mapped[str] = mapped_column(String(32), index=True)
    detail: Mapped[str] = mapped_column(Text, default="")


class LegalAidApplication(Base):
    __tablename__ = "legal_aid_applications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(64))
    applicant_name: Mapped[str] = mapped_column(String(100))
    id_number: Mapped[str] = mapped_column(String(18))
    phone: Mapped[str] = mapped_column(String(32), default="")
    address: Mapped[str] = mapped_column(String(300), default="")
    facts: Mapped[str] = mapped_column(Text, default="")
    # Why the means test is waived (elderly, disabled, minor, migrant_wages), if it is.
    exemptions: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="submitted")
