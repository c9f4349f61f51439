"""What a worker behind the front may believe about a call: only what the front signed.

The front (Kamailio) and the workers share a secret lawline generates once into
data_dir/kamailio (0600). For every INVITE it relays, the front removes any
X-Lawline-* header the caller sent, adds its own (a SIP terminal's id, village
and township; nothing for a trunk) and X-Lawline-Signature: SHA-256 over the
secret, the Call-ID and those values. The worker recomputes it: a header folded
past the front's strip, or added by anyone else, is not signed and is ignored.
The same secret signs the front's Record-Route, so in-dialog requests are
relayed only within dialogs the front set up, also after Kamailio restarted.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path
from urllib.parse import unquote

from lawline.config import Settings
from lawline.telephony.sip_message import asserted_identity, headers, values

SIGNATURE = "x-lawline-signature"
# Header name -> origin key, in the order the signature covers them.
ORIGIN_HEADERS = (
    ("x-lawline-terminal", "terminal"),
    ("x-lawline-village", "village"),
    ("x-lawline-township", "township"),
)
MAX_VALUE = 300  # percent-encoded; the registry bounds the decoded village name
_SECRET_FILE = "front.secret"


def secret_path(settings: Settings) -> Path:
    return (settings.data_dir / "kamailio" / _SECRET_FILE).resolve()


def front_secret(settings: Settings) -> str:
    """The shared secret: read, or made once (hex, so it is safe in Kamailio's config)."""
    path = secret_path(settings)
    try:
        text = path.read_text().strip()
        if len(text) == 64:
            return text
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fresh = secrets.token_hex(32)
    tmp = path.with_name(f"{_SECRET_FILE}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(fresh + "\n")
    os.replace(tmp, path)
    return fresh


def origin_signature(secret: str, call_id: str, fields: list[str]) -> str:
    """As kamailio.cfg computes it: sha256 of secret|call-id|terminal|village|township."""
    return hashlib.sha256("|".join([secret, call_id, *fields]).encode()).hexdigest()


def signed_origin(secret: str, fields: list[tuple[str, str]]) -> dict[str, str] | None:
    """The X-Lawline-* values of an INVITE the front signed (raw, percent-encoded, by
    origin key; empty for a trunk's call), or None when the signature is missing,
    repeated or wrong."""
    signatures = values(fields, SIGNATURE)
    call_ids = values(fields, "call-id")
    if len(signatures) != 1 or len(call_ids) != 1:
        return None
    raw: list[str] = []
    for header, _key in ORIGIN_HEADERS:
        found = values(fields, header)
        if len(found) > 1 or any(len(v) > MAX_VALUE for v in found):
            return None
        raw.append(found[0] if found else "")
    expected = origin_signature(secret, call_ids[0], raw)
    if not hmac.compare_digest(expected, signatures[0].lower()):
        return None
    return {key: unquote(v)[:100] for (_h, key), v in zip(ORIGIN_HEADERS, raw, strict=True) if v}


def vouched(secret: str, invite: str) -> tuple[dict[str, str], str] | None:
    """What the front vouches for in an INVITE: the SIP terminal it came from (origin),
    or for a trunk's call its P-Asserted-Identity; None when the front did not sign it."""
    fields = headers(invite)
    origin = signed_origin(secret, fields)
    if origin is None:
        return None
    if origin:
        return origin, ""
    return {}, asserted_identity(fields)
