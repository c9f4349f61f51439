"""Terminal enrolment: bodies."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from lawline.terminals.models import Terminal


class TerminalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=64)
    village: str = Field(min_length=1, max_length=100)
    township: str = Field(min_length=1, max_length=100)
    language: str = "zh"
    sip: bool = False  # also SIP credentials, for a SIP phone that registers


class TerminalOut(BaseModel):
    id: str
    village: str
    township: str
    language: str
    created_at: datetime
    revoked_at: datetime | None
    sip: bool  # has SIP credentials
    last_seen: float | None = None  # when it was last connected (epoch seconds)

    @classmethod
    def of(cls, t: Terminal) -> TerminalOut:
        return cls(
            id=t.id,
            village=t.village,
            township=t.township,
            language=t.language,
            created_at=t.created_at,
            revoked_at=t.revoked_at,
            sip=t.sip_ha1 is not None,
        )


class EnrolledOut(TerminalOut):
    token: str  # shown this once: lawline keeps only its hash
    sip_password: str = ""  # shown this once, if SIP credentials were asked for


class SipPasswordOut(BaseModel):
    id: str
    realm: str
    sip_password: str  # shown this once; the old one stops working
