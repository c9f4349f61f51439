"""The wire contract for a mediation party's phone: the web process holding the room
asks for the party to be dialled, a telephony worker dials and tells how it goes.

Both sides import this module: the web process (mediation/phone_parties.py) and the
worker (telephony/party_call.py). Over Redis (keys in telephony/keys.py, P =
settings.redis_prefix):
  P:party-dials            dial requests, LPUSHed JSON, BLPOPed by whichever worker has
                           a free line: {leg, case_id, who, number, inbox, expires}
  P:party-events:{inbox}   what became of each leg, LPUSHed JSON by the worker, BLPOPed
                           by the web process that asked (its inbox):
                           {leg, case_id, who, worker, state, reason, ip, port}
  state: ringing, answered, joining (the party pressed 1: `ip`/`port` is where the
         worker's leg sends and takes the party's RTP, G.711 u-law 20 ms), failed
         (`reason`: busy, no answer, declined, unreachable, no free line...), ended
Then the web process asks the worker holding the leg over the call requests
(bridge_wire: `P:line:{leg}` names the worker, `contact_id` is the leg):
  party_peer {ip, port}    the room took the leg: send the party's audio there
  party_refused            the room did not take it: the party is told and hung up on
  party_end {reason}       removed by the mediator, or the room closed: told, hung up on
Every value is checked where it enters; a request or event that is not one is set aside.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from typing import Any

from lawline.phone_numbers import normalise_number

PARTY_PEER = "party_peer"
PARTY_REFUSED = "party_refused"
PARTY_END = "party_end"
STATES = frozenset({"ringing", "answered", "joining", "failed", "ended"})
EVENTS_TTL_S = 3600
_TOKEN = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


def _token(value: object, what: str) -> str:
    if not isinstance(value, str) or not _TOKEN.fullmatch(value):
        raise ValueError(f"{what}: up to 64 letters, digits and _.:-")
    return value


def _text(value: object, what: str, limit: int) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise ValueError(f"{what}: a string of at most {limit} characters")
    return value


def _object(raw: str | bytes) -> dict[str, Any]:
    if len(raw) > 4096:
        raise ValueError("longer than 4096 bytes")
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


@dataclass(frozen=True, slots=True)
class PartyDial:
    leg: str  # this phone leg's id, the key of everything about it
    case_id: str
    who: str  # the party's seat in the room
    number: str  # the party's number, digits: never logged whole
    inbox: str  # the web process to tell
    expires: float  # epoch seconds: a request no worker took by then is not dialled

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def parse(cls, raw: str | bytes) -> PartyDial:
        """ValueError (its message safe to log: it never repeats a value) if not one."""
        d = _object(raw)
        number = normalise_number(_text(d.get("number"), "number", 40))
        if not number:
            raise ValueError("number: empty")
        expires = d.get("expires")
        if not isinstance(expires, int | float):
            raise ValueError("expires: a number")
        return cls(
            _token(d.get("leg"), "leg"),
            _token(d.get("case_id"), "case_id"),
            _token(d.get("who"), "who"),
            number,
            _token(d.get("inbox"), "inbox"),
            float(expires),
        )


@dataclass(frozen=True, slots=True)
class PartyEvent:
    leg: str
    case_id: str
    who: str
    worker: str
    state: str
    reason: str = ""
    ip: str = ""
    port: int = 0

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def parse(cls, raw: str | bytes) -> PartyEvent:
        d = _object(raw)
        state = d.get("state")
        if state not in STATES:
            raise ValueError("state: one of " + ", ".join(sorted(STATES)))
        port = d.get("port", 0)
        if not isinstance(port, int) or not 0 <= port < 65536:
            raise ValueError("port: 0-65535")
        ip = _text(d.get("ip", ""), "ip", 45)
        if state == "joining" and not (ip and port):
            raise ValueError("joining needs ip and port")
        return cls(
            _token(d.get("leg"), "leg"),
            _token(d.get("case_id"), "case_id"),
            _token(d.get("who"), "who"),
            _token(d.get("worker"), "worker"),
            str(state),
            _text(d.get("reason", ""), "reason", 100),
            ip,
            port,
        )
