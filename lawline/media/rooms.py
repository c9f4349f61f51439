"""The conversation rooms a telephony worker keeps on the media server.

A phone conversation's room is an AudioBridge room named by its contact id, made
private with a PIN (media/access.py). The worker that holds the call creates it and
is its caller's leg: a plain-RTP participant (G.711 u-law, 20 ms) whose audio comes
from and goes to the call in pjsua's conference (telephony/bridge.py). Browsers are
joined by the web processes (media/legs.py).

One Janus session serves the worker; each room has its own handle (the one that
created it, and the caller's participant). When Janus restarts, the session is lost
and every room with it: `run` makes a new session as soon as Janus answers, re-creates
each room and its caller's leg, and tells the room's owner where Janus now takes its
RTP (`on_moved`). The browsers, told by their web process, join again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from lawline.media.access import MediaAccess, create_room, destroy_room
from lawline.media.janus_client import AudioBridge, JanusError, JanusSession, RtpJoin

log = logging.getLogger(__name__)

RETRY_S = (0.05, 0.1, 0.2, 0.5, 1.0)  # between tries to reach a Janus that is restarting
CALLER = "caller"  # the display name of a room's phone leg (never the caller's number)


@dataclass
class _Room:
    rtp_ip: str
    rtp_port: int
    on_moved: Callable[[RtpJoin], None]
    handle: AudioBridge | None = None


class ConversationRooms:
    def __init__(self, access: MediaAccess) -> None:
        self.access = access
        self._session: JanusSession | None = None
        self._session_lock = asyncio.Lock()
        self._rooms: dict[str, _Room] = {}
        self.restores = 0  # rooms re-created after Janus came back

    def __len__(self) -> int:
        return len(self._rooms)

    async def open(
        self, room: str, rtp_ip: str, rtp_port: int, on_moved: Callable[[RtpJoin], None]
    ) -> RtpJoin:
        """Create the room and join the caller's leg (RTP from and to rtp_ip:rtp_port);
        where Janus takes the leg's RTP. JanusError if the media server cannot."""
        record = _Room(rtp_ip, rtp_port, on_moved)
        self._rooms[room] = record
        try:
            return await self._make(room, record)
        except BaseException:
            if self._rooms.get(room) is record:
                del self._rooms[room]
            raise

    async def close(self, room: str) -> None:
        """Destroy the room (its browsers are let go by Janus) and the caller's handle."""
        record = self._rooms.pop(room, None)
        if record is None or record.handle is None:
            return
        handle, record.handle = record.handle, None
        await destroy_room(handle, room)
        with contextlib.suppress(JanusError):
            await handle.detach()

    async def _make(self, room: str, record: _Room) -> RtpJoin:
        session = await self._current_session()
        handle = await AudioBridge.attach(session, self.access.admin_key)
        try:
            pin = await create_room(handle, self.access, room, rtp_participants=True)
            joined = await handle.join_rtp(
                room, record.rtp_ip, record.rtp_port, display=CALLER, pin=pin
            )
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
        return joined

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
            record.handle = None
        await self._current_session_when_up()
        for room, record in list(self._rooms.items()):
            try:
                joined = await self._make(room, record)
            except JanusError as exc:
                log.error("room not restored", extra={"room": room, "error": str(exc)})
                continue
            self.restores += 1
            record.on_moved(joined)

    async def stop(self) -> None:
        for room in list(self._rooms):
            await self.close(room)
        session, self._session = self._session, None
        if session is not None:
            with contextlib.suppress(JanusError):
                await session.destroy()
