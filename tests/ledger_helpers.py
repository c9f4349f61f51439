"""Transcripts written into the ledger's tables directly, as ingest writes them, for the
search and migration tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, inspect, select

from lawline.cases import search
from lawline.cases.models import ContactSearch, LedgerContact, TranscriptLine
from lawline.db import make_engine, session_factory


def store_transcripts(
    url: str, lines: dict[str, str], bodies: dict[str, str] | None = None
) -> None:
    """Contacts (one a minute, in this order), each with this one final line and its
    search text as ingest writes it, or as `bodies` gives it (the text an older
    lawline wrote)."""
    engine = make_engine(url)
    columns = {c["name"] for c in inspect(engine).get_columns("contact_search")}
    try:
        with session_factory(engine)() as s, s.begin():
            for i, (cid, line) in enumerate(lines.items()):
                entered = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=i)
                s.add(
                    LedgerContact(
                        id=cid,
                        channel="voice",
                        service="consultation",
                        language="zh",
                        state="ended",
                        entered_at=entered,
                        last_event_id="1-0",
                    )
                )
                s.flush()
                s.add(
                    TranscriptLine(
                        contact_id=cid,
                        entry_id="1-0",
                        kind="final",
                        leg="citizen",
                        start=0.0,
                        end=2.0,
                        text=line,
                    )
                )
                body = (bodies or {}).get(cid, search.search_body([line]))
                row = {"contact_id": cid, "body": body}
                if "entered_at" in columns:  # not before migration 0014
                    row["entered_at"] = entered
                s.execute(insert(ContactSearch.__table__).values(**row))
    finally:
        engine.dispose()


def search_text(url: str) -> dict[str, str]:
    """Every stored transcript's search text, by contact."""
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            rows = s.execute(select(ContactSearch.contact_id, ContactSearch.body))
            return {cid: body for cid, body in rows}
    finally:
        engine.dispose()
