"""Load test of the duty-lawyer queue through the real QueueService.

Run by hand from the project root:

    .venv/bin/python bench/queue_bench.py                  # 100, 1,000 and 10,000 waiting
    .venv/bin/python bench/queue_bench.py --fsync always   # production's AOF setting
    .venv/bin/python bench/queue_bench.py --profile        # cProfile the 10,000 level

What runs is the production path: `QueueService.start()` starts its own loops, as
`lawline serve` would. `_follow_events` reads the Redis event stream (XREAD), decodes
each event and folds it into the Router (`apply`); `_route_loop` wakes on every change
and calls `route_once` (Router.plan, then the offerContact Lua script through
`QueueStore.offer_many`); `_sweep_loop` runs its timers. The simulated consoles live in
the same process and event loop, as the API handlers of a lawline process would: they
learn of offers through `QueueService.subscribe()` and call the service's `accept`,
`end` and `console_seen`, each call its own task. New callers come from one task with a
connection of its own, like a telephony gateway: whenever the waiting zset is short of
the level it puts callers through (addContact, pipelined). The loop is uvloop, which
uvicorn picks when it is installed (`--loop asyncio` for the stdlib loop).

The only instrumentation: wrappers around `offer_many` and `route_once` on the one
QueueStore/QueueService instance, which timestamp committed offers and note which
free lawyers a routing pass found nothing for.

Latency: from the moment a lawyer's `end` call returned (endContact with 0 s wrap-up,
so the lawyer is available at once) to the moment the `offer_many` round trip that
committed an offer to that lawyer returned. Lawyers for whom the first routing pass
that saw them free found no eligible caller are counted apart ("nothing eligible
yet"): their wait depends on who is in the queue, not on the system.

Load: each level starts with every lawyer busy (connected to one contact) and the
queue filled to the level, the waiting callers having entered over the last
`--backlog-s` seconds. Lawyers then finish calls at up to `--rate` per second, oldest
call first, and accept each offer at once. "full" runs at --rate (2,000/s, the aim);
"part" runs afresh at --part (half) of the assignment rate "full" reached, to show the
latency below saturation.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import os
import pstats
import random
import sys
import tempfile
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import time as daytime
from pathlib import Path
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis

from lawline.config import Settings
from lawline.queue.model import Contact, Lawyer, Shift
from lawline.queue.routing import Offer, QueueKey, Router
from lawline.queue.service import QueueService
from lawline.queue.settings import RoutingSettings
from lawline.queue.skills import Channel, Domain, GreenReason, Presence, Service
from lawline.queue.store import Event, OfferResult, QueueStore
from lawline.redis_server import EmbeddedRedis

# ----- the population ------------------------------------------------------------------

SERVICE_MIX = {
    Service.CONSULTATION: 60,
    Service.LEGAL_AID: 20,
    Service.MEDIATION: 10,
    Service.NOTARISATION: 5,
    Service.COMPLAINT: 5,
}
DOMAIN_MIX = {
    Domain.LABOUR: 26,
    Domain.MARRIAGE_FAMILY: 22,
    Domain.LENDING_CONTRACTS: 10,
    Domain.LAND_HOMESTEAD: 8,
    Domain.TRAFFIC: 8,
    Domain.CONSUMER: 6,
    Domain.SOCIAL_SECURITY: 6,
    Domain.HOUSING_DEMOLITION: 5,
    Domain.NEIGHBOUR: 5,
    Domain.OTHER: 4,
}
PROFICIENCY_WEIGHTS = [10, 20, 35, 25, 10]  # for 1..5
MN_CONTACTS = 0.05
MN_LAWYERS = 0.08
VIDEO_CONTACTS = 0.15
VIDEO_LAWYERS = 0.30
GREEN = 0.10
PREFERRED = 0.02
NO_DOMAIN = 0.05  # the caller skipped the domain menu
WEEKDAYS = frozenset(range(5))
EVERY_DAY = frozenset(range(7))


def _weighted_sample(rng: random.Random, mix: dict[Any, float], k: int) -> list[Any]:
    """k distinct keys of `mix`, drawn by weight."""
    pool = dict(mix)
    out = []
    for _ in range(min(k, len(pool))):
        (pick,) = rng.choices(list(pool), weights=list(pool.values()))
        out.append(pick)
        del pool[pick]
    return out


class Population:
    """Lawyers and callers with the hotline's mix; deterministic for one seed."""

    def __init__(self, n_lawyers: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.lawyers = [self._lawyer(i) for i in range(n_lawyers)]
        # Who could serve each queue: preferred lawyers are chosen among them.
        self.servers: dict[QueueKey, list[str]] = {}
        for lw in self.lawyers:
            for ch, cap in lw.capacity.items():
                if cap < 1:
                    continue
                for lang in lw.languages:
                    for svc in lw.services:
                        self.servers.setdefault((ch, lang, svc), []).append(lw.id)
        self._n = 0

    def _lawyer(self, i: int) -> Lawyer:
        rng = self.rng
        # Lawyers' skills are spread more evenly than calls, so rare services are staffed.
        services = _weighted_sample(
            rng, {s: w**0.5 for s, w in SERVICE_MIX.items()}, rng.randint(1, 3)
        )
        domains = _weighted_sample(
            rng, {d: w**0.7 for d, w in DOMAIN_MIX.items()}, rng.randint(2, 4)
        )
        r = rng.random()
        if r < 0.7:
            roster = (Shift(WEEKDAYS, daytime(8, 30), daytime(17, 30)),)
        elif r < 0.9:
            roster = (
                Shift(WEEKDAYS, daytime(8, 30), daytime(17, 30)),
                Shift(frozenset({5, 6}), daytime(9, 0), daytime(17, 0)),
            )
        else:
            roster = (Shift(EVERY_DAY, daytime(18, 0), daytime(8, 30)),)
        return Lawyer(
            id=f"L{i:05d}",
            name=f"值班律师{i:05d}",
            services={s: self._proficiency() for s in services},
            domains={d: self._proficiency() for d in domains},
            languages=frozenset({"zh", "mn"}) if rng.random() < MN_LAWYERS else frozenset({"zh"}),
            capacity={Channel.VOICE: 1, Channel.VIDEO: 1 if rng.random() < VIDEO_LAWYERS else 0},
            roster=roster,
        )

    def _proficiency(self) -> int:
        return self.rng.choices(range(1, 6), weights=PROFICIENCY_WEIGHTS)[0]

    def _next_id(self) -> str:
        self._n += 1
        return f"C{self._n:08d}"

    def contact(self, entered_at: float) -> Contact:
        rng = self.rng
        (service,) = rng.choices(list(SERVICE_MIX), weights=list(SERVICE_MIX.values()))
        language = "mn" if rng.random() < MN_CONTACTS else "zh"
        channel = Channel.VIDEO if rng.random() < VIDEO_CONTACTS else Channel.VOICE
        domain = None
        if rng.random() >= NO_DOMAIN:
            (domain,) = rng.choices(list(DOMAIN_MIX), weights=list(DOMAIN_MIX.values()))
        preferred = None
        servers = self.servers.get((channel, language, service))
        if servers and rng.random() < PREFERRED:
            preferred = rng.choice(servers)
        attrs = {
            "menu": f"{list(Service).index(service) + 1}",
            "region": f"15{rng.randrange(10**4):04d}",
        }
        if channel == Channel.VIDEO:
            attrs["terminal"] = f"village-{rng.randrange(5000)}"
        return Contact(
            id=self._next_id(),
            channel=channel,
            service=service,
            language=language,
            entered_at=entered_at,
            domain=domain,
            caller=f"1{rng.randrange(3 * 10**9, 10**10)}",
            green=rng.choice(list(GreenReason)) if rng.random() < GREEN else None,
            preferred_lawyer=preferred,
            attrs=attrs,
        )

    def contact_for(self, lawyer: Lawyer, entered_at: float) -> Contact:
        """A plain voice contact this lawyer can take (to make everyone busy)."""
        return Contact(
            id=self._next_id(),
            channel=Channel.VOICE,
            service=max(lawyer.services, key=lambda s: lawyer.services[s]),
            language="zh",
            entered_at=entered_at,
            domain=next(iter(lawyer.domains)),
            caller=f"1{self.rng.randrange(3 * 10**9, 10**10)}",
        )


# ----- the simulated consoles and telephony ---------------------------------------------


def _id_ms(stream_id: str) -> float:
    return float(stream_id.split("-", 1)[0])


@dataclass
class Measure:
    """What the driver records; times are time.perf_counter()."""

    offer_times: list[float] = field(default_factory=list)
    # (offer time, latency) for lawyers offered a contact by the first routing pass that
    # saw them free: the system's latency.
    latencies: list[tuple[float, float]] = field(default_factory=list)
    # The same for lawyers that pass found nothing for (no eligible caller waiting): the
    # wait for a suitable caller, a property of the queue's contents, not of the system.
    starved: list[tuple[float, float]] = field(default_factory=list)
    untimed: int = 0  # offers to lawyers whose "available" moment we did not see
    waiting: list[int] = field(default_factory=list)
    lag_ms: list[float] = field(default_factory=list)  # how far the router trails the stream


class Driver:
    def __init__(
        self,
        service: QueueService,
        telephony: QueueStore,
        population: Population,
        level: int,
        rate: float,
        heartbeat_s: float,
        press_ready: bool,
    ) -> None:
        self.svc = service
        self.telephony = telephony
        self.level = level
        self.press_ready = press_ready
        self.pop = population
        self.rate = rate
        self.heartbeat_s = heartbeat_s
        # Console and telephony calls under way: each its own task, as each HTTP request
        # or SIP call would be.
        self.in_flight: set[asyncio.Task[None]] = set()
        self._beating: set[str] = set()
        self.connected: deque[tuple[str, str]] = deque()  # (contact, lawyer) talking
        self.available_at: dict[str, float] = {}  # lawyer -> when their end call returned
        self.starved: set[str] = set()  # of those, lawyers a routing pass found nothing for
        self.m = Measure()
        self.errors: Counter[str] = Counter()
        self._tasks: list[asyncio.Task[None]] = []
        self._wrap_offer_many()

    def _wrap_offer_many(self) -> None:
        store = self.svc.store
        inner = store.offer_many
        available_at, m, starved = self.available_at, self.m, self.starved

        async def offer_many(
            offers: Sequence[tuple[str, str]], now: float, deadline: float
        ) -> list[OfferResult]:
            results = await inner(offers, now, deadline)
            t = time.perf_counter()
            for (_, lawyer_id), result in zip(offers, results, strict=True):
                if result != OfferResult.OFFERED:
                    continue
                m.offer_times.append(t)
                t0 = available_at.pop(lawyer_id, None)
                if t0 is None:
                    m.untimed += 1
                elif lawyer_id in starved:
                    starved.discard(lawyer_id)
                    m.starved.append((t, t - t0))
                else:
                    m.latencies.append((t, t - t0))
            return results

        store.offer_many = offer_many  # type: ignore[method-assign]

        # The route loop calls self.route_once(): note the free lawyers each pass saw
        # (Router.plan runs before route_once first awaits) and was left with.
        svc = self.svc
        route_inner = svc.route_once

        async def route_once() -> list[Offer]:
            seen = svc.router._free_lawyers.intersection(available_at)
            made = await route_inner()
            starved.update(seen.difference(o.lawyer_id for o in made))
            return made

        svc.route_once = route_once  # type: ignore[method-assign]

    async def start(
        self, events: asyncio.Queue[Event], connected: Iterable[tuple[str, str]]
    ) -> None:
        self.connected.extend(connected)
        self._tasks = [asyncio.create_task(self._consoles(events))]
        self._tasks.append(asyncio.create_task(self._pacer()))
        self._tasks.append(asyncio.create_task(self._telephony()))
        self._tasks.append(asyncio.create_task(self._heartbeat()))
        self._tasks.append(asyncio.create_task(self._sample_waiting()))

    async def stop(self) -> None:
        await cancel_until_done([*self._tasks, *self.in_flight])

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self.in_flight.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.in_flight.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.errors[repr(task.exception())] += 1

    async def _consoles(self, events: asyncio.Queue[Event]) -> None:
        """The consoles see each offer (as the web consoles would) and accept it at once."""
        while True:
            event = await events.get()
            while True:
                if event.type == "contact.offered" and event.contact and event.contact.lawyer:
                    self._spawn(self._accept(event.contact.id, event.contact.lawyer))
                try:
                    event = events.get_nowait()
                except asyncio.QueueEmpty:
                    break

    async def _accept(self, contact_id: str, lawyer_id: str) -> None:
        if not await self.svc.accept(contact_id, lawyer_id):
            self.errors["accept refused"] += 1
        elif self.rate <= 0:
            await self._end(contact_id, lawyer_id)
        else:
            self.connected.append((contact_id, lawyer_id))

    async def _telephony(self) -> None:
        """New callers ring in whenever the queue in Redis is short of the level.

        One task on its own connection, like a telephony gateway: it puts callers
        through with QueueStore.add_many, one pipeline per top-up, each still
        atomic, so the waiting level holds even when the consoles' calls back up.
        """
        store = self.telephony
        while True:
            await asyncio.sleep(0.005)
            short = self.level - await store.redis.zcard(store.keys.waiting)
            if short <= 0:
                continue
            now = self.svc.clock()
            await store.add_many([self.pop.contact(now) for _ in range(short)], now)

    async def _end(self, contact_id: str, lawyer_id: str) -> None:
        if await self.svc.end(contact_id, "lawyer") != 1:
            self.errors["end refused"] += 1
            return
        if self.press_ready and not await self.svc.ready(lawyer_id):
            self.errors["ready refused"] += 1
            return
        self.available_at[lawyer_id] = time.perf_counter()

    async def _pacer(self) -> None:
        """End calls at `rate` per second, the oldest first; owe nothing when nobody talks.

        `rate` may change while this runs; 0 or less: end every call at once.
        """
        budget, last = 0.0, time.perf_counter()
        while True:
            await asyncio.sleep(0.002)
            now = time.perf_counter()
            budget += (now - last) * self.rate
            last = now
            while self.connected and (self.rate <= 0 or budget >= 1):
                self._spawn(self._end(*self.connected.popleft()))
                budget -= 1
            if not self.connected:
                budget = 0.0  # nobody to end: the system is behind, no catching up later

    async def _heartbeat(self) -> None:
        """Each console says it is alive once every heartbeat_s, spread evenly."""
        lawyers, tick = self.pop.lawyers, 0.05
        per_tick = max(1, round(len(lawyers) * tick / self.heartbeat_s))
        i = 0
        while True:
            for lw in lawyers[i : i + per_tick]:
                if lw.id not in self._beating:  # a console waits for its last heartbeat
                    self._beating.add(lw.id)
                    self._spawn(self._heartbeat_one(lw.id))
            i = (i + per_tick) % len(lawyers)
            await asyncio.sleep(tick)

    async def _heartbeat_one(self, lawyer_id: str) -> None:
        try:
            await self.svc.console_seen(lawyer_id)
        finally:
            self._beating.discard(lawyer_id)

    async def _sample_waiting(self) -> None:
        svc = self.svc
        while True:
            self.m.waiting.append(len(svc.router.contacts))
            info = await svc.store.redis.xinfo_stream(svc.store.keys.events)
            last = info["last-generated-id"]
            self.m.lag_ms.append(_id_ms(last) - _id_ms(svc._last_event_id))
            await asyncio.sleep(0.05)


async def cancel_until_done(tasks: Sequence[asyncio.Task[Any]]) -> None:
    """Cancel, and cancel again: on Python 3.11 a cancel can be lost.

    redis-py 8 gives every connection a 5 s socket_timeout and then sends each command
    through asyncio.wait_for, which on 3.11 returns the result instead of raising when
    the cancel and the reply arrive together (fixed in 3.12). A cancelled task then
    carries on, so one task.cancel() and an await may wait forever.
    """
    pending = [t for t in tasks if not t.done()]
    while pending:
        for task in pending:
            task.cancel()
        await asyncio.wait(pending, timeout=0.2)
        pending = [t for t in pending if not t.done()]
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]


async def stop_service(service: QueueService) -> None:
    """QueueService.stop(), made sure to end (see cancel_until_done)."""
    tasks = list(service._tasks)
    stopping = asyncio.create_task(service.stop())
    await cancel_until_done(tasks)
    with contextlib.suppress(asyncio.CancelledError):
        await stopping


# ----- one level ------------------------------------------------------------------------


@dataclass
class Result:
    level: int
    label: str  # "full" (at --rate) or "part" (at --part of what "full" reached)
    rate: float
    seconds: float
    offers: int
    latencies_ms: list[float]
    starved_ms: list[float]
    untimed: int
    waiting: list[int]
    lag_ms: list[float]
    idle_lawyers: int
    in_flight: int  # console calls under way at the end
    conflicts: int
    errors: Counter[str]
    python_cpu: float  # share of one core
    redis_cpu: float
    machine_cpu: float  # all of the machine's busy CPU, in cores (nan where unknown)
    commandstats: dict[str, dict[str, float]]
    profile: cProfile.Profile | None = None
    # Redis time per script or command over a sample of calls: name -> (calls, usec)
    redis_sample: dict[str, tuple[int, float]] | None = None

    @property
    def aps(self) -> float:
        return self.offers / self.seconds

    def pct(self, q: float, xs: Sequence[float] | None = None) -> float:
        xs = sorted(self.latencies_ms if xs is None else xs)
        if not xs:
            return float("nan")
        return xs[min(len(xs) - 1, int(q * len(xs)))]


async def _run_all(
    factories: Iterable[Callable[[], Awaitable[Any]]], concurrency: int = 64
) -> None:
    it = iter(factories)

    async def worker() -> None:
        for f in it:
            await f()

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def _fill(
    store: QueueStore, pop: Population, level: int, settings: Settings, backlog_s: float
) -> list[tuple[str, str]]:
    """Lawyers on duty and all busy, then `level` callers waiting (no router running yet)."""
    routing = settings.routing
    now = time.time()
    await _run_all(lambda lw=lw: store.create_lawyer(lw, now) for lw in pop.lawyers)
    await _run_all(
        lambda lw=lw: store.set_presence(lw.id, Presence.AVAILABLE, now) for lw in pop.lawyers
    )
    busy: list[tuple[str, str]] = []

    async def make_busy(lw: Lawyer) -> None:
        t = time.time()
        c = pop.contact_for(lw, t)
        assert await store.add_contact(c, t)
        [result] = await store.offer_many([(c.id, lw.id)], t, t + routing.offer_timeout_s)
        assert result == OfferResult.OFFERED, result
        assert await store.accept(c.id, lw.id, t, routing.service_level_s)
        busy.append((c.id, lw.id))

    await _run_all(lambda lw=lw: make_busy(lw) for lw in pop.lawyers)
    now = time.time()
    waiting = [pop.contact(now - pop.rng.uniform(0, backlog_s)) for _ in range(level)]
    await _run_all(lambda c=c: store.add_contact(c, now) for c in waiting)
    pop.rng.shuffle(busy)
    return busy


def _sources_digest() -> str:
    """A short digest of the queue code measured (it changes as the code does)."""
    import hashlib

    import lawline.queue

    root = Path(lawline.queue.__file__).parent
    digest = hashlib.sha256()
    for path in sorted([*root.glob("*.py"), *root.glob("scripts/**/*.lua")]):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def _machine_busy_s() -> float:
    """CPU seconds the whole machine has been busy (Linux /proc/stat), or nan."""
    try:
        with open("/proc/stat") as f:
            fields = [float(x) for x in f.readline().split()[1:]]
    except OSError:
        return float("nan")
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _cpu(info: dict[str, Any]) -> float:
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


async def run_level(
    client: Callable[[int], Redis], pop: Population, level: int, args: argparse.Namespace
) -> list[Result]:
    """Measure at --rate, then afresh at --part of the assignment rate reached."""
    full = await _run_phase(client, pop, level, args, "full", args.rate, args.profile)
    if args.part <= 0:
        return [full]
    rate = max(1.0, round(args.part * full.aps))
    return [full, await _run_phase(client, pop, level, args, "part", rate, False)]


async def _run_phase(
    client: Callable[[int], Redis],
    pop: Population,
    level: int,
    args: argparse.Namespace,
    label: str,
    rate: float,
    profile: bool,
) -> Result:
    """From an empty Redis: fill to `level`, run the service and the load, measure."""
    redis = client(args.pool)
    await redis.flushall()
    store = QueueStore(redis)
    # --ready: production's wrap-up (60 s) cut short by the lawyer's "ready" button.
    settings = Settings(routing=RoutingSettings() if args.ready else RoutingSettings(wrapup_s=0))
    busy = await _fill(store, pop, level, settings, args.backlog_s)
    service = QueueService(store, settings)
    telephony = QueueStore(client(2))
    driver = Driver(service, telephony, pop, level, rate, args.heartbeat_s, args.ready)
    await service.start()
    try:
        async with service.subscribe(maxsize=1_000_000) as events:
            await driver.start(events, busy)
            try:
                return await _measure(redis, store, service, driver, level, label, args, profile)
            finally:
                await driver.stop()
    finally:
        await stop_service(service)
        await telephony.redis.aclose()
        await redis.aclose()


async def _measure(
    redis: Redis,
    store: QueueStore,
    service: QueueService,
    driver: Driver,
    level: int,
    label: str,
    args: argparse.Namespace,
    profile: bool,
) -> Result:
    await asyncio.sleep(args.warmup_s)
    profiler = cProfile.Profile() if profile else None
    if profiler:
        # Every command into the slow log, to split Redis's time by script.
        await redis.config_set("slowlog-max-len", SLOWLOG_SAMPLE)
        await redis.slowlog_reset()
        await redis.config_set("slowlog-log-slower-than", 0)
    await redis.config_resetstat()
    redis_cpu0 = _cpu(await redis.info("cpu"))
    conflicts0 = service.offer_conflicts
    m = driver.m
    n_samples0 = len(m.waiting)
    machine0 = _machine_busy_s()
    cpu0, t0 = time.process_time(), time.perf_counter()
    if profiler:
        profiler.enable()
    await asyncio.sleep(args.duration_s if label == "full" else args.part_duration_s)
    if profiler:
        profiler.disable()
    cpu1, t1 = time.process_time(), time.perf_counter()
    machine1 = _machine_busy_s()
    redis_cpu1 = _cpu(await redis.info("cpu"))
    commandstats = await redis.info("commandstats")
    sample = None
    if profiler:
        await redis.config_set("slowlog-log-slower-than", 10_000)
        sample = _redis_by_script(store, await redis.slowlog_get(SLOWLOG_SAMPLE))
    return Result(
        level=level,
        label=label,
        rate=driver.rate,
        seconds=t1 - t0,
        offers=sum(1 for t in m.offer_times if t0 <= t < t1),
        latencies_ms=[lat * 1000 for t, lat in m.latencies if t0 <= t < t1],
        starved_ms=[lat * 1000 for t, lat in m.starved if t0 <= t < t1],
        untimed=m.untimed,
        waiting=m.waiting[n_samples0:],
        lag_ms=m.lag_ms[n_samples0:],
        idle_lawyers=sum(1 for t in driver.available_at.values() if t1 - t > 0.1),
        in_flight=len(driver.in_flight),
        conflicts=service.offer_conflicts - conflicts0,
        errors=Counter(driver.errors),
        python_cpu=(cpu1 - cpu0) / (t1 - t0),
        redis_cpu=(redis_cpu1 - redis_cpu0) / (t1 - t0),
        machine_cpu=(machine1 - machine0) / (t1 - t0),
        commandstats=commandstats,
        profile=profiler,
        redis_sample=sample,
    )


SLOWLOG_SAMPLE = 50_000


def _redis_by_script(
    store: QueueStore, entries: list[dict[str, Any]]
) -> dict[str, tuple[int, float]]:
    """Slow log entries -> (calls, usec) per script (evalsha) or plain command.

    Commands a script runs are logged on their own too, and their time is part of the
    script's: they are shown, but under "(inside scripts)".
    """
    names = {script.sha: name for name, script in store._scripts.items()}
    calls: Counter[str] = Counter()
    usec: Counter[str] = Counter()
    for e in entries:
        cmd = e["command"]
        parts = (cmd.decode() if isinstance(cmd, bytes) else cmd).split(" ", 2)
        name = parts[0].lower()
        if name == "evalsha" and len(parts) > 1:
            name = names.get(parts[1], "evalsha ?")
        elif e.get("client_address") in (b"?:0", "?:0"):  # the Lua client
            name = f"(inside scripts) {name}"
        calls[name] += 1
        usec[name] += e["duration"]
    return {k: (calls[k], usec[k]) for k in calls}


# ----- reporting ------------------------------------------------------------------------


def _rows(r: Result) -> list[tuple[str, str]]:
    w = r.waiting or [0]
    lag = r.lag_ms or [0.0]
    lat, starved = r.latencies_ms, r.starved_ms
    n_timed = max(len(lat) + len(starved), 1)
    per = max(r.offers, 1)
    rows = [
        ("calls ended at", "as fast as possible" if r.rate <= 0 else f"up to {r.rate:g}/s"),
        ("assignments/s", f"{r.aps:,.0f}  ({r.seconds:.1f} s measured)"),
        ("available -> offer p50", f"{r.pct(0.5):.2f} ms"),
        (
            "available -> offer p99",
            f"{r.pct(0.99):.2f} ms  (max {max(lat, default=0):.1f}, n={len(lat)})",
        ),
        (
            "nothing eligible yet",
            f"{len(starved) / n_timed:.1%} of lawyers"
            + (f", offered after p50 {r.pct(0.5, starved):.0f} ms" if starved else ""),
        ),
        ("waiting min/avg/max", f"{min(w)} / {sum(w) / len(w):.0f} / {max(w)}"),
        ("router behind stream", f"avg {sum(lag) / len(lag):.0f} ms, max {max(lag):.0f} ms"),
        ("lawyers free > 100 ms", f"{r.idle_lawyers} at the end"),
        ("calls in flight", f"{r.in_flight} console calls at the end"),
        ("offer conflicts", str(r.conflicts)),
        ("CPU, one core = 100%", f"python {r.python_cpu:.0%}, redis-server {r.redis_cpu:.0%}"),
        (
            "  other processes",
            f"{r.machine_cpu - r.python_cpu - r.redis_cpu:.0%} (of {os.cpu_count()} cores)",
        ),
    ]
    for cmd in ("evalsha", "xread", "script|exists"):
        st = r.commandstats.get(f"cmdstat_{cmd}")
        if st:
            rows.append(
                (
                    f"redis {cmd}",
                    f"{st['calls'] / per:.2f}/assignment, {st['usec_per_call']:.0f} us each,"
                    f" {st['usec'] / 1e6 / r.seconds:.0%} of a core",
                )
            )
    if r.errors:
        rows.append(("driver errors", ", ".join(f"{k}: {v}" for k, v in r.errors.items())))
    return rows


def print_level(results: Sequence[Result]) -> None:
    print(f"\nwaiting={results[0].level}")
    columns = [_rows(r) for r in results]
    print(f"  {'':<24}" + "".join(f"{r.label + ' load':<46}" for r in results).rstrip())
    for i, (name, _) in enumerate(columns[0]):
        cells = [col[i][1] if i < len(col) else "" for col in columns]
        print(f"  {name:<24}" + "".join(f"{c:<46}" for c in cells).rstrip())
    if len(columns) > 1:
        for extra in columns[1][len(columns[0]) :]:
            print(f"  {extra[0]:<24}{'':<46}{extra[1]}")


# What each function's own time is charged to. Anything else (builtins, json, enum,
# dataclass __init__, comprehensions...) is charged to whoever called it.
_CATEGORIES: list[tuple[str, str]] = [
    ("lawline/queue/routing.py", "router (routing.py + sortedcontainers)"),
    ("sortedcontainers/", "router (routing.py + sortedcontainers)"),
    ("lawline/queue/service.py", "service loops (service.py)"),
    ("redis/", "redis-py (commands, pipeline, parser, connection)"),
    ("hiredis", "redis-py (commands, pipeline, parser, connection)"),
    ("asyncio/", "event loop (asyncio, uvloop callbacks)"),
    ("uvloop", "event loop (asyncio, uvloop callbacks)"),
    ("queue_bench.py", "bench driver"),
]
_DECODE = "event decoding (decode_event, from_hash, json)"


def _own_category(func: tuple[str, int, str]) -> str | None:
    path, _, name = func
    path = path.replace("\\", "/")
    if path.endswith("lawline/queue/store.py"):
        return _DECODE if name == "decode_event" else "store.py call wrappers"
    if path.endswith("lawline/queue/model.py"):
        if name in ("from_hash", "from_json", "_opt_float"):
            return _DECODE
        if name in ("to_hash", "to_json", "_num"):
            return "Contact.to_hash (for add_contact)"
        return None  # comprehensions, can_take, with_changes...: whoever called them
    for part, cat in _CATEGORIES:
        if part in path:
            return cat
    return None


def breakdown(profiler: cProfile.Profile) -> dict[str, float]:
    """Seconds of own time per category, callers' categories for uncategorised code."""
    stats: dict[Any, Any] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    memo: dict[Any, dict[str, float]] = {}

    def mix(func: Any, seen: frozenset[Any]) -> dict[str, float]:
        own = _own_category(func)
        if own is not None:
            return {own: 1.0}
        if func in memo:
            return memo[func]
        callers = stats.get(func, (0, 0, 0, 0, {}))[4]
        total: Counter[str] = Counter()
        for caller, (_, _, _, ct) in callers.items():
            if caller in seen:
                continue
            for cat, share in mix(caller, seen | {func}).items():
                total[cat] += share * ct
        norm = sum(total.values())
        result = {k: v / norm for k, v in total.items()} if norm else {"other": 1.0}
        memo[func] = result
        return result

    out: Counter[str] = Counter()
    for func, (_, _, tt, _, callers) in stats.items():
        own = _own_category(func)
        if own is not None:
            out[own] += tt
            continue
        if not callers:
            out["other"] += tt
            continue
        for caller, (_, _, ctt, _) in callers.items():
            for cat, share in mix(caller, frozenset({func})).items():
                out[cat] += share * ctt
    return dict(out)


def _by_loop_functions() -> list[tuple[str, Any]]:
    """Functions whose cumulative time is shown, indented under the loop they run in."""
    import lawline.queue.store as store_module

    return [
        ("consoles: accept (QueueService.accept)", Driver._accept),
        ("consoles: end (QueueService.end)", Driver._end),
        ("consoles: heartbeat (QueueService.console_seen)", Driver._heartbeat_one),
        ("telephony: new callers (addContact pipelines)", Driver._telephony),
        ("  Contact.to_hash", Contact.to_hash),
        ("event follower (QueueService._follow_events)", QueueService._follow_events),
        ("  QueueStore.read_events: XREAD + decoding", QueueStore.read_events),
        ("    decode_event", store_module.decode_event),
        ("      Lawyer.from_hash", Lawyer.from_hash),
        ("      Contact.from_hash", Contact.from_hash),
        ("  QueueService.apply (Router.upsert_*)", QueueService.apply),
        ("route loop (QueueService._route_loop)", QueueService._route_loop),
        ("  Router.plan", Router.plan),
        ("    Router.best_contact_for", Router.best_contact_for),
        ("    Router.best_lawyer_for", Router.best_lawyer_for),
        ("  QueueStore.offer_many: pipeline + SCRIPT EXISTS", QueueStore.offer_many),
        ("sweep loop", QueueService._sweep_loop),
    ]


def by_loop(profiler: cProfile.Profile) -> list[tuple[str, float]]:
    stats: dict[Any, Any] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    out = []
    for label, func in _by_loop_functions():
        code = getattr(func, "__func__", func).__code__
        key = (code.co_filename, code.co_firstlineno, code.co_name)
        out.append((label, stats[key][3] if key in stats else 0.0))
    return out


def print_profile(r: Result) -> None:
    assert r.profile is not None
    print(f"\nprofile of waiting={r.level} (cProfile slows Python down: figures above are not")
    print("headline ones). Top 10 by cumulative time:")
    buf = io.StringIO()
    st = pstats.Stats(r.profile, stream=buf).strip_dirs().sort_stats("cumulative")
    st.print_stats(10)
    text = buf.getvalue()
    print(text[text.find("   ncalls") :].rstrip())
    per = max(r.offers, 1)
    print(f"\nPython time by loop (cumulative, {r.seconds:.1f} s wall, {r.offers} assignments):")
    for label, sec in by_loop(r.profile):
        print(f"  {label:<52}{sec / r.seconds:6.1%} of wall {sec / per * 1e6:7.0f} us/assignment")
    parts = breakdown(r.profile)
    print("\nPython time by kind of code (own time; builtins charged to their caller):")
    for cat, sec in sorted(parts.items(), key=lambda kv: -kv[1]):
        print(f"  {cat:<52}{sec / r.seconds:6.1%} of wall {sec / per * 1e6:7.0f} us/assignment")
    total = sum(parts.values())
    print(f"  {'(all profiled Python)':<52}{total / r.seconds:6.1%} of wall")
    if r.redis_sample:
        total = sum(us for k, (_, us) in r.redis_sample.items() if not k.startswith("("))
        print(f"\nRedis time by script (slow log at 0 us, last {SLOWLOG_SAMPLE:,} commands):")
        for name, (calls, usec) in sorted(r.redis_sample.items(), key=lambda kv: -kv[1][1])[:12]:
            print(f"  {name:<34}{calls:7d} calls {usec / calls:7.1f} us each  {usec / total:6.1%}")


def figures_line(results: Sequence[Result]) -> str:
    parts = []
    for r in results:
        if r.label != "full":
            continue
        text = f"waiting={r.level} aps={r.aps:.0f} p50_ms={r.pct(0.5):.2f} p99_ms={r.pct(0.99):.2f}"
        part = next((x for x in results if x.level == r.level and x.label == "part"), None)
        if part is not None:
            text += (
                f" part_rate={part.rate:g} part_p50_ms={part.pct(0.5):.2f}"
                f" part_p99_ms={part.pct(0.99):.2f}"
            )
        parts.append(text)
    return " | ".join(parts)


# ----- main -----------------------------------------------------------------------------


async def main_async(args: argparse.Namespace) -> list[Result]:
    pop = Population(args.lawyers, args.seed)
    results = []
    with tempfile.TemporaryDirectory(prefix="lawline-bench-") as tmp:
        server = EmbeddedRedis(
            Path(tmp) / "redis", unix_socket=args.unix_socket, appendfsync=args.fsync
        )
        server.start()
        try:
            client_options: dict[str, Any] = {}
            if args.socket_timeout != "default":
                t = args.socket_timeout
                client_options["socket_timeout"] = None if t == "none" else float(t)

            def client(max_connections: int) -> Redis:
                # A blocking pool: redis-py's default pool raises MaxConnectionsError past
                # 100 connections in use, which QueueService takes for "Redis is down".
                pool = BlockingConnectionPool.from_url(
                    server.url,
                    decode_responses=True,
                    max_connections=max_connections,
                    **client_options,
                )
                return Redis(connection_pool=pool)

            probe = client(1)
            print(
                f"lawline/queue sources {_sources_digest()}: {args.lawyers} lawyers,"
                f" redis-server pid {server.pid} on {server.where}"
                f" (appendfsync {args.fsync}), loop {args.loop}, redis-py socket_timeout"
                f" {probe.connection_pool.connection_kwargs.get('socket_timeout', 'default')},"
                f" {args.pool} connections",
                flush=True,
            )
            await probe.aclose()
            for level in args.levels:
                level_results = await run_level(client, pop, level, args)
                results += level_results
                print_level(level_results)
                for r in level_results:
                    if r.profile is not None:
                        print_profile(r)
                sys.stdout.flush()
        finally:
            server.stop()
    return results


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lawyers", type=int, default=2000)
    p.add_argument(
        "--levels",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[100, 1000, 10_000],
        help="waiting contacts per level, comma-separated (default 100,1000,10000)",
    )
    p.add_argument(
        "--rate",
        type=float,
        default=2000,
        help="calls ended per second; 0 = saturate (default 2000)",
    )
    p.add_argument("--duration-s", type=float, default=10, help="measured seconds per level")
    p.add_argument("--warmup-s", type=float, default=2, help="unmeasured seconds per level")
    p.add_argument(
        "--part",
        type=float,
        default=0.5,
        help="then measure again with calls ended at this part of the rate reached (0: skip)",
    )
    p.add_argument("--part-duration-s", type=float, default=5)
    p.add_argument(
        "--backlog-s", type=float, default=180, help="the initial waiting callers entered over this"
    )
    p.add_argument("--heartbeat-s", type=float, default=10, help="console heartbeat interval")
    p.add_argument(
        "--ready",
        action="store_true",
        help="60 s wrap-up that lawyers end at once with 'ready' (finishWrapup), instead of 0 s",
    )
    p.add_argument("--fsync", choices=["everysec", "always", "no"], default="everysec")
    p.add_argument("--unix-socket", action="store_true", help="talk to Redis over a unix socket")
    p.add_argument("--pool", type=int, default=100, help="Redis connections at most (default 100)")
    p.add_argument(
        "--socket-timeout",
        default="default",
        help="redis-py socket_timeout: 'default' (redis-py's own, 5 s), 'none' or seconds",
    )
    p.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    p.add_argument("--seed", type=int, default=12348)
    p.add_argument(
        "--profile",
        action="store_true",
        help="cProfile one level (--profile-level) and print where the time goes",
    )
    p.add_argument("--profile-level", type=int, default=10_000)
    args = p.parse_args(argv)
    if args.profile:
        args.levels = [args.profile_level]
        args.part = 0
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.loop == "uvloop":
        import uvloop

        results = uvloop.run(main_async(args))
    else:
        results = asyncio.run(main_async(args))
    print()
    print(figures_line(results))


if __name__ == "__main__":
    main()
