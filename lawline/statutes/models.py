"""The knowledge base's tables (schema in lawline/db/migrations/versions/0007_statutes.py).

- `statute_instruments`: one row per instrument (a Civil Code book is one), unique
  by title and book; a newer version replaces it with its articles.
- `statute_articles`: its articles, as numbered and as written, with their headings.
- `contact_hints`: each hint shown to a lawyer during a contact and each one pinned
  into what the citizen was told, for quality review.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lawline.db import Base, UtcDateTime


class StatuteInstrument(Base):
    __tablename__ = "statute_instruments"
    __table_args__ = (UniqueConstraint("title", "part"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(200))
    part: Mapped[str] = mapped_column(String(50), default="")  # the Civil Code's book
    short_title: Mapped[str] = mapped_column(String(200), index=True)
    level: Mapped[str] = mapped_column(String(32))
    version: Mapped[date | None] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(300))  # the file it came from
    digest: Mapped[str] = mapped_column(String(64))  # sha256 of that file: a re-import is a no-op
    imported_at: Mapped[datetime] = mapped_column(UtcDateTime)


class StatuteArticle(Base):
    __tablename__ = "statute_articles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    instrument_id: Mapped[int] = mapped_column(
        ForeignKey("statute_instruments.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(40))
    chapter: Mapped[str] = mapped_column(String(300), default="")
    section: Mapped[str] = mapped_column(String(200), default="")
    text: Mapped[str] = mapped_column(Text)


class ContactHint(Base):
    __tablename__ = "contact_hints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # No foreign key: the ledger records the contact from the event stream, maybe later.
    contact_id: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    lawyer: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(8))  # shown, pinned
    law: Mapped[str] = mapped_column(String(200))
    article: Mapped[str] = mapped_column(String(40))
    score: Mapped[float] = mapped_column(Float, default=0.0)
