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
         (`reason`: busy, no answer, declined, unreachable, no free line...), ended,
         speaking and quiet (in the room: the party started or stopped speaking; their
         seat shows it, as a browser party's face would)
Then the web process asks the worker holding the leg over the call requests
(bridge_wire: `P:line:{leg}` names the worker, `contact_id` is the leg):
  party_peer {ip, port}    the room took the leg: send the party's audio there
  party_refused            the room did not take it: the party is told and hung up on
  party_end {reason}       removed by the mediator, or the room closed: told, hung up on
A party may also dial 12348 and press 0: the worker asks the room's number and their
PIN and looks them up in
  P:party-room:{number}    {case_id, inbox, pin:{PIN} -> seat} while the room is open
(`register_room`, `find_room`); found, it sends `joining` with reason "dial_in" for a
leg of its own making, and the rest goes as for a party it dialled.
Every value is checked where it enters; a request or event that is not one is set aside.
"""

from __future__ import annotations

import json
import re
import secrets
import time
import uuid
from dataclasses import asdict, dataclass
from importlib import resources
from typing import Any

from redis.asyncio import Redis

from lawline.phone_numbers import normalise_number
from lawline.telephony.keys import TelephonyKeys

PARTY_PEER = "party_peer"
PARTY_REFUSED = "party_refused"
PARTY_END = "party_end"
SPEAKING, QUIET = "speaking", "quiet"
STATES = frozenset({"ringing", "answered", "joining", "failed", "ended", SPEAKING, QUIET})
DIAL_IN = "dial_in"  # a `joining` leg the party made by dialling in with the room's code
EVENTS_TTL_S = 3600
ROOM_TTL_S = 24 * 3600
CODE_DIGITS = 6  # a room's number and a party's PIN (telephony/flow.py asks for six)
# A caller may enter this many wrong room codes an hour (three a call): a PIN is six
# digits, so one number trying them all would take months.
ROOM_CODE_TRIES, ROOM_CODE_WINDOW_S = 10, 3600
_FIND_ROOM = (resources.files("lawline.telephony") / "scripts" / "findRoom-2.lua").read_text()
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


def new_leg() -> str:
    return "pl-" + uuid.uuid4().hex[:20]


def _code() -> str:
    return str(secrets.randbelow(9 * 10 ** (CODE_DIGITS - 1)) + 10 ** (CODE_DIGITS - 1))


async def register_room(
    redis: Redis, keys: TelephonyKeys, case_id: str, inbox: str, seats: list[str]
) -> tuple[str, dict[str, str]]:
    """Give an open room a number free now and each seat a PIN of its own; the number
    and the PINs by seat."""
    pins: dict[str, str] = {}
    while len(set(pins.values())) < len(seats):
        pins = {seat: _code() for seat in seats}
    while True:
        number = _code()
        key = keys.party_room(number)
        if await redis.hsetnx(key, "case_id", case_id):
            break
    mapping = {"inbox": inbox, **{f"pin:{pin}": seat for seat, pin in pins.items()}}
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hset(key, mapping=mapping)
        pipe.expire(key, ROOM_TTL_S)
        await pipe.execute()
    return number, pins


async def unregister_room(redis: Redis, keys: TelephonyKeys, number: str) -> None:
    await redis.delete(keys.party_room(number))


class CodesBlocked(Exception):
    """This caller entered too many wrong room codes lately: no code is looked at."""


async def find_room(
    redis: Redis,
    keys: TelephonyKeys,
    number: str,
    pin: str,
    caller: str,
    tries: int = ROOM_CODE_TRIES,
    window_s: int = ROOM_CODE_WINDOW_S,
) -> PartyDial | None:
    """The leg to make for a party who entered this number and PIN, if a room is open
    under them (digits only: anything else is no room, and counts as a wrong code).
    CodesBlocked once the caller entered `tries` wrong codes within `window_s`."""
    if not (number.isdigit() and pin.isdigit()) or len(number) + len(pin) > 2 * CODE_DIGITS:
        number, pin = "x", "x"  # found nowhere, and counted
    script = redis.register_script(_FIND_ROOM)
    reply = await script(
        keys=[keys.party_room(number), keys.room_code_fails(caller)],
        args=[f"pin:{pin}", tries, window_s],
    )
    text = [v.decode() if isinstance(v, bytes) else str(v) for v in reply]
    if text[0] == "blocked":
        raise CodesBlocked
    if text[0] != "found":
        return None
    case_id, inbox, seat = text[1:4]
    return PartyDial(new_leg(), case_id, seat, caller or "0", inbox, time.time())
