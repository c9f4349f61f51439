"""One call on a worker: carries out its CallFlow's actions with pjsua2 and the queue.

What it needs of the worker holding the call is `CallHost` (host.py): prompts and
players, the loop, the queue, transcript start, background tasks.

When a lawyer is offered the call, the session opens its Bridge: the conversation's
room on the media server, which the lawyer's browser joins on accept (through the web
process, never through this worker). Once the lawyer is connected (ConnectLawyer) the
session connects the Bridge to the call's audio, both ways. Hold disconnects it and
loops the hold music; the lawyer's part ending (a transfer, the end) or the caller
hanging up closes it and its room.

With media.steer_calls (design B, inbound calls behind the SIP front), "connect" is
steering instead (steering.py): the caller's RTP goes straight to the room, and comes
back to the worker for whatever the worker plays (hold music, a transfer's wait, the
survey), which is started once the call's own stream is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pjsua2 as pj

from lawline.phone_numbers import mask_number
from lawline.queue.intake import Origin, Skills, new_contact
from lawline.queue.model import Contact
from lawline.queue.skills import Channel, ContactState
from lawline.telephony import flow as f
from lawline.telephony.party_wire import CodesBlocked
from lawline.telephony.sip import CallEvents, GatewayCall, Player
from lawline.telephony.sip_message import caller_number, reply_route
from lawline.telephony.steer import RtpAddress
from lawline.telephony.steered_bridge import SteeredBridge
from lawline.telephony.steering import CallSteering

if TYPE_CHECKING:
    from lawline.telephony.bridge import Bridge
    from lawline.telephony.host import CallHost
    from lawline.telephony.party_wire import PartyDial
    from lawline.transcripts.live import LiveTranscript

log = logging.getLogger(__name__)
# Why a dial-out failed, by final SIP status; others are recorded as "sip NNN".
_DIAL_FAILURES = {
    486: "busy",
    600: "busy",
    603: "declined",
    408: "no answer",
    480: "no answer",
    487: "no answer",  # lawline gave up ringing
    404: "unreachable",
    0: "unreachable",
}


def dial_failure(status: int) -> str:
    return _DIAL_FAILURES.get(status, f"sip {status}")


class CallSession(CallEvents):
    """A caller's call (answered by lawline) or a callback (dialled out by lawline, for a
    contact a lawyer has accepted: `callback` is that contact)."""

    def __init__(
        self,
        host: CallHost,
        call: GatewayCall,
        callback: Contact | None = None,
        origin: dict[str, str] | None = None,
        asserted: str = "",
        via_front: bool = False,
    ) -> None:
        self.host = host
        self.call = call
        self.loop = host.loop
        self.flow = f.CallFlow(host.settings.telephony.menu)
        self.outbound = callback is not None
        # A SIP terminal's id, village and township (terminal_origin), for the record.
        self.origin = origin or {}
        self.contact_id: str | None = None
        if callback is not None:
            self.caller = callback.callback_number or callback.caller
            self.contact_id = callback.id
            self.reply_route = ""
        else:
            info = call.getInfo()
            # A trunk's P-Asserted-Identity (only when the front vouched for the trunk),
            # else From; a number that is not one is taken as withheld.
            number = caller_number(asserted or info.remoteUri)
            if number is None:
                host.count("invalid_caller_number")
                log.warning("caller number is not a telephone number: taken as withheld")
            self.caller = number or ""
            self.reply_route = reply_route(info.remoteContact)
        self.started = False
        self._status = 0
        self._dial_timer: asyncio.TimerHandle | None = None
        self.ended = False
        self._player: Player | None = None
        self._play_seq = 0
        self._recorder: pj.AudioMediaRecorder | None = None
        self._voicemail: Path | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._recording_limit: asyncio.TimerHandle | None = None
        self._last_op: asyncio.Task[None] | None = None
        self._last_rx = -1
        self._rx_idle_s = 0.0
        # The conversation's room; it carries audio once the lawyer is connected, off hold.
        self.bridge: Bridge | None = None
        # The conversation's live transcript, from the lawyer's answer to the end.
        self.transcript: LiveTranscript | None = None
        self._lawyer_connected = False
        self.on_hold = False
        # The mediation room a caller entered the code of (key 0 at the main menu).
        self._room_dial: PartyDial | None = None
        # Design B: where the call's media goes while a lawyer has it. Only calls the
        # front signed can be steered: the front rewrites the steer (a callback goes to
        # the trunk, a call straight to the worker never passed the front).
        self.steering: CallSteering | None = None
        self._steerable = host.settings.media.steer_calls and via_front and not self.outbound
        call.events = self
        call.call_soon = self.loop.call_soon
        call.call_later = self.loop.call_later

    # ----- pjsua2 callbacks (main thread, inside libHandleEvents) ---------------------

    def on_state(self, state: int, status: int) -> None:
        self._status = status
        if state == pj.PJSIP_INV_STATE_DISCONNECTED and not self.ended:
            # Media first, while the call still exists; the queue after, on the loop.
            self.ended = True
            self._cancel_dial_timer()
            if self._timer is not None:
                self._timer.cancel()
            self._stop_player()
            if self.steering is not None:
                self.steering.stop()
            self.end_bridge()
            self.end_transcript()
            if self._recorder is not None:
                self._stop_recording_on_hangup()
            self._in_order(self._hung_up())

    def on_media_active(self) -> None:
        if self.started:
            # Media changed (a re-INVITE): pjsua may have made the call a new stream and
            # conference port, so what played to it, recorded it or bridged it joins again.
            self._rejoin_media()
            self._wire()
            if self.steering is not None:
                self.steering.media_back()
            return
        self.started = True
        if self.outbound:
            self._cancel_dial_timer()
            self._in_order(self._record("call.callback_answered"))
            self._do(self.flow.start_callback(self.loop.time()))
            if self.contact_id is not None:  # the lawyer accepted before lawline dialled
                self._start_transcript(self.contact_id)
        else:
            self._do(self.flow.start(self.loop.time(), self.host.hotline_open()))

    def on_dtmf(self, digit: str) -> None:
        self._do(self.flow.digit(digit, self.loop.time()))

    def on_caller_media(self, address: RtpAddress) -> None:
        if self.steering is not None:
            self.steering.caller_media(address)

    def on_steer_failed(self, status: int) -> None:
        if self.steering is not None:
            self.steering.steer_failed(status)

    # ----- queue events, from the host ---------------------------------------------------

    def on_contact(self, contact: Contact, event_type: str) -> None:
        now = self.loop.time()
        if event_type == "contact.offered" and contact.channel == Channel.VOICE:
            self._open_bridge(contact.id)  # ready before the lawyer accepts
        elif event_type == "contact.answered":
            self._open_bridge(contact.id)
            self._do(self.flow.answered(now))
            self._start_transcript(contact.id, contact.language or "zh")
        elif event_type == "contact.ended" and contact.state == ContactState.ENDED:
            self._lawyer_connected = self.on_hold = False
            self.end_bridge()  # before the survey plays
            self.end_transcript()
            if self.outbound and not self.started:
                self._hangup("the lawyer stopped the callback")  # still ringing
            self._do(self.flow.lawyer_ended(now))
        elif event_type == "contact.transferred":
            # Handed on to a colleague or a queue: waiting again, with hold music.
            self._lawyer_connected = self.on_hold = False
            self.end_bridge()
            self.end_transcript()
            self._do(self.flow.transferred(now))

    # ----- dialling out a callback -----------------------------------------------------

    def dial(self, uri: str, timeout_s: float) -> bool:
        """Place the callback; False if pjsua refused it at once (no DISCONNECTED follows)."""
        try:
            self.call.makeCall(uri, pj.CallOpParam(True))
        except pj.Error as exc:
            log.warning(
                "callback could not be placed",
                extra={
                    "number": mask_number(self.caller),
                    "status": exc.status,
                    "reason": exc.reason[:200],
                },
            )
            return False
        self._dial_timer = self.loop.call_later(timeout_s, self._ring_timeout)
        self._in_order(self._record("call.callback_dialled", uri=uri))
        return True

    def _ring_timeout(self) -> None:
        self._dial_timer = None
        if not self.started:
            self._hangup("callback not answered")

    def _cancel_dial_timer(self) -> None:
        if self._dial_timer is not None:
            self._dial_timer.cancel()
            self._dial_timer = None

    async def _record(self, kind: str, **fields: str) -> None:
        queue = self.host.queue
        await queue.store.call_event(
            kind, queue.clock(), contact_id=self.contact_id or "", call=self.host.name, **fields
        )

    # ----- carrying out actions ----------------------------------------------------------

    def _in_order(self, op: Coroutine[Any, Any, object]) -> None:
        """Run a queue operation after this call's earlier ones: its record stays in order."""
        previous = self._last_op

        async def after() -> None:
            if previous is not None:
                await asyncio.gather(previous, return_exceptions=True)
            try:
                await op
            except Exception:
                log.exception("queue operation failed", extra={"contact": self.contact_id})

        self._last_op = self.loop.create_task(after())

    def _do(self, actions: list[f.Action]) -> None:
        for action in actions:
            self._do_one(action)
        self._arm_timer()

    def _do_one(self, a: f.Action) -> None:
        if self.ended:
            return
        if isinstance(a, f.Play):
            self._play([self.host.prompt(p) for p in a.prompts], loop=False)
        elif isinstance(a, f.HoldMusic):
            self._play([self.host.prompt("hold_music")], loop=True)
        elif isinstance(a, f.ConnectLawyer):
            self._stop_player()
            self._lawyer_connected = True
            self._wire()
        elif isinstance(a, f.MenuChoice):
            self._in_order(
                self.host.queue.store.call_event(
                    "call.menu",
                    self.host.queue.clock(),
                    node=a.node,
                    digit=a.digit,
                    call=self.host.name,
                )
            )
        elif isinstance(a, f.Enqueue):
            self._in_order(self._enqueue(a))
        elif isinstance(a, f.RequestCallback):
            self._in_order(self._request_callback())
        elif isinstance(a, f.SaveRating):
            if self.contact_id:
                self._in_order(
                    self.host.queue.store.rate(self.contact_id, a.score, self.host.queue.clock())
                )
        elif isinstance(a, f.Record):
            self._start_recording(a.max_s)
        elif isinstance(a, f.StopRecording):
            self._stop_recording()
        elif isinstance(a, f.LeaveVoicemail):
            self._in_order(self._leave_voicemail(a))
        elif isinstance(a, f.FindRoom):
            self._in_order(self._find_room(a))
        elif isinstance(a, f.EnterRoom) and self._room_dial is not None:
            self._hand_over()
            self.host.enter_room(self.call, self._room_dial)
        elif isinstance(a, f.Hangup):
            self._hangup(a.reason)

    def _arm_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        at = self.flow.next_timer()
        if at is not None and not self.ended:
            self._timer = self.loop.call_at(at, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self.loop.create_task(self._timer_with_position())

    async def _timer_with_position(self) -> None:
        if self.flow.phase == f.Phase.QUEUED and self.contact_id:
            waiting = await self.host.queue.position_of(self.contact_id)
            if waiting is not None:
                self.flow.queue_position(waiting.position, waiting.estimated_wait_s)
        self._do(self.flow.timer(self.loop.time()))

    # ----- media ---------------------------------------------------------------------

    def _play(self, files: list[Path], loop: bool) -> None:
        self._stop_player()
        audio = self.call.audio()
        steering_back = self.steering is not None and self.steering.engaged
        if audio is None and not steering_back:
            return
        self._play_seq += 1
        seq = self._play_seq  # not the player itself: no player <-> callback cycle
        player = self.host.player(files, loop, lambda: self._prompt_ended(seq))
        # While the call's media is on its way back from the room, the player waits
        # unconnected (not played: from its start) until _rejoin_media connects it.
        if audio is not None:
            player.startTransmit(audio)
        self._player = player

    def _prompt_ended(self, seq: int) -> None:
        if seq == self._play_seq and self._player is not None and not self.ended:
            self._do(self.flow.prompt_done(self.loop.time()))

    def _rejoin_media(self) -> None:
        audio = self.call.audio()
        if audio is None:
            return
        if self._player is not None:
            self._player.startTransmit(audio)
        if self._recorder is not None:
            audio.startTransmit(self._recorder)

    def _stop_player(self) -> None:
        if self._player is not None:
            self.host.media_grace.retire(self._player, self.call.audio())
            self._player = None

    def _start_recording(self, max_s: float) -> None:
        audio = self.call.audio()
        if audio is None:
            return
        self._voicemail = self.host.voicemail_dir / f"{uuid.uuid4().hex}.wav"
        recorder = pj.AudioMediaRecorder()
        recorder.createRecorder(str(self._voicemail))
        audio.startTransmit(recorder)
        self._recorder = recorder
        # Kept to cancel: a pending handle would keep this session (and its Call) alive.
        self._recording_limit = self.loop.call_later(max_s, self._recording_timeout)

    def _recording_timeout(self) -> None:
        if self._recorder is not None:
            self._stop_recording()

    def _stop_recording(self) -> None:
        if self._recorder is None:
            return
        self._cancel_recording_limit()
        self.host.media_grace.retire(self._recorder, self.call.audio())
        self._recorder = None
        self._do(self.flow.recording_done(self.loop.time()))

    # ----- the lawyer's browser -------------------------------------------------------

    def _open_bridge(self, contact_id: str) -> None:
        if self.bridge is None and not self.ended:
            self.bridge = self.host.open_bridge(contact_id, steered=self._steerable)
            self.bridge.transcript = self.transcript
            if self._steerable and self.steering is None:
                self.steering = CallSteering(self.call, self._wire)
            self._wire()

    def hold(self, on: bool) -> str:
        """Hold music to the caller, or the lawyer back; '' when done, else why not."""
        if self.ended or not self._lawyer_connected:
            return "the caller is not talking to a lawyer"
        if on != self.on_hold:
            self.on_hold = on
            if on:
                if self.bridge is not None:
                    self.bridge.disconnect(self.call.audio())
                self._unsteer()
                self._play([self.host.prompt("hold_music")], loop=True)
            else:
                self._stop_player()
                self._wire()
        return ""

    def end_bridge(self) -> None:
        self._unsteer()  # the room's caller leg out, then the call back (the bridge waits)
        bridge, self.bridge = self.bridge, None
        if bridge is not None:
            self.host.close_bridge(bridge, self.call.audio())

    def _unsteer(self) -> None:
        if isinstance(self.bridge, SteeredBridge):
            self.bridge.listening = False
        if self.steering is not None:
            self.steering.want(None)

    def _start_transcript(self, contact_id: str, language: str = "zh") -> None:
        if self.transcript is None and not self.ended:
            self.transcript = self.host.start_transcript(contact_id, language)
            if self.bridge is not None:
                self.bridge.transcript = self.transcript

    def end_transcript(self) -> None:
        """The conversation is over: finals for what was being said, then stored."""
        transcript, self.transcript = self.transcript, None
        if transcript is not None:
            if self.bridge is not None:
                self.bridge.transcript = None
            self.host.in_background(transcript.close())

    def _wire(self) -> None:
        """Connect the bridge to the call (or steer the call to it), once everything it
        needs is there."""
        if self.bridge is None or not self._lawyer_connected or self.on_hold or self.ended:
            return
        if isinstance(self.bridge, SteeredBridge):
            self.bridge.listening = True
            if self.steering is not None and not self.steering.refused:
                self.steering.want(self.bridge)
                return
            self.bridge.relay()  # a refused steer: design A for the rest of the call
        audio = self.call.audio()
        if audio is not None:
            self.bridge.connect(audio)

    # ----- queue ---------------------------------------------------------------------

    async def _enqueue(self, a: f.Enqueue) -> None:
        attrs = {"menu": a.menu_path, "worker": self.host.name, "trunk": self.reply_route}
        contact = new_contact(
            a.route,
            Origin(Channel.VOICE, self.caller, {**attrs, **self.origin}),
            contact_id=uuid.uuid4().hex,
            entered_at=self.host.queue.clock(),
        )
        self.contact_id = contact.id
        await self.host.track(contact.id, self)
        await self.host.queue.add_contact(contact)
        if self.ended:  # hung up while the contact was being entered
            await self._leave_queue()

    async def _find_room(self, a: f.FindRoom) -> None:
        blocked = False
        try:
            dial = await self.host.find_room(a.number, a.pin, self.caller)
        except CodesBlocked:
            dial, blocked = None, True
            self.host.count("room_code_blocked")
        else:
            if dial is None:
                self.host.count("room_code_wrong")
        if not self.ended:
            self._room_dial = dial
            self._do(self.flow.room_found(self.loop.time(), dial is not None, blocked=blocked))

    def _hand_over(self) -> None:
        """The call is a mediation party's leg from now (telephony/party_call.py): this
        session lets go of it without hanging up (nothing of it is in the queue)."""
        self.ended = True
        if self.steering is not None:
            self.steering.stop()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._stop_player()

    async def _request_callback(self) -> None:
        """Ask for the callback, then tell the caller: taken (they hang up) or refused
        because the number's callbacks for today are used up (they keep waiting)."""
        taken = False
        if self.contact_id is not None:
            taken = await self.host.queue.request_callback(self.contact_id, self.caller) != -3
            if not taken:
                log.info("callback refused: the number's daily callbacks are used up")
        if not self.ended:
            self._do(self.flow.callback_result(self.loop.time(), taken))

    async def _leave_voicemail(self, a: f.LeaveVoicemail) -> None:
        if self._voicemail is None:
            return
        attrs = {"menu": a.menu_path, "voicemail": str(self._voicemail), "trunk": self.reply_route}
        contact = new_contact(
            Skills(self.host.settings.telephony.menu.default_route.service),
            Origin(Channel.VOICE, self.caller, attrs),
            contact_id=uuid.uuid4().hex,
            entered_at=self.host.queue.clock(),
            callback=True,
        )
        await self.host.queue.add_contact(contact)
        await self.host.queue.request_callback(contact.id, self.caller)

    async def _hung_up(self) -> None:
        """The line is gone (BYE, or we hung up): the queue must not keep a ghost."""
        try:
            await self._leave_queue()
        finally:
            # Break the call <-> session cycle so the Call is released here, now that
            # DISCONNECTED has run, not by the garbage collector at some later moment.
            self.call.events = CallEvents()
            self._last_op = None
            self.steering = None  # it holds the call, and this session (on_refused)
            self.host.forget(self)

    def _cancel_recording_limit(self) -> None:
        if self._recording_limit is not None:
            self._recording_limit.cancel()
            self._recording_limit = None

    def _stop_recording_on_hangup(self) -> None:
        assert self._recorder is not None
        self._cancel_recording_limit()
        self.host.media_grace.retire(self._recorder, None)
        self._recorder = None
        actions = self.flow.recording_done(self.loop.time())
        for a in actions:
            if isinstance(a, f.LeaveVoicemail):
                self._in_order(self._leave_voicemail(a))

    async def _leave_queue(self) -> None:
        if self.contact_id is None or self.flow.callback:
            return
        queue = self.host.queue
        if self.outbound and not self.started:
            # Rang out, busy or unreachable: the lawyer is freed, the callback tried later.
            await queue.callback_failed(self.contact_id, dial_failure(self._status))
            return
        await queue.line_gone(self.contact_id, "caller hung up", ended_by="caller")

    def _hangup(self, reason: str) -> None:
        log.info("hanging up", extra={"reason": reason, "contact": self.contact_id})
        op = pj.CallOpParam()
        op.statusCode = 200
        with contextlib.suppress(pj.Error):
            self.call.hangup(op)

    def on_line_probed(self, status: int) -> None:
        # 408: neither the phone nor anything on its way answered; 481: the phone no
        # longer knows the call. Any other answer (even 405) came from a live phone.
        # (pjsua itself ends a call on either; the hang-up is for one it did not end.)
        if status in (408, 481):
            log.warning(
                "the caller's phone did not answer in the call, ending it",
                extra={"status": status, "contact": self.contact_id},
            )
            if not self.ended:
                self.loop.call_soon(self._hangup, "line dead")

    def check_line(self, interval_s: float, timeout_s: float) -> None:
        """Called every interval: no RTP for timeout_s means the line died without a BYE."""
        if self.ended or not self.started:
            return
        if self.steering is not None and self.steering.engaged:
            # The caller's RTP goes to the room, not here: the phone is asked instead,
            # as often as a line may be quiet (on_line_probed ends a call nobody answers).
            self._last_rx = -1
            self._rx_idle_s += interval_s
            if self._rx_idle_s >= timeout_s and not self.call.probing:
                self._rx_idle_s = 0.0
                with contextlib.suppress(pj.Error):  # the call is ending
                    self.call.probe_line()
            return
        rx = self.call.received_packets()
        if rx != self._last_rx:
            self._last_rx, self._rx_idle_s = rx, 0.0
            return
        self._rx_idle_s += interval_s
        if self._rx_idle_s >= timeout_s:
            log.warning("no RTP from caller, ending the call", extra={"contact": self.contact_id})
            self._hangup("line dead")
