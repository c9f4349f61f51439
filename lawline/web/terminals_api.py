"""Terminal enrolment over HTTP (admins only): thin routes over terminals/registry.py."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Request, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from lawline import revocation
from lawline.terminals import registry
from lawline.terminals.models import Terminal
from lawline.web.auth import Principal, Role, require
from lawline.web.db import in_transaction

router = APIRouter(prefix="/api/terminals")
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]
T = TypeVar("T")


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

    @classmethod
    def of(cls, t: Terminal) -> TerminalOut:
        return cls(
            id=t.id, village=t.village, township=t.township, language=t.language,
            created_at=t.created_at, revoked_at=t.revoked_at, sip=t.sip_ha1 is not None,
        )  # fmt: skip


class EnrolledOut(TerminalOut):
    token: str  # shown this once: lawline keeps only its hash
    sip_password: str = ""  # shown this once, if SIP credentials were asked for


class SipPasswordOut(BaseModel):
    id: str
    realm: str
    sip_password: str  # shown this once; the old one stops working


# Most specific first: both are TerminalErrors too.
_ERRORS = {
    registry.NoSuchTerminal: status.HTTP_404_NOT_FOUND,
    registry.TerminalExists: status.HTTP_409_CONFLICT,
    registry.TerminalError: status.HTTP_422_UNPROCESSABLE_CONTENT,
}


async def _db(request: Request, work: Callable[[Session], T]) -> T:
    return await in_transaction(request, work, _ERRORS)


@router.post("", status_code=status.HTTP_201_CREATED)
async def enrol_terminal(body: TerminalIn, request: Request, _: Admin) -> EnrolledOut:
    """Enrol a terminal; the answer carries its device token, shown only this once."""
    languages = request.app.state.settings.languages
    if body.language not in languages:
        raise HTTPException(422, f"language {body.language!r} is not served here")

    realm = request.app.state.settings.telephony.front.realm if body.sip else None

    def work(s: Session) -> EnrolledOut:
        e = registry.enrol(s, body.id, body.village, body.township, body.language, _now(),
                           sip_realm=realm)  # fmt: skip
        return EnrolledOut(**TerminalOut.of(e.terminal).model_dump(), token=e.token,
                           sip_password=e.sip_password)  # fmt: skip

    return await _db(request, work)


@router.post("/{terminal_id}/sip-password")
async def new_sip_password(terminal_id: str, request: Request, _: Admin) -> SipPasswordOut:
    """New SIP credentials for a terminal; the password is shown only this once."""
    realm = request.app.state.settings.telephony.front.realm

    def work(s: Session) -> SipPasswordOut:
        password = registry.issue_sip_password(s, terminal_id, realm)
        return SipPasswordOut(id=terminal_id, realm=realm, sip_password=password)

    return await _db(request, work)


@router.get("")
async def list_terminals(request: Request, _: Admin) -> list[TerminalOut]:
    return await _db(request, lambda s: [TerminalOut.of(t) for t in registry.terminals(s)])


@router.post("/{terminal_id}/revoke")
async def revoke_terminal(terminal_id: str, request: Request, _: Admin) -> TerminalOut:
    """A stolen or retired terminal: its token is refused from now on, and its open
    websockets, on every web process, are closed."""
    out = await _db(request, lambda s: TerminalOut.of(registry.revoke(s, terminal_id, _now())))
    queue = request.app.state.queue
    await revocation.announce(queue.store.redis, queue.store.prefix, "terminal", terminal_id)
    return out


def _now() -> datetime:
    return datetime.now(UTC)
