"""Reading the parts of a SIP request lawline trusts, the way a SIP proxy reads them.

The worker reads the INVITE as pjsua received it. A header is read here as RFC
3261 (7.3.1) defines it: a line that starts with a space or tab continues the
header before it, so a folded `X-Lawline-Village` is part of some other header's
value, as Kamailio sees it too. A calling number is the user part of the URI in
a name-addr, never anything in its display name.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from lawline.phone_numbers import normalise_number

# RFC 3261 7.3.3: compact forms of the headers read here.
_COMPACT = {"i": "call-id", "f": "from"}
MAX_HEADERS = 200
_DIALLED = re.compile(r"sip:([^@;>]+)@")
_CONTACT = re.compile(r"sips?:(?:[^@;>]+@)?([^;>]+)([^>]*)")


def headers(message: str) -> list[tuple[str, str]]:
    """(lower-case name, value) of each header line, continuation lines unfolded."""
    head = message.split("\r\n\r\n", 1)[0]
    fields: list[tuple[str, str]] = []
    for line in head.split("\r\n")[1:]:
        if line[:1] in (" ", "\t"):
            if fields:  # a continuation belongs to the header before it
                name, value = fields[-1]
                fields[-1] = (name, f"{value} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        name = name.strip().lower()
        if not colon or not name or " " in name or "\t" in name:
            continue
        fields.append((_COMPACT.get(name, name), value.strip()))
        if len(fields) >= MAX_HEADERS:
            break
    return fields


def values(fields: list[tuple[str, str]], name: str) -> list[str]:
    return [v for n, v in fields if n == name]


def address_uri(value: str) -> str:
    """The URI of a From / To / P-Asserted-Identity value: inside <> of a name-addr
    (after a display name, quoted or not), else the addr-spec up to its parameters."""
    rest = value.strip()
    if rest.startswith('"'):
        i, escaped = 1, False
        while i < len(rest):  # a quoted display name may hold <, > and backslash escapes
            c = rest[i]
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                break
            i += 1
        else:
            return ""  # unterminated: no address at all
        rest = rest[i + 1 :]
        start = rest.find("<")
        end = rest.find(">", start + 1)
        return rest[start + 1 : end].strip() if 0 <= start < end else ""
    if "<" in rest:
        start = rest.find("<")
        end = rest.find(">", start + 1)
        return rest[start + 1 : end].strip() if end > start else ""
    return rest.split(";", 1)[0].strip()


def uri_user(uri: str) -> str:
    """The user part of a sip:/sips: URI (password and user parameters dropped), or the
    number of a tel: URI; percent-decoded. '' when there is none."""
    scheme, colon, rest = uri.partition(":")
    scheme = scheme.strip().lower()
    if not colon:
        return ""
    if scheme == "tel":
        user = rest
    elif scheme in ("sip", "sips"):
        user, at, _host = rest.partition("@")
        if not at:
            return ""
        user = user.split(":", 1)[0]  # user:password
    else:
        return ""
    return unquote(user.split(";", 1)[0])


def address_user(value: str) -> str:
    """The user part of the URI in a From / P-Asserted-Identity value."""
    return uri_user(address_uri(value))


def caller_number(address: str) -> str | None:
    """The calling number in a From (pjsua's remote URI) or P-Asserted-Identity value:
    its URI's user part, '' when there is none (withheld), None when it is not a
    telephone number. The display name is never read: `"sip:+86999@x" <sip:T1@h>`
    does not make the call +86999's."""
    try:
        return normalise_number(address_user(address))
    except ValueError:
        return None


def asserted_identity(fields: list[tuple[str, str]]) -> str:
    """The first P-Asserted-Identity value, '' when there is none."""
    found = values(fields, "p-asserted-identity")
    return found[0] if found else ""


def dialled_user(local_uri: str) -> str | None:
    """The user part of the number a call was made to (pjsua's local URI, the To)."""
    m = _DIALLED.search(local_uri)
    return None if m is None else m.group(1)


def reply_route(remote_contact: str) -> str:
    """host:port (and transport) of the peer that sent the call, from its Contact: where
    a callback goes when no trunk is configured."""
    m = _CONTACT.search(remote_contact)
    if m is None:
        return ""
    return m.group(1) + (";transport=tcp" if "transport=tcp" in m.group(2).lower() else "")
