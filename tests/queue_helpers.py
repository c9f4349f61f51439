"""Shared pieces for the queue tests: a fake clock, factories, a Redis-backed harness,
and checks of the queue's state and event stream that every Redis test can reuse."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis

from lawline.config import Settings
from lawline.queue.keys import LEDGER_GROUP
from lawline.queue.model import Contact, Lawyer
from lawline.queue.service import QueueService
from lawline.queue.settings import RoutingSettings
from lawline.queue.skills import Channel, Domain, GreenReason, Presence, Service
from lawline.queue.store import QueueStore

# A fixed, plausible epoch second: 2023-11-14 22:13:20 UTC.
T0 = 1_700_000_000.0
CONTACT_STATES = {"waiting", "offered", "connected", "ended", "abandoned"}


class FakeClock:
    """Time that moves only when a test says so."""

    def __init__(self, start: float = T0) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> float:
        assert seconds >= 0
        self.t += seconds
        return self.t


def lawyer(
    lawyer_id: str,
    *,
    services: Mapping[Service, int] | None = None,
    domains: Mapping[Domain, int] | None = None,
    languages: frozenset[str] | set[str] = frozenset({"zh"}),
    voice: int = 1,
    video: int = 0,
) -> Lawyer:
    """A lawyer profile as the roster admin would enter it (no work in hand)."""
    return Lawyer(
        id=lawyer_id,
        name=f"Lawyer {lawyer_id}",
        services=dict(services if services is not None else {Service.CONSULTATION: 3}),
        domains=dict(domains or {}),
        languages=frozenset(languages),
        capacity={Channel.VOICE: voice, Channel.VIDEO: video},
    )


def contact(
    contact_id: str,
    entered_at: float,
    *,
    service: Service = Service.CONSULTATION,
    domain: Domain | None = None,
    language: str = "zh",
    channel: Channel = Channel.VOICE,
    green: GreenReason | None = None,
    preferred_lawyer: str | None = None,
) -> Contact:
    return Contact(
        id=contact_id,
        channel=channel,
        service=service,
        language=language,
        entered_at=entered_at,
        domain=domain,
        caller=f"+86-{contact_id}",
        green=green,
        preferred_lawyer=preferred_lawyer,
    )


@dataclass
class Harness:
    """One QueueService on a fake clock, driven by hand: no background loops."""

    redis: Redis
    store: QueueStore
    service: QueueService
    clock: FakeClock

    async def pump(self) -> None:
        """Fold every new event into the service's router, as its event loop would."""
        while True:
            events = await self.store.read_events(self.service._last_event_id)
            if not events:
                return
            for event in events:
                self.service.apply(event)

    async def route(self) -> list[tuple[str, str]]:
        await self.pump()
        made = await self.service.route_once()
        await self.pump()
        return [(o.contact_id, o.lawyer_id) for o in made]

    async def sweep(self) -> None:
        await self.pump()
        await self.service.sweep_once()
        await self.pump()

    async def add_lawyer(self, profile: Lawyer, presence: Presence = Presence.AVAILABLE) -> None:
        assert await self.service.create_lawyer(profile)
        assert await self.service.set_presence(profile.id, presence) == 1
        await self.pump()

    async def add(self, c: Contact) -> None:
        assert await self.service.add_contact(c)
        await self.pump()

    async def contact_hash(self, contact_id: str) -> dict[str, str]:
        return await self.store.get_contact_hash(contact_id)

    async def lawyer_hash(self, lawyer_id: str) -> dict[str, str]:
        return await self.store.get_lawyer_hash(lawyer_id)

    async def events(self) -> list[dict[str, Any]]:
        return [
            {"id": eid, **fields}
            for eid, fields in await self.redis.xrange(self.store.keys.events, "-", "+")
        ]


def routing_settings(**overrides: Any) -> Settings:
    return Settings(routing=RoutingSettings(**overrides))


@asynccontextmanager
async def harness(
    url: str,
    settings: Settings | None = None,
    clock: FakeClock | None = None,
    prefix: str = "ll",
) -> AsyncIterator[Harness]:
    redis = Redis.from_url(url, decode_responses=True)
    try:
        store = QueueStore(redis, prefix)
        clock = clock or FakeClock()
        # Consoles count as alive unless a test's settings say otherwise: tests that move
        # the clock by minutes would otherwise see every lawyer's console time out.
        settings = settings or routing_settings(console_timeout_s=86_400)
        service = QueueService(store, settings, clock=clock)
        await service.resync()
        yield Harness(redis, store, service, clock)
    finally:
        await redis.aclose()


async def stop_service(service: QueueService) -> None:
    await service.stop()


# ----- whole-state checks -----------------------------------------------------------


async def dump_state(redis: Redis, prefix: str = "ll") -> dict[str, Any]:
    """Every queue key's content (the event stream by length and last id)."""
    out: dict[str, Any] = {}
    for key in sorted(await redis.keys(f"{prefix}:*")):
        kind = await redis.type(key)
        if kind == "hash":
            out[key] = await redis.hgetall(key)
        elif kind == "zset":
            out[key] = await redis.zrange(key, 0, -1, withscores=True)
        elif kind == "set":
            out[key] = sorted(await redis.smembers(key))
        elif kind == "stream":
            last = await redis.xrevrange(key, "+", "-", count=1)
            out[key] = (await redis.xlen(key), last[0][0] if last else None)
        else:
            out[key] = await redis.get(key)
    return out


@dataclass
class Replay:
    """What the event stream says happened, and any broken rule it shows."""

    contacts: dict[str, dict[str, str]] = field(default_factory=dict)
    lawyers: dict[str, dict[str, str]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    violations: list[str] = field(default_factory=list)


def replay_events(entries: list[tuple[str, Mapping[str, str]]]) -> Replay:
    """Walk the stream in commit order and check the queue's safety rules at every step."""
    rp = Replay()
    for eid, fields in entries:
        etype = fields["type"]
        rp.counts[etype] += 1
        c = json.loads(fields["contact"]) if "contact" in fields else None
        lw = json.loads(fields["lawyer"]) if "lawyer" in fields else None
        if etype == "contact.offered":
            assert c is not None and lw is not None
            before = rp.contacts.get(c["id"], {}).get("state")
            if before != "waiting":
                rp.violations.append(f"{eid}: {c['id']} offered while {before}")
            held = rp.lawyers.get(lw["id"], {}).get("offer", "")
            if held:
                rp.violations.append(f"{eid}: {lw['id']} offered {c['id']} holding {held}")
        if c is not None:
            rp.contacts[c["id"]] = c
        if lw is not None:
            rp.lawyers[lw["id"]] = lw
            for ch in ("voice", "video"):
                if int(lw.get(f"load_{ch}", 0)) > int(lw.get(f"cap_{ch}", 0)):
                    rp.violations.append(f"{eid}: {lw['id']} over capacity on {ch}")
            if int(lw.get("load_voice", 0)) > 0 and int(lw.get("load_video", 0)) > 0:
                rp.violations.append(f"{eid}: {lw['id']} in voice and video at once")
        # At every step: one offer per lawyer, and a lawyer's connected contacts fit.
        offered: dict[str, list[str]] = defaultdict(list)
        connected: dict[tuple[str, str], int] = defaultdict(int)
        for cid, ch in rp.contacts.items():
            if ch["state"] == "offered":
                offered[ch["lawyer"]].append(cid)
            elif ch["state"] == "connected":
                connected[(ch["lawyer"], ch["channel"])] += 1
        for lid, cids in offered.items():
            if len(cids) > 1:
                rp.violations.append(f"{eid}: {lid} holds offers {sorted(cids)}")
        for (lid, ch), n in connected.items():
            cap = int(rp.lawyers.get(lid, {}).get(f"cap_{ch}", 0))
            if n > cap:
                rp.violations.append(f"{eid}: {lid} connected to {n} {ch} contacts (cap {cap})")
    return rp


async def check_consistent(redis: Redis, prefix: str = "ll") -> list[str]:
    """Problems with the queue's state in Redis as it stands (empty: consistent)."""
    problems: list[str] = []
    contacts: dict[str, dict[str, str]] = {}
    for key in await redis.keys(f"{prefix}:contact:*"):
        h = await redis.hgetall(key)
        contacts[h["id"]] = h
        if h.get("state") not in CONTACT_STATES:
            problems.append(f"{h['id']} in unknown state {h.get('state')!r}")
    lawyers = {
        lid: await redis.hgetall(f"{prefix}:lawyer:{lid}")
        for lid in await redis.smembers(f"{prefix}:lawyers")
    }
    waiting = dict(await redis.zrange(f"{prefix}:waiting", 0, -1, withscores=True))
    offers = set(await redis.zrange(f"{prefix}:offers", 0, -1))
    should_wait = {cid for cid, h in contacts.items() if h["state"] == "waiting"}
    if set(waiting) != should_wait:
        problems.append(f"waiting zset {sorted(waiting)} != waiting contacts {sorted(should_wait)}")
    for cid, score in waiting.items():
        if cid in contacts and float(contacts[cid]["entered_at"]) != score:
            problems.append(f"{cid} queued at {score}, entered at {contacts[cid]['entered_at']}")
    should_offer = {cid for cid, h in contacts.items() if h["state"] == "offered"}
    if offers != should_offer:
        problems.append(f"offers zset {sorted(offers)} != offered contacts {sorted(should_offer)}")
    load: dict[tuple[str, str], int] = defaultdict(int)
    for cid, h in contacts.items():
        if h["state"] == "offered" and lawyers.get(h["lawyer"], {}).get("offer") != cid:
            problems.append(f"{cid} offered to {h['lawyer']}, who does not hold it")
        if h["state"] == "connected":
            load[(h["lawyer"], h["channel"])] += 1
        if h["state"] == "waiting" and h.get("lawyer"):
            problems.append(f"{cid} waiting but still assigned to {h['lawyer']}")
    for lid, h in lawyers.items():
        offer = h.get("offer", "")
        held = contacts.get(offer, {})
        if offer and (held.get("state"), held.get("lawyer")) != ("offered", lid):
            problems.append(f"{lid} holds offer {offer}, which is not offered to them")
        for ch in ("voice", "video"):
            n = int(h.get(f"load_{ch}", 0))
            if n != load[(lid, ch)]:
                problems.append(f"{lid} load_{ch}={n} but {load[(lid, ch)]} connected")
            if n > int(h.get(f"cap_{ch}", 0)):
                problems.append(f"{lid} over capacity on {ch}")
        if bool(offer) != (h.get("state") == "offered"):
            problems.append(f"{lid} state {h.get('state')} with offer {offer!r}")
        if not offer and int(h["load_voice"]) + int(h["load_video"]) > 0 and h["state"] != "busy":
            problems.append(f"{lid} has calls but is {h['state']}")
    return problems


async def ledger_caught_up(redis: Redis, stream: str = "ll:events") -> bool:
    """The ledger's consumer group has been given the stream's last event and has
    acknowledged every one (an event is in the ledger a moment before it is acked)."""
    last = (await redis.xrevrange(stream, count=1))[0][0]
    group = next(g for g in await redis.xinfo_groups(stream) if g["name"] == LEDGER_GROUP)
    return group["last-delivered-id"] == last and group["pending"] == 0
