"""The web process's one Redis subscription for its websockets, and who holds them.

Every open console, terminal and supervisor feed registers a `Ticket`: who opened it
(user, credential, terminal, source address). The hub

- refuses a socket beyond the caps per credential, per user and per source address
  (close 4429 with the reason), so one stolen token cannot hold a process's sockets;
- holds ONE pub/sub connection per process, subscribed to every signalling channel
  (`P:signal:*`, see video/relay.py) and to the revocation channel (revocation.py),
  and fans what arrives out in memory. A socket costs no Redis connection, so 2,000
  idle village boxes leave the pool to sign-in, routing and the ledger;
- ends the sockets a revoked credential opened (close 4401, or 4403 for a terminal);
- hands each queue event to the terminals whose contact it is about, so an idle
  terminal is not woken by every event of the county (consoles, which care about
  most events, subscribe to the queue themselves).

A session is named by `session_ref` (a SHA-256 of the cookie's session id, never the
id itself), a service token by its `jti` claim (or a SHA-256 of the whole token).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from lawline import revocation
from lawline.accounts.keys import AccountKeys
from lawline.queue.service import QueueService
from lawline.queue.store import Event
from lawline.video.keys import VideoKeys
from lawline.web.settings import SocketSettings

log = logging.getLogger(__name__)

CLOSE_TRY_AGAIN = 1013  # RFC 6455: the server is overloaded for this client; reconnect
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_TOO_MANY = 4429
SIGNAL_QUEUE = 200  # relayed signals a socket may fall behind by before it is closed
EVENT_QUEUE = 200  # a terminal's own contact's events it may fall behind by
HUB_EVENT_QUEUE = 100_000  # queue events the hub itself may fall behind by
RESUBSCRIBE_S = 1.0


def token_ref(token: str) -> str:
    """A verified service token's `jti` claim, or (older tokens) a SHA-256 of the token."""
    with contextlib.suppress(ValueError, TypeError, AttributeError):
        payload = token.split(".")[0]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        if isinstance(claims.get("jti"), str) and claims["jti"]:
            return str(claims["jti"])
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(eq=False)
class Ticket:
    """One open websocket: who opened it, and how it is told to end."""

    kind: str  # console | terminal | supervisor
    user: str | None  # the signed-in user or token subject; None for a terminal
    credential: str  # "session:REF", "token:REF" or "terminal:ID"
    address: str
    terminal: str | None = None
    channel: str | None = None  # the signalling channel it receives, if any
    contact: str | None = None  # a terminal's contact: the queue events it receives
    events: asyncio.Queue[Event] = field(default_factory=lambda: asyncio.Queue(EVENT_QUEUE))
    signals: asyncio.Queue[dict[str, Any]] = field(
        default_factory=lambda: asyncio.Queue(SIGNAL_QUEUE)
    )
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    code: int = 1000
    reason: str = ""

    def end(self, code: int, reason: str) -> None:
        """Ask the socket to close (the first reason given wins)."""
        if not self.ended.is_set():
            self.code, self.reason = code, reason
            self.ended.set()

    async def wait_ended(self) -> None:
        """A loop for `until_first_ends`: returns when the socket is asked to close."""
        await self.ended.wait()


class TooManySockets(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.code = CLOSE_TOO_MANY
        self.reason = reason


class SocketHub:
    def __init__(self, redis: Redis, prefix: str, limits: SocketSettings) -> None:
        self.redis = redis
        self.prefix = prefix
        self.revoked_channel = AccountKeys(prefix).revoked
        self.video_keys = VideoKeys(prefix)
        self.limits = limits
        self._tickets: set[Ticket] = set()
        self._by_channel: dict[str, set[Ticket]] = defaultdict(set)
        self._by_contact: dict[str, set[Ticket]] = defaultdict(set)
        self._per_credential: Counter[str] = Counter()
        self._per_user: Counter[str] = Counter()
        self._per_address: Counter[str] = Counter()
        self._tasks: list[asyncio.Task[None]] = []
        self.subscribed = asyncio.Event()
        self.refused: Counter[str] = Counter()  # by which cap
        self.closed_behind: Counter[str] = Counter()  # by socket kind
        self.revoked_closed: Counter[str] = Counter()  # by revocation kind

    # ----- lifecycle -------------------------------------------------------------------

    async def start(self, queue: QueueService, timeout_s: float = 10.0) -> None:
        """Subscribed before it returns: no socket is accepted that a revocation would miss."""
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._run(), name="socket-hub"),
            loop.create_task(self._follow_queue(queue), name="socket-hub-queue"),
        ]
        async with asyncio.timeout(timeout_s):
            await self.subscribed.wait()

    async def stop(self) -> None:
        for ticket in list(self._tickets):
            ticket.end(1001, "lawline is restarting")
        for task in self._tasks:
            task.cancel()
        # redis-py can lose a cancel inside a blocking read: do not wait forever.
        await asyncio.wait(self._tasks, timeout=5.0)

    # ----- sockets ---------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def open(self, ticket: Ticket) -> AsyncIterator[Ticket]:
        """Hold this socket's place for the block; TooManySockets if a cap is reached."""
        self._admit(ticket)
        try:
            yield ticket
        finally:
            self._release(ticket)

    def _admit(self, ticket: Ticket) -> None:
        lim = self.limits
        over = [
            ("credential", self._per_credential[ticket.credential] >= lim.per_credential),
            ("user", ticket.user is not None and self._per_user[ticket.user] >= lim.per_user),
            ("address", self._per_address[ticket.address] >= lim.per_address),
        ]
        for cap, reached in over:
            if reached:
                self.refused[cap] += 1
                raise TooManySockets(f"too many open sockets for this {cap}")
        self._tickets.add(ticket)
        self._per_credential[ticket.credential] += 1
        if ticket.user is not None:
            self._per_user[ticket.user] += 1
        self._per_address[ticket.address] += 1
        if ticket.channel is not None:
            self._by_channel[ticket.channel].add(ticket)

    def _release(self, ticket: Ticket) -> None:
        self._tickets.discard(ticket)
        self._unfollow(ticket)
        _decrement(self._per_credential, ticket.credential)
        if ticket.user is not None:
            _decrement(self._per_user, ticket.user)
        _decrement(self._per_address, ticket.address)
        if ticket.channel is not None:
            listeners = self._by_channel.get(ticket.channel)
            if listeners is not None:
                listeners.discard(ticket)
                if not listeners:
                    del self._by_channel[ticket.channel]

    def follow_contact(self, ticket: Ticket, contact_id: str | None) -> None:
        """From now on, this socket gets the queue events of this contact (None: none)."""
        self._unfollow(ticket)
        ticket.contact = contact_id
        if contact_id is not None and ticket in self._tickets:
            self._by_contact[contact_id].add(ticket)

    def _unfollow(self, ticket: Ticket) -> None:
        if ticket.contact is None:
            return
        followers = self._by_contact.get(ticket.contact)
        if followers is not None:
            followers.discard(ticket)
            if not followers:
                del self._by_contact[ticket.contact]

    def open_count(self, kind: str) -> int:
        return sum(1 for t in self._tickets if t.kind == kind)

    def signal_channel(self, side: str, who: str) -> str:
        return self.video_keys.signal(side, who)

    def fell_behind(self, ticket: Ticket, what: str) -> None:
        """This socket's queue overflowed: close it (1013) so it reconnects and resyncs."""
        if not ticket.ended.is_set():
            self.closed_behind[ticket.kind] += 1
            log.warning("websocket fell behind, closed", extra={"kind": ticket.kind, "queue": what})
        ticket.end(CLOSE_TRY_AGAIN, f"fell behind ({what}): reconnect")

    # ----- what arrives from Redis ------------------------------------------------------

    async def _follow_queue(self, queue: QueueService) -> None:
        while True:
            async with queue.subscribe(HUB_EVENT_QUEUE) as events:
                # It overflows only when full, so a get() then returns at once.
                while not events.overflowed.is_set():
                    self._hand_on(await events.get())
            # Too far behind to know what each terminal missed: they all resync.
            for ticket in [t for t in self._tickets if t.contact is not None]:
                self.fell_behind(ticket, "events")

    def _hand_on(self, event: Event) -> None:
        if event.contact is None:
            return
        for ticket in list(self._by_contact.get(event.contact.id, ())):
            try:
                ticket.events.put_nowait(event)
            except asyncio.QueueFull:
                self.fell_behind(ticket, "events")

    async def _run(self) -> None:
        while True:
            try:
                async with self.redis.pubsub() as pubsub:
                    await pubsub.subscribe(self.revoked_channel)
                    await pubsub.psubscribe(self.video_keys.signals)
                    self.subscribed.set()
                    async for message in pubsub.listen():
                        if message["type"] in ("message", "pmessage"):
                            self.dispatch(message["channel"], message["data"])
            except (RedisConnectionError, OSError) as exc:
                self.subscribed.clear()
                log.warning(
                    "socket hub: redis lost, resubscribing",
                    extra={
                        "error": str(exc),
                    },
                )
                await asyncio.sleep(RESUBSCRIBE_S)

    def dispatch(self, channel: str, data: str) -> None:
        if channel == self.revoked_channel:
            parsed = revocation.parse(data)
            if parsed is None:
                log.warning("malformed revocation skipped")
                return
            self.revoke(*parsed)
            return
        listeners = self._by_channel.get(channel)
        if not listeners:
            return
        try:
            message = json.loads(data)
        except json.JSONDecodeError:
            log.warning("undecodable signal skipped")
            return
        for ticket in list(listeners):
            try:
                ticket.signals.put_nowait(message)
            except asyncio.QueueFull:
                self.fell_behind(ticket, "signals")

    def revoke(self, kind: revocation.Kind, ident: str) -> int:
        """End the open sockets of this credential; how many."""
        matches = [t for t in self._tickets if _matches(t, kind, ident)]
        for ticket in matches:
            if kind == "terminal":
                ticket.end(CLOSE_FORBIDDEN, "this terminal has been revoked")
            else:
                ticket.end(CLOSE_UNAUTHORIZED, "your sign-in has ended: sign in again")
        if matches:
            self.revoked_closed[kind] += len(matches)
            log.info("revoked sockets closed", extra={"kind": kind, "count": len(matches)})
        return len(matches)

    # ----- figures -----------------------------------------------------------------------

    def figures(self) -> Iterable[Metric]:
        open_ = GaugeMetricFamily(
            "lawline_websockets_open", "Open websockets of this process", labels=["kind"]
        )
        for kind, n in sorted(Counter(t.kind for t in self._tickets).items()):
            open_.add_metric([kind], n)
        behind = CounterMetricFamily(
            "lawline_websockets_closed_behind",
            "Websockets closed (1013) because they fell behind their events",
            labels=["kind"],
        )
        for kind, n in sorted(self.closed_behind.items()):
            behind.add_metric([kind], n)
        refused = CounterMetricFamily(
            "lawline_websockets_refused", "Websockets refused at a cap", labels=["cap"]
        )
        for cap, n in sorted(self.refused.items()):
            refused.add_metric([cap], n)
        revoked = CounterMetricFamily(
            "lawline_websockets_revoked", "Websockets closed by a revocation", labels=["kind"]
        )
        for kind, n in sorted(self.revoked_closed.items()):
            revoked.add_metric([kind], n)
        return [open_, behind, refused, revoked]


def _matches(ticket: Ticket, kind: str, ident: str) -> bool:
    if kind == "user":
        return ticket.user == ident
    if kind == "terminal":
        return ticket.terminal == ident
    return ticket.credential == f"{kind}:{ident}"  # session, token


def _decrement(counter: Counter[str], key: str) -> None:
    counter[key] -= 1
    if counter[key] <= 0:
        del counter[key]
