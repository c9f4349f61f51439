"""The browsers' cameras in a VideoRoom, and the videos each browser watches.

A conversation with video has a VideoRoom beside its audio room (media/legs.py): each
browser with a camera publishes it there as a feed named by its owner's seat, and
watches others on one more PeerConnection, a multistream subscription: Janus offers,
the browser answers over its socket (`Watcher` sends the offer; `answered` takes the
answer). What each browser should watch is the caller's rule (mediation/live.py: whom
you hear, you see); here a subscription is brought to it one renegotiation at a time
(`Subscription`: never a second offer while the browser holds one). Janus also offers
on its own when a publisher it relays goes away; a task per subscription passes those on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field

from lawline.media.access import MediaAccess
from lawline.media.janus_client import (
    VIDEO_NO_SUCH_ROOM,
    VIDEO_ROOM_EXISTS,
    JanusError,
    JanusSession,
    VideoRoom,
    VideoStream,
    video_streams,
)
from lawline.media.legs import LegRefused

log = logging.getLogger(__name__)

MAX_PUBLISHERS = 9  # a mediation's 8 participants, and one taking a seat over
EVENT_WAIT_S = 60.0
LIVE_WAIT_S = 30.0  # a camera whose connection is not up by then is not watched
# The browser is sent Janus's offer: the sdp, and which feed each mid carries.
Watcher = Callable[[str, list[VideoStream]], Awaitable[None]]


@dataclass
class Subscription:
    """What one browser watches, as a plain state: the feeds Janus's last offer carries,
    the feeds it should, and whether that offer's answer is still to come."""

    current: frozenset[str] = frozenset()
    wanted: frozenset[str] = frozenset()
    awaiting: bool = False

    def offered(self, streams: list[VideoStream]) -> None:
        self.current = frozenset(s.feed for s in streams if s.active)
        self.awaiting = True

    def answered(self) -> None:
        self.awaiting = False

    def next_update(self) -> tuple[list[str], list[str]] | None:
        """Feeds to add and to take away now; None while an offer is out or nothing to do."""
        if self.awaiting or self.wanted == self.current:
            return None
        return sorted(self.wanted - self.current), sorted(self.current - self.wanted)


@dataclass
class _Watching:
    handle: VideoRoom | None
    tell: Watcher
    state: Subscription = field(default_factory=Subscription)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    reader: asyncio.Task[None] | None = None


class VideoLegs:
    def __init__(
        self,
        access: MediaAccess,
        session: Callable[[], Awaitable[JanusSession]],
        bitrate: int = 384_000,
    ) -> None:
        self.access = access
        self._session = session  # the process's Janus session (BrowserLegs's)
        self.bitrate = bitrate
        self._publishers: dict[tuple[Hashable, str], tuple[str, VideoRoom]] = {}
        self._going_live: dict[tuple[Hashable, str], asyncio.Task[None]] = {}
        self._watching: dict[tuple[Hashable, str], _Watching] = {}

    def feeds(self, room: str) -> dict[Hashable, str]:
        """Each owner publishing in `room`, and its feed."""
        return {owner: feed for (owner, r), (feed, _) in self._publishers.items() if r == room}

    async def _attach(self) -> VideoRoom:
        try:
            session = await self._session()
            return await VideoRoom.attach(session, self.access.admin_key)
        except JanusError as exc:
            raise LegRefused("媒体服务器暂时无法连接") from exc

    async def open_room(self, room: str) -> None:
        """Create `room`, private with its PIN; one left by a process that died is made
        afresh."""
        handle = await self._attach()
        pin = self.access.room_pin(room)

        async def create() -> None:
            await handle.create_room(room, pin=pin, publishers=MAX_PUBLISHERS, bitrate=self.bitrate)

        try:
            try:
                await create()
            except JanusError as exc:
                if exc.code != VIDEO_ROOM_EXISTS:
                    raise
                await handle.destroy_room(room, pin)
                await create()
        except JanusError as exc:
            log.warning("video room not made", extra={"room": room, "error": str(exc)})
            raise LegRefused("媒体服务器拒绝了操作") from exc
        finally:
            with contextlib.suppress(JanusError):
                await handle.detach()

    async def close_room(self, room: str) -> None:
        """Every publisher and subscription in `room` let go, the room destroyed."""
        for owner, in_room in list(self._publishers) + list(self._watching):
            if in_room == room:
                await self.leave(owner, room)
        handle = await self._attach()
        try:
            await handle.destroy_room(room, self.access.room_pin(room))
        except JanusError as exc:
            if exc.code != VIDEO_NO_SUCH_ROOM:
                log.warning("video room not destroyed", extra={"room": room, "error": str(exc)})
        finally:
            with contextlib.suppress(JanusError):
                await handle.detach()

    def forget(self, room: str) -> None:
        """The media server lost `room` with this process's session (it restarted): what
        was held there is dropped without asking it anything."""
        for key in [k for k in self._publishers if k[1] == room]:
            del self._publishers[key]
            going_live = self._going_live.pop(key, None)
            if going_live is not None:
                going_live.cancel()
        for key in [k for k in self._watching if k[1] == room]:
            watching = self._watching.pop(key)
            if watching.reader is not None:
                watching.reader.cancel()

    async def publish(
        self,
        owner: Hashable,
        room: str,
        feed: str,
        offer_sdp: str,
        *,
        display: str,
        on_live: Callable[[], Awaitable[None]],
    ) -> str:
        """The owner's camera (its browser's complete offer) into `room` as `feed`, in
        place of any it published there before; Janus's answer. LegRefused if refused.
        `on_live` is called once its connection is up: only then can it be watched."""
        await self._unpublish(owner, room)
        handle = await self._attach()
        try:
            answer = await handle.publish(
                room, feed, offer_sdp, display=display, pin=self.access.room_pin(room)
            )
        except JanusError as exc:
            with contextlib.suppress(JanusError):
                await handle.detach()
            log.warning("camera not published", extra={"room": room, "error": str(exc)})
            raise LegRefused("媒体服务器拒绝了视频") from exc
        self._publishers[(owner, room)] = (feed, handle)
        self._going_live[(owner, room)] = asyncio.get_running_loop().create_task(
            self._until_live(handle, on_live)
        )
        return answer

    async def _until_live(self, handle: VideoRoom, on_live: Callable[[], Awaitable[None]]) -> None:
        """Janus says `webrtcup` when the camera's connection is up (DTLS done)."""
        try:
            async with asyncio.timeout(LIVE_WAIT_S):
                while True:
                    event = await handle.session.next_event(handle.handle, LIVE_WAIT_S)
                    if event.get("janus") == "webrtcup":
                        break
        except (TimeoutError, JanusError):
            log.warning("a camera's connection did not come up")
            return
        await on_live()

    async def watch(self, owner: Hashable, room: str, feeds: frozenset[str], tell: Watcher) -> None:
        """The owner's browser should watch these feeds: offered them now, or once it
        answered the offer it holds."""
        watching = self._watching.get((owner, room))
        if watching is None:
            if not feeds:
                return
            watching = self._watching[(owner, room)] = _Watching(None, tell)
        watching.tell = tell
        async with watching.lock:
            watching.state.wanted = feeds
            await self._renegotiate(owner, room, watching)

    async def answered(self, owner: Hashable, room: str, answer_sdp: str) -> None:
        """The browser's answer to the offer it was sent."""
        watching = self._watching.get((owner, room))
        if watching is None or watching.handle is None or not watching.state.awaiting:
            raise LegRefused("没有待应答的视频")
        async with watching.lock:
            try:
                await watching.handle.start(answer_sdp)
            except JanusError as exc:
                log.warning("video answer refused", extra={"room": room, "error": str(exc)})
                raise LegRefused("媒体服务器拒绝了视频") from exc
            finally:
                watching.state.answered()
            await self._renegotiate(owner, room, watching)

    async def _renegotiate(self, owner: Hashable, room: str, watching: _Watching) -> None:
        state = watching.state
        change = state.next_update()
        if change is None:
            return
        add, drop = change
        try:
            if watching.handle is None:
                handle = await self._attach()
                watching.handle = handle
                sdp, streams = await handle.subscribe(
                    room, sorted(state.wanted), pin=self.access.room_pin(room)
                )
                watching.reader = asyncio.get_running_loop().create_task(
                    self._read(owner, room, watching, handle)
                )
            else:
                renegotiation = await watching.handle.update(add, drop)
                if renegotiation is None:  # nothing to negotiate, or Janus offers later
                    state.current = state.wanted
                    return
                sdp, streams = renegotiation
        except JanusError as exc:
            # A feed that went away before we asked: the next change asks again.
            log.warning("video subscription not changed", extra={"room": room, "error": str(exc)})
            state.wanted = state.current
            return
        await self._offer(watching, sdp, streams)

    async def _offer(self, watching: _Watching, sdp: str, streams: list[VideoStream]) -> None:
        watching.state.offered(streams)
        try:
            await watching.tell(sdp, [s for s in streams if s.active])
        except Exception:
            log.info("a browser could not be sent its video offer")

    async def _read(
        self, owner: Hashable, room: str, watching: _Watching, handle: VideoRoom
    ) -> None:
        """Janus's own offers on this subscription (a publisher in it went away)."""
        while self._watching.get((owner, room)) is watching:
            try:
                event = await handle.session.next_event(handle.handle, EVENT_WAIT_S)
            except JanusError:
                if handle.session.lost.is_set() or not handle.session.attached(handle.handle):
                    return
                continue
            jsep = event.get("jsep") or {}
            if jsep.get("type") != "offer" or not jsep.get("sdp"):
                continue
            data = (event.get("plugindata") or {}).get("data") or {}
            async with watching.lock:
                await self._offer(watching, str(jsep["sdp"]), video_streams(data))

    async def _unpublish(self, owner: Hashable, room: str) -> None:
        going_live = self._going_live.pop((owner, room), None)
        if going_live is not None:
            going_live.cancel()
        held = self._publishers.pop((owner, room), None)
        if held is not None:
            with contextlib.suppress(JanusError):
                await held[1].detach()  # Janus hangs the camera's PeerConnection up

    async def leave(self, owner: Hashable, room: str | None = None) -> None:
        """Let go of the owner's camera and subscription in `room`, or in every room."""
        for key in [k for k in self._publishers if k[0] == owner and room in (None, k[1])]:
            await self._unpublish(*key)
        for key in [k for k in self._watching if k[0] == owner and room in (None, k[1])]:
            watching = self._watching.pop(key)
            if watching.reader is not None:
                watching.reader.cancel()
            if watching.handle is not None:
                with contextlib.suppress(JanusError):
                    await watching.handle.detach()
