"""A party's link into their mediation's room: a signed, expiring token naming the
mediation and the party, nothing else.

The link carries it after `#` (`/mediation/join#TOKEN`): a fragment never reaches the
server's access log; the page sends it in its socket's first frame. It opens that one
party's seat and nothing more (no API route takes it); the same link rejoins the room
after a drop. Signed with a key of its own derived from lawline's secret, so it can
never pass for a sign-in or service token.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass

MAX_TOKEN = 300


class BadLink(ValueError):
    """Not a party's link, tampered with, or expired."""


@dataclass(frozen=True)
class PartySeat:
    case_id: str
    party_id: int


def _key(secret: str) -> bytes:
    return hashlib.sha256(b"lawline mediation party link\0" + secret.encode()).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def party_token(secret: str, seat: PartySeat, expires_at: float) -> str:
    payload = json.dumps(
        {"c": seat.case_id, "p": seat.party_id, "e": int(expires_at)}, separators=(",", ":")
    ).encode()
    sig = hmac.new(_key(secret), payload, hashlib.sha256).digest()
    return f"{_b64(payload)}.{_b64(sig)}"


def read_party_token(secret: str, token: str, now: float) -> PartySeat:
    if not isinstance(token, str) or len(token) > MAX_TOKEN or token.count(".") != 1:
        raise BadLink("not a party's link")
    body, sig = token.split(".")
    try:
        payload, given = _unb64(body), _unb64(sig)
    except (binascii.Error, ValueError):
        raise BadLink("not a party's link") from None
    if not hmac.compare_digest(given, hmac.new(_key(secret), payload, hashlib.sha256).digest()):
        raise BadLink("not a party's link")
    claims = json.loads(payload)
    if now >= claims["e"]:
        raise BadLink("this link has expired: ask the mediator for a new one")
    return PartySeat(str(claims["c"]), int(claims["p"]))
