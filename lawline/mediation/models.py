"""A mediation's tables (schema in lawline/db/migrations/versions/0009_mediations.py).

A mediation is a case in the ledger (`cases`, service "mediation": its owner is the
mediator, its deadline and audit trail are the case's) with what only a mediation has:
- `mediations`: when it is scheduled, where it stands, and its outcome: the main facts
  and issues, the agreed terms (each with how and by when it is performed), as the
  mediation agreement (调解协议书) states them; and the record (调解笔录) its room's
  transcript became;
- `mediation_parties`: who is in the dispute (applicant, respondent, third party) and
  how each is reached: by phone, at a village terminal, by a link, or in the hall.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lawline.db import Base, UtcDateTime


class Mediation(Base):
    __tablename__ = "mediations"

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), index=True)  # scheduled, closed
    scheduled_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    # The contact it came from (a citizen who chose mediation in the menu), if any.
    contact_id: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16), default="", server_default="")
    # The main facts, the issues and each side's responsibility (协议书: 主要事实).
    facts: Mapped[str] = mapped_column(Text, default="", server_default="")
    # The agreed terms: [{"text", "how", "by"}] (履行方式、时限).
    terms: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    oral: Mapped[bool] = mapped_column(default=False)  # an oral agreement (口头协议)
    # When the recording-consent announcement was played in its room (recording needs it).
    consent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The mediation record (调解笔录): what was said in its room, per speaker, in order:
    # [{"side", "speaker", "text", "start", "end", "at"}] (start/end: seconds into the
    # room's transcript; at: when that room opened, ISO), a room opened again appends.
    record: Mapped[list[dict[str, object]] | None] = mapped_column(JSON)
    # Its rooms' audio, per side, recorded after the consent announcement: file paths
    # under data_dir/recordings (deleted there by retention).
    recordings: Mapped[list[str] | None] = mapped_column(JSON)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)


class MediationParty(Base):
    __tablename__ = "mediation_parties"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("mediations.case_id"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # the order the mediator gave
    name: Mapped[str] = mapped_column(String(50))
    role: Mapped[str] = mapped_column(String(16))  # applicant, respondent, third_party
    reach: Mapped[str] = mapped_column(String(16))  # phone, terminal, link, hall
    phone: Mapped[str] = mapped_column(String(32), default="", server_default="")
    terminal_id: Mapped[str] = mapped_column(String(64), default="", server_default="")
    address: Mapped[str] = mapped_column(String(200), default="", server_default="")
