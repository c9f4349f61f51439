"""The mediation rooms a web process holds open: who sits where, and their audio.

A mediation's room is an AudioBridge room (`m-` and the case number, private with its
PIN) with one forwarding group per seat: the mediator's and each party's (`p` and the
party's id), so each voice can be taken apart for the transcript. A seat is held by one
socket at a time (its owner): the mediator's console, or the party's page opened from
their link; a second socket for the same seat takes it over (a party whose link
dropped comes back). Everyone in the room hears everyone but themselves (AudioBridge
mixes each participant's audio without their own).

The mediator may mute a seat, remove a party (their page is told, their audio leaves),
lock the room (no one new takes a seat; a party who was in and dropped comes back) and
close it (everyone is told; nothing is left on the media server). Every change is told
to every seated socket as `participants`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from lawline.media.legs import BrowserLegs, LegRefused

log = logging.getLogger(__name__)

MEDIATOR = "mediator"
Tell = Callable[[dict[str, Any]], Awaitable[None]]


class RoomRefused(Exception):
    """What was asked of the room cannot be done; the message (Chinese) says why."""


def room_name(case_id: str) -> str:
    return f"m-{case_id}"


def party_seat(party_id: int) -> str:
    return f"p{party_id}"


@dataclass
class Seat:
    who: str  # MEDIATOR or party_seat(id): also its forwarding group
    name: str
    role: str  # mediator, applicant, respondent, third_party
    reach: str  # how the party takes part: phone, terminal, link, hall; the mediator: link
    present: bool = False  # its socket is here
    admitted: bool = False  # has been in the room: comes back even when it is locked
    joined: bool = False  # its audio is in the room
    muted: bool = False
    owner: Hashable | None = None
    tell: Tell | None = None

    def json(self) -> dict[str, Any]:
        return {
            "who": self.who,
            "name": self.name,
            "role": self.role,
            "reach": self.reach,
            "present": self.present,
            "joined": self.joined,
            "muted": self.muted,
        }


@dataclass
class LiveRoom:
    case_id: str
    seats: dict[str, Seat]
    locked: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def room(self) -> str:
        return room_name(self.case_id)

    def participants(self) -> list[dict[str, Any]]:
        return [s.json() for s in self.seats.values()]


@dataclass(frozen=True)
class SeatOf:
    """A party's seat as the database has it (name, role, how reached)."""

    party_id: int
    name: str
    role: str
    reach: str


class LiveRooms:
    def __init__(self, legs: BrowserLegs) -> None:
        self.legs = legs
        self._rooms: dict[str, LiveRoom] = {}

    def __len__(self) -> int:
        return len(self._rooms)

    def get(self, case_id: str) -> LiveRoom | None:
        return self._rooms.get(case_id)

    async def open(self, case_id: str, mediator: str, parties: Sequence[SeatOf]) -> LiveRoom:
        """The mediation's room, made now if it is not open yet."""
        live = self._rooms.get(case_id)
        if live is not None:
            return live
        seats = {MEDIATOR: Seat(MEDIATOR, mediator, "mediator", "console")}
        for p in parties:
            seats[party_seat(p.party_id)] = Seat(party_seat(p.party_id), p.name, p.role, p.reach)
        live = LiveRoom(case_id, seats)
        self._rooms[case_id] = live
        try:
            await self.legs.open_room(live.room, groups=list(seats))
        except LegRefused:
            del self._rooms[case_id]
            raise
        log.info("mediation room opened", extra={"case": case_id, "seats": len(seats)})
        return live

    def _live(self, case_id: str) -> LiveRoom:
        live = self._rooms.get(case_id)
        if live is None:
            raise RoomRefused("调解室尚未开启")
        return live

    def _seat(self, live: LiveRoom, who: str) -> Seat:
        seat = live.seats.get(who)
        if seat is None:
            raise RoomRefused("调解室里没有这个座位")
        return seat

    async def take_seat(self, case_id: str, who: str, owner: Hashable, tell: Tell) -> None:
        """This socket holds the seat now (one held elsewhere is let go: told `replaced`)."""
        live = self._live(case_id)
        async with live.lock:
            seat = self._seat(live, who)
            if live.locked and not seat.admitted and who != MEDIATOR:
                raise RoomRefused("调解室已锁定，请联系调解员")
            if seat.owner is not None and seat.owner != owner and seat.tell is not None:
                await self.legs.leave(seat.owner, live.room)
                with contextlib.suppress(Exception):
                    await seat.tell({"type": "replaced"})
            seat.owner, seat.tell, seat.present, seat.joined = owner, tell, True, False
            seat.admitted = True
        await self._tell_all(live)

    async def offer(self, case_id: str, who: str, owner: Hashable, sdp: str) -> str:
        """Join the seat's audio to the room with its browser's complete offer; the answer."""
        live = self._live(case_id)
        seat = self._seat(live, who)
        if seat.owner != owner:
            raise RoomRefused("这个座位已由别处接入")
        answer = await self.legs.join(
            owner, live.room, sdp, display=seat.name, muted=seat.muted, group=who
        )
        seat.joined = True
        await self._tell_all(live)
        return answer

    async def mute(self, case_id: str, who: str, muted: bool) -> None:
        live = self._live(case_id)
        seat = self._seat(live, who)
        seat.muted = muted
        if seat.joined and seat.owner is not None:
            await self.legs.set_muted(seat.owner, live.room, muted)
        await self._tell_all(live)

    async def remove(self, case_id: str, who: str) -> None:
        """A party out of the room: their audio leaves and their page is told."""
        live = self._live(case_id)
        if who == MEDIATOR:
            raise RoomRefused("调解员不能移出自己")
        seat = self._seat(live, who)
        owner, tell = seat.owner, seat.tell
        seat.owner, seat.tell, seat.present, seat.joined = None, None, False, False
        seat.admitted = False  # in a locked room, removed is out
        if owner is not None:
            await self.legs.leave(owner, live.room)
        if tell is not None:
            with contextlib.suppress(Exception):
                await tell({"type": "removed"})
        await self._tell_all(live)

    async def set_locked(self, case_id: str, locked: bool) -> None:
        live = self._live(case_id)
        live.locked = locked
        await self._tell_all(live)

    async def left(self, owner: Hashable) -> None:
        """A socket closed: the seats it held are empty, its audio gone."""
        for live in list(self._rooms.values()):
            changed = False
            for seat in live.seats.values():
                if seat.owner == owner:
                    seat.owner, seat.tell, seat.present, seat.joined = None, None, False, False
                    changed = True
            if changed:
                await self.legs.leave(owner, live.room)
                await self._tell_all(live)

    async def close(self, case_id: str) -> None:
        """Everyone told, every leg let go, the room destroyed on the media server."""
        live = self._rooms.pop(case_id, None)
        if live is None:
            return
        for seat in live.seats.values():
            if seat.tell is not None and seat.who != MEDIATOR:
                with contextlib.suppress(Exception):
                    await seat.tell({"type": "closed"})
            seat.owner, seat.tell, seat.present, seat.joined = None, None, False, False
        await self.legs.close_room(live.room)
        log.info("mediation room closed", extra={"case": case_id})

    async def stop(self) -> None:
        for case_id in list(self._rooms):
            await self.close(case_id)

    async def _tell_all(self, live: LiveRoom) -> None:
        frame = {
            "type": "participants",
            "case_id": live.case_id,
            "locked": live.locked,
            "participants": live.participants(),
        }
        for seat in list(live.seats.values()):
            if seat.tell is not None:
                try:
                    await seat.tell(frame)
                except Exception:
                    log.info("a seat's socket could not be told", extra={"case": live.case_id})
