"""A supervisor listening in on a phone call, coaching its lawyer, or joining it.

The supervisor's browser joins the call's room (media/rooms.py) like the lawyer's
console, over this web process's legs (media/legs.py):
  listen   joined muted: hears caller and lawyer, neither hears them;
  barge    unmuted: caller and lawyer both hear them;
  whisper  the lawyer alone hears them. AudioBridge mixes one sound for everyone in a
           room, so whisper has a room of its own, the call's coach room
           (`{contact_id}:coach`, made by this process with the room PIN): the
           supervisor stays muted in the call's room and speaks in the coach room, where
           the lawyer's console joins muted with a second connection.
The coach room is made on the supervisor's first coach offer and destroyed when
monitoring stops (the supervisor stops or leaves, the call ends). The lawyer's console
is told over its signalling channel (`tell`): `coach_start`/`coach_stop` so it joins
and leaves the coach room, and, where the centre announces monitoring (the default),
`monitored` with the mode, or none when it stops. Each start, change and stop is
written to the audit trail (`audit`): who, which contact, which mode; no number.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from enum import StrEnum

from lawline.media.legs import BrowserLegs
from lawline.media.rooms import LAWYER_GROUP

DISPLAY = "supervisor"  # a supervisor's display name in a room (never their name)


class Mode(StrEnum):
    LISTEN = "listen"
    BARGE = "barge"
    WHISPER = "whisper"


class MonitorRefused(Exception):
    """A monitoring request that cannot be carried out (the message says why)."""


def coach_room(contact_id: str) -> str:
    return f"{contact_id}:coach"


# tell(lawyer_id, message): a message for the lawyer's console ({contact_id, kind, ...});
# audit(action, contact_id, mode): one row of the audit trail (start, mode, stop).
Tell = Callable[[str, dict[str, object]], Awaitable[None]]
Audit = Callable[[str, str, Mode | None], Awaitable[None]]


@dataclass
class Watch:
    """The call one supervisor's page monitors."""

    contact_id: str
    lawyer_id: str
    mode: Mode
    coached: bool = False  # the supervisor has a leg in the coach room


class Monitoring:
    """One supervisor page's monitoring: one call at a time."""

    def __init__(
        self, legs: BrowserLegs, owner: Hashable, tell: Tell, audit: Audit, announce: bool
    ) -> None:
        self.legs = legs
        self.owner = owner
        self.tell = tell
        self.audit = audit
        self.announce = announce  # the lawyer's console shows that they are monitored
        self.watch: Watch | None = None
        self._lock = asyncio.Lock()  # frames and the call's end act one at a time

    async def start(self, contact_id: str, lawyer_id: str, mode: Mode, sdp: str) -> str:
        """Join the call's room (muted unless barging); the media server's answer.
        Another call being monitored is let go first; the same call's leg is replaced."""
        async with self._lock:
            if self.watch is not None and self.watch.contact_id != contact_id:
                await self._stop()
            answer = await self.legs.join(
                self.owner,
                contact_id,
                sdp,
                display=DISPLAY,
                muted=mode != Mode.BARGE,
                group=LAWYER_GROUP,  # barging, heard on the lawyer's side, as in design A
            )
            first = self.watch is None
            if first:
                self.watch = Watch(contact_id, lawyer_id, mode)
            assert self.watch is not None
            await self._apply(self.watch, mode)
            await self.audit("start" if first else "mode", contact_id, mode)
            return answer

    async def coach(self, contact_id: str, sdp: str) -> str:
        """Join the call's coach room (made now if need be); speaking there only in
        whisper. The lawyer's console is told to join it."""
        async with self._lock:
            watch = self._current(contact_id)
            room = coach_room(contact_id)
            if not watch.coached:
                await self.legs.open_room(room)
            answer = await self.legs.join(
                self.owner, room, sdp, display=DISPLAY, muted=watch.mode != Mode.WHISPER
            )
            if not watch.coached:
                watch.coached = True
                await self.tell(watch.lawyer_id, {"contact_id": contact_id, "kind": "coach_start"})
            return answer

    async def set_mode(self, contact_id: str, mode: Mode) -> None:
        async with self._lock:
            watch = self._current(contact_id)
            if mode == Mode.WHISPER and not watch.coached:
                raise MonitorRefused("指导前须先接通指导音频（coach_offer）")
            await self._apply(watch, mode)
            await self.audit("mode", contact_id, mode)

    async def stop(self, contact_id: str | None = None) -> bool:
        """Stop monitoring (that call, or whichever); False if it was not monitored."""
        async with self._lock:
            if self.watch is None or contact_id not in (None, self.watch.contact_id):
                return False
            await self._stop()
            return True

    def _current(self, contact_id: str) -> Watch:
        if self.watch is None or self.watch.contact_id != contact_id:
            raise MonitorRefused("未在监听这通电话")
        return self.watch

    async def _apply(self, watch: Watch, mode: Mode) -> None:
        """Mute and unmute the supervisor's legs for `mode`; tell the lawyer."""
        await self.legs.set_muted(self.owner, watch.contact_id, mode != Mode.BARGE)
        if watch.coached:
            await self.legs.set_muted(
                self.owner, coach_room(watch.contact_id), mode != Mode.WHISPER
            )
        watch.mode = mode
        await self._announce(watch, mode)

    async def _announce(self, watch: Watch, mode: Mode | None) -> None:
        if self.announce:
            message = {"contact_id": watch.contact_id, "kind": "monitored", "mode": mode}
            await self.tell(watch.lawyer_id, message)

    async def _stop(self) -> None:
        watch, self.watch = self.watch, None
        assert watch is not None
        try:
            await self.legs.leave(self.owner, watch.contact_id)
            if watch.coached:
                await self.legs.leave(self.owner, coach_room(watch.contact_id))
                await self.legs.close_room(coach_room(watch.contact_id))
                await self.tell(
                    watch.lawyer_id, {"contact_id": watch.contact_id, "kind": "coach_stop"}
                )
            await self._announce(watch, None)
        finally:
            await self.audit("stop", watch.contact_id, watch.mode)
