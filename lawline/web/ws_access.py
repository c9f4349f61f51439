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

from collections.abc import Collection
from urllib.parse import urlsplit

from fastapi import HTTPException, WebSocket

from lawline.accounts.sessions import session_ref
from lawline.web.auth import COOKIE_NAME, Principal, Role, authenticate_async
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


async def admitted(
    ws: WebSocket, allowed_origins: list[str], roles: Collection[Role], for_whom: str
) -> Principal | None:
    """Who opens this socket, if they may: from this site's pages (or an explicit
    credential), signed in, in one of `roles`; else the socket is closed (4403 or 4401,
    with why) and None returned. Not yet accepted either way."""
    explicit = bool(bearer(ws) or ws.query_params.get("token"))
    if not origin_allowed(ws, allowed_origins, explicit):
        await ws.close(code=4403, reason="not from this site's pages")
        return None
    try:
        principal = await authenticate_async(ws)
    except HTTPException as exc:
        await ws.close(code=4401, reason=str(exc.detail))
        return None
    if principal.role not in roles:
        await ws.close(code=4403, reason=f"for {for_whom}")
        return None
    return principal
