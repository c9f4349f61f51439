"""Hints kept with the contact (table `contact_hints`): each shown to the lawyer and each
pinned into what the citizen was told, for quality review."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lawline.statutes.models import ContactHint, StatuteArticle, StatuteInstrument


def record(
    session: Session,
    contact_id: str,
    lawyer: str,
    kind: str,
    hints: Iterable[tuple[str, str, float]],
    now: datetime,
) -> None:
    """`hints`: (law, article, score) each."""
    session.add_all(
        ContactHint(
            contact_id=contact_id,
            at=now,
            lawyer=lawyer,
            kind=kind,
            law=law,
            article=article,
            score=score,
        )
        for law, article, score in hints
    )


def find_article(session: Session, law: str, article: str) -> tuple[str, str] | None:
    """The article as the knowledge base holds it: (its instrument's full title, text)."""
    row = session.execute(
        select(StatuteInstrument.title, StatuteInstrument.part, StatuteArticle.text)
        .join(StatuteArticle, StatuteArticle.instrument_id == StatuteInstrument.id)
        .where(StatuteInstrument.short_title == law, StatuteArticle.label == article)
        .limit(1)
    ).first()
    if row is None:
        return None
    return " ".join(filter(None, (row.title, row.part))), row.text


def pinned_citations(session: Session, contact_id: str) -> list[str]:
    """The articles pinned for a contact (or a mediation: its case number), each once, in
    the order they were pinned: 《劳动合同法》第三十八条."""
    rows = session.execute(
        select(ContactHint.law, ContactHint.article)
        .where(ContactHint.contact_id == contact_id, ContactHint.kind == "pinned")
        .order_by(ContactHint.at, ContactHint.id)
    ).all()
    return list(dict.fromkeys(f"《{law}》{article}" for law, article in rows))


def contact_hints(session: Session, contact_id: str) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(ContactHint)
        .where(ContactHint.contact_id == contact_id)
        .order_by(ContactHint.at, ContactHint.id)
    ).all()
    return [
        {
            "at": h.at.isoformat(),
            "lawyer": h.lawyer,
            "kind": h.kind,
            "citation": f"《{h.law}》{h.article}",
            "law": h.law,
            "article": h.article,
        }
        for h in rows
    ]
