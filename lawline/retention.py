"""Retention: citizens' data kept no longer than the centre's policy says.

`purge` applies `cases.retention` (lawline/cases/settings.py) to what lawline keeps once a
contact has ended: the call audio and voicemail files under data_dir, the
transcript text in the ledger (and its search index), a ledger contact's
caller number and case form, and the phone numbers of a mediation's parties (from
when it ended). A contact is past a period when it ended (or, never
ended, entered) longer ago than that many days; 0 days keeps that kind for ever.

Files are deleted only inside data_dir's recordings and voicemail folders, never
at a path merely named in the database. Each run leaves one audit row (actor
`retention`, action `retention.purge`) and one log line, both with counts only.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import String, cast, delete, func, null, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from lawline.cases.models import AuditEntry, ContactSearch, LedgerContact, TranscriptLine
from lawline.cases.settings import RetentionSettings
from lawline.mediation.models import Mediation, MediationParty

log = logging.getLogger(__name__)

ACTOR = "retention"
ACTION = "retention.purge"
# JSON columns compared as their text (PostgreSQL's json type has no equality).
_HAS_RECORDINGS = cast(LedgerContact.recordings, String) != "[]"
_HAS_FORM = LedgerContact.case_form.is_not(None) & (cast(LedgerContact.case_form, String) != "null")


@dataclass
class Purged:
    """What one run removed (or, dry, would remove)."""

    recording_files: int = 0
    contacts_recordings: int = 0
    transcript_lines: int = 0
    contacts_transcripts: int = 0
    contacts_details: int = 0
    mediation_numbers: int = 0

    def summary(self) -> str:
        return " ".join(f"{f.name}={getattr(self, f.name)}" for f in fields(self))


def _ended_before(cutoff: datetime) -> ColumnElement[bool]:
    """Contacts that ended (or, never ended, entered) before `cutoff`."""
    return func.coalesce(LedgerContact.ended_at, LedgerContact.entered_at) < cutoff


def _inside(path: Path, roots: list[Path]) -> bool:
    resolved = path.resolve()
    return any(resolved.is_relative_to(r) for r in roots)


def _purge_recordings(
    session: Session, roots: list[Path], cutoff: datetime, dry_run: bool
) -> tuple[int, int]:
    """Audio of contacts that ended before `cutoff`, and any file in the folders older
    than it (a recording whose contact never reached the ledger). Returns (files
    deleted, contacts whose recordings were dropped)."""
    doomed: set[Path] = set()
    contacts = 0
    q = select(LedgerContact).where(_ended_before(cutoff), _HAS_RECORDINGS)
    for c in session.scalars(q):
        ours = [p for p in c.recordings if _inside(Path(p), roots)]
        if not ours:
            continue
        doomed.update(Path(p).resolve() for p in ours)
        contacts += 1
        if not dry_run:
            c.recordings = [p for p in c.recordings if p not in ours]
    for root in roots:
        for dirpath, _, names in os.walk(root):
            for name in names:
                path = Path(dirpath, name)
                if path.stat().st_mtime < cutoff.timestamp():
                    doomed.add(path.resolve())
    doomed = {p for p in doomed if p.is_file()}
    if not dry_run:
        session.flush()  # the ledger first: a file missing from a stale list is harmless
        for path in doomed:
            path.unlink(missing_ok=True)
    return len(doomed), contacts


def _purge_transcripts(session: Session, cutoff: datetime, dry_run: bool) -> tuple[int, int]:
    """Transcript lines and search text of contacts that ended before `cutoff`."""
    old = select(LedgerContact.id).where(_ended_before(cutoff))
    lines = (
        session.scalar(
            select(func.count())
            .select_from(TranscriptLine)
            .where(TranscriptLine.contact_id.in_(old))
        )
        or 0
    )
    contacts = (
        session.scalar(
            select(func.count(func.distinct(TranscriptLine.contact_id))).where(
                TranscriptLine.contact_id.in_(old)
            )
        )
        or 0
    )
    if not dry_run:
        session.execute(delete(TranscriptLine).where(TranscriptLine.contact_id.in_(old)))
        session.execute(delete(ContactSearch).where(ContactSearch.contact_id.in_(old)))
    return lines, contacts


def _purge_details(session: Session, cutoff: datetime, dry_run: bool) -> int:
    """The caller number and case form of contacts that ended before `cutoff`."""
    which = (_ended_before(cutoff)) & ((LedgerContact.caller != "") | _HAS_FORM)
    count = session.scalar(select(func.count()).select_from(LedgerContact).where(which)) or 0
    if not dry_run and count:
        session.execute(
            update(LedgerContact).where(which).values(caller="", case_form=null()),
            execution_options={"synchronize_session": False},
        )
    return count


def _purge_party_numbers(session: Session, cutoff: datetime, dry_run: bool) -> int:
    """The phone numbers of the parties of mediations that ended before `cutoff` (their
    names and addresses stay: they are the agreement's, kept in the committee's archive)."""
    ended = select(Mediation.case_id).where(Mediation.closed_at < cutoff)
    which = MediationParty.case_id.in_(ended) & (MediationParty.phone != "")
    count = session.scalar(select(func.count()).select_from(MediationParty).where(which)) or 0
    if not dry_run and count:
        session.execute(
            update(MediationParty).where(which).values(phone=""),
            execution_options={"synchronize_session": False},
        )
    return count


def purge(
    session: Session,
    settings: RetentionSettings,
    data_dir: Path,
    now: datetime,
    dry_run: bool = False,
) -> Purged:
    """Apply the retention periods in the caller's transaction; returns the counts.
    Files are deleted as the run goes: commit the session right after."""
    out = Purged()
    if settings.recordings_days:
        roots = [(data_dir / d).resolve() for d in ("recordings", "voicemail")]
        roots = [r for r in roots if r.is_dir()]
        cutoff = now - timedelta(days=settings.recordings_days)
        out.recording_files, out.contacts_recordings = _purge_recordings(
            session, roots, cutoff, dry_run
        )
    if settings.transcripts_days:
        cutoff = now - timedelta(days=settings.transcripts_days)
        out.transcript_lines, out.contacts_transcripts = _purge_transcripts(
            session, cutoff, dry_run
        )
    if settings.contact_details_days:
        cutoff = now - timedelta(days=settings.contact_details_days)
        out.contacts_details = _purge_details(session, cutoff, dry_run)
        out.mediation_numbers = _purge_party_numbers(session, cutoff, dry_run)
    periods = (
        f"recordings_days={settings.recordings_days} "
        f"transcripts_days={settings.transcripts_days} "
        f"contact_details_days={settings.contact_details_days}"
    )
    if not dry_run:
        session.add(
            AuditEntry(
                at=now, actor=ACTOR, action=ACTION, case_id="", detail=f"{periods} {out.summary()}"
            )
        )
    log.info("retention purge%s: %s (%s)", " (dry run)" if dry_run else "", out.summary(), periods)
    return out
