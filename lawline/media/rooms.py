"""The conversation rooms a telephony worker keeps on the media server.

A phone conversation's room is an AudioBridge room named by its contact id, made
private with a PIN (media/access.py). The worker that holds the call creates it when a
lawyer is offered the call and joins the caller's leg: a plain-RTP participant (G.711,
20 ms) in the room's phone group, whose other end is the worker's relay
(telephony/bridge.py). A room may forward a group's own mix (its phone legs' voices,
its browsers') as RTP to a given address. Browsers are joined by the web processes
(media/legs.py).

One Janus session serves the worker; each room has its handle (the one that created
it) and its phone leg its own. When Janus restarts, the session is lost and every room
with it: `run` makes a new session as soon as Janus answers, re-creates each room, its
forwarders and its phone leg, and tells the leg's owner where Janus now takes its RTP
(`on_moved`). The browsers, told by their web process, join again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from lawline.media.access import PHONE_GROUP, MediaAccess, create_room, destroy_room
from lawline.media.janus_client import AudioBridge, JanusError, JanusSession, RtpJoin

log = logging.getLogger(__name__)

RETRY_S = (0.05, 0.1, 0.2, 0.5, 1.0)  # between tries to reach a Janus that is restarting
READY_WAIT_S = 10.0  # a leg joining waits this long for its room being (re)made
CALLER = "caller"  # the display name of a room's phone leg (never the caller's number)


@dataclass(frozen=True, slots=True)
class PhoneLeg:
    """Where the caller's leg sends from and takes RTP, in which G.711 law."""

    ip: str
    port: int
    codec: str  # "pcmu" or "pcma"
    on_moved: Callable[[RtpJoin], None]  # told Janus's new address after a restart


@dataclass
class _Room:
    # The worker's addresses taking each group's own mix (group -> (ip, port)).
    forward: dict[str, tuple[str, int]] = field(default_factory=dict)
    handle: AudioBridge | None = None  # the room's maker
    phone: PhoneLeg | None = None
    phone_handle: AudioBridge | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)


class ConversationRooms:
    def __init__(self, access: MediaAccess) -> None:
        self.access = access
        self._session: JanusSession | None = None
        self._session_lock = asyncio.Lock()
        self._rooms: dict[str, _Room] = {}
        self.restores = 0  # rooms re-created after Janus came back

    def __len__(self) -> int:
        return len(self._rooms)

    async def open(self, room: str, forward: dict[str, tuple[str, int]] | None = None) -> None:
        """Create the room, forwarding each group in `forward` to its address.
        JanusError if the media server cannot."""
        record = _Room(dict(forward or {}))
        self._rooms[room] = record
        try:
            await self._make(room, record)
        except BaseException:
            if self._rooms.get(room) is record:
                del self._rooms[room]
            raise

    async def join_phone(self, room: str, leg: PhoneLeg) -> RtpJoin:
        """Join the caller's leg (replacing one already in); where Janus takes its RTP."""
        record = self._rooms.get(room)
        if record is None:
            raise JanusError("no such conversation room")
        try:
            await asyncio.wait_for(record.ready.wait(), READY_WAIT_S)
        except TimeoutError:
            raise JanusError("the conversation room is not there (media server away)") from None
        await self._drop_phone(record)
        record.phone = leg
        return await self._join_phone(room, record, leg)

    async def close(self, room: str) -> None:
        """Destroy the room (its browsers are let go by Janus) and its handles."""
        record = self._rooms.pop(room, None)
        if record is None:
            return
        record.phone = None
        await self._drop_phone(record)
        if record.handle is None:
            return
        handle, record.handle = record.handle, None
        await destroy_room(handle, room)
        with contextlib.suppress(JanusError):
            await handle.detach()

    async def _make(self, room: str, record: _Room) -> None:
        record.ready.clear()
        session = await self._current_session()
        handle = await AudioBridge.attach(session, self.access.admin_key)
        try:
            await create_room(handle, self.access, room, rtp_participants=True)
            for group, (ip, port) in record.forward.items():
                await handle.rtp_forward(room, ip, port, group=group)
        except BaseException:
            with contextlib.suppress(JanusError):
                await handle.detach()
            raise
        if self._rooms.get(room) is not record:  # closed while it was being made
            with contextlib.suppress(JanusError):
                await handle.destroy_room(room)
                await handle.detach()
            raise JanusError("the room was closed while it was made")
        record.handle = handle
        record.ready.set()

    async def _join_phone(self, room: str, record: _Room, leg: PhoneLeg) -> RtpJoin:
        handle = await AudioBridge.attach(await self._current_session(), self.access.admin_key)
        try:
            joined = await handle.join_rtp(
                room,
                leg.ip,
                leg.port,
                codec=leg.codec,
                display=CALLER,
                pin=self.access.room_pin(room),
                group=PHONE_GROUP,
            )
        except BaseException:
            with contextlib.suppress(JanusError):
                await handle.detach()
            raise
        if self._rooms.get(room) is not record or record.phone is not leg:
            with contextlib.suppress(JanusError):  # closed or replaced meanwhile
                await handle.detach()
            raise JanusError("the caller's leg was let go while it joined")
        record.phone_handle = handle
        return joined

    @staticmethod
    async def _drop_phone(record: _Room) -> None:
        handle, record.phone_handle = record.phone_handle, None
        if handle is not None:
            with contextlib.suppress(JanusError):
                await handle.detach()  # the participant leaves with its handle

    async def _current_session(self) -> JanusSession:
        async with self._session_lock:
            session = self._session
            if session is None or session.lost.is_set():
                session = self._session = await self.access.client.session()
            return session

    async def run(self) -> None:
        """Forever: after Janus has lost this worker's session, bring every room back."""
        while True:
            session = await self._current_session_when_up()
            await session.lost.wait()
            del session
            await self._restore()

    async def _current_session_when_up(self) -> JanusSession:
        tries = 0
        while True:
            try:
                return await self._current_session()
            except JanusError:
                await asyncio.sleep(RETRY_S[min(tries, len(RETRY_S) - 1)])
                tries += 1

    async def _restore(self) -> None:
        # Nothing of a room is held in run()'s frame while it waits: a call's port must
        # not outlive the call (pjsua asserts if one is collected after it stops).
        log.warning("media server lost this worker's rooms", extra={"rooms": len(self)})
        for record in self._rooms.values():
            record.handle = record.phone_handle = None
        await self._current_session_when_up()
        for room, record in list(self._rooms.items()):
            try:
                await self._make(room, record)
                leg = record.phone
                if leg is not None:
                    leg.on_moved(await self._join_phone(room, record, leg))
            except JanusError as exc:
                log.error("room not restored", extra={"room": room, "error": str(exc)})
                continue
            self.restores += 1

    async def stop(self) -> None:
        for room in list(self._rooms):
            await self.close(room)
        session, self._session = self._session, None
        if session is not None:
            with contextlib.suppress(JanusError):
                await session.destroy()
