"""Short-lived TURN credentials, the TURN REST scheme coturn's `use-auth-secret` checks.

username = "{expiry unix time}:{who}", password = base64(HMAC-SHA1(secret, username)).
The relay recomputes the password from the username and its shared secret and
refuses an expired one, so no fixed password ever reaches a browser.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from lawline.video.settings import WebRTCSettings


def turn_credential(secret: str, who: str, now: float, ttl_s: float) -> tuple[str, str]:
    username = f"{int(now + ttl_s)}:{who}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def browser_rtc_config(settings: WebRTCSettings, who: str, now: float) -> dict[str, Any]:
    """An RTCConfiguration for a browser: the configured STUN/TURN servers, plus the TURN
    relays with credentials issued now for `who`. Never a browser default."""
    servers: list[dict[str, Any]] = [
        {
            "urls": s.urls,
            **({"username": s.username, "credential": s.credential} if s.username else {}),
        }
        for s in settings.ice_servers
    ]
    if settings.turn_urls and settings.turn_secret:
        username, password = turn_credential(settings.turn_secret, who, now, settings.turn_ttl_s)
        servers.append({"urls": settings.turn_urls, "username": username, "credential": password})
    return {"iceServers": servers}
