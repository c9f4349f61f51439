"""Who is calling the API: sign-in sessions, service tokens, and the role checks routes declare.

People (lawyers, mediators, supervisors, admins) sign in with a password
(`web/session_api.py`) and carry a session id in the http-only `lawline_session`
cookie; the session is kept in Redis (`accounts/sessions.py`), so signing out,
a new role or password, or a disabled account ends it everywhere at once.

lawline's own processes and tools (gateways, telephony workers, the metrics
scraper) use service tokens, and only they: `payload.signature`, both base64url,
the payload naming the subject, a service role, when it expires and its id
(`jti`), the signature HMAC-SHA256 with the deployment's secret key. A token is
revoked by its id (`lawline token revoke`): the id is kept in Redis until the
token could no longer be valid, and checked at every request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from fastapi import HTTPException, Request, WebSocket, status
from redis import Redis as SyncRedis

from lawline import revocation
from lawline.accounts.keys import AccountKeys
from lawline.accounts.roles import SERVICE_ROLES, Role
from lawline.accounts.sessions import SessionStore, session_ref
from lawline.phone_numbers import mask_number  # noqa: F401  (re-exported for the routes)
from lawline.queue.model import Contact

COOKIE_NAME = "lawline_session"


STAFF_ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN})


@dataclass(frozen=True, slots=True)
class Principal:
    """Who made a request, and with which credential (so revoking it can find the sockets
    it opened): a sign-in session's reference (`session_ref`) or a service token's id."""

    subject: str
    role: Role
    session: str | None = None
    token_id: str | None = None

    def sees_all(self) -> bool:
        """Supervisors, admins and lawline's own processes see every contact in full."""
        return self.role in STAFF_ROLES or self.role in (Role.GATEWAY, Role.WORKER)

    def may_read_call(self, contact: Contact) -> bool:
        """A live contact (and its transcript): whoever sees all, and its lawyer."""
        return self.sees_all() or contact.lawyer == self.subject


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class InvalidToken(ValueError):
    pass


_TOKEN_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
MAX_TOKEN_LENGTH = 1024


def issue_token(principal: Principal, secret: str, ttl_s: float, now: float | None = None) -> str:
    """A service token for one of lawline's own processes, with a fresh id (`jti`)."""
    if principal.role not in SERVICE_ROLES:
        raise InvalidToken(f"tokens are for {', '.join(SERVICE_ROLES)}; people sign in")
    now = time.time() if now is None else now
    claims = {
        "sub": principal.subject,
        "role": principal.role,
        "exp": int(now + ttl_s),
        # Hex: an id typed on a command line must not start with "-" (an option to it).
        "jti": secrets.token_hex(12),
    }
    payload = json.dumps(claims, separators=(",", ":")).encode()
    sig = hmac.new(secret.encode(), payload, hashlib.sha256).digest()
    return f"{_b64(payload)}.{_b64(sig)}"


def verify_token(token: str, secret: str, now: float | None = None) -> Principal:
    """The token's principal (with its id) if signed, unexpired and for a service role.

    Whether its id was revoked is asked of Redis by `authenticate_async`.
    """
    now = time.time() if now is None else now
    if len(token) > MAX_TOKEN_LENGTH:
        raise InvalidToken("malformed token")
    try:
        payload_b64, sig_b64 = token.split(".")
        payload = _unb64(payload_b64)
        sig = _unb64(sig_b64)
    except ValueError as exc:
        raise InvalidToken("malformed token") from exc
    expected = hmac.new(secret.encode(), payload, hashlib.sha256).digest()
    if not hmac.compare_digest(sig, expected):
        raise InvalidToken("bad signature")
    try:
        claims = json.loads(payload)
        role = Role(claims["role"])
        token_id = str(claims["jti"])
        principal = Principal(str(claims["sub"]), role, token_id=token_id)
        expires = float(claims["exp"])
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidToken("malformed token") from exc
    # Tokens signed before people had sessions named person roles: never honoured now.
    if role not in SERVICE_ROLES or not _TOKEN_ID.match(token_id):
        raise InvalidToken("not a service token")
    if expires < now:
        raise InvalidToken("token expired")
    return principal


def revoke_token(redis: SyncRedis, prefix: str, token_id: str, keep_s: float) -> None:
    """Revoke a service token by its id (the command line's `lawline token revoke`)."""
    if not _TOKEN_ID.match(token_id):
        raise InvalidToken("a token id is 8-64 letters, digits, '-' or '_'")
    redis.set(AccountKeys(prefix).token_revoked(token_id), "1", px=int(keep_s * 1000))
    revocation.announce_sync(redis, prefix, "token", token_id)


def load_or_create_secret(configured: str, data_dir: Path) -> str:
    """The configured secret, or one generated on first start and kept in data_dir."""
    if configured:
        return configured
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    path.touch(mode=0o600)
    path.write_text(secret)
    return secret


def _bearer(conn: Request | WebSocket) -> str | None:
    header = conn.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return None


async def _from_token(conn: Request | WebSocket, token: str) -> Principal:
    try:
        principal = verify_token(token, conn.app.state.secret)
    except InvalidToken as exc:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, str(exc)) from exc
    assert principal.token_id is not None
    sessions: SessionStore = conn.app.state.sessions
    if await sessions.redis.exists(sessions.keys.token_revoked(principal.token_id)):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "token revoked")
    return principal


async def authenticate_async(conn: Request | WebSocket) -> Principal:
    """Who this is: a service token (Bearer header or `?token=`), else the session cookie.

    Websockets carry the cookie in their handshake, so a signed-in console needs
    nothing more; programs that cannot set headers on a websocket use `?token=`.
    A credential given explicitly wins over the cookie the browser always sends.
    """
    token = _bearer(conn) or conn.query_params.get("token")
    if token:
        return await _from_token(conn, token)
    session_id = conn.cookies.get(COOKIE_NAME)
    if not session_id:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "sign in first")
    sessions: SessionStore = conn.app.state.sessions
    signed_in = await sessions.get(session_id)
    if signed_in is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "your session has ended: sign in again")
    return Principal(signed_in.username, signed_in.role, session=session_ref(session_id))


def require(*roles: Role) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency admitting only these roles (none given: anyone signed in, and lawline's
    gateways and workers; a scraper's token opens /metrics only)."""
    allowed = frozenset(roles) if roles else frozenset(Role) - {Role.SCRAPER}

    async def dependency(request: Request) -> Principal:
        principal = await authenticate_async(request)
        if principal.role not in allowed:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "your role may not do this")
        return principal

    return dependency


def require_self_or_staff(principal: Principal, lawyer_id: str) -> None:
    """A lawyer acts on their own record only; supervisors and admins on anyone's."""
    if principal.role in STAFF_ROLES:
        return
    if principal.role == Role.LAWYER and principal.subject == lawyer_id:
        return
    raise HTTPException(status.HTTP_403_FORBIDDEN, "you may only act on your own record")
