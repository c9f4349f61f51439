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

A steered call's room (`open_steered`, media.steer_calls: the caller's RTP goes
straight to Janus, telephony/steering.py) has two forwarding groups, the caller's and
everyone else's, each forwarded to the worker for the live transcript. Its caller's
leg joins only while the caller talks to the lawyer (`join_caller`: at the caller's own
RTP address, on a handle of its own) and leaves (`leave_caller`) before the call is
steered back to the worker: Janus sends a plain-RTP leg nothing before it has heard
from it, and nothing once it has left. AudioBridge 1.1.2 cannot change a leg's address
(`configure` takes no `rtp`), so a new address is a new leg, at a new Janus port.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from lawline.media.access import MediaAccess, create_room, destroy_room
from lawline.media.janus_client import AudioBridge, JanusError, JanusSession, RtpJoin

log = logging.getLogger(__name__)

RETRY_S = (0.05, 0.1, 0.2, 0.5, 1.0)  # between tries to reach a Janus that is restarting
CALLER = "caller"  # the display name of a room's phone leg (never the caller's number)
# A steered call's room's forwarding groups: the caller's leg, and everyone else (the
# lawyer's browser, a supervisor who joins or barges). Browsers joined to any call's
# room name LAWYER_GROUP: a room without groups ignores it.
CALLER_GROUP = "citizen"
LAWYER_GROUP = "lawyer"
CALL_GROUPS = [CALLER_GROUP, LAWYER_GROUP]


@dataclass(frozen=True)
class Forward:
    """A forwarder of a group's own mix to host:port (G.711 u-law RTP, 20 ms)."""

    group: str
    host: str
    port: int


@dataclass
class _Room:
    rtp_ip: str  # design A: the relay's address, joined with the room; "" when steered
    rtp_port: int
    on_moved: Callable[[RtpJoin], None]
    handle: AudioBridge | None = None
    groups: list[str] | None = None
    forwards: list[Forward] = field(default_factory=list)
    # A steered room's caller leg: where it is (ip, port, codec) while joined, its own
    # handle.
    caller: tuple[str, int, str] | None = None
    caller_handle: AudioBridge | None = None


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
            joined = await self._make(room, record)
            assert joined is not None
            return joined
        except BaseException:
            if self._rooms.get(room) is record:
                del self._rooms[room]
            raise

    async def open_steered(
        self, room: str, forwards: list[Forward], on_moved: Callable[[RtpJoin], None]
    ) -> None:
        """Create a steered call's room (CALL_GROUPS) with these forwarders, no caller's
        leg yet. JanusError if the media server cannot."""
        record = _Room("", 0, on_moved, groups=CALL_GROUPS, forwards=forwards)
        self._rooms[room] = record
        try:
            await self._make(room, record)
        except BaseException:
            if self._rooms.get(room) is record:
                del self._rooms[room]
            raise

    async def join_caller(self, room: str, ip: str, port: int, codec: str = "pcmu") -> RtpJoin:
        """The steered room's caller leg, sending to and taking RTP only from ip:port
        in `codec` (the call's: pcma or pcmu; a leg there before leaves first); where
        Janus takes its RTP. Kept across a Janus restart (on_moved tells the new
        address). JanusError if not joined."""
        record = self._rooms.get(room)
        if record is None or record.groups is None:
            raise JanusError(f"no steered room {room}")
        await self._leave_caller(record)
        record.caller = (ip, port, codec)
        if record.handle is None:  # Janus is away: the restore joins it
            raise JanusError("the media server is restoring the room")
        return await self._join_caller(room, record)

    async def leave_caller(self, room: str) -> None:
        """The caller's leg out of the room: Janus sends it nothing more."""
        record = self._rooms.get(room)
        if record is not None:
            record.caller = None
            await self._leave_caller(record)

    async def _join_caller(self, room: str, record: _Room) -> RtpJoin:
        assert record.caller is not None
        handle = await AudioBridge.attach(await self._current_session(), self.access.admin_key)
        record.caller_handle = handle
        ip, port, codec = record.caller
        try:
            return await handle.join_rtp(
                room,
                ip,
                port,
                codec=codec,
                display=CALLER,
                pin=self.access.room_pin(room),
                group=CALLER_GROUP,
            )
        except BaseException:
            record.caller_handle = None
            with contextlib.suppress(JanusError):
                await handle.detach()
            raise

    async def _leave_caller(self, record: _Room) -> None:
        handle, record.caller_handle = record.caller_handle, None
        if handle is not None:
            # Left (gone with the room, or with a lost session, is as good).
            with contextlib.suppress(JanusError):
                await handle.leave()
            with contextlib.suppress(JanusError):
                await handle.detach()

    async def close(self, room: str) -> None:
        """Destroy the room (its browsers are let go by Janus) and the caller's handle."""
        record = self._rooms.pop(room, None)
        if record is None or record.handle is None:
            return
        await self._leave_caller(record)
        handle, record.handle = record.handle, None
        await destroy_room(handle, room)
        with contextlib.suppress(JanusError):
            await handle.detach()

    async def _make(self, room: str, record: _Room) -> RtpJoin | None:
        """The room on Janus as the record has it; design A's caller leg joined with it,
        a steered room's forwarders (its caller leg after: see _restore)."""
        session = await self._current_session()
        handle = await AudioBridge.attach(session, self.access.admin_key)
        joined: RtpJoin | None = None
        try:
            pin = await create_room(
                handle, self.access, room, rtp_participants=True, groups=record.groups
            )
            for f in record.forwards:
                await handle.rtp_forward(room, f.host, f.port, group=f.group)
            if record.rtp_port:
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
            record.handle = record.caller_handle = None
        await self._current_session_when_up()
        for room, record in list(self._rooms.items()):
            try:
                joined = await self._make(room, record)
                if joined is None and record.caller is not None:
                    joined = await self._join_caller(room, record)
            except JanusError as exc:
                log.error("room not restored", extra={"room": room, "error": str(exc)})
                continue
            self.restores += 1
            if joined is not None:
                record.on_moved(joined)

    async def stop(self) -> None:
        for room in list(self._rooms):
            await self.close(room)
        session, self._session = self._session, None
        if session is not None:
            with contextlib.suppress(JanusError):
                await session.destroy()
