"""The mediation rooms a web process holds open: who sits where, and their audio.

A mediation's room is an AudioBridge room (`m-` and the case number, private with its
PIN) with a forwarding group per side (the mediator, the applicants, the respondents,
third parties: Janus allows five groups a room), so each side's voice can be taken
apart for the transcript. Seats are the mediator's and each party's (`p` and the
party's id). A seat is held by one
socket at a time (its owner): the mediator's console, or the party's page opened from
their link; a second socket for the same seat takes it over (a party whose link
dropped comes back). Everyone in the room hears everyone but themselves (AudioBridge
mixes each participant's audio without their own).

The mediator may take some parties into a side room (背靠背, a caucus: the mediator and
they hear each other there; the rest hear hold music in the main room and nothing of
the side room), mute a seat, remove a party (their page is told, their audio leaves),
lock the room (no one new takes a seat; a party who was in and dropped comes back) and
close it (everyone is told; nothing is left on the media server). Every change is told
to every seated socket as `participants`.

Video: beside the audio room a VideoRoom (`m-` and the case number, `-v`): each seat's
browser with a camera publishes it as the seat's feed (`publish`), and watches the feeds
of those it hears (`_watch_rules`: everyone in its room but itself; in a caucus, the
side room's and the main room's apart); the mediator's page shows them as a grid.

When the media server restarts, the room is made again (out of any caucus, its video
too) and every seat is asked to offer again (`reoffer`); the room ends (`closed`) if the
media server does not come back within RESTORE_S.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from lawline.labels import LABELS
from lawline.media.janus_client import VideoStream
from lawline.media.legs import BrowserLegs, LegRefused
from lawline.media.room_sounds import HOLD_MUSIC, MEDIATION_CONSENT
from lawline.media.video_legs import VideoLegs
from lawline.mediation.phone_parties import PhoneParties
from lawline.mediation.record import Forward, RoomTranscript
from lawline.telephony.party_wire import DIAL_IN, QUIET, SPEAKING, PartyEvent
from lawline.transcripts.runtime import Transcription
from lawline.transcripts.segments import Leg, Segment

log = logging.getLogger(__name__)

MEDIATOR = "mediator"
# A room's forwarding groups (Janus's AudioBridge allows five a room): one per side, so
# each side's voice can be taken apart for the transcript, and one for the rest: the
# sounds played in (a room with groups asks one of everything in it) and supervisors
# listening in (muted: never heard).
OTHERS = "others"
GROUPS = [MEDIATOR, "applicant", "respondent", "third_party", OTHERS]
MUSIC = SUPERVISOR = OTHERS
RESTORE_S = 30.0  # a room the media server has not taken again by then ends
Tell = Callable[[dict[str, Any]], Awaitable[None]]
KeepRecord = Callable[[str, list[dict[str, Any]], list[str]], Awaitable[None]]


class HintSource(Protocol):
    """Statute hints from a room's transcript (web/mediation_hints.py)."""

    def heard(self, case_id: str, mediator: str, domain: str, seg: Segment, tell: Tell) -> None: ...

    def forget(self, case_id: str) -> None: ...


class RoomRefused(Exception):
    """What was asked of the room cannot be done; the message (Chinese) says why."""


def speaker(live: LiveRoom, leg: Leg) -> str:
    """How the record names a side's voice: the person, when the side is one (李桂兰
    (申请人)); the side, when several share it (申请人方)."""
    role = LABELS["partyRole"].get(leg.value, leg.value)
    names = [s.name for s in live.seats.values() if s.group == leg.value]
    return f"{names[0]}（{role}）" if len(names) == 1 else f"{role}方"


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
    caucus: bool = False  # in the side room (背靠背) with the mediator
    video: bool = False  # its camera is published in the room's VideoRoom
    speaking: bool = False  # a phone party speaking now (their worker hears it)
    owner: Hashable | None = None
    tell: Tell | None = None
    # The party's phone, dialled by lawline (mediation/phone_parties.py): its leg, how the
    # dial stands (calling, ringing, answered, joining, in_room, failed, ended) and why
    # it failed, and where the worker takes its audio (to join it again after a restart).
    leg: str = ""
    dial: str = ""
    dial_reason: str = ""
    phone_rtp: tuple[str, int] | None = None
    pin: str = ""  # with the room's number, what the party enters to dial in

    @property
    def group(self) -> str:
        return self.role if self.role in GROUPS else OTHERS

    def json(self) -> dict[str, Any]:
        return {
            "who": self.who,
            "name": self.name,
            "role": self.role,
            "reach": self.reach,
            "present": self.present,
            "joined": self.joined,
            "muted": self.muted,
            "caucus": self.caucus,
            "video": self.video,
            "speaking": self.speaking,
            "dial": self.dial,
            "dial_reason": self.dial_reason,
        }


@dataclass
class LiveRoom:
    case_id: str
    seats: dict[str, Seat]
    locked: bool = False
    in_caucus: bool = False
    opened_at: float = field(default_factory=time.time)
    # Supervisors listening in, each with how its socket is told the room was made anew.
    listeners: dict[Hashable, Tell | None] = field(default_factory=dict)
    dial_in: str = ""  # the room's number for parties dialling 12348 (key 0)
    has_video: bool = False  # its VideoRoom was made
    transcript: RoomTranscript | None = None  # per side, live; the record at the end
    consented: bool = False  # the recording-consent announcement was played
    captions: bool = False  # the parties' pages show the transcript's lines too
    mediator_id: str = ""  # the mediator's user id (who was shown the hints)
    domain: str = ""  # the dispute's legal domain: the hints lean towards it
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    restoring: asyncio.Task[None] | None = None

    @property
    def room(self) -> str:
        return room_name(self.case_id)

    @property
    def side_room(self) -> str:
        return f"{self.room}-c"

    @property
    def video_room(self) -> str:
        return f"{self.room}-v"

    def room_of(self, seat: Seat) -> str:
        return self.side_room if seat.caucus else self.room

    def participants(self) -> list[dict[str, Any]]:
        return [s.json() for s in self.seats.values()]


@dataclass(frozen=True)
class SeatOf:
    """A party's seat as the database has it (name, role, how reached)."""

    party_id: int
    name: str
    role: str
    reach: str


def phone_owner(leg: str) -> tuple[str, str]:
    """A phone leg's owner in BrowserLegs (a socket's is the socket)."""
    return ("phone", leg)


DIALLING = frozenset({"calling", "ringing", "answered", "joining"})


class LiveRooms:
    def __init__(
        self,
        legs: BrowserLegs,
        sounds: Callable[[str], Path],
        announce: bool = True,
        phones: PhoneParties | None = None,
        transcription: Transcription | None = None,
        keep_record: KeepRecord | None = None,
        record_host: str = "127.0.0.1",
        record_dir: Path | None = None,
        hints: HintSource | None = None,
        video: VideoLegs | None = None,
    ) -> None:
        self.legs = legs
        self.video = video  # the parties' cameras (None: the rooms are audio only)
        # The rooms' live transcripts (None: none here), and where their records go
        # when a room closes, however it closes (the ledger: web/app.py).
        self.transcription = transcription
        self.keep_record = keep_record
        self.record_host = record_host
        self.record_dir = record_dir  # each side recorded here once consent was announced
        self.hints = hints
        # Parties' phones dialled through the telephony workers (None: no phones here).
        self.phones = phones
        # A room sound's Ogg Opus file (the hold music, the consent announcement).
        self.sounds = sounds
        # The mediator's page shows when a supervisor listens in (media.announce_monitoring).
        self.announce = announce
        self._rooms: dict[str, LiveRoom] = {}
        self.restores = 0  # rooms made again after the media server restarted

    def get(self, case_id: str) -> LiveRoom | None:
        return self._rooms.get(case_id)

    async def open(
        self,
        case_id: str,
        mediator: str,
        parties: Sequence[SeatOf],
        *,
        mediator_id: str = "",
        domain: str = "",
    ) -> LiveRoom:
        """The mediation's room, made now if it is not open yet."""
        live = self._rooms.get(case_id)
        if live is not None:
            return live
        seats = {MEDIATOR: Seat(MEDIATOR, mediator, "mediator", "console")}
        for p in parties:
            seats[party_seat(p.party_id)] = Seat(party_seat(p.party_id), p.name, p.role, p.reach)
        live = LiveRoom(case_id, seats, mediator_id=mediator_id, domain=domain)
        self._rooms[case_id] = live
        try:
            await self.legs.open_room(live.room, groups=GROUPS, rtp_participants=True)
        except LegRefused:
            del self._rooms[case_id]
            raise
        await self._open_video(live)
        if self.phones is not None:
            parties_seats = [who for who in seats if who != MEDIATOR]
            live.dial_in, pins = await self.phones.register(case_id, parties_seats)
            for who, pin in pins.items():
                seats[who].pin = pin
        if self.transcription is not None and (
            self.transcription.engines.any or self.record_dir is not None
        ):
            await self._start_transcript(live)
        log.info("mediation room opened", extra={"case": case_id, "seats": len(seats)})
        return live

    async def _open_video(self, live: LiveRoom) -> None:
        """The room's VideoRoom; without it the room goes on with audio alone."""
        if self.video is None:
            return
        try:
            await self.video.open_room(live.video_room)
            live.has_video = True
        except LegRefused:
            log.error("mediation room has no video", extra={"case": live.case_id})

    async def _start_transcript(self, live: LiveRoom) -> None:
        transcript = RoomTranscript(
            self.transcription,  # type: ignore[arg-type]
            live.case_id,
            self.record_host,
            lambda leg: speaker(live, leg),
            lambda frame: self._tell_transcript(live, frame),
            self._hints_of(live),
        )
        live.transcript = transcript
        try:
            await transcript.start(self._forwarder(live))
        except LegRefused:
            log.error("mediation transcript not forwarded", extra={"case": live.case_id})

    def _hints_of(self, live: LiveRoom) -> Callable[[Segment], None] | None:
        hints = self.hints
        if hints is None:
            return None

        async def tell(frame: dict[str, Any]) -> None:
            seat = live.seats[MEDIATOR]
            if seat.tell is not None:
                await seat.tell(frame)

        def heard(seg: Segment) -> None:
            hints.heard(live.case_id, live.mediator_id, live.domain, seg, tell)

        return heard

    def _forwarder(self, live: LiveRoom) -> Forward:
        async def forward(group: str, host: str, port: int) -> None:
            await self.legs.forward(live.room, group, host, port)

        return forward

    async def _tell_transcript(self, live: LiveRoom, frame: dict[str, Any]) -> None:
        """A transcript line to the mediator; with captions on, to every party too."""
        for seat in list(live.seats.values()):
            if seat.tell is not None and (seat.who == MEDIATOR or live.captions):
                with contextlib.suppress(Exception):
                    await seat.tell(frame)

    async def set_captions(self, case_id: str, on: bool) -> None:
        """Captions on the parties' screens (many parties are elderly), or off."""
        live = self._live(case_id)
        live.captions = on
        await self._tell_all(live)

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
            if seat.owner is not None and seat.owner != owner:
                await self.legs.leave(seat.owner, live.room_of(seat))
                await self._leave_video(live, seat)
                if seat.tell is not None:
                    with contextlib.suppress(Exception):
                        await seat.tell({"type": "replaced"})
            await self._hang_up(seat, "replaced")  # the party came back by their link
            if seat.dial == "invited":
                seat.dial = ""  # the terminal's invitation taken
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
            owner,
            live.room_of(seat),
            sdp,
            display=seat.name,
            muted=seat.muted,
            group=seat.group,
            on_lost=lambda _room: self._lost(live.case_id),
        )
        seat.joined = True
        await self._record(live, seat)
        await self._tell_all(live)
        return answer

    async def mute(self, case_id: str, who: str, muted: bool) -> None:
        live = self._live(case_id)
        seat = self._seat(live, who)
        seat.muted = muted
        if seat.joined and seat.owner is not None:
            await self.legs.set_muted(seat.owner, live.room_of(seat), muted)
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
            await self.legs.leave(owner, live.room_of(seat))
            await self._leave_video(live, seat, owner)
        seat.caucus = False
        await self._hang_up(seat, "removed")
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
                    seat.video = False
                    changed = True
            if changed:
                await self.legs.leave(owner)
                if self.video is not None:
                    await self.video.leave(owner, live.video_room)
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
            await self._hang_up(seat, "closed")
        if live.dial_in and self.phones is not None:
            await self.phones.unregister(live.dial_in)
        if live.in_caucus:
            await self.legs.close_room(live.side_room)
        await self.legs.close_room(live.room)
        if live.has_video and self.video is not None:
            await self.video.close_room(live.video_room)
        if self.hints is not None:
            self.hints.forget(case_id)
        if live.transcript is not None:
            lines, recordings = await live.transcript.close()
            if self.keep_record is not None:
                try:
                    await self.keep_record(case_id, lines, recordings)
                except Exception:
                    log.exception("mediation record not kept", extra={"case": case_id})
        log.info("mediation room closed", extra={"case": case_id})

    async def caucus(self, case_id: str, party_seats: Sequence[str]) -> None:
        """背靠背: the mediator and these parties to the side room; the others hear hold
        music and none of them, until `end_caucus`."""
        live = self._live(case_id)
        async with live.lock:
            if live.in_caucus:
                raise RoomRefused("已在背靠背调解中")
            seats = [self._seat(live, who) for who in party_seats]
            if not seats or any(s.who == MEDIATOR for s in seats):
                raise RoomRefused("请选择要单独谈话的当事人")
            side = [live.seats[MEDIATOR], *seats]
            if any(not s.joined or s.owner is None for s in side):
                raise RoomRefused("所选的人尚未接入调解室")
            await self.legs.open_room(live.side_room, groups=GROUPS, rtp_participants=True)
            live.in_caucus = True
            for seat in side:
                assert seat.owner is not None
                await self.legs.move(
                    seat.owner, live.room, live.side_room, display=seat.name, group=seat.group
                )
                seat.caucus = True
            music = await asyncio.to_thread(self.sounds, HOLD_MUSIC)  # made once
            await self.legs.play(live.room, str(music), HOLD_MUSIC, group=MUSIC, loop=True)
        await self._tell_all(live)

    async def end_caucus(self, case_id: str) -> None:
        """Everyone back in the room, the music stopped, the side room gone."""
        live = self._live(case_id)
        async with live.lock:
            if not live.in_caucus:
                raise RoomRefused("当前不在背靠背调解中")
            with contextlib.suppress(LegRefused):
                await self.legs.stop_playing(live.room, HOLD_MUSIC)
            for seat in live.seats.values():
                if seat.caucus and seat.owner is not None and seat.joined:
                    await self.legs.move(
                        seat.owner, live.side_room, live.room, display=seat.name, group=seat.group
                    )
                seat.caucus = False
            await self.legs.close_room(live.side_room)
            live.in_caucus = False
        await self._tell_all(live)

    async def announce_consent(self, case_id: str) -> None:
        """The recording-consent announcement, once, for everyone in the room."""
        live = self._live(case_id)
        sound = await asyncio.to_thread(self.sounds, MEDIATION_CONSENT)
        await self.legs.play(live.room, str(sound), MEDIATION_CONSENT, group=MUSIC)
        live.consented = True
        for seat in live.seats.values():
            if seat.joined:
                await self._record(live, seat)

    async def _record(self, live: LiveRoom, seat: Seat) -> None:
        """A side in the room is recorded once consent was announced (not before)."""
        if live.consented and self.record_dir is not None and live.transcript is not None:
            await asyncio.to_thread(live.transcript.start_recording, self.record_dir, {seat.group})

    def live_rooms(self) -> list[dict[str, Any]]:
        """What a supervisor sees of the open rooms: who is in, since when."""
        return [
            {
                "case_id": live.case_id,
                "opened_at": live.opened_at,
                "locked": live.locked,
                "caucus": live.in_caucus,
                "listeners": len(live.listeners),
                "participants": live.participants(),
            }
            for live in self._rooms.values()
        ]

    async def listen(
        self, case_id: str, owner: Hashable, sdp: str, tell: Tell | None = None
    ) -> str:
        """A supervisor listens in: hears the room, is heard by no one (muted); the
        mediator is told someone listens (`listeners` in `participants`). `tell`: how
        the supervisor's socket is told to offer again (`room_listen_lost`) when the
        media server restarted."""
        live = self._live(case_id)
        answer = await self.legs.join(
            owner, live.room, sdp, display="督导", muted=True, group=SUPERVISOR
        )
        live.listeners[owner] = tell
        await self._tell_all(live)
        return answer

    async def stop_listening(self, owner: Hashable, case_id: str | None = None) -> list[str]:
        """The supervisor stops listening (to one room, or all); the rooms it left."""
        left = []
        for live in list(self._rooms.values()):
            if owner in live.listeners and case_id in (None, live.case_id):
                live.listeners.pop(owner, None)
                await self.legs.leave(owner, live.room)
                await self._tell_all(live)
                left.append(live.case_id)
        return left

    # ----- parties by phone ---------------------------------------------------------------

    async def dial(self, case_id: str, who: str, number: str) -> None:
        """Dial the party (any worker with a free line); how it goes is told to everyone
        as the seat's `dial`, and when they press 1 their phone takes the seat."""
        live = self._live(case_id)
        seat = self._seat(live, who)
        if self.phones is None:
            raise RoomRefused("本中心未接通电话线路")
        if who == MEDIATOR or not number:
            raise RoomRefused("这位当事人没有登记电话号码")
        if seat.present:
            raise RoomRefused("这位当事人已在调解室中")
        if seat.dial in DIALLING:
            raise RoomRefused("正在呼叫这位当事人")
        seat.leg = await self.phones.dial(case_id, who, number)
        seat.dial, seat.dial_reason = "calling", ""
        await self._tell_all(live)

    def invited(self, case_id: str, who: str) -> None:
        """The party's village terminal was sent the invitation (web/mediation_room.py)."""
        seat = self._seat(self._live(case_id), who)
        if who == MEDIATOR or seat.present:
            raise RoomRefused("这位当事人已在调解室中")
        seat.dial, seat.dial_reason = "invited", ""

    async def tell_all(self, case_id: str) -> None:
        await self._tell_all(self._live(case_id))

    async def phone_event(self, event: PartyEvent) -> None:
        """What a worker says of a party's phone (telephony/party_wire.py)."""
        live = self._rooms.get(event.case_id)
        seat = live.seats.get(event.who) if live is not None else None
        if (
            live is not None
            and seat is not None
            and event.state == "joining"
            and event.reason == DIAL_IN
            and seat.leg != event.leg
            and (seat.admitted or not live.locked)
        ):
            # The party dialled in with the room's number and their PIN: this call is
            # their seat's phone now (one being rung for them is let go).
            await self._hang_up(seat, "dialled in")
            seat.leg = event.leg
        if live is None or seat is None or seat.leg != event.leg:
            # Not a call this room waits for (it closed, or the party was dialled again):
            # a phone still ringing or joining is let go.
            if event.state in DIALLING and self.phones is not None:
                await self.phones.end(event.leg, "closed")
            return
        if event.state in (SPEAKING, QUIET):
            seat.speaking = event.state == SPEAKING
            await self._tell_speaking(live, seat)
            return
        if event.state == "joining":
            seat.phone_rtp = (event.ip, event.port)
            seat.dial = "joining"
            async with live.lock:
                await self._seat_phone(live, seat)
        elif event.state in ("failed", "ended"):
            owner = phone_owner(seat.leg)
            if seat.owner == owner:
                await self.legs.leave(owner)
                seat.owner, seat.present, seat.joined = None, False, False
            seat.leg, seat.phone_rtp, seat.speaking = "", None, False
            seat.dial, seat.dial_reason = event.state, event.reason
        else:
            seat.dial = event.state
        await self._tell_all(live)

    async def _seat_phone(self, live: LiveRoom, seat: Seat) -> None:
        """The phone's leg into the seat's room (taking the seat from a browser there)."""
        assert self.phones is not None and seat.phone_rtp is not None
        owner = phone_owner(seat.leg)
        if seat.owner is not None and seat.owner != owner:
            await self.legs.leave(seat.owner, live.room_of(seat))
            await self._leave_video(live, seat)
            if seat.tell is not None:
                with contextlib.suppress(Exception):
                    await seat.tell({"type": "replaced"})
        ip, port = seat.phone_rtp
        try:
            joined = await self.legs.join_rtp(
                owner,
                live.room_of(seat),
                ip,
                port,
                display=seat.name,
                muted=seat.muted,
                group=seat.group,
                on_lost=lambda _room: self._lost(live.case_id),
            )
        except LegRefused:
            seat.dial, seat.dial_reason = "failed", "room refused"
            await self.phones.refused(seat.leg)
            return
        seat.owner, seat.tell = owner, None
        seat.present = seat.joined = seat.admitted = True
        if not await self.phones.peer(seat.leg, joined.ip, joined.port):
            return  # the call is gone already: its `ended` follows
        seat.dial = "in_room"
        await self._record(live, seat)

    async def _tell_speaking(self, live: LiveRoom, seat: Seat) -> None:
        """A phone party started or stopped speaking: a small frame to every seat (not the
        whole `participants`: this changes every few seconds while people talk)."""
        frame = {"type": "speaking", "case_id": live.case_id, "who": seat.who, "on": seat.speaking}
        for other in list(live.seats.values()):
            if other.tell is not None:
                with contextlib.suppress(Exception):
                    await other.tell(frame)

    async def _hang_up(self, seat: Seat, reason: str) -> None:
        if seat.leg and self.phones is not None:
            leg, seat.leg, seat.phone_rtp = seat.leg, "", None
            seat.dial, seat.speaking = "ended", False
            await self.phones.end(leg, reason)

    # ----- the media server restarted ---------------------------------------------------

    def _lost(self, case_id: str) -> None:
        """Janus lost this process's legs (it restarted): the room is made again and every
        seat asked to offer again; a room that cannot be made in RESTORE_S ends."""
        live = self._rooms.get(case_id)
        if live is not None and live.restoring is None:
            live.restoring = asyncio.get_running_loop().create_task(self._restore(live))

    async def _restore(self, live: LiveRoom) -> None:
        deadline = time.monotonic() + RESTORE_S
        for seat in live.seats.values():
            seat.joined, seat.caucus, seat.video = False, False, False
        if self.video is not None:
            self.video.forget(live.video_room)
        live.has_video = False
        listeners, live.listeners = live.listeners, {}
        live.in_caucus = False
        try:
            while True:
                try:
                    await self.legs.open_room(live.room, groups=GROUPS, rtp_participants=True)
                    break
                except LegRefused:
                    if time.monotonic() > deadline:
                        log.error("mediation room not restored", extra={"case": live.case_id})
                        await self.close(live.case_id)
                        return
                    await asyncio.sleep(0.5)
            self.restores += 1
            log.warning("mediation room restored", extra={"case": live.case_id})
            await self._open_video(live)
            if live.transcript is not None:
                with contextlib.suppress(LegRefused):
                    await live.transcript.forward(self._forwarder(live))
            for seat in list(live.seats.values()):
                if seat.tell is not None:
                    with contextlib.suppress(Exception):
                        await seat.tell({"type": "reoffer", "case_id": live.case_id})
                elif seat.leg and seat.phone_rtp is not None:
                    await self._seat_phone(live, seat)
            for tell in listeners.values():  # the supervisors listen again by offering
                if tell is not None:
                    with contextlib.suppress(Exception):
                        await tell({"type": "room_listen_lost", "case_id": live.case_id})
            await self._tell_all(live)
        finally:
            live.restoring = None

    async def stop(self) -> None:
        for case_id in list(self._rooms):
            await self.close(case_id)

    async def _tell_all(self, live: LiveRoom) -> None:
        frame = {
            "type": "participants",
            "case_id": live.case_id,
            "locked": live.locked,
            "caucus": live.in_caucus,
            "captions": live.captions,
            "participants": live.participants(),
        }
        listening = len(live.listeners) if self.announce else 0
        for seat in list(live.seats.values()):
            if seat.tell is not None:
                # Only the mediator is told that a supervisor listens in.
                told = {**frame, "listeners": listening} if seat.who == MEDIATOR else frame
                try:
                    await seat.tell(told)
                except Exception:
                    log.info("a seat's socket could not be told", extra={"case": live.case_id})
        await self._watch_rules(live)

    # ----- video ----------------------------------------------------------------------

    async def publish(self, case_id: str, who: str, owner: Hashable, sdp: str) -> str:
        """The seat's camera into the room's video with its browser's complete offer;
        the answer. Everyone who hears the seat is then offered its video."""
        live = self._live(case_id)
        seat = self._seat(live, who)
        if seat.owner != owner:
            raise RoomRefused("这个座位已由别处接入")
        if self.video is None or not live.has_video:
            raise RoomRefused("本调解室没有视频")

        async def on_live() -> None:
            if seat.owner == owner and self._rooms.get(case_id) is live:
                seat.video = True
                await self._tell_all(live)

        seat.video = False  # a camera published again is watched once it is up again
        return await self.video.publish(
            owner, live.video_room, who, sdp, display=seat.name, on_live=on_live
        )

    async def watching(self, case_id: str, who: str, owner: Hashable, sdp: str) -> None:
        """The seat's browser answered the video offer it was sent."""
        live = self._live(case_id)
        seat = self._seat(live, who)
        if seat.owner != owner or self.video is None:
            raise RoomRefused("这个座位已由别处接入")
        await self.video.answered(owner, live.video_room, sdp)

    async def _watch_rules(self, live: LiveRoom) -> None:
        """Each browser in the room watches the cameras of those it hears: its own room
        (the main room, or in a caucus the side room), never its own camera."""
        if self.video is None or not live.has_video:
            return
        seats = list(live.seats.values())
        for seat in seats:
            if seat.owner is None or seat.tell is None or not seat.joined:
                continue
            feeds = frozenset(
                other.who
                for other in seats
                if other is not seat
                and other.video
                and other.joined
                and live.room_of(other) == live.room_of(seat)
            )
            try:
                await self.video.watch(
                    seat.owner, live.video_room, feeds, self._video_offer(live, seat.tell)
                )
            except LegRefused:
                log.warning("video not offered", extra={"case": live.case_id})

    def _video_offer(
        self, live: LiveRoom, tell: Tell
    ) -> Callable[[str, list[VideoStream]], Awaitable[None]]:
        async def offer(sdp: str, streams: list[VideoStream]) -> None:
            names = {s.who: s.name for s in live.seats.values()}
            shown = [
                {"mid": s.mid, "who": s.feed, "name": names.get(s.feed, "")}
                for s in streams
                if s.feed in names
            ]
            await tell({"type": "watch", "case_id": live.case_id, "sdp": sdp, "streams": shown})

        return offer

    async def _leave_video(self, live: LiveRoom, seat: Seat, owner: Hashable | None = None) -> None:
        """The seat's camera and what its browser watched let go (the seat changes hands)."""
        owner = owner if owner is not None else seat.owner
        seat.video = False
        if self.video is not None and owner is not None:
            await self.video.leave(owner, live.video_room)
