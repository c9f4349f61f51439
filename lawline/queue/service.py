"""The queue as a running service: a Router kept current from Redis, and its loops.

Each lawline process runs one QueueService. It follows the event stream into
its own Router, routes whenever something changed (and once a second, for
timed relaxation), commits offers through the Lua scripts, and sweeps due
timers (offer timeouts, wrap-up ends, silent consoles). Any number of
processes may do this against one Redis: the scripts re-check every decision,
so two processes racing for one contact cannot both win.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from lawline import centre_time
from lawline.config import Settings
from lawline.queue import estimate, live_policy, roster
from lawline.queue.model import MAX_EXCEPTIONS, Contact, Lawyer, RosterException
from lawline.queue.routing import Offer, Router
from lawline.queue.skills import ContactState, LawyerState, Presence, Service
from lawline.queue.store import Event, OfferResult, QueueStore, Refs

log = logging.getLogger(__name__)

_REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, OSError)
# Offers per routing pass: a burst (the morning shift arriving) is routed in slices so
# the event loop keeps serving consoles in between.
PASS_LIMIT = 256
# Leave and extra duty stay on a lawyer's roster this many days after their last day
# (the admins' calendar shows the past weeks), then go when the next one is added.
KEEP_PAST_EXCEPTIONS_DAYS = 31


@dataclass(frozen=True, slots=True)
class WaitingContact:
    contact: Contact
    position: int
    waited_s: float
    estimated_wait_s: float | None
    # Lawyers on duty for its queue (Router.staffed): none means no estimate, and a
    # terminal says plainly that nobody is there to answer.
    staffed: int = 0


class EventQueue(asyncio.Queue[Event]):
    """A listener's events; `overflowed` is set once it fell behind and was cut off."""

    def __init__(self, maxsize: int) -> None:
        super().__init__(maxsize)
        self.overflowed = asyncio.Event()


class QueueService:
    def __init__(
        self,
        store: QueueStore,
        settings: Settings,
        clock: Callable[[], float] = time.time,
        tick_s: float = 1.0,
        sweep_s: float = 0.5,
    ) -> None:
        self.store = store
        self.settings = settings
        self.routing = settings.routing
        self.clock = clock
        self.tick_s = tick_s
        self.sweep_s = sweep_s
        self.tz = ZoneInfo(settings.timezone)
        self.router = Router(self.routing, self.tz)
        self._last_event_id = "0-0"
        # The routing policy saved in the browser, and when this process last looked.
        self.policy_version = 0
        self._policy_looked_at = float("-inf")
        self._dirty = asyncio.Event()
        self._listeners: set[asyncio.Queue[Event]] = set()
        self._tasks: list[asyncio.Task[None]] = []
        # Each live contact's lawyer and service as the stream last told: the keys the
        # scripts need, without reading them first (a script refuses if they are stale).
        self._refs: dict[str, Refs] = {}
        self.offers_made = 0
        self.offer_conflicts = 0

    # ----- lifecycle --------------------------------------------------------------

    async def start(self, route: bool = True) -> None:
        """Follow the queue; with route=False (telephony workers) only follow, never route."""
        await self.resync()
        self._tasks = [asyncio.create_task(self._follow_events(), name="queue-events")]
        if route:
            self._tasks += [
                asyncio.create_task(self._route_loop(), name="queue-route"),
                asyncio.create_task(self._sweep_loop(), name="queue-sweep"),
            ]

    async def stop(self) -> None:
        pending, self._tasks = set(self._tasks), []
        while pending:
            # Ask again until they are gone: a client library may swallow one cancel.
            for task in pending:
                task.cancel()
            _, pending = await asyncio.wait(pending, timeout=1.0)

    async def resync(self) -> None:
        """Rebuild the router from Redis and follow the stream from that point."""
        snap = await self.store.snapshot()
        router = Router(self.routing, self.tz)
        router.advance(self.clock())
        for lawyer in snap.lawyers:
            router.upsert_lawyer(lawyer)
        for contact in snap.contacts:
            router.upsert_contact(contact)
        self.router = router
        self._refs = {c.id: (c.lawyer or "", c.service) for c in snap.contacts}
        self._last_event_id = snap.last_event_id
        self._dirty.set()

    # ----- the loops --------------------------------------------------------------

    async def _follow_events(self) -> None:
        while True:
            try:
                events = await self.store.read_events(self._last_event_id, block_ms=1000)
            except _REDIS_DOWN as exc:
                await self._wait_for_redis(exc)
                continue
            for event in events:
                self.apply(event)

    async def _wait_for_redis(self, exc: BaseException) -> None:
        log.warning("redis unreachable, retrying", extra={"error": str(exc)})
        delay = 0.1
        while True:
            await asyncio.sleep(delay)
            try:
                await self.resync()
            except _REDIS_DOWN:
                delay = min(delay * 2, 2.0)
                continue
            log.info("redis back, queue state reloaded")
            return

    def apply(self, event: Event) -> None:
        """Fold one event into the router and pass it to listeners (consoles)."""
        self._last_event_id = event.id
        if event.contact is not None:
            self.router.upsert_contact(event.contact)
            c = event.contact
            if c.state in (ContactState.ENDED, ContactState.ABANDONED):
                self._refs.pop(c.id, None)
            else:
                self._refs[c.id] = (c.lawyer or "", c.service)
        if event.lawyer is not None:
            self.router.upsert_lawyer(event.lawyer)
        self._dirty.set()
        for q in list(self._listeners):
            try:
                q.put_nowait(event)
            except asyncio.QueueFull:
                # A listener that cannot keep up is cut off (and told, to reconnect and reload).
                self._listeners.discard(q)
                if isinstance(q, EventQueue):
                    q.overflowed.set()

    async def _route_loop(self) -> None:
        while True:
            # Not asyncio.wait_for: on 3.11 it can swallow a cancel that races the event.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.tick_s):
                    await self._dirty.wait()
            self._dirty.clear()
            try:
                await self.follow_policy()
                await self.route_once()
            except _REDIS_DOWN as exc:
                # The router already counted the failed offers as made: reload the truth.
                await self._wait_for_redis(exc)

    async def follow_policy(self) -> bool:
        """Take a routing policy an admin saved since this process last looked (at most
        every live_policy.REFRESH_S): the router is built again with it. True if taken."""
        now = time.monotonic()
        if now - self._policy_looked_at < live_policy.REFRESH_S:
            return False
        self._policy_looked_at = now
        try:
            found = await live_policy.saved(self.store.redis, self.store.keys, self.policy_version)
        except ValueError:
            log.exception("saved routing policy unreadable; keeping the one in force")
            return False
        if found is None:
            return False
        self.policy_version, policies = found
        self.routing = policies.applied_to(self.routing)
        await self.resync()
        log.info("routing policy updated", extra={"version": self.policy_version})
        return True

    async def route_once(self) -> list[Offer]:
        """Make every offer the router finds now; return those Redis accepted."""
        now = self.clock()
        planned = self.router.plan(now, limit=PASS_LIMIT)
        if not planned:
            return []
        if len(planned) == PASS_LIMIT:
            self._dirty.set()  # more to do: come straight back after this slice
        deadline = now + self.routing.offer_timeout_s
        results = await self.store.offer_many(
            [(o.contact_id, o.lawyer_id) for o in planned], now, deadline
        )
        made = []
        for offer, result in zip(planned, results, strict=True):
            if result == OfferResult.OFFERED:
                made.append(offer)
                continue
            # Someone else changed the contact or the lawyer first: take Redis's word.
            self.offer_conflicts += 1
            await self._reload(offer.contact_id, offer.lawyer_id)
        self.offers_made += len(made)
        return made

    async def _reload(self, contact_id: str, lawyer_id: str) -> None:
        contact = await self.store.get_contact(contact_id)
        if contact is None:
            self.router.remove_contact(contact_id)
        else:
            self.router.upsert_contact(contact)
        lawyer = await self.store.get_lawyer(lawyer_id)
        if lawyer is None:
            self.router.remove_lawyer(lawyer_id)
        else:
            self.router.upsert_lawyer(lawyer)

    async def _sweep_loop(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_s)
            with contextlib.suppress(*_REDIS_DOWN):  # the event loop notices and reloads
                await self.sweep_once()

    async def sweep_once(self) -> None:
        """Act on timers that are due: offer timeouts, callback retries, wrap-up ends,
        silent consoles."""
        now = self.clock()
        expired = await self.store.due(self.store.keys.offers, now)
        for cid, lawyer_id in zip(expired, await self.store.offered_to(expired), strict=True):
            if lawyer_id:
                await self.store.reject(
                    cid,
                    lawyer_id,
                    now,
                    "timeout",
                    self.routing.max_missed_offers,
                    self._refs.get(cid),
                )
        for contact_id in await self.store.due(self.store.keys.callbacks, now):
            await self.store.retry_callback(contact_id, now)
        for lawyer_id in await self.store.due(self.store.keys.wrapups, now):
            await self.store.finish_wrapup(lawyer_id, now, ready=False)
        stale_before = now - self.routing.console_timeout_s
        for lawyer_id in await self.store.due(self.store.keys.consoles, stale_before):
            await self.store.set_presence(
                lawyer_id, Presence.OFFLINE, now, "console lost", stale_before=stale_before
            )

    # ----- operations (the API, the telephony workers and the consoles call these) ---

    async def add_contact(self, contact: Contact) -> bool:
        return await self.store.add_contact(contact, self.clock(), self._keep_s)

    @property
    def _keep_s(self) -> float:
        return self.routing.ended_contact_ttl_s

    async def accept(self, contact_id: str, lawyer_id: str) -> bool:
        return await self.store.accept(
            contact_id,
            lawyer_id,
            self.clock(),
            self.routing.service_level_s,
            self._refs.get(contact_id),
        )

    async def reject(self, contact_id: str, lawyer_id: str) -> bool:
        result = await self.store.reject(
            contact_id,
            lawyer_id,
            self.clock(),
            "rejected",
            self.routing.max_missed_offers,
            self._refs.get(contact_id),
        )
        return result > 0

    async def end(self, contact_id: str, ended_by: str) -> int:
        return await self.store.end(
            contact_id,
            self.clock(),
            self.routing.wrapup_s,
            ended_by,
            self._keep_s,
            self._refs.get(contact_id),
        )

    async def abandon(self, contact_id: str, reason: str = "caller hung up") -> int:
        return await self.store.abandon(
            contact_id, self.clock(), reason, self._keep_s, self._refs.get(contact_id)
        )

    async def line_gone(self, contact_id: str, reason: str, ended_by: str = "caller") -> int:
        """The caller's line is gone: abandon the contact if it waits or is offered
        (`reason`), end it if connected (`ended_by`), in one step. 1 abandoned, 2 ended,
        0 nothing to do, -2 unknown."""
        return await self.store.line_gone(
            contact_id,
            self.clock(),
            reason,
            ended_by,
            self.routing.wrapup_s,
            self._keep_s,
            self._refs.get(contact_id),
        )

    async def request_callback(self, contact_id: str, number: str) -> int:
        """1 marked, 0 already a callback, -1 no longer waiting, -3 this number has had
        its callbacks for today (RoutingSettings.callbacks_per_number_per_day)."""
        now = self.clock()
        day = centre_time.day_stamp(now, self.tz)
        return await self.store.request_callback(
            contact_id, number, now, day, self.routing.callbacks_per_number_per_day
        )

    async def assign(self, contact_id: str, lawyer_id: str) -> int:
        """A supervisor gives a waiting caller to this lawyer: 1, -1 not waiting, -2 no
        such lawyer (queue/scripts/assignContact-3.lua)."""
        return await self.store.assign(contact_id, lawyer_id, self.clock())

    async def transfer(
        self,
        contact_id: str,
        lawyer_id: str,
        note: str,
        to_lawyer: str | None = None,
        to_service: Service | None = None,
    ) -> int:
        """Hand a connected contact on; see transferContact.lua for the results."""
        return await self.store.transfer(
            contact_id,
            lawyer_id,
            self.clock(),
            self.routing.wrapup_s,
            to_lawyer or "",
            to_service or "",
            note,
            self._refs.get(contact_id),
        )

    async def callback_failed(self, contact_id: str, reason: str) -> int:
        """A dial-out went unanswered: retry later, or give up after the last attempt."""
        now = self.clock()
        tel = self.settings.telephony
        return await self.store.callback_failed(
            contact_id,
            now,
            now + tel.callback_retry_s,
            tel.callback_attempts,
            reason,
            self.routing.service_level_s,
            self._keep_s,
            self._refs.get(contact_id),
        )

    async def set_presence(self, lawyer_id: str, presence: Presence, reason: str = "") -> int:
        return await self.store.set_presence(lawyer_id, presence, self.clock(), reason)

    async def ready(self, lawyer_id: str) -> bool:
        """The lawyer ends wrap-up early."""
        return await self.store.finish_wrapup(lawyer_id, self.clock(), ready=True)

    async def extend_wrapup(self, lawyer_id: str) -> int:
        """More wrap-up time (`routing.wrapup_extend_s`, `wrapup_extensions` times at
        most): 1 extended, 0 not in wrap-up, -1 none left."""
        r = self.routing
        return await self.store.extend_wrapup(
            lawyer_id, self.clock(), r.wrapup_extend_s, r.wrapup_extensions
        )

    async def create_lawyer(self, lawyer: Lawyer) -> bool:
        """False, and nothing changed, if a lawyer with this id exists."""
        return await self.store.create_lawyer(lawyer, self.clock())

    async def update_lawyer(self, lawyer_id: str, fields: Mapping[str, str]) -> bool:
        """Change some profile fields (Lawyer.to_hash names); False if no such lawyer."""
        return await self.store.update_lawyer(lawyer_id, fields, self.clock())

    async def add_roster_exception(self, lawyer_id: str, exception: RosterException) -> int:
        """Leave or extra duty for a lawyer: 1 added; -1 no such lawyer; -2 they have
        MAX_EXCEPTIONS already; -3 the id is taken (addRosterException-2.lua)."""
        now = self.clock()
        keep_from = centre_time.today(now, self.tz) - timedelta(days=KEEP_PAST_EXCEPTIONS_DAYS)
        return await self.store.add_roster_exception(
            lawyer_id, exception, now, MAX_EXCEPTIONS, keep_from.isoformat()
        )

    async def remove_roster_exception(self, lawyer_id: str, exception_id: str) -> int:
        """1 removed; 0 no such entry; -1 no such lawyer."""
        return await self.store.remove_roster_exception(lawyer_id, exception_id, self.clock())

    async def console_seen(self, lawyer_id: str) -> None:
        await self.store.console_seen(lawyer_id, self.clock())

    @contextlib.asynccontextmanager
    async def subscribe(self, maxsize: int = 10_000) -> AsyncIterator[EventQueue]:
        """Every event this process sees, from now on, until the block exits."""
        q = EventQueue(maxsize)
        self._listeners.add(q)
        try:
            yield q
        finally:
            self._listeners.discard(q)

    # ----- what the queue looks like ---------------------------------------------------

    def hotline_open(self, now: float | None = None) -> bool:
        return roster.hotline_open(
            self.router.lawyers.values(),
            self.clock() if now is None else now,
            self.tz,
            self.settings.open_without_roster,
            frozenset(self.settings.holidays),
        )

    def staffed_for(self, contact: Contact) -> int:
        """Lawyers on duty for this contact's queue (Router.staffed)."""
        return self.router.staffed((contact.channel, contact.language, contact.service))

    def duty_hours(self, contact: Contact) -> list[dict[str, object]]:
        """The shifts of the lawyers who could serve this contact's queue (roster.duty_hours)."""
        return roster.duty_hours(
            lw
            for lw in self.router.lawyers.values()
            if lw.capacity.get(contact.channel, 0) > 0
            and contact.language in lw.languages
            and lw.services.get(contact.service, 0) >= 1
        )

    async def waiting(self) -> list[WaitingContact]:
        now = self.clock()
        handle = {svc: await self._handle_s(svc) for svc in Service}
        staffed: dict[tuple[object, ...], int] = {}
        out = []
        for contact, position in self.router.positions():
            key = (contact.channel, contact.language, contact.service)
            if key not in staffed:
                staffed[key] = self.router.staffed(key)  # type: ignore[arg-type]
            ewt = estimate.estimated_wait_s(position, staffed[key], handle[contact.service])
            out.append(
                WaitingContact(contact, position, now - contact.entered_at, ewt, staffed[key])
            )
        return out

    async def position_of(self, contact_id: str) -> WaitingContact | None:
        return next((w for w in await self.waiting() if w.contact.id == contact_id), None)

    async def _handle_s(self, service: Service) -> float:
        s = await self.store.stats(service)
        return estimate.average_handle_s(
            s.get("handled", 0),
            s.get("talk_s", 0),
            self.routing.wrapup_s,
            self.routing.default_handle_s,
        )

    async def queue_figures(self) -> dict[Service, dict[str, float | None]]:
        now = self.clock()
        waits: dict[Service, list[float]] = {svc: [] for svc in Service}
        for c in self.router.contacts.values():
            waits[c.service].append(now - c.entered_at)
        figures: dict[Service, dict[str, float | None]] = {}
        for svc in Service:
            s = await self.store.stats(svc)
            answered, abandoned = s.get("answered", 0.0), s.get("abandoned", 0.0)
            handled = s.get("handled", 0.0)
            figures[svc] = {
                "waiting": float(len(waits[svc])),
                "longest_wait_s": max(waits[svc], default=0.0),
                "entered": s.get("entered", 0.0),
                "answered": answered,
                "abandoned": abandoned,
                "answered_in_sl": s.get("answered_in_sl", 0.0),
                "service_level": estimate.service_level(
                    s.get("answered_in_sl", 0.0), answered, abandoned
                ),
                "answer_rate": estimate.answer_rate(answered, abandoned),
                "handled": handled,
                "average_handle_s": (
                    estimate.average_handle_s(
                        handled, s.get("talk_s", 0.0), self.routing.wrapup_s, 0
                    )
                    if handled
                    else None
                ),
                "average_wait_s": s.get("wait_answered_s", 0.0) / answered if answered else None,
                "offers_timeout": s.get("offers_timeout", 0.0),
                "offers_rejected": s.get("offers_rejected", 0.0),
            }
        return figures

    async def lawyer_figures(self, lawyer_id: str) -> dict[str, float | str] | None:
        """Seconds in each state (the current one counted up to now) and contacts handled."""
        return (await self.all_lawyer_figures([lawyer_id])).get(lawyer_id)

    async def lawyer_today(self, lawyer_id: str) -> dict[str, float]:
        """Today's work (the centre's day): conversations finished or handed on and their
        talk time, from the event stream since the centre's midnight."""
        now = self.clock()
        midnight = centre_time.day_start(centre_time.today(now, self.tz), self.tz).timestamp()
        after = f"{int(midnight * 1000)}-0"
        handled, talk_s = 0, 0.0
        while events := await self.store.read_events(after, count=1000):
            for ev in events:
                after = ev.id
                finished = ev.type in ("contact.ended", "contact.transferred")
                if not finished or ev.lawyer is None or ev.lawyer.id != lawyer_id:
                    continue
                handled += 1
                if ev.type == "contact.transferred":  # answered_at is cleared by then
                    talk_s += float(ev.raw.get("talk_s") or 0)
                elif ev.contact is not None and ev.contact.answered_at is not None:
                    talk_s += ev.at - ev.contact.answered_at
        return {"today_handled": handled, "today_talk_s": talk_s}

    async def all_lawyer_figures(self, lawyer_ids: list[str]) -> dict[str, dict[str, float | str]]:
        async with self.store.redis.pipeline(transaction=False) as pipe:
            for lid in lawyer_ids:
                pipe.hgetall(self.store.keys.lawyer(lid))
            hashes = await pipe.execute()
        now = self.clock()
        return {
            lid: _lawyer_figures(h, now) for lid, h in zip(lawyer_ids, hashes, strict=True) if h
        }


def _lawyer_figures(h: dict[str, str], now: float) -> dict[str, float | str]:
    times = {state: float(h.get(f"t_{state}", 0)) for state in LawyerState}
    current = LawyerState(h.get("state", "offline"))
    times[current] += max(0.0, now - float(h.get("state_since", now)))
    out: dict[str, float | str] = {f"seconds_{k}": v for k, v in times.items()}
    out["state"] = current
    out["handled"] = float(h.get("handled", 0))
    out["wrapups_extended"] = float(h.get("wrapups_extended", 0))
    return out
