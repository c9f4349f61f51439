"""The terminals table (schema in lawline/db/migrations/versions/0004_terminals.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from lawline.db import Base, UtcDateTime


class Terminal(Base):
    __tablename__ = "terminals"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    village: Mapped[str] = mapped_column(String(100))  # 村
    township: Mapped[str] = mapped_column(String(100))  # 乡镇
    language: Mapped[str] = mapped_column(String(8))  # the default for its residents
    # SHA-256 of the device token, hex; the token itself is shown once at enrolment.
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # A SIP terminal registers with the front under its id: digest HA1,
    # MD5("id:realm:password"), is what the proxy checks; the password is shown once.
    sip_realm: Mapped[str | None] = mapped_column(String(100))
    sip_ha1: Mapped[str | None] = mapped_column(String(32))
