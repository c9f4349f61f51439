"""The supervisors' wallboard: one shared feed per web process.

It keeps today's fold (queue/today.py) current from the events this process follows
(the day so far read back from the stream when it starts, then every new event), and
makes the board: per service queue what is waiting now and today's figures, with each
tile's colour; the lawyers and what they are doing; the waiting contacts; today by
half hour. A board is made when something changed (at most every MIN_INTERVAL_S) and
once a second anyway (waits grow), while any page watches, and handed to every page
watching as one frame's text, serialised once: each page has a slot for the latest
only, so a slow page skips boards and never holds the feed up. The waiting list shows
the first SHOWN_WAITING callers (and how many there are). Nothing on the board names a
caller: no number, no name.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any
from zoneinfo import ZoneInfo

from lawline import centre_time
from lawline.config import Settings
from lawline.queue.service import EventQueue, QueueService
from lawline.queue.skills import ContactState, Service
from lawline.queue.store import Event
from lawline.queue.today import Today
from lawline.web.settings import WallboardSettings

log = logging.getLogger(__name__)

TICK_S = 1.0
MIN_INTERVAL_S = 0.5  # twice a second is all a person reads; each board costs (deflate)
SHOWN_WAITING = 50
Board = dict[str, Any]


def _stream_id(event_id: str) -> tuple[int, int]:
    ms, _, seq = event_id.partition("-")
    return int(ms), int(seq or 0)


def colour(value: float | None, amber: float, red: float, *, high_is_bad: bool) -> str:
    """ok, amber or red for a figure against its thresholds (none yet: ok)."""
    if value is None:
        return "ok"
    if high_is_bad:
        return "red" if value >= red else "amber" if value >= amber else "ok"
    return "red" if value < red else "amber" if value < amber else "ok"


class Wallboard:
    def __init__(
        self, queue: QueueService, settings: Settings, clock: Callable[[], float] = time.time
    ) -> None:
        self.queue = queue
        self.settings = settings
        self.limits: WallboardSettings = settings.wallboard
        self.tz = ZoneInfo(settings.timezone)
        self.clock = clock
        self.today = self._new_day(clock())
        self._watchers: set[asyncio.Queue[str]] = set()
        self._dirty = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.latest: str | None = None  # the last board's frame, as sent
        self.set_aside = 0  # events the fold could not take

    def _new_day(self, now: float) -> Today:
        start = centre_time.day_start(centre_time.today(now, self.tz), self.tz).timestamp()
        return Today(start, self.settings.routing.service_level_s, self.settings.routing.wrapup_s)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @contextlib.asynccontextmanager
    async def watch(self) -> AsyncIterator[asyncio.Queue[str]]:
        """Boards as they are made (`wallboard` frames' text), the latest only."""
        q: asyncio.Queue[str] = asyncio.Queue(1)
        if self.latest is not None:
            q.put_nowait(self.latest)
        self._watchers.add(q)
        self._dirty.set()  # a new page gets a board now
        try:
            yield q
        finally:
            self._watchers.discard(q)

    async def _run(self) -> None:
        while True:
            try:
                await self._follow_day()
            except Exception:
                log.exception("wallboard feed failed; reading the day again")
                await asyncio.sleep(TICK_S)

    async def _follow_day(self) -> None:
        """Today read back from the stream, then every new event, until this process's
        event feed cuts the board off for falling behind (then all of it again)."""
        async with self.queue.subscribe() as events:
            self.today = self._new_day(self.clock())
            replayed = await self._replay()
            follow = asyncio.get_running_loop().create_task(self._follow(events, replayed))
            try:
                while not events.overflowed.is_set():
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(TICK_S):
                            await self._dirty.wait()
                    self._dirty.clear()
                    if not self._watchers:
                        self.latest = None  # nobody watches: no board is made
                        continue
                    try:
                        self._publish(await self.board())
                    except Exception:
                        log.exception("wallboard not made")
                    await asyncio.sleep(MIN_INTERVAL_S)
                log.warning("wallboard fell behind the events; reading the day again")
            finally:
                follow.cancel()

    async def _replay(self) -> tuple[int, int]:
        """Today's events so far, from the stream; the last one's id."""
        after, last = f"{int(self.today.day_start * 1000)}-0", (0, 0)
        while events := await self.queue.store.read_events(after, count=1000):
            for ev in events:
                after, last = ev.id, _stream_id(ev.id)
                self._apply(ev)
        return last

    def _apply(self, ev: Event) -> None:
        try:
            self.today.apply(ev)
        except Exception:  # one odd event must not stop the board
            self.set_aside += 1
            log.exception("wallboard: event set aside", extra={"id": ev.id})

    async def _follow(self, events: EventQueue, replayed: tuple[int, int]) -> None:
        while True:
            ev = await events.get()
            if _stream_id(ev.id) <= replayed:
                continue
            if ev.at >= self.today.day_start + 24 * 3600:
                self.today = self._new_day(ev.at)  # midnight: a new day's figures
            self._apply(ev)
            self._dirty.set()

    def _publish(self, board: Board) -> None:
        frame = json.dumps({"type": "wallboard", "board": board}, ensure_ascii=False)
        self.latest = frame
        for q in list(self._watchers):
            if q.full():
                q.get_nowait()  # a page that did not keep up gets the newest only
            q.put_nowait(frame)

    async def board(self) -> Board:
        now = self.clock()
        if now >= self.today.day_start + 24 * 3600:
            self.today = self._new_day(now)
        waiting = await self.queue.waiting()
        live = await self.queue.queue_figures()
        limits = self.limits
        services = []
        for svc in Service:
            day = self.today.services[svc].figures()
            longest = live[svc]["longest_wait_s"] or 0.0
            callbacks = sum(1 for w in waiting if w.contact.service == svc and w.contact.callback)
            services.append(
                {
                    "service": svc.value,
                    "waiting": int(live[svc]["waiting"] or 0),
                    "longest_wait_s": longest,
                    "callbacks": callbacks,
                    **day,
                    "colour": {
                        "longest_wait": colour(
                            longest if live[svc]["waiting"] else None,
                            limits.longest_wait_amber_s,
                            limits.longest_wait_red_s,
                            high_is_bad=True,
                        ),
                        "service_level": colour(
                            day["service_level"],
                            limits.service_level_amber,
                            limits.service_level_red,
                            high_is_bad=False,
                        ),
                        "abandon_rate": colour(
                            day["abandon_rate"],
                            limits.abandon_rate_amber,
                            limits.abandon_rate_red,
                            high_is_bad=True,
                        ),
                    },
                }
            )
        lawyers = [
            {
                "id": lw.id,
                "name": lw.name or lw.id,
                "state": lw.state.value,
                "since": lw.state_since,
                "break_reason": lw.break_reason,
                **self.today.lawyer_figures(lw.id, now),
            }
            for lw in sorted(self.queue.router.lawyers.values(), key=lambda lw: lw.name or lw.id)
        ]
        queue_now = [w for w in waiting if w.contact.state == ContactState.WAITING]
        queued = [
            {
                "id": w.contact.id,  # the contact's number in the ledger, not the caller's
                "position": w.position,
                "service": w.contact.service.value,
                "channel": w.contact.channel.value,
                "waited_s": w.waited_s,
                "green": bool(w.contact.green),
                "village": w.contact.attrs.get("village", ""),
                "callback": w.contact.callback,
                "chosen_lawyer": w.contact.preferred_lawyer or "",
            }
            for w in queue_now[:SHOWN_WAITING]
        ]
        return {
            "at": now,
            "service_level_s": self.settings.routing.service_level_s,
            "services": services,
            "lawyers": lawyers,
            "waiting": queued,
            "waiting_total": len(queue_now),
            "history": self.today.history(),
        }
