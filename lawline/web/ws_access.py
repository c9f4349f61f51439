"""Who may open a websocket here: the Origin it comes from, the credential it used.

Origin: a browser always names the page that opens a websocket, and sends the
sign-in cookie whatever that page is; so a socket from another site's page
(cross-site websocket hijacking) is refused unless its origin is the page's own
(same host) or configured in `sockets.allowed_origins`. A socket with no Origin is
not from a browser: it is let in only with an explicit credential (a service token
in the Authorization header, a terminal's device token), never on a cookie alone,
since nothing but a browser has a reason to present one.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import WebSocket

from lawline.accounts.sessions import session_ref
from lawline.web.auth import COOKIE_NAME
from lawline.web.hub import token_ref

MAX_ORIGIN = 300


def origin_allowed(ws: WebSocket, allowed: list[str], explicit_credential: bool) -> bool:
    origin = ws.headers.get("origin")
    if origin is None:
        return explicit_credential
    if len(origin) > MAX_ORIGIN:
        return False
    if origin.rstrip("/") in {a.rstrip("/") for a in allowed}:
        return True
    host = ws.headers.get("host", "")
    parts = urlsplit(origin)
    return bool(host) and parts.scheme in ("http", "https") and parts.netloc.lower() == host.lower()


def bearer(ws: WebSocket) -> str | None:
    header = ws.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return None


def credential_of(ws: WebSocket) -> str:
    """The credential `authenticate_async` accepted, as the hub names it (same precedence:
    an explicit token wins over the cookie)."""
    token = bearer(ws) or ws.query_params.get("token")
    if token:
        return f"token:{token_ref(token)}"
    return f"session:{session_ref(ws.cookies.get(COOKIE_NAME, ''))}"


def client_address(ws: WebSocket) -> str:
    return ws.client.host if ws.client is not None else "unknown"
