"""The queue's state in Redis: one Lua script per atomic operation.

Scripts live in `scripts/`, named after the operation and the number of keys
they declare (BullMQ's convention); each opens with its KEYS, ARGV and return
codes. A line `--@include NAME` pastes `scripts/includes/NAME.lua` in. Python
only loads and calls them: no read-modify-write from here.

Every key a script touches is in its KEYS, never built inside it, so the scripts
are correct on a Redis Cluster. Where a key depends on data (the lawyer a contact
is offered to, its queue's stats, the contact a lawyer is offered), the store reads
that data, declares the keys, and the script re-checks the data: if it changed in
between, the script changes nothing and answers STALE, and the store reads again.
A script's keys must also share one hash slot on a cluster: give the prefix a hash
tag (`redis_prefix = "{ll}"`), which puts all of lawline's keys in one slot (one
shard carries the queue; it is small). A single Redis needs no tag.

The event stream is trimmed near EVENTS_MAXLEN, but never past an entry the
LEDGER_GROUP consumer group has not acknowledged (includes/common.lua `trim_events`).

Every key is named in keys.py (`QueueKeys`), with its type and lifetime.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from importlib import resources
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

from lawline.queue.keys import QueueKeys
from lawline.queue.model import Contact, Lawyer, RosterException
from lawline.queue.skills import Presence, Service

log = logging.getLogger(__name__)
_INCLUDE = re.compile(r"^--@include (\w+)$", re.MULTILINE)
EVENTS_MAXLEN = 200_000
ALERTS_KEPT = 1000
# Seconds an ended contact's hash and a number's history stay in Redis (the ledger
# has the record by then); RoutingSettings.ended_contact_ttl_s sets it for a service.
KEEP_ENDED_S = 3 * 86400
# The answer of a script whose declared keys no longer match the data it checks.
STALE = -99
STALE_RETRIES = 50
# A contact's lawyer and service, from which a script's data-dependent keys are built.
Refs = tuple[str, str]
SNAPSHOT_RETRIES = 50


def load_script_sources() -> dict[str, str]:
    """Script name (without the key count) -> Lua source with includes pasted in."""
    root = resources.files("lawline.queue") / "scripts"
    includes = {
        f.name.removesuffix(".lua"): f.read_text()
        for f in (root / "includes").iterdir()
        if f.name.endswith(".lua")
    }
    sources = {}
    for f in root.iterdir():
        if f.name.endswith(".lua"):
            name = f.name.removesuffix(".lua").rsplit("-", 1)[0]
            sources[name] = _INCLUDE.sub(lambda m: includes[m.group(1)], f.read_text())
    return sources


class OfferResult(IntEnum):
    OFFERED = 1
    CONTACT_NOT_WAITING = -1
    NO_SUCH_LAWYER = -2
    LAWYER_NOT_FREE = -3
    LANGUAGE_MISMATCH = -4
    NO_CAPACITY = -5


@dataclass(frozen=True, slots=True)
class Event:
    """One entry of the event stream, decoded."""

    id: str
    type: str
    at: float
    contact: Contact | None
    lawyer: Lawyer | None
    reason: str
    raw: Mapping[str, str]


def decode_event(event_id: str, fields: Mapping[str, str]) -> Event:
    contact = json.loads(fields["contact"]) if "contact" in fields else None
    lawyer = json.loads(fields["lawyer"]) if "lawyer" in fields else None
    return Event(
        id=event_id,
        type=fields["type"],
        at=float(fields["at"]),
        contact=Contact.from_hash(contact) if contact else None,
        lawyer=Lawyer.from_hash(lawyer) if lawyer else None,
        reason=fields.get("reason", ""),
        raw=fields,
    )


@dataclass(frozen=True, slots=True)
class Snapshot:
    last_event_id: str
    contacts: list[Contact]
    lawyers: list[Lawyer]


class QueueStore:
    """Calls the queue's Lua scripts. `redis` must decode responses (decode_responses=True)."""

    def __init__(self, redis: Redis, prefix: str = "ll") -> None:
        self.redis = redis
        self.prefix = prefix
        self._scripts: dict[str, AsyncScript] = {
            name: redis.register_script(src) for name, src in load_script_sources().items()
        }
        self.keys = QueueKeys(prefix)

    async def _call(
        self, name: str, keys: Sequence[str], args: Sequence[Any], client: Any = None
    ) -> Any:
        return await self._scripts[name](keys=list(keys), args=list(args), client=client)

    async def _call_on_contact(
        self,
        name: str,
        contact_id: str,
        keys_args: Callable[[str, str], tuple[list[str], list[Any]]],
        refs: Refs | None = None,
    ) -> int:
        """Run a script whose keys depend on the contact's lawyer and service.

        `keys_args(lawyer_id, service)` builds KEYS and ARGV from `refs` (what the caller
        believes, from the event stream) or else from what is read now; the script
        answers STALE if the contact is not so, and we read and try again.
        """
        for _ in range(STALE_RETRIES):
            if refs is None:
                lawyer_id, service = await self.redis.hmget(
                    self.keys.contact(contact_id), "lawyer", "service"
                )
                refs = (lawyer_id or "", service or "")
            result = int(await self._call(name, *keys_args(*refs)))
            if result != STALE:
                return result
            refs = None
        raise RuntimeError(f"{name}: contact kept changing under it")

    # ----- contacts ---------------------------------------------------------------

    async def add_contact(self, contact: Contact, now: float, keep_s: float = KEEP_ENDED_S) -> bool:
        """Enter a contact; False if a contact with this id exists already."""
        return await self._call("addContact", *self._add_args(contact, now, keep_s)) == 1

    async def add_many(
        self, contacts: Sequence[Contact], now: float, keep_s: float = KEEP_ENDED_S
    ) -> list[bool]:
        """Enter several contacts in one round trip (a gateway's burst); each stays atomic."""
        return [
            r == 1
            for r in await self._pipelined(
                "addContact", [self._add_args(c, now, keep_s) for c in contacts]
            )
        ]

    def _add_args(self, contact: Contact, now: float, keep_s: float) -> tuple[list[str], list[Any]]:
        fields = [x for kv in contact.to_hash().items() for x in kv]
        keys = [
            self.keys.contact(contact.id),
            self.keys.waiting,
            self.keys.stats(contact.service),
            self.keys.events,
            # No number: a key of the same slot that the script leaves alone.
            self.keys.history(contact.caller) if contact.caller else self.keys.history(""),
        ]
        return keys, [now, EVENTS_MAXLEN, int(keep_s), *fields]

    async def _pipelined(
        self, name: str, calls: Sequence[tuple[list[str], list[Any]]]
    ) -> list[Any]:
        """One script called several times in one round trip, each call atomic.

        Plain EVALSHA in the pipeline: redis-py's script pipelining asks SCRIPT
        EXISTS first on every call, a second round trip on the hottest path.
        """
        script = self._scripts[name]
        for _ in range(2):
            async with self.redis.pipeline(transaction=False) as pipe:
                for keys, args in calls:
                    pipe.evalsha(script.sha, len(keys), *keys, *args)
                try:
                    return list(await pipe.execute())
                except NoScriptError:
                    # Redis restarted and lost its script cache; nothing ran.
                    await self.redis.script_load(script.script)
        raise RuntimeError(f"{name} script could not be loaded")

    async def offer_many(
        self, offers: Sequence[tuple[str, str]], now: float, deadline: float
    ) -> list[OfferResult]:
        """Commit several routing decisions in one round trip; each stays atomic."""
        calls = [self._offer_args(c, lw, now, deadline) for c, lw in offers]
        return [OfferResult(r) for r in await self._pipelined("offerContact", calls)]

    def _offer_args(
        self, contact_id: str, lawyer_id: str, now: float, deadline: float
    ) -> tuple[list[str], list[Any]]:
        keys = [
            self.keys.contact(contact_id),
            self.keys.lawyer(lawyer_id),
            self.keys.waiting,
            self.keys.offers,
            self.keys.events,
        ]
        return keys, [now, EVENTS_MAXLEN, lawyer_id, deadline]

    async def accept(
        self, contact_id: str, lawyer_id: str, now: float, sl_s: float, refs: Refs | None = None
    ) -> bool:
        def build(_: str, service: str) -> tuple[list[str], list[Any]]:
            keys = [
                self.keys.contact(contact_id),
                self.keys.lawyer(lawyer_id),
                self.keys.offers,
                self.keys.events,
                self.keys.stats(service),
            ]
            return keys, [now, EVENTS_MAXLEN, lawyer_id, sl_s, service]

        return await self._call_on_contact("acceptOffer", contact_id, build, refs) == 1

    async def reject(
        self,
        contact_id: str,
        lawyer_id: str,
        now: float,
        reason: str,
        max_missed: int,
        refs: Refs | None = None,
    ) -> int:
        """Back to the queue. 1 requeued, 2 and lawyer put on break, <0 not applicable."""

        def build(_: str, service: str) -> tuple[list[str], list[Any]]:
            keys = [
                self.keys.contact(contact_id),
                self.keys.lawyer(lawyer_id),
                self.keys.offers,
                self.keys.waiting,
                self.keys.events,
                self.keys.stats(service),
            ]
            return keys, [now, EVENTS_MAXLEN, lawyer_id, reason, max_missed, service]

        return await self._call_on_contact("rejectOffer", contact_id, build, refs)

    async def end(
        self,
        contact_id: str,
        now: float,
        wrapup_s: float,
        ended_by: str,
        keep_s: float = KEEP_ENDED_S,
        refs: Refs | None = None,
    ) -> int:
        """1 ended, 0 already ended, -1 not connected."""

        def build(lawyer_id: str, service: str) -> tuple[list[str], list[Any]]:
            keys = [
                self.keys.contact(contact_id),
                self.keys.wrapups,
                self.keys.events,
                self.keys.lawyer(lawyer_id),
                self.keys.stats(service),
            ]
            args = [now, EVENTS_MAXLEN, ended_by, wrapup_s, lawyer_id, service, int(keep_s)]
            return keys, args

        return await self._call_on_contact("endContact", contact_id, build, refs)

    async def abandon(
        self,
        contact_id: str,
        now: float,
        reason: str,
        keep_s: float = KEEP_ENDED_S,
        refs: Refs | None = None,
    ) -> int:
        """1 abandoned, 0 already over, -1 connected (end it instead), -2 unknown."""

        def build(lawyer_id: str, service: str) -> tuple[list[str], list[Any]]:
            keys = [
                self.keys.contact(contact_id),
                self.keys.waiting,
                self.keys.offers,
                self.keys.events,
                self.keys.lawyer(lawyer_id),
                self.keys.stats(service),
            ]
            return keys, [now, EVENTS_MAXLEN, reason, lawyer_id, service, int(keep_s)]

        return await self._call_on_contact("abandonContact", contact_id, build, refs)

    async def line_gone(
        self,
        contact_id: str,
        now: float,
        reason: str,
        ended_by: str,
        wrapup_s: float,
        keep_s: float = KEEP_ENDED_S,
        refs: Refs | None = None,
    ) -> int:
        """The caller's line is gone, whatever the contact's state now: 1 abandoned
        (with `reason`), 2 ended (by `ended_by`), 0 nothing to do, -2 unknown."""

        def build(lawyer_id: str, service: str) -> tuple[list[str], list[Any]]:
            keys = [
                self.keys.contact(contact_id),
                self.keys.waiting,
                self.keys.offers,
                self.keys.wrapups,
                self.keys.events,
                self.keys.lawyer(lawyer_id),
                self.keys.stats(service),
            ]
            args = [now, EVENTS_MAXLEN, lawyer_id, service, reason, ended_by, wrapup_s]
            return keys, [*args, int(keep_s)]

        return await self._call_on_contact("lineGone", contact_id, build, refs)

    async def request_callback(
        self, contact_id: str, number: str, now: float, day: str, per_day: int
    ) -> int:
        """1 marked, 0 already a callback, -1 no longer waiting, -3 this number has had
        `per_day` callbacks on `day` (the local date, YYYYMMDD) already."""
        keys = [
            self.keys.contact(contact_id),
            self.keys.events,
            self.keys.callbacks_day(number, day),
        ]
        # The counter outlives its day by one, whatever the time zone.
        args = [now, EVENTS_MAXLEN, number, per_day, 2 * 86400]
        return int(await self._call("requestCallback", keys, args))

    async def assign(self, contact_id: str, lawyer_id: str, now: float) -> int:
        """1 held for this lawyer from now; -1 not waiting; -2 no such lawyer."""
        keys = [self.keys.contact(contact_id), self.keys.events, self.keys.lawyer(lawyer_id)]
        return int(await self._call("assignContact", keys, [now, EVENTS_MAXLEN, lawyer_id]))

    async def claim_dialout(self, contact: Contact, worker: str) -> bool:
        """One worker, and only one, places this attempt of a callback."""
        key = self.keys.dialout(contact.id, contact.callback_attempts)
        return bool(await self.redis.set(key, worker, nx=True, ex=3600))

    async def callback_failed(
        self,
        contact_id: str,
        now: float,
        retry_at: float,
        attempts: int,
        reason: str,
        sl_s: float,
        keep_s: float = KEEP_ENDED_S,
        refs: Refs | None = None,
    ) -> int:
        """1 scheduled for a retry, 2 given up after the last attempt, -1 not applicable."""

        def build(lawyer_id: str, service: str) -> tuple[list[str], list[Any]]:
            keys = [
                self.keys.contact(contact_id),
                self.keys.callbacks,
                self.keys.events,
                self.keys.lawyer(lawyer_id),
                self.keys.stats(service),
            ]
            args = [now, EVENTS_MAXLEN, lawyer_id, retry_at, attempts, reason, sl_s, service]
            return keys, [*args, int(keep_s)]

        return await self._call_on_contact("callbackFailed", contact_id, build, refs)

    async def retry_callback(self, contact_id: str, now: float) -> bool:
        keys = [
            self.keys.contact(contact_id),
            self.keys.callbacks,
            self.keys.waiting,
            self.keys.events,
        ]
        return await self._call("retryCallback", keys, [now, EVENTS_MAXLEN, contact_id]) == 1

    async def rate(self, contact_id: str, score: int, now: float) -> int:
        """1 stored, 0 already rated, -1 never connected."""
        keys = [self.keys.contact(contact_id), self.keys.events]
        return int(await self._call("rateContact", keys, [now, EVENTS_MAXLEN, score]))

    async def raise_alert(self, contact_id: str, alert_json: str, now: float) -> bool:
        """A public-opinion alert on this contact: event `transcript.alert` and P:alerts."""
        keys = [self.keys.contact(contact_id), self.keys.events, self.keys.alerts]
        args = [now, EVENTS_MAXLEN, alert_json, ALERTS_KEPT]
        return int(await self._call("raiseAlert", keys, args)) == 1

    async def transcript_closed(self, contact_id: str, now: float) -> bool:
        """The contact's transcript is complete: event `transcript.closed` for the ledger."""
        keys = [self.keys.contact(contact_id), self.keys.events]
        return int(await self._call("closeTranscript", keys, [now, EVENTS_MAXLEN])) == 1

    async def recent_alerts(self, limit: int = 100) -> list[dict[str, Any]]:
        return [json.loads(a) for a in await self.redis.lrange(self.keys.alerts, 0, limit - 1)]

    async def transfer(
        self,
        contact_id: str,
        lawyer_id: str,
        now: float,
        wrapup_s: float,
        to_lawyer: str,
        to_service: str,
        note: str,
        refs: Refs | None = None,
    ) -> int:
        """1 transferred, -1 not this lawyer's connected contact, -2 no such target lawyer."""

        def build(_: str, service: str) -> tuple[list[str], list[Any]]:
            keys = [
                self.keys.contact(contact_id),
                self.keys.waiting,
                self.keys.wrapups,
                self.keys.events,
                self.keys.lawyer(lawyer_id),
                self.keys.stats(service),
                self.keys.lawyer(to_lawyer),
            ]
            args = [now, EVENTS_MAXLEN, service, wrapup_s, lawyer_id, to_lawyer, to_service]
            return keys, [*args, note]

        return await self._call_on_contact("transferContact", contact_id, build, refs)

    async def save_case(self, contact_id: str, lawyer_id: str, form: str, now: float) -> int:
        """1 saved, -1 not this lawyer's contact, -2 not connected or ended."""
        keys = [self.keys.contact(contact_id), self.keys.events]
        return int(await self._call("saveCase", keys, [now, EVENTS_MAXLEN, lawyer_id, form]))

    async def history(self, number: str, limit: int = 20) -> list[dict[str, str]]:
        """The latest contacts from this number, newest first, as stored."""
        ids = await self.redis.zrevrange(self.keys.history(number), 0, limit - 1)
        async with self.redis.pipeline(transaction=False) as pipe:
            for cid in ids:
                pipe.hgetall(self.keys.contact(cid))
            return [h for h in await pipe.execute() if h]

    async def call_event(self, kind: str, now: float, **fields: str) -> None:
        """A telephony fact for the record (menu choices...): one XADD, atomic on its own."""
        entry = {"type": kind, "at": f"{now:.6f}", **fields}
        # No trim here: the scripts' appends trim, minding what the ledger still needs.
        await self.redis.xadd(self.keys.events, entry)

    async def get_contact(self, contact_id: str) -> Contact | None:
        h = await self.redis.hgetall(self.keys.contact(contact_id))
        return Contact.from_hash(h) if h else None

    async def get_contact_hash(self, contact_id: str) -> dict[str, str]:
        return await self.redis.hgetall(self.keys.contact(contact_id))

    # ----- lawyers ----------------------------------------------------------------

    async def create_lawyer(self, lawyer: Lawyer, now: float) -> bool:
        """A new lawyer, off duty; False (and nothing changed) if the id exists."""
        fields = [x for kv in lawyer.to_hash().items() for x in kv]
        keys = [self.keys.lawyer(lawyer.id), self.keys.lawyers, self.keys.events]
        return await self._call("createLawyer", keys, [now, EVENTS_MAXLEN, *fields]) == 1

    async def update_lawyer(self, lawyer_id: str, fields: Mapping[str, str], now: float) -> bool:
        """Change these profile fields (Lawyer.to_hash names) of an existing lawyer;
        False if there is no such lawyer."""
        flat = [x for kv in fields.items() for x in kv]
        keys = [self.keys.lawyer(lawyer_id), self.keys.events]
        return await self._call("updateLawyer", keys, [now, EVENTS_MAXLEN, *flat]) == 1

    async def add_roster_exception(
        self, lawyer_id: str, exception: RosterException, now: float, most: int, keep_from: str
    ) -> int:
        """1 added; -1 no such lawyer; -2 they have `most` already; -3 the id is taken.
        Entries that ended before `keep_from` (YYYY-MM-DD) are dropped."""
        keys = [self.keys.lawyer(lawyer_id), self.keys.events]
        entry = json.dumps(exception.to_json(), ensure_ascii=False)
        args = [now, EVENTS_MAXLEN, entry, most, keep_from]
        return int(await self._call("addRosterException", keys, args))

    async def remove_roster_exception(self, lawyer_id: str, exception_id: str, now: float) -> int:
        """1 removed; 0 the lawyer has no such entry; -1 no such lawyer."""
        keys = [self.keys.lawyer(lawyer_id), self.keys.events]
        args = [now, EVENTS_MAXLEN, exception_id]
        return int(await self._call("removeRosterException", keys, args))

    async def set_presence(
        self,
        lawyer_id: str,
        presence: Presence,
        now: float,
        reason: str = "",
        stale_before: float = 0.0,
    ) -> int:
        """1 changed, 0 the console was heard from after `stale_before`, -1 unknown lawyer."""
        for _ in range(STALE_RETRIES):
            offer = await self.redis.hget(self.keys.lawyer(lawyer_id), "offer") or ""
            keys = [
                self.keys.lawyer(lawyer_id),
                self.keys.offers,
                self.keys.waiting,
                self.keys.events,
                self.keys.consoles,
                self.keys.contact(offer),
            ]
            args = [now, EVENTS_MAXLEN, offer, presence, reason, stale_before]
            result = int(await self._call("setPresence", keys, args))
            if result != STALE:
                return result
        raise RuntimeError("setPresence: the lawyer's offer kept changing under it")

    async def finish_wrapup(self, lawyer_id: str, now: float, ready: bool) -> bool:
        keys = [self.keys.lawyer(lawyer_id), self.keys.wrapups, self.keys.events]
        args = [now, EVENTS_MAXLEN, lawyer_id, "1" if ready else "0"]
        return await self._call("finishWrapup", keys, args) == 1

    async def extend_wrapup(self, lawyer_id: str, now: float, extend_s: float, allowed: int) -> int:
        """1 the wrap-up's end moved on by `extend_s`; 0 not in wrap-up; -1 it has been
        extended `allowed` times already."""
        keys = [self.keys.lawyer(lawyer_id), self.keys.wrapups, self.keys.events]
        args = [now, EVENTS_MAXLEN, lawyer_id, extend_s, allowed]
        return int(await self._call("extendWrapup", keys, args))

    async def console_seen(self, lawyer_id: str, now: float) -> None:
        """The lawyer's console is alive (a plain ZADD is atomic on its own)."""
        await self.redis.zadd(self.keys.consoles, {lawyer_id: now}, xx=True)

    async def get_lawyer_hash(self, lawyer_id: str) -> dict[str, str]:
        return await self.redis.hgetall(self.keys.lawyer(lawyer_id))

    async def get_lawyer(self, lawyer_id: str) -> Lawyer | None:
        h = await self.get_lawyer_hash(lawyer_id)
        return Lawyer.from_hash(h) if h else None

    # ----- sweeping and reading -----------------------------------------------------

    async def due(self, key: str, now: float, limit: int = 500) -> list[str]:
        """Members of a deadline zset whose time has come."""
        return await self.redis.zrangebyscore(key, "-inf", now, start=0, num=limit)

    async def offered_to(self, contact_ids: Sequence[str]) -> list[str | None]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for cid in contact_ids:
                pipe.hget(self.keys.contact(cid), "lawyer")
            return [r or None for r in await pipe.execute()]

    async def snapshot(self) -> Snapshot:
        """The waiting contacts and every lawyer, with the stream position they are
        current to. The script must declare each hash it reads, so the ids are read
        first; it refuses (and we read again) if an id joined a set in between."""
        for _ in range(SNAPSHOT_RETRIES):
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.zrange(self.keys.waiting, 0, -1)
                pipe.smembers(self.keys.lawyers)
                contact_ids, lawyer_ids = await pipe.execute()
            lawyer_ids = sorted(lawyer_ids)
            keys = [
                self.keys.waiting,
                self.keys.lawyers,
                self.keys.events,
                *(self.keys.contact(c) for c in contact_ids),
                *(self.keys.lawyer(lw) for lw in lawyer_ids),
            ]
            reply = await self._call(
                "snapshot", keys, [len(contact_ids), *contact_ids, *lawyer_ids]
            )
            if reply[0] == "retry":
                continue
            last_id, contacts, lawyers = reply
            return Snapshot(
                last_event_id=last_id,
                contacts=[Contact.from_hash(_pairs(c)) for c in contacts if c],
                lawyers=[Lawyer.from_hash(_pairs(lw)) for lw in lawyers if lw],
            )
        raise RuntimeError("snapshot: the queue kept changing while it was read")

    async def read_events(
        self, after_id: str, block_ms: int | None = None, count: int = 1000
    ) -> list[Event]:
        reply = await self.redis.xread({self.keys.events: after_id}, count=count, block=block_ms)
        if not reply:
            return []
        _, entries = reply[0]
        events = []
        for eid, fields in entries:
            try:
                events.append(decode_event(eid, fields))
            except (KeyError, ValueError, TypeError):
                # One bad entry (another version, a hand-made XADD) must not stop a follower.
                log.error("undecodable queue event skipped", extra={"id": eid, "fields": fields})
                events.append(Event(eid, "invalid", 0.0, None, None, "", fields))
        return events

    async def stats(self, service: Service) -> dict[str, float]:
        raw = await self.redis.hgetall(self.keys.stats(service))
        return {k: float(v) for k, v in raw.items()}


def _pairs(flat: Sequence[str]) -> dict[str, str]:
    return dict(zip(flat[::2], flat[1::2], strict=True))
