"""A call's quality review (schema in lawline/db/migrations/versions/0011_quality_reviews.py):
the rules' findings and score as lawline reviewed it, and the supervisor's word on it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lawline.db import Base, UtcDateTime


class QualityReview(Base):
    __tablename__ = "quality_reviews"

    contact_id: Mapped[str] = mapped_column(ForeignKey("contacts.id"), primary_key=True)
    lawyer: Mapped[str | None] = mapped_column(String(64), index=True)
    reviewed_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    score: Mapped[float] = mapped_column(Float, index=True)
    critical_failed: Mapped[bool] = mapped_column(Boolean, default=False)
    # Per rule: rule, name, held, critical, weight, why, evidence (time-stamped lines).
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # A supervisor's confirmation or correction.
    confirmed_score: Mapped[float | None] = mapped_column(Float)
    reviewer: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text, default="")
    confirmed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
