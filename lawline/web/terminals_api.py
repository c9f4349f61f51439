"""Terminal enrolment over HTTP (admins only): thin routes over terminals/registry.py."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from fastapi import APIRouter, HTTPException, status
from sqlalchemy.orm import Session, sessionmaker

from lawline import revocation
from lawline.terminals import registry
from lawline.terminals.keys import TerminalKeys
from lawline.web.db import in_transaction
from lawline.web.deps import Admin, DbDep, QueueDep, SettingsDep
from lawline.web.schemas.terminals import EnrolledOut, SipPasswordOut, TerminalIn, TerminalOut

router = APIRouter(prefix="/api/terminals")
T = TypeVar("T")


# Most specific first: both are TerminalErrors too.
_ERRORS = {
    registry.NoSuchTerminal: status.HTTP_404_NOT_FOUND,
    registry.TerminalExists: status.HTTP_409_CONFLICT,
    registry.TerminalError: status.HTTP_422_UNPROCESSABLE_CONTENT,
}


async def _db(db: sessionmaker[Session], work: Callable[[Session], T]) -> T:
    return await in_transaction(db, work, _ERRORS)


@router.post("", status_code=status.HTTP_201_CREATED)
async def enrol_terminal(
    body: TerminalIn, db: DbDep, settings: SettingsDep, _: Admin
) -> EnrolledOut:
    """Enrol a terminal; the answer carries its device token, shown only this once."""
    if body.language not in settings.languages:
        raise HTTPException(422, f"language {body.language!r} is not served here")

    realm = settings.telephony.front.realm if body.sip else None

    def work(s: Session) -> EnrolledOut:
        e = registry.enrol(
            s, body.id, body.village, body.township, body.language, _now(), sip_realm=realm
        )
        return EnrolledOut(
            **TerminalOut.of(e.terminal).model_dump(), token=e.token, sip_password=e.sip_password
        )

    return await _db(db, work)


@router.post("/{terminal_id}/sip-password")
async def new_sip_password(
    terminal_id: str, db: DbDep, settings: SettingsDep, _: Admin
) -> SipPasswordOut:
    """New SIP credentials for a terminal; the password is shown only this once."""
    realm = settings.telephony.front.realm

    def work(s: Session) -> SipPasswordOut:
        password = registry.issue_sip_password(s, terminal_id, realm)
        return SipPasswordOut(id=terminal_id, realm=realm, sip_password=password)

    return await _db(db, work)


@router.get("")
async def list_terminals(db: DbDep, queue: QueueDep, _: Admin) -> list[TerminalOut]:
    """Every enrolled terminal, with when it was last connected."""
    listed = await _db(db, lambda s: [TerminalOut.of(t) for t in registry.terminals(s)])
    seen = await queue.store.redis.hgetall(TerminalKeys(queue.store.prefix).seen)
    for t in listed:
        t.last_seen = float(seen[t.id]) if t.id in seen else None
    return listed


@router.post("/{terminal_id}/revoke")
async def revoke_terminal(terminal_id: str, db: DbDep, queue: QueueDep, _: Admin) -> TerminalOut:
    """A stolen or retired terminal: its token is refused from now on, and its open
    websockets, on every web process, are closed."""
    out = await _db(db, lambda s: TerminalOut.of(registry.revoke(s, terminal_id, _now())))
    await revocation.announce(queue.store.redis, queue.store.prefix, "terminal", terminal_id)
    return out


def _now() -> datetime:
    return datetime.now(UTC)
