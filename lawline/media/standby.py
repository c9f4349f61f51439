"""A duty lawyer's audio, connected before the call comes.

A browser's WebRTC connection to the media server takes a few hundred ms to come up
(Janus's answer, ICE, DTLS, the jitter buffer filling); made at accept, it was most of
the wait before lawyer and caller heard each other. So a console on duty keeps one
connection up between calls, parked in a standby room of its own; at accept the leg
moves into the call's room (AudioBridge's changeroom: no new negotiation, the audio
flows at the room's next mix) and back to a standby room when the call ends.

A parked leg is muted and alone in its room, so nobody hears it (the browser also
sends no microphone audio while parked). A room of its own, not one shared by every
parked console: AudioBridge tells every participant of a room about each one joining
or leaving, and with N consoles parked together each accept cost N events on this
process's session (at 40 accepts at once the moves' replies came seconds late). The
standby room is destroyed once its leg has moved into a call (a room's mixer runs as
long as the room exists) and a new one is made for the way back. A call's room
destroyed before its leg was moved back takes the connection with it (Janus hangs it
up): `back` says so and the console makes a new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
from collections.abc import Callable, Hashable

from lawline.media.legs import BrowserLegs, LegRefused

log = logging.getLogger(__name__)

ROOM_WAIT_S = 3.0  # at accept, how long a leg waits for a call's room being made
# A standby room its leg has left is destroyed this long after: not among the accept's
# own requests to Janus (the caller's leg, the steer), which queue behind it otherwise.
CLOSE_AFTER_S = 5.0


class StandbyLegs:
    def __init__(self, legs: BrowserLegs) -> None:
        self.legs = legs
        # Unique per process: two web processes on one media server keep their own.
        self.prefix = f"standby-{secrets.token_hex(6)}-"
        self._numbers = itertools.count(1)
        self._rooms: dict[Hashable, str] = {}  # owner -> its standby room, while parked
        self._in_call: dict[Hashable, str] = {}  # owner -> the call's room its leg is in
        self._closing: dict[str, asyncio.Task[None]] = {}  # standby rooms left, to destroy

    def owns(self, room: str) -> bool:
        """A standby room of this process."""
        return room.startswith(self.prefix)

    def parked(self, owner: Hashable) -> bool:
        room = self._rooms.get(owner)
        return room is not None and self.legs.joined(owner, room)

    def room_of(self, owner: Hashable) -> str | None:
        """The owner's standby room, while its leg is parked."""
        return self._rooms.get(owner)

    def in_call(self, owner: Hashable) -> str | None:
        """The call's room the owner's standby leg is in now, if it is in one."""
        return self._in_call.get(owner)

    async def park(
        self,
        owner: Hashable,
        offer_sdp: str,
        *,
        display: str,
        on_lost: Callable[[str], None] | None = None,
    ) -> str:
        """Join the owner's browser to a standby room of its own, muted, with its complete
        offer; Janus's answer. Replaces the owner's earlier standby leg. LegRefused if
        Janus would not."""
        await self.leave(owner)
        room = await self._new_room(owner)
        try:
            return await self.legs.join(
                owner, room, offer_sdp, display=display, muted=True, on_lost=on_lost
            )
        except BaseException:
            await self.leave(owner)
            raise

    async def into_call(self, owner: Hashable, room: str, *, display: str, group: str) -> bool:
        """Move the owner's parked leg into the call's `room`, unmuted (waiting a little
        for a room being made): True when it moved and the browser hears the call now;
        False when it has none parked, or the move failed: the leg is then let go (an
        unanswered move may still have been made) and the console joins the call with
        a connection of its own, as before."""
        standby = self._rooms.get(owner)
        if standby is None or not self.parked(owner) or self.legs.joined(owner, room):
            return False
        try:
            await self.legs.move(
                owner, standby, room, display=display, group=group, muted=False,
                wait_s=ROOM_WAIT_S,
            )  # fmt: skip
        except LegRefused:
            await self.leave(owner)
            return False
        del self._rooms[owner]
        self._in_call[owner] = room
        self._close_later(standby)
        return True

    async def back(self, owner: Hashable, room: str, *, display: str) -> bool:
        """The call in `room` is over for the owner: its leg goes back to a new standby
        room, muted. False when there was no standby leg in that call or it could not
        go back (the call's room was destroyed first and the connection with it): the
        leg is let go and the console makes a new one."""
        if self._in_call.get(owner) != room:
            return False
        del self._in_call[owner]
        if not self.legs.joined(owner, room):
            return False
        try:
            standby = await self._new_room(owner)
            await self.legs.move(owner, room, standby, display=display, group="", muted=True)
        except LegRefused:
            await self.legs.leave(owner, room)
            await self.leave(owner)
            return False
        return True

    def lost(self, owner: Hashable) -> None:
        """The media server lost the owner's standby leg (it restarted, and its rooms
        with it): its browser offers again."""
        self._in_call.pop(owner, None)
        self._rooms.pop(owner, None)

    async def leave(self, owner: Hashable) -> None:
        """Let go of the owner's standby leg, parked or in a call (its console closed,
        or went off duty), and of its standby room."""
        call = self._in_call.pop(owner, None)
        if call is not None:
            await self.legs.leave(owner, call)
        room = self._rooms.pop(owner, None)
        if room is not None:
            await self.legs.leave(owner, room)
            with contextlib.suppress(LegRefused):
                await self.legs.close_room(room)

    async def stop(self) -> None:
        """The web process stops: its standby rooms go (its legs go with BrowserLegs)."""
        self._in_call.clear()
        for owner in list(self._rooms):
            await self.leave(owner)
        closing = dict(self._closing)
        for task in closing.values():
            task.cancel()
        await asyncio.gather(*closing.values(), return_exceptions=True)
        for room in closing:  # now, not later
            with contextlib.suppress(LegRefused):
                await self.legs.close_room(room)

    async def _new_room(self, owner: Hashable) -> str:
        room = f"{self.prefix}{next(self._numbers)}"
        self._rooms[owner] = room
        try:
            await self.legs.open_room(room)
        except BaseException:
            if self._rooms.get(owner) == room:
                del self._rooms[owner]
            raise
        return room

    def _close_later(self, room: str) -> None:
        """Destroy a standby room its leg has left, a little after the call's start."""

        async def close() -> None:
            await asyncio.sleep(CLOSE_AFTER_S)
            try:
                await self.legs.close_room(room)
            except Exception:
                log.warning("standby room not destroyed", extra={"room": room})
            finally:
                self._closing.pop(room, None)

        self._closing[room] = asyncio.get_running_loop().create_task(close())
