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


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def enrol(
    session: Session, terminal_id: str, village: str, township: str, language: str,
    now: datetime,
) -> Enrolled:  # fmt: skip
    if not _TERMINAL_ID.match(terminal_id):
        raise TerminalError("a terminal id is 1-64 letters, digits, '_' or '-'")
    village, township = village.strip(), township.strip()
    if not village or not township:
        raise TerminalError("a terminal needs its village and its township")
    if session.get(Terminal, terminal_id) is not None:
        raise TerminalExists(f"terminal {terminal_id} exists")
    token = f"{terminal_id}.{secrets.token_urlsafe(32)}"
    terminal = Terminal(
        id=terminal_id, village=village[:100], township=township[:100], language=language,
        token_hash=_hash(token), created_at=now, revoked_at=None,
    )  # fmt: skip
    session.add(terminal)
    session.flush()
    return Enrolled(terminal, token)


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


def check_token(session: Session, token: str) -> Terminal:
    """The terminal this device token belongs to; TerminalRefused says why not."""
    terminal_id, dot, _ = token.partition(".")
    terminal = session.get(Terminal, terminal_id) if dot and terminal_id else None
    if terminal is None or not hmac.compare_digest(terminal.token_hash, _hash(token)):
        raise TerminalRefused("unknown terminal token")
    if terminal.revoked_at is not None:
        raise TerminalRefused("this terminal has been revoked: ask the centre for a new one")
    return terminal
