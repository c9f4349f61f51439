"""The lawyer console's websocket: offers out, accept/reject in.

Protocol (JSON text frames). From lawline:
  hello           {lawyer, offer|null, call|null, wrapup, park} on connect: the state
                  to show; park: keep a connection parked while on duty (standby_offer)
                  (a reloaded console gets its call back); wrapup: {extend_s,
                  extensions} what 延长整理 adds and how often per wrap-up
  offer           {contact, deadline, waited_s, history}  a contact offered to this
                  lawyer; history: earlier contacts from the same number, who handled them
  offer_withdrawn {contact_id, reason}           timed out, caller hung up, went elsewhere
  connected       {contact, audio}               the accepted contact is now talking;
                                                  audio "parked": the console's parked
                                                  connection was moved into the call's room
                                                  (it hears the call now), else null: it
                                                  offers a connection for the call
  ended           {contact, parked}              the conversation is over (wrap-up starts);
                                                  parked: the call's connection is parked
                                                  again for the next call
  state           {lawyer}                       the lawyer's state changed
  webrtc_answer   {contact_id, sdp}              the media server's answer to the console's
                                                  offer (the browser joins the call's room)
  audio_lost      {contact_id}                   the media server restarted: offer again
  standby_answer  {sdp}                          the answer to a standby_offer
  standby_lost    {}                             the parked connection is gone: offer again
  monitored       {contact_id, mode|null}        a supervisor listens in (listen), coaches
                                                  (whisper) or has joined (barge); null: no
                                                  more (shown where media.announce_monitoring)
  coach_start     {contact_id}                   a supervisor coaches: offer to the coach room
  coach_stop      {contact_id}                   the coach room is gone
  coach_answer    {contact_id, sdp}              the answer to a coach_offer
  video_signal    {contact_id, kind, ...}        from the village terminal of a video call
  tap_answer      {contact_id, sdp}              lawline's answer to a tap_offer
  transcript_backlog {contact_id, status, segments}  the call's transcript so far (on
                                                  connect, and after a reload)
  transcript      {contact_id, segment}          live: a partial replaces the leg's last
                                                  partial, a final is appended, a gap or a
                                                  status (TranscriptStatus: on, ended,
                                                  or why there is none) is shown
  hints           {contact_id, hints}            the statute hints for what the caller said
                                                  last (top three: law, article, citation,
                                                  title, chapter, text, spoken), after each
                                                  pause in their finals
  hint_pinned     {contact_id, hint}             a pinned hint, with its text, to add to
                                                  what the citizen was told
  result          {request, ok, message}         the answer to each request below
  error           {message}                      a frame lawline could not understand
  pong            {}
From the console:
  accept {contact_id} | reject {contact_id} | end {contact_id}
  standby_offer {sdp}             while on duty: a connection parked, muted, between
                                  calls, moved into each accepted phone call's room
                                  (media/standby.py); a complete offer
  standby_leave {}                no parked connection any more (going off duty)
  webrtc_offer {contact_id, sdp}  the browser's audio for the accepted call, a complete
                                  offer; lawline joins it to the call's room on the media
                                  server (again after a reload: it replaces the earlier one)
  coach_offer {contact_id, sdp}   a second connection, to the call's coach room: the
                                  lawyer hears the coaching supervisor (media/monitoring.py)
  video_signal {contact_id, kind, ...}  a video session's signalling, relayed to the
                                  terminal (lawline/video/relay.py lists the kinds)
  tap_offer {contact_id, sdp, legs: {mid: citizen|lawyer}}  a video call's two voices
                                  for the transcript (lawline/video/tap.py), complete offer
  hold {contact_id, on}           the caller hears hold music, not the lawyer (on: true or
                                  false); each hold and its end kept with the transcript
  transfer {contact_id, note, to_lawyer?, to_service?}  hand the caller on to a named
                                  colleague or back to a service queue, with a note
  case {contact_id, form}         save the case form (CaseForm), during or after the call
  hint_pin {contact_id, law, article}  pin an article (a hint or one found by typing) into
                                  what the citizen was told; recorded with the contact
  state {state: available|break|offline, reason} | ready {} | ping {}
  extend_wrapup {}                more wrap-up time (routing.wrapup_extend_s, at most
                                  routing.wrapup_extensions times per wrap-up)
Every frame from the console counts as a sign of life; the console pings every
few seconds. Closing the socket returns an offer to the queue at once and pauses
new offers; a call in progress goes on. A console back within `console_timeout_s`
(a reload, a short network loss) carries on as before; a lawyer who stays away
longer is taken off duty.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, WebSocket, WebSocketDisconnect
from sqlalchemy.orm import Session, sessionmaker

from lawline.hints.service import StatuteHints
from lawline.media.legs import BrowserLegs, LegRefused
from lawline.media.monitoring import coach_room
from lawline.media.rooms import LAWYER_GROUP
from lawline.media.standby import StandbyLegs
from lawline.queue.model import Contact, Lawyer
from lawline.queue.service import EventQueue, QueueService
from lawline.queue.skills import Channel, ContactState, Presence, Service
from lawline.queue.store import Event
from lawline.telephony.bridge_wire import BridgeClient, BridgeError
from lawline.telephony.menu import Menu, default_menu
from lawline.transcripts.segments import CALL_LEGS, Leg
from lawline.video import relay
from lawline.video.tap import VideoTranscripts
from lawline.web.auth import Principal, Role, authenticate_async, mask_number
from lawline.web.console_hints import ConsoleHints
from lawline.web.deps import (
    BridgeDep,
    DbDep,
    HintsDep,
    HubDep,
    LegsDep,
    LiveFeedDep,
    OpenConsolesDep,
    QueueDep,
    SettingsDep,
    StandbyDep,
    VideoTranscriptsDep,
)
from lawline.web.hub import SocketHub, Ticket, TooManySockets
from lawline.web.live_feed import LiveFeed
from lawline.web.schemas.cases import CaseForm
from lawline.web.schemas.queue import ContactOut, LawyerOut
from lawline.web.socket_loop import (
    BadFrame,
    Frame,
    Handler,
    close_as_ended,
    offer_sdp,
    run_until_ended,
    send_frame,
    serve_frames,
)
from lawline.web.ws_access import bearer, client_address, credential_of, origin_allowed

log = logging.getLogger(__name__)
router = APIRouter()

# Websocket close codes in the application range: 4000 + the HTTP status it stands for.
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404


# The break reason while a lawyer's console is away (reloading, network lost).
CONSOLE_AWAY = "console reconnecting"


def _contact_json(contact: Contact, menu: Menu) -> dict[str, Any]:
    """The contact as the console shows it; its menu choices in words (法律咨询 › 劳动争议)."""
    return ContactOut.of(contact, mask_number(contact.caller)).model_dump(mode="json") | {
        "attrs": dict(contact.attrs),
        "menu_words": menu.path_words(str(contact.attrs.get("menu", ""))),
    }


@dataclass(frozen=True)
class ConsoleServices:
    """What a console's session works with."""

    queue: QueueService
    bridge: BridgeClient
    legs: BrowserLegs
    standby: StandbyLegs
    hub: SocketHub
    live: LiveFeed
    taps: VideoTranscripts
    event_limit: int  # queue events it may fall behind by (sockets.console_queue)
    hints: StatuteHints
    db: sessionmaker[Session]
    menu: Menu = field(default_factory=default_menu)  # says a contact's menu path in words
    park: bool = True  # media.park_lawyers: consoles on duty park a connection


def console_services(
    queue: QueueDep,
    bridge: BridgeDep,
    legs: LegsDep,
    standby: StandbyDep,
    hub: HubDep,
    live: LiveFeedDep,
    taps: VideoTranscriptsDep,
    settings: SettingsDep,
    hints: HintsDep,
    db: DbDep,
) -> ConsoleServices:
    return ConsoleServices(
        queue,
        bridge,
        legs,
        standby,
        hub,
        live,
        taps,
        settings.sockets.console_queue,
        hints,
        db,
        settings.telephony.menu,
        settings.media.park_lawyers,
    )


class ConsoleSession:
    """One open console of one lawyer."""

    def __init__(
        self, ws: WebSocket, services: ConsoleServices, lawyer_id: str, ticket: Ticket
    ) -> None:
        self.ws = ws
        self.services = services
        self.queue = services.queue
        self.bridge = services.bridge
        self.legs = services.legs
        self.standby = services.standby
        self._lost: set[asyncio.Task[None]] = set()  # audio_lost frames being sent
        self._joining: asyncio.Task[None] | None = None  # the browser's offer being joined
        self.lawyer_id = lawyer_id
        self.ticket = ticket  # its place in the hub: relayed signals, a revocation
        self.offer_id: str | None = None
        # The contact being talked to (or last talked to, through wrap-up: the final of
        # the last utterance comes after the end): its live transcript is forwarded.
        self.call_id: str | None = None
        # The call whose leg went back to the standby room before the lawyer ended or
        # handed it on (the worker destroys the call's room as soon as it is over).
        self._parked_from: str | None = None
        self._call_changed = asyncio.Event()
        self.hints = ConsoleHints(services.hints, services.db, lawyer_id, self._send)
        self.handlers: dict[str, Handler] = {
            "ping": self._ping,
            "accept": self._accept,
            "reject": self._reject,
            "end": self._end,
            "webrtc_offer": self._webrtc_offer,
            "standby_offer": self._standby_offer,
            "standby_leave": self._standby_leave,
            "coach_offer": self._coach_offer,
            "video_signal": self._video_signal,
            "tap_offer": self._tap_offer,
            "hold": self._hold,
            "transfer": self._transfer,
            "case": self._case,
            "hint_pin": self._hint_pin,
            "state": self._state,
            "ready": self._ready,
            "extend_wrapup": self._extend_wrapup,
        }

    def _set_call(self, contact_id: str | None) -> None:
        if contact_id != self.call_id:
            self.call_id = contact_id
            self._call_changed.set()

    async def run(self) -> None:
        try:
            async with self.queue.subscribe(self.services.event_limit) as events:
                await self._hello()
                await run_until_ended(
                    self.ticket,
                    serve_frames(self.ws, self.handlers, self._seen),
                    self._forward(events),
                    self._follow_transcript(),
                    self._forward_signals(self.ticket.signals),
                    self._fall_behind(events),
                )
        finally:
            await self.hints.stop()
            # This browser's audio leaves the media server with its socket.
            if self._joining is not None:
                self._joining.cancel()
                await asyncio.gather(self._joining, return_exceptions=True)
            await asyncio.shield(self.standby.leave(self))
            await asyncio.shield(self.legs.leave(self))

    async def _seen(self) -> None:
        """Every frame from the console is a sign of life."""
        await self.queue.console_seen(self.lawyer_id)

    async def _fall_behind(self, events: EventQueue) -> None:
        """Offers missed while deaf would time out on an "available" lawyer: a console
        whose events overflowed is closed (1013) to reconnect and resync with `hello`."""
        await events.overflowed.wait()
        self.services.hub.fell_behind(self.ticket, "events")

    async def _hello(self) -> None:
        await self.queue.console_seen(self.lawyer_id)
        store = self.queue.store
        lawyer = await store.get_lawyer(self.lawyer_id)
        assert lawyer is not None
        if lawyer.presence == Presence.BREAK and lawyer.break_reason == CONSOLE_AWAY:
            await self.queue.set_presence(self.lawyer_id, Presence.AVAILABLE)
            lawyer = await store.get_lawyer(self.lawyer_id)
            assert lawyer is not None
        offer = call = None
        if lawyer.offer:
            contact = await store.get_contact(lawyer.offer)
            if contact is not None:
                self.offer_id = contact.id
                offer = await self._offer_json(contact)
        if lawyer.talking:
            contact = await store.get_contact(lawyer.talking)
            if contact is not None and contact.state == ContactState.CONNECTED:
                call = _contact_json(contact, self.services.menu)
                self._set_call(contact.id)
        lawyer_json = LawyerOut.of(lawyer).model_dump(mode="json")
        r = self.queue.routing
        wrapup = {"extend_s": r.wrapup_extend_s, "extensions": r.wrapup_extensions}
        await self._send(
            "hello",
            lawyer=lawyer_json,
            offer=offer,
            call=call,
            wrapup=wrapup,
            park=self.services.park,
        )

    async def _offer_json(self, contact: Contact) -> dict[str, Any]:
        return {
            "contact": _contact_json(contact, self.services.menu),
            "deadline": contact.offer_deadline,
            "waited_s": self.queue.clock() - contact.entered_at,
            "history": await self._history(contact),
        }

    async def _history(self, contact: Contact) -> list[dict[str, Any]]:
        """Earlier contacts from the same number: who handled them, how it ended."""
        if not contact.caller:
            return []
        earlier = []
        for h in await self.queue.store.history(contact.caller, limit=11):
            if h["id"] == contact.id:
                continue
            case = json.loads(h.get("case") or "{}")
            earlier.append(
                {
                    "id": h["id"],
                    "entered_at": float(h["entered_at"]),
                    "service": h["service"],
                    "domain": h.get("domain", ""),
                    "state": h.get("state", ""),
                    "lawyer": h.get("lawyer", ""),
                    "disposition": case.get("disposition"),
                    "summary": case.get("summary", ""),
                }
            )
        return earlier[:10]

    async def _send(self, frame_type: str, **fields: Any) -> None:
        await send_frame(self.ws, frame_type, **fields)

    async def _forward(self, events: asyncio.Queue[Event]) -> None:
        while True:
            await self._forward_one(await events.get())

    async def _forward_one(self, ev: Event) -> None:
        c = ev.contact
        mine = c is not None and c.lawyer == self.lawyer_id
        if ev.type == "contact.offered" and c is not None and mine:
            self.offer_id = c.id
            await self._send("offer", **await self._offer_json(c))
        elif c is not None and c.id == self.offer_id and ev.type != "contact.offered":
            if ev.type in ("contact.requeued", "contact.abandoned"):
                await self._send("offer_withdrawn", contact_id=c.id, reason=ev.reason)
            self.offer_id = None
        if ev.type == "contact.answered" and c is not None and mine:
            # The parked connection, if any, hears the call before the console is told.
            parked = c.channel == Channel.VOICE and await self.standby.into_call(
                self, c.id, display=self._display, group=LAWYER_GROUP
            )
            await self._send(
                "connected",
                contact=_contact_json(c, self.services.menu),
                audio="parked" if parked else None,
            )
            self._set_call(c.id)
        elif c is not None and (
            (ev.type == "contact.ended" and mine)
            # Handed on: over for them.
            or (ev.type == "contact.transferred" and self._mine(ev.lawyer))
        ):
            parked = self._parked_from == c.id or await self.standby.back(
                self, c.id, display=self._display
            )
            self._parked_from = None
            await self.legs.leave(self, c.id)
            await self.legs.leave(self, coach_room(c.id))
            await self._send("ended", contact=_contact_json(c, self.services.menu), parked=parked)
        if self._mine(ev.lawyer):
            await self._send("state", lawyer=LawyerOut.of(ev.lawyer).model_dump(mode="json"))

    async def _follow_transcript(self) -> None:
        """Forward the live transcript of the call in hand, whichever it is now."""
        live = self.services.live
        while True:
            self._call_changed.clear()
            cid = self.call_id
            if cid is None:
                await self._call_changed.wait()
                continue
            contact = await self.queue.store.get_contact(cid)
            self.hints.follow(cid, contact.domain if contact is not None else None)
            async with live.watch(cid) as segments:
                # Watching first, then the backlog: nothing falls between the two (the
                # console drops a final it already has).
                meta, stored = await live.store.read(cid)
                for segment in stored:
                    self.hints.heard(cid, segment)
                await self._send(
                    "transcript_backlog",
                    contact_id=cid,
                    status=meta.get("status"),
                    segments=[s.to_json() for s in stored],
                )
                changed = asyncio.create_task(self._call_changed.wait())
                try:
                    while not changed.done():
                        got = asyncio.create_task(segments.get())
                        await asyncio.wait({got, changed}, return_when=asyncio.FIRST_COMPLETED)
                        if not got.done():
                            got.cancel()
                            break
                        segment = got.result()
                        await self._send("transcript", contact_id=cid, segment=segment)
                        self.hints.heard(cid, segment)
                finally:
                    changed.cancel()

    async def _forward_signals(self, signals: asyncio.Queue[dict[str, Any]]) -> None:
        """A video call's signalling from its terminal (the call in hand only)."""
        while True:
            message = await signals.get()
            cid = message.get("contact_id")
            if cid != self.call_id:
                continue
            if message.get("from") != "supervisor":
                await self._send("video_signal", **message)
            elif message.get("kind") == "monitored":
                await self._send("monitored", contact_id=cid, mode=message.get("mode"))
            elif message.get("kind") == "coach_start":
                await self._send("coach_start", contact_id=cid)
            elif message.get("kind") == "coach_stop":
                await self.legs.leave(self, coach_room(str(cid)))
                await self._send("coach_stop", contact_id=cid)

    # ----- frames from the console ----------------------------------------------------

    async def _video_signal(self, frame: Frame) -> None:
        cid = _contact_id(frame)
        contact = await self.queue.store.get_contact(cid)
        if contact is None or contact.lawyer != self.lawyer_id:
            await self._result("video_signal", False, "this contact is not yours")
            return
        terminal = contact.attrs.get("terminal")
        if contact.channel != Channel.VIDEO or not terminal:
            raise BadFrame("video_signal is for video calls from a terminal")
        message = {**relay.clean_signal(frame), "contact_id": cid, "from": "lawyer"}
        store = self.queue.store
        await relay.publish(store.redis, store.prefix, "terminal", terminal, message)

    async def _tap_offer(self, frame: Frame) -> None:
        cid, sdp, legs = _contact_id(frame), offer_sdp(frame), frame.get("legs")
        if not isinstance(legs, dict) or not 0 < len(legs) <= len(CALL_LEGS):
            raise BadFrame("'tap_offer' needs 'legs' {mid: speaker}, one per voice")
        contact = await self.queue.store.get_contact(cid)
        if (
            contact is None
            or contact.lawyer != self.lawyer_id
            or contact.state != ContactState.CONNECTED
            or contact.channel != Channel.VIDEO
        ):
            await self._result("tap_offer", False, "this contact is not your video call")
            return
        if not all(v in CALL_LEGS for v in legs.values()):
            raise BadFrame("'tap_offer' legs are citizen or lawyer")
        answer = await self.services.taps.offer(cid, sdp, {str(m): Leg(v) for m, v in legs.items()})
        await self._send("tap_answer", contact_id=cid, sdp=answer)

    def _mine(self, lawyer: Lawyer | None) -> bool:
        return lawyer is not None and lawyer.id == self.lawyer_id

    async def _ping(self, frame: Frame) -> None:
        await self._send("pong")

    async def _accept(self, frame: Frame) -> None:
        ok = await self.queue.accept(_contact_id(frame), self.lawyer_id)
        await self._result("accept", ok, "" if ok else "this offer is no longer yours")

    async def _reject(self, frame: Frame) -> None:
        ok = await self.queue.reject(_contact_id(frame), self.lawyer_id)
        await self._result("reject", ok, "" if ok else "this offer is no longer yours")

    async def _end(self, frame: Frame) -> None:
        cid = _contact_id(frame)
        if not await self._is_mine(cid):
            await self._result("end", False, "this contact is not yours")
            return
        await self._park_before_leaving(cid)
        ok = await self.queue.end(cid, "lawyer") >= 0
        await self._result("end", ok, "" if ok else "the contact is not connected")

    async def _park_before_leaving(self, cid: str) -> None:
        if await self.standby.back(self, cid, display=self._display):
            self._parked_from = cid

    async def _unpark_if_still_mine(self, cid: str) -> None:
        """The lawyer's part did not end after all (a refused transfer): the leg parked
        for it goes back into the call."""
        if self._parked_from != cid:
            return
        contact = await self.queue.store.get_contact(cid)
        if contact and contact.lawyer == self.lawyer_id and contact.state == ContactState.CONNECTED:
            self._parked_from = None
            await self.standby.into_call(self, cid, display=self._display, group=LAWYER_GROUP)

    async def _webrtc_offer(self, frame: Frame) -> None:
        cid, sdp = _contact_id(frame), offer_sdp(frame)
        contact = await self.queue.store.get_contact(cid)
        if (
            contact is None
            or contact.lawyer != self.lawyer_id
            or contact.state != ContactState.CONNECTED
            or contact.channel != Channel.VOICE
        ):
            await self._result("webrtc_offer", False, "this contact is not your phone call")
            return
        if not await self.bridge.holder(cid):
            await self._result("webrtc_offer", False, "no telephony worker holds the call")
            return
        # Joined beside the frame loop (a room being remade may take a moment); a newer
        # offer replaces one still being joined.
        if self._joining is not None:
            self._joining.cancel()
        self._joining = asyncio.get_running_loop().create_task(self._join(cid, sdp))

    @property
    def _display(self) -> str:
        return f"lawyer {self.lawyer_id}"

    async def _standby_offer(self, frame: Frame) -> None:
        sdp = offer_sdp(frame)
        if not self.services.park:
            await self._result("standby_offer", False, "this centre parks no connections")
            return
        try:
            answer = await self.standby.park(
                self, sdp, display=self._display, on_lost=self._audio_lost
            )
        except LegRefused as exc:
            await self._result("standby_offer", False, str(exc))
            return
        await self._send("standby_answer", sdp=answer)

    async def _standby_leave(self, frame: Frame) -> None:
        await self.standby.leave(self)
        await self._result("standby_leave", True)

    async def _join(self, cid: str, sdp: str) -> None:
        try:
            answer = await self.legs.join(
                self,
                cid,
                sdp,
                display=self._display,
                on_lost=self._audio_lost,
                group=LAWYER_GROUP,  # the lawyer's side of a steered call's transcript
            )
        except LegRefused as exc:
            await self._result("webrtc_offer", False, str(exc))
            return
        except Exception:
            log.exception("the browser's audio was not joined to its room")
            return
        await self._send("webrtc_answer", contact_id=cid, sdp=answer)

    async def _coach_offer(self, frame: Frame) -> None:
        """Join the call's coach room muted: the lawyer hears the supervisor coaching."""
        cid, sdp = _contact_id(frame), offer_sdp(frame)
        contact = await self.queue.store.get_contact(cid)
        if (
            contact is None
            or contact.lawyer != self.lawyer_id
            or contact.state != ContactState.CONNECTED
        ):
            await self._result("coach_offer", False, "this contact is not your call")
            return
        try:
            answer = await self.legs.join(
                self, coach_room(cid), sdp, display=f"lawyer {self.lawyer_id}", muted=True
            )
        except LegRefused as exc:
            await self._result("coach_offer", False, str(exc))
            return
        await self._send("coach_answer", contact_id=cid, sdp=answer)

    def _audio_lost(self, room: str) -> None:
        """The media server restarted under this call (or under the parked connection):
        the console offers again."""
        task = asyncio.get_running_loop().create_task(self._tell_lost(room))
        self._lost.add(task)
        task.add_done_callback(self._lost.discard)

    async def _tell_lost(self, room: str) -> None:
        parked = self.standby.owns(room)
        if parked or self.standby.in_call(self) == room:
            self.standby.lost(self)
        if parked:
            await self._send("standby_lost")
        else:
            await self._send("audio_lost", contact_id=room)

    async def _hold(self, frame: Frame) -> None:
        cid = _contact_id(frame)
        if not await self._is_mine(cid):
            await self._result("hold", False, "this contact is not yours")
            return
        on = frame.get("on")
        if not isinstance(on, bool):
            raise BadFrame("'hold' needs 'on': true or false")
        try:
            await self.bridge.request(cid, "hold", on=on)
        except BridgeError as exc:
            await self._result("hold", False, str(exc))
            return
        # Done: the hold goes on the transcript's clock for the quality review.
        try:
            await self.services.live.store.hold(cid, on, self.queue.clock())
        except Exception:
            log.exception("hold not recorded", extra={"contact": cid})
        await self._result("hold", True)

    async def _transfer(self, frame: Frame) -> None:
        cid = _contact_id(frame)
        note = str(frame.get("note", ""))[:1000]
        to_lawyer = frame.get("to_lawyer") or None
        to_service = Service(frame["to_service"]) if frame.get("to_service") else None
        await self._park_before_leaving(cid)
        done = await self.queue.transfer(
            cid, self.lawyer_id, note, to_lawyer=to_lawyer, to_service=to_service
        )
        if done != 1:
            await self._unpark_if_still_mine(cid)
        messages = {-1: "this contact is not yours", -2: "no such lawyer"}
        await self._result("transfer", done == 1, messages.get(done, ""))

    async def _case(self, frame: Frame) -> None:
        cid = _contact_id(frame)
        form = CaseForm.model_validate(frame.get("form"))
        q = self.queue
        saved = await q.store.save_case(cid, self.lawyer_id, form.model_dump_json(), q.clock())
        messages = {-1: "this contact is not yours", -2: "this contact is not connected"}
        await self._result("case", saved == 1, messages.get(saved, ""))

    async def _hint_pin(self, frame: Frame) -> None:
        await self.hints.pin(frame, self._is_mine)

    async def _state(self, frame: Frame) -> None:
        presence = Presence(frame.get("state"))
        await self.queue.set_presence(self.lawyer_id, presence, str(frame.get("reason", ""))[:200])
        await self._result("state", True)

    async def _ready(self, frame: Frame) -> None:
        await self._result("ready", await self.queue.ready(self.lawyer_id))

    async def _extend_wrapup(self, frame: Frame) -> None:
        result = await self.queue.extend_wrapup(self.lawyer_id)
        messages = {0: "not in wrap-up", -1: "no wrap-up extension left"}
        await self._result("extend_wrapup", result == 1, messages.get(result, ""))

    async def _is_mine(self, contact_id: str) -> bool:
        contact = await self.queue.store.get_contact(contact_id)
        return contact is not None and contact.lawyer == self.lawyer_id

    async def _result(self, request: str, ok: bool, message: str = "") -> None:
        await self._send("result", request=request, ok=ok, message=message)


def _contact_id(frame: Frame) -> str:
    cid = frame.get("contact_id")
    if not isinstance(cid, str) or not cid:
        raise BadFrame(f"'{frame['type']}' needs a 'contact_id' string")
    return cid


@router.websocket("/api/console/ws")
async def console_ws(
    ws: WebSocket,
    settings: SettingsDep,
    services: Annotated[ConsoleServices, Depends(console_services)],
    open_consoles: OpenConsolesDep,
) -> None:
    explicit = bool(bearer(ws) or ws.query_params.get("token"))
    if not origin_allowed(ws, settings.sockets.allowed_origins, explicit):
        await ws.close(code=CLOSE_FORBIDDEN, reason="not from this site's pages")
        return
    try:
        principal = await authenticate_async(ws)
    except HTTPException as exc:
        await ws.close(code=CLOSE_UNAUTHORIZED, reason=str(exc.detail))
        return
    if principal.role != Role.LAWYER:
        await ws.close(code=CLOSE_FORBIDDEN, reason="the console is for duty lawyers")
        return
    queue = services.queue
    lawyer_id = principal.subject
    if await queue.store.get_lawyer(lawyer_id) is None:
        await ws.close(code=CLOSE_NOT_FOUND, reason="no such lawyer")
        return
    await ws.accept()
    hub = services.hub
    ticket = Ticket(
        "console",
        lawyer_id,
        credential_of(ws),
        client_address(ws),
        channel=hub.signal_channel("lawyer", lawyer_id),
    )
    try:
        async with hub.open(ticket):
            # Again, now that a revocation would reach this socket: one announced since
            # the first check is not missed.
            if not await _still_signed_in(ws, principal):
                await ws.close(CLOSE_UNAUTHORIZED, "your sign-in has ended: sign in again")
                return
            await _run_console(ws, services, open_consoles, lawyer_id, ticket)
    except TooManySockets as exc:
        await ws.close(code=exc.code, reason=exc.reason)


async def _still_signed_in(ws: WebSocket, principal: Principal) -> bool:
    try:
        return await authenticate_async(ws) == principal
    except HTTPException:
        return False


async def _run_console(
    ws: WebSocket,
    services: ConsoleServices,
    open_consoles: Counter[str],
    lawyer_id: str,
    ticket: Ticket,
) -> None:
    open_consoles[lawyer_id] += 1
    try:
        await ConsoleSession(ws, services, lawyer_id, ticket).run()
        await close_as_ended(ws, ticket)
    except WebSocketDisconnect:
        pass
    finally:
        open_consoles[lawyer_id] -= 1
        if open_consoles[lawyer_id] <= 0:
            del open_consoles[lawyer_id]
            await _console_gone(services.queue, lawyer_id, open_consoles)


async def _console_gone(queue: QueueService, lawyer_id: str, open_consoles: Counter[str]) -> None:
    """The last console of this lawyer closed. Whatever was offered goes back to the
    queue now and no new offer goes to a console that is not there: the lawyer is put
    on a break the console lifts when it comes back. A call in progress goes on; a
    lawyer who stays away longer than `console_timeout_s` is taken off duty."""
    lawyer = await queue.store.get_lawyer(lawyer_id)
    if open_consoles[lawyer_id]:
        return  # a reload: the new console is already here
    if lawyer is not None and lawyer.presence == Presence.AVAILABLE:
        await queue.set_presence(lawyer_id, Presence.BREAK, CONSOLE_AWAY)
        if open_consoles[lawyer_id]:
            # The new console said hello while the break was being set: lift it, as that
            # hello would have, or the lawyer would sit on a break with a console open.
            await queue.set_presence(lawyer_id, Presence.AVAILABLE)
    log.info("console closed", extra={"lawyer": lawyer_id})
