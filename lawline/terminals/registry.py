"""Enrol, list and revoke terminals; check a device token. Plain functions over a
database session, time passed in.

A device token is `{terminal_id}.{secret}`, the secret 32 random bytes. Only a
SHA-256 of the whole token is kept: the secret has 256 bits of entropy, so a
slow password hash (argon2, as for people's passwords) would add nothing but
latency to every connect; a copy of the database does not give the tokens.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from lawline.terminals.models import Terminal

_TERMINAL_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class TerminalError(ValueError):
    """A request the registry cannot carry out; the message says why."""


class NoSuchTerminal(TerminalError):
    pass


class TerminalExists(TerminalError):
    pass


class TerminalRefused(TerminalError):
    """A device token that does not let a terminal in; the message says why."""


@dataclass(frozen=True, slots=True)
class Enrolled:
    terminal: Terminal
    token: str  # shown once: the terminal keeps it, lawline only its hash
    sip_password: str = ""  # shown once, when SIP credentials were asked for


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def enrol(
    session: Session,
    terminal_id: str,
    village: str,
    township: str,
    language: str,
    now: datetime,
    sip_realm: str | None = None,
) -> Enrolled:
    if not _TERMINAL_ID.match(terminal_id):
        raise TerminalError("a terminal id is 1-64 letters, digits, '_' or '-'")
    village, township = village.strip(), township.strip()
    if not village or not township:
        raise TerminalError("a terminal needs its village and its township")
    if session.get(Terminal, terminal_id) is not None:
        raise TerminalExists(f"terminal {terminal_id} exists")
    token = f"{terminal_id}.{secrets.token_urlsafe(32)}"
    terminal = Terminal(
        id=terminal_id,
        village=village[:100],
        township=township[:100],
        language=language,
        token_hash=_hash(token),
        created_at=now,
        revoked_at=None,
    )
    session.add(terminal)
    session.flush()
    password = issue_sip_password(session, terminal_id, sip_realm) if sip_realm else ""
    return Enrolled(terminal, token, password)


def sip_ha1(username: str, realm: str, password: str) -> str:
    """Digest HA1 (RFC 2617): what a SIP proxy checks a response against."""
    return hashlib.md5(f"{username}:{realm}:{password}".encode()).hexdigest()


def issue_sip_password(session: Session, terminal_id: str, realm: str) -> str:
    """New SIP credentials for a terminal (its SIP user is its id); the password, shown
    once. The old password stops working at the front's next account sync.

    SIP digest needs MD5 HA1: it is password-equivalent for this realm only, and the
    password is 128 random bits, so it is never a password used anywhere else.
    """
    terminal = session.get(Terminal, terminal_id)
    if terminal is None:
        raise NoSuchTerminal(f"no terminal {terminal_id}")
    if terminal.revoked_at is not None:
        raise TerminalError(f"terminal {terminal_id} is revoked")
    if not realm or any(c in realm for c in '":\\\r\n'):
        raise TerminalError(f"a SIP realm cannot be {realm!r}")
    password = secrets.token_urlsafe(16)
    terminal.sip_realm, terminal.sip_ha1 = realm, sip_ha1(terminal_id, realm, password)
    return password


def revoke(session: Session, terminal_id: str, now: datetime) -> Terminal:
    """A stolen or retired terminal: its token is refused from now on."""
    terminal = session.get(Terminal, terminal_id)
    if terminal is None:
        raise NoSuchTerminal(f"no terminal {terminal_id}")
    if terminal.revoked_at is None:
        terminal.revoked_at = now
    return terminal


def terminals(session: Session) -> Sequence[Terminal]:
    return session.scalars(select(Terminal).order_by(Terminal.id)).all()


def sip_terminals(session: Session) -> Sequence[Terminal]:
    """Terminals the SIP front lets register and call: SIP credentials, not revoked."""
    query = select(Terminal).where(Terminal.sip_ha1.is_not(None), Terminal.revoked_at.is_(None))
    return session.scalars(query.order_by(Terminal.id)).all()


def check_token(session: Session, token: str) -> Terminal:
    """The terminal this device token belongs to; TerminalRefused says why not."""
    terminal_id, dot, _ = token.partition(".")
    terminal = session.get(Terminal, terminal_id) if dot and terminal_id else None
    if terminal is None or not hmac.compare_digest(terminal.token_hash, _hash(token)):
        raise TerminalRefused("unknown terminal token")
    if terminal.revoked_at is not None:
        raise TerminalRefused("this terminal has been revoked: ask the centre for a new one")
    return terminal
