"""Headers every HTTP response carries: a Content-Security-Policy and its friends.

The pages load only lawline's own scripts and styles (no inline script; the
sign-in and alerts pages keep theirs in files), talk to lawline only (fetch and
the websockets), show camera and microphone streams (blob:/mediastream:), and
may never be framed (clickjacking). /docs is Swagger UI served from
lawline/web/static/swagger-ui, so the same policy holds there. A pure ASGI
middleware, so websockets and streamed responses pass untouched.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        # Swagger UI's icons are data: SVGs inside its stylesheet.
        "img-src 'self' data: blob:",
        "style-src 'self'",
        "connect-src 'self'",
        "media-src 'self' blob: mediastream:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),  # frame-ancestors for browsers without CSP 2
    (b"referrer-policy", b"same-origin"),
]
_NAMES = {name for name, _ in SECURITY_HEADERS}


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() not in _NAMES]
                message["headers"] = headers + SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, with_headers)
