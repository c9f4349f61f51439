"""Importing instruments into the knowledge base: the shipped pack at first start,
a centre's own files (its regional regulations, a newer text) with `lawline statutes
import DIR`."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.orm import Session

from lawline.statutes.models import StatuteArticle, StatuteInstrument
from lawline.statutes.parse import (
    Instrument,
    StatuteFormatError,
    pack_files,
    parse_text,
    shipped_pack,
)

log = logging.getLogger(__name__)
# Any fixed number: PostgreSQL advisory lock held while the shipped pack goes in, so
# web processes starting together import it once.
_PACK_LOCK = 12349


@dataclass(slots=True)
class ImportReport:
    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    older: list[str] = field(default_factory=list)  # an older version than the one kept
    refused: list[tuple[str, str]] = field(default_factory=list)  # file, why

    @property
    def articles_changed(self) -> bool:
        return bool(self.added or self.replaced)

    def summary(self) -> str:
        return (
            f"added {len(self.added)}, replaced {len(self.replaced)}, "
            f"unchanged {len(self.unchanged)}, older kept out {len(self.older)}, "
            f"refused {len(self.refused)}"
        )


def import_dir(session: Session, folder: Path, now: datetime) -> ImportReport:
    """Every `*.md` in `folder` (a README excepted). Idempotent; an instrument already
    there is replaced only by a newer version (or the same date with other text)."""
    report = ImportReport()
    for path in pack_files(folder):
        raw = path.read_bytes()
        try:
            instrument = parse_text(raw.decode("utf-8"), path.stem)
        except (StatuteFormatError, UnicodeDecodeError) as exc:
            report.refused.append((path.name, str(exc)))
            continue
        _import_one(session, instrument, path.name, hashlib.sha256(raw).hexdigest(), now, report)
    return report


def _import_one(
    session: Session,
    instrument: Instrument,
    source: str,
    digest: str,
    now: datetime,
    report: ImportReport,
) -> None:
    name = " ".join(filter(None, (instrument.title, instrument.part)))
    kept = session.scalars(
        select(StatuteInstrument).where(
            StatuteInstrument.title == instrument.title, StatuteInstrument.part == instrument.part
        )
    ).one_or_none()
    if kept is not None:
        if kept.digest == digest:
            report.unchanged.append(name)
            return
        if _is_older(instrument, kept):
            report.older.append(name)
            return
        session.execute(delete(StatuteArticle).where(StatuteArticle.instrument_id == kept.id))
        session.delete(kept)
        session.flush()
        report.replaced.append(name)
    else:
        report.added.append(name)
    row = StatuteInstrument(
        title=instrument.title,
        part=instrument.part,
        short_title=instrument.short_title,
        level=instrument.level,
        version=instrument.version,
        source=source[:300],
        digest=digest,
        imported_at=now,
    )
    session.add(row)
    session.flush()
    # One executemany, not an ORM object per article: the pack goes in at every first start.
    session.execute(
        insert(StatuteArticle),
        [
            {
                "instrument_id": row.id,
                "number": a.number,
                "label": a.label,
                "chapter": a.chapter[:300],
                "section": a.section[:200],
                "text": a.text,
            }
            for a in instrument.articles
        ],
    )


def _is_older(new: Instrument, kept: StatuteInstrument) -> bool:
    if new.version is None or kept.version is None:
        return False  # undated: the file imported last is the one meant
    return new.version < kept.version


def import_shipped_pack(session: Session, now: datetime) -> ImportReport | None:
    """At first start (an empty knowledge base) the shipped pack goes in; None when
    the knowledge base already holds instruments."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PACK_LOCK})
    if session.scalar(select(func.count()).select_from(StatuteInstrument)):
        return None
    report = import_dir(session, shipped_pack(), now)
    log.info("statutes pack imported: %s", report.summary())
    return report
