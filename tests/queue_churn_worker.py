"""One lawline process's worth of queue traffic, for the multi-process queue test.

    python -m tests.queue_churn_worker REDIS_URL WORKER SEED OPS

Runs a QueueService (its event, routing and sweep loops, on the real clock) and,
meanwhile, plays callers, lawyers and consoles at random against the same Redis
as the other workers. Prints a JSON summary on stdout.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from typing import Any

from redis.asyncio import Redis

from lawline.config import Settings
from lawline.queue.model import Contact, Lawyer
from lawline.queue.service import QueueService
from lawline.queue.settings import RoutingSettings
from lawline.queue.skills import Channel, Domain, GreenReason, Presence, Service
from lawline.queue.store import QueueStore
from tests.queue_helpers import stop_service

LAWYER_IDS = [f"L{i}" for i in range(6)]
# Short timers so that offers time out, wrap-ups end and consoles go silent in a
# run of a second or two.
CHURN_ROUTING = RoutingSettings(
    offer_timeout_s=0.25,
    max_missed_offers=2,
    wrapup_s=0.05,
    green_boost_s=1.0,
    preferred_lawyer_s=0.3,
    console_timeout_s=0.8,
    default_policy={
        "steps": [
            {"after_s": 0, "min_proficiency": 3},
            {"after_s": 0.2, "min_proficiency": 1},
            {"after_s": 0.5, "match_domain": False},
        ]
    },
)


def churn_lawyers() -> list[Lawyer]:
    """The panel every worker shares: mixed skills, languages and capacities."""
    zh, mn = "zh", "mn"
    c, a = Service.CONSULTATION, Service.LEGAL_AID
    specs: list[tuple[dict[Service, int], dict[Domain, int], set[str], int, int]] = [
        ({c: 4, a: 2}, {Domain.LABOUR: 5}, {zh}, 1, 0),
        ({c: 3}, {Domain.MARRIAGE_FAMILY: 4}, {zh, mn}, 2, 0),
        ({c: 2, a: 4}, {Domain.LAND_HOMESTEAD: 3}, {zh}, 1, 1),
        ({c: 3}, {Domain.LABOUR: 2}, {mn}, 1, 0),
        ({a: 5}, {Domain.LABOUR: 3, Domain.TRAFFIC: 4}, {zh}, 1, 0),
        ({c: 1, a: 1}, {}, {zh}, 2, 1),
    ]
    return [
        Lawyer(
            id=lid,
            name=lid,
            services=services,
            domains=domains,
            languages=frozenset(langs),
            capacity={Channel.VOICE: voice, Channel.VIDEO: video},
        )
        for lid, (services, domains, langs, voice, video) in zip(LAWYER_IDS, specs, strict=True)
    ]


def new_contact(rng: random.Random, contact_id: str) -> Contact:
    return Contact(
        id=contact_id,
        channel=rng.choice([Channel.VOICE] * 4 + [Channel.VIDEO]),
        service=rng.choice([Service.CONSULTATION] * 3 + [Service.LEGAL_AID]),
        language=rng.choice(["zh"] * 4 + ["mn"]),
        entered_at=time.time(),
        domain=rng.choice([None, Domain.LABOUR, Domain.MARRIAGE_FAMILY, Domain.TRAFFIC]),
        caller=f"+86 {rng.randrange(10**10):010d}",
        green=rng.choice([None] * 4 + [GreenReason.MIGRANT_WAGES]),
        preferred_lawyer=rng.choice([None] * 6 + LAWYER_IDS),
    )


async def churn(url: str, worker: int, seed: int, ops: int) -> dict[str, Any]:
    rng = random.Random(seed)
    redis = Redis.from_url(url, decode_responses=True)
    store = QueueStore(redis)
    service = QueueService(store, Settings(routing=CHURN_ROUTING), tick_s=0.02, sweep_s=0.03)
    added: list[str] = []
    connected: list[str] = []
    results: dict[str, int] = {}

    def note(what: str, result: object) -> None:
        key = f"{what}={result}"
        results[key] = results.get(key, 0) + 1

    def some_contact() -> str | None:
        if rng.random() < 0.3:  # someone else's: races with the other workers
            return f"w{rng.randrange(3)}-{rng.randrange(ops)}"
        pool = connected if connected and rng.random() < 0.6 else added
        return rng.choice(pool) if pool else None

    await service.start()
    try:
        for i in range(ops):
            roll = rng.random()
            lid = rng.choice(LAWYER_IDS)
            if roll < 0.25:
                cid = f"w{worker}-{i}"
                if await service.add_contact(new_contact(rng, cid)):
                    added.append(cid)
            elif roll < 0.50:
                offer = (await store.get_lawyer_hash(lid)).get("offer")
                if offer and rng.random() < 0.75:
                    ok = await service.accept(offer, lid)
                    note("accept", ok)
                    if ok:
                        connected.append(offer)
                elif offer:
                    note("reject", await service.reject(offer, lid))
            elif roll < 0.65:
                cid = some_contact()
                if cid:
                    note("end", await service.end(cid, rng.choice(["caller", "lawyer"])))
            elif roll < 0.75:
                presence = rng.choice([Presence.AVAILABLE] * 5 + [Presence.BREAK, Presence.OFFLINE])
                note("presence", await service.set_presence(lid, presence))
            elif roll < 0.82:
                cid = some_contact()
                if cid:
                    note("abandon", await service.abandon(cid))
            elif roll < 0.86:
                cid = some_contact()
                if cid:
                    note("callback", await service.request_callback(cid, "+86 13800000000"))
            elif roll < 0.90:
                note("ready", await service.ready(lid))
            elif roll < 0.93:
                # A profile change: new skills, same capacity.
                profile = next(lw for lw in churn_lawyers() if lw.id == lid)
                levels = {svc: rng.randint(1, 5) for svc in profile.services}
                changed = profile.with_changes(services=levels).to_hash()
                note("update", await service.update_lawyer(lid, changed))
            # Consoles of lawyers on duty keep saying they are alive (most of the time).
            for other in LAWYER_IDS:
                if rng.random() < 0.3:
                    await service.console_seen(other)
            await asyncio.sleep(rng.uniform(0, 0.006))
    finally:
        await stop_service(service)
        await redis.aclose()
    return {
        "worker": worker,
        "added": added,
        "offers_made": service.offers_made,
        "offer_conflicts": service.offer_conflicts,
        "results": results,
    }


def main() -> None:
    url, worker, seed, ops = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    print(json.dumps(asyncio.run(churn(url, worker, seed, ops))))


if __name__ == "__main__":
    main()
