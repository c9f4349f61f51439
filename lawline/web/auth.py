"""Who is calling the API: sign-in sessions, signed tokens, and the role checks routes declare.

People sign in with a password (`web/session_api.py`) and carry a session id in
the http-only `lawline_session` cookie; the session is kept in Redis
(`accounts/sessions.py`), so signing out ends it everywhere. lawline's own
processes (telephony workers, terminals) and scripts use service tokens:
`payload.signature`, both base64url, the payload naming the subject (a worker
name, a lawyer id) and the role and when the token expires, the signature
HMAC-SHA256 with the deployment's secret key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from fastapi import HTTPException, Request, WebSocket, status

from lawline.accounts.roles import Role
from lawline.accounts.sessions import SessionStore
from lawline.phone_numbers import mask_number  # noqa: F401  (re-exported for the routes)

COOKIE_NAME = "lawline_session"


STAFF_ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN})


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str
    role: Role

    def sees_all(self) -> bool:
        """Supervisors, admins and lawline's own processes see every contact in full."""
        return self.role in STAFF_ROLES or self.role == Role.GATEWAY


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue_token(principal: Principal, secret: str, ttl_s: float, now: float | None = None) -> str:
    now = time.time() if now is None else now
    payload = json.dumps(
        {"sub": principal.subject, "role": principal.role, "exp": int(now + ttl_s)},
        separators=(",", ":"),
    ).encode()
    sig = hmac.new(secret.encode(), payload, hashlib.sha256).digest()
    return f"{_b64(payload)}.{_b64(sig)}"


class InvalidToken(ValueError):
    pass


def verify_token(token: str, secret: str, now: float | None = None) -> Principal:
    now = time.time() if now is None else now
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
        principal = Principal(str(claims["sub"]), Role(claims["role"]))
        expires = float(claims["exp"])
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidToken("malformed token") from exc
    if expires < now:
        raise InvalidToken("token expired")
    return principal


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


def _from_token(conn: Request | WebSocket, token: str) -> Principal:
    try:
        return verify_token(token, conn.app.state.secret)
    except InvalidToken as exc:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, str(exc)) from exc


def authenticate(conn: Request | WebSocket) -> Principal:
    """Service tokens only (Bearer header or `?token=`): for code that cannot await.

    A signed-in person's cookie needs a Redis look-up: use `authenticate_async`.
    """
    token = _bearer(conn) or conn.query_params.get("token")
    if not token:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "sign in first")
    return _from_token(conn, token)


async def authenticate_async(conn: Request | WebSocket) -> Principal:
    """Who this is: a service token (Bearer header or `?token=`), else the session cookie.

    Websockets carry the cookie in their handshake, so a signed-in console needs
    nothing more; programs that cannot set headers on a websocket use `?token=`.
    A credential given explicitly wins over the cookie the browser always sends.
    """
    token = _bearer(conn) or conn.query_params.get("token")
    if token:
        return _from_token(conn, token)
    session_id = conn.cookies.get(COOKIE_NAME)
    if not session_id:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "sign in first")
    sessions: SessionStore = conn.app.state.sessions
    signed_in = await sessions.get(session_id)
    if signed_in is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "your session has ended: sign in again")
    return Principal(signed_in.username, signed_in.role)


def require(*roles: Role) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency admitting only these roles (none given: anyone signed in)."""

    async def dependency(request: Request) -> Principal:
        principal = await authenticate_async(request)
        if roles and principal.role not in roles:
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
