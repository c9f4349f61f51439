"""A mediation party's phone call on a worker: carries out its PartyFlow with pjsua2.

The worker took the dial request (telephony/party_wire.py) off Redis. This dials the
party through the trunk, invites them, and when they press 1 opens the call's leg: a
relay port (telephony/bridge.py's RelayPort) on a UDP socket of its own. The web process
holding the room joins that socket to the room as a plain-RTP participant in the
party's side and says where the room takes its audio (`party_peer`); from then the
call's audio goes to and comes from the room. The leg's Janus handle is the web
process's, so the mediator's mute, caucus and removal act on it there; the worker only
carries the audio, and tells the web process every change (`PartyEvent`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pjsua2 as pj

from lawline.media.speaking import SpeakingDetector, level_db
from lawline.phone_numbers import mask_number
from lawline.telephony.bridge import RelayPort
from lawline.telephony.flow import Hangup, Play
from lawline.telephony.keys import TelephonyKeys
from lawline.telephony.party_flow import ConnectRoom, JoinRoom, PartyAction, PartyFlow
from lawline.telephony.party_wire import (
    DIAL_IN,
    EVENTS_TTL_S,
    QUIET,
    SPEAKING,
    PartyDial,
    PartyEvent,
)
from lawline.telephony.session import dial_failure
from lawline.telephony.sip import CallEvents, GatewayCall, MediaGrace, Player

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from lawline.config import Settings

log = logging.getLogger(__name__)
LINE_TTL_S = 24 * 3600
SPEAKING_POLL_S = 0.1  # how often the party's frames are looked at for speech


class PartyHost(Protocol):
    """What a PartyCall needs from the worker holding it."""

    name: str
    settings: Settings
    loop: asyncio.AbstractEventLoop
    redis: Redis
    media_grace: MediaGrace

    def prompt(self, prompt_id: str) -> Path: ...
    def player(self, files: list[Path], repeat: bool, on_end: Callable[[], None]) -> Player: ...
    def in_background(self, op: Coroutine[Any, Any, Any]) -> asyncio.Task[None]: ...
    def forget_party(self, party: PartyCall) -> None: ...


class PartyCall(CallEvents):
    def __init__(
        self, host: PartyHost, call: GatewayCall, dial: PartyDial, dialled_in: bool = False
    ) -> None:
        self.host = host
        self.dialled_in = dialled_in  # the party called 12348 and entered the room's code
        self.call = call
        self.dial = dial
        self.loop = host.loop
        self.keys = TelephonyKeys(host.settings.redis_prefix)
        self.flow = PartyFlow()
        self.ended = False
        self._answered = False
        self._status = 0
        self._player: Player | None = None
        self._play_seq = 0
        self._timer: asyncio.TimerHandle | None = None
        self._dial_timer: asyncio.TimerHandle | None = None
        # In the room: whether the party is speaking, from their leg's frames.
        self._speaking = SpeakingDetector()
        self._speaking_timer: asyncio.TimerHandle | None = None
        self._last_tell: asyncio.Task[None] | None = None
        self.sock: socket.socket | None = None
        self.port: RelayPort | None = None
        self._connected = False
        call.events = self

    @property
    def leg(self) -> str:
        return self.dial.leg

    # ----- dialling ------------------------------------------------------------------

    def place(self, uri: str, timeout_s: float) -> bool:
        """Dial; False if pjsua refused at once (then no DISCONNECTED follows)."""
        try:
            self.call.makeCall(uri, pj.CallOpParam(True))
        except pj.Error as exc:
            log.warning(
                "mediation party could not be dialled",
                extra={"number": mask_number(self.dial.number), "status": exc.status},
            )
            return False
        self._dial_timer = self.loop.call_later(timeout_s, self._ring_timeout)
        self._tell("ringing")
        self._hold_line()
        return True

    def enter(self) -> None:
        """A caller who entered the room's number and their PIN: into the room."""
        self._answered = True
        self._hold_line()
        self._do(self.flow.entered(self.loop.time()))

    def _hold_line(self) -> None:
        # The web process finds this worker by the leg, as it finds a call's by its contact.
        self.host.in_background(
            self.host.redis.set(self.keys.line(self.leg), self.host.name, ex=LINE_TTL_S)
        )

    def _ring_timeout(self) -> None:
        self._dial_timer = None
        if not self._answered and not self.ended:
            self._status = 408
            self._hangup("not answered")

    # ----- pjsua2 callbacks (main thread, inside libHandleEvents) -----------------------

    def on_state(self, state: int, status: int) -> None:
        self._status = status
        if state == pj.PJSIP_INV_STATE_DISCONNECTED and not self.ended:
            self.ended = True
            for timer in (self._timer, self._dial_timer, self._speaking_timer):
                if timer is not None:
                    timer.cancel()
            self._stop_player()
            self._close_leg()
            if self._answered:
                self._tell("ended", reason=self.flow.phase.value)
            else:
                self._tell("failed", reason=dial_failure(status))
            self.host.in_background(self._forget())

    def on_media_active(self) -> None:
        if not self._answered:
            self._answered = True
            if self._dial_timer is not None:
                self._dial_timer.cancel()
                self._dial_timer = None
            self._tell("answered")
            self._do(self.flow.answered(self.loop.time()))
        elif self._connected:
            self._wire()  # a re-INVITE made a new stream: the room's audio again
        elif self._player is not None and (audio := self.call.audio()) is not None:
            self._player.startTransmit(audio)

    def on_dtmf(self, digit: str) -> None:
        self._do(self.flow.digit(digit, self.loop.time()))

    # ----- what the web process says (call requests) ------------------------------------

    def room_took(self, ip: str, port: int) -> None:
        if self.port is None or self.ended:
            raise RuntimeError("this leg is not joining")
        self.port.peer = (ip, port)
        self._do(self.flow.joined(self.loop.time()))

    def room_refused(self) -> None:
        self._do(self.flow.join_failed(self.loop.time()))

    def end(self, reason: str) -> None:
        self._do(self.flow.ended_by_room(self.loop.time(), reason))

    # ----- carrying out --------------------------------------------------------------

    def _do(self, actions: list[PartyAction]) -> None:
        for a in actions:
            if self.ended:
                return
            if isinstance(a, Play):
                self._play([self.host.prompt(p) for p in a.prompts])
            elif isinstance(a, JoinRoom):
                self._open_leg()
            elif isinstance(a, ConnectRoom):
                self._stop_player()
                self._connected = True
                self._wire()
                self._listen_for_speech()
            elif isinstance(a, Hangup):
                self._hangup(a.reason)
        self._arm_timer()

    def _arm_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        at = self.flow.next_timer()
        if at is not None and not self.ended:
            self._timer = self.loop.call_at(at, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._do(self.flow.timer(self.loop.time()))

    def _play(self, files: list[Path]) -> None:
        self._stop_player()
        audio = self.call.audio()
        if audio is None:
            return
        self._play_seq += 1
        seq = self._play_seq
        player = self.host.player(files, False, lambda: self._prompt_ended(seq))
        player.startTransmit(audio)
        self._player = player

    def _prompt_ended(self, seq: int) -> None:
        if seq == self._play_seq and self._player is not None and not self.ended:
            self._do(self.flow.prompt_done(self.loop.time()))

    def _stop_player(self) -> None:
        if self._player is not None:
            self.host.media_grace.retire(self._player, self.call.audio())
            self._player = None

    def _open_leg(self) -> None:
        host = self.host.settings.media.rtp_host
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
        sock.setblocking(False)
        sock.bind((host, 0))
        port = RelayPort(sock)
        port.create(f"party-{self.leg[-8:]}")
        self.sock, self.port = sock, port
        ip, rtp_port = sock.getsockname()[:2]
        self._tell("joining", reason=DIAL_IN if self.dialled_in else "", ip=ip, port=rtp_port)

    def _wire(self) -> None:
        audio, port = self.call.audio(), self.port
        if audio is None or port is None:
            return
        if not port.open:
            port.to_caller.clear()
            port.starved = True
            port.open = True
        port.startTransmit(audio)
        audio.startTransmit(port)

    def _listen_for_speech(self) -> None:
        if self._speaking_timer is None and not self.ended:
            self._speaking_timer = self.loop.call_later(SPEAKING_POLL_S, self._speech_heard)

    def _speech_heard(self) -> None:
        """The party's frames since the last look (the relay's tap, filled by the media
        clock thread): the room is told when they start or stop speaking."""
        self._speaking_timer = None
        port = self.port
        if port is None or self.ended:
            return
        levels = []
        while port.caller_tap:
            levels.append(level_db(port.caller_tap.popleft()))
        change = self._speaking.heard(levels, self.loop.time())
        if change is not None:
            self._tell(SPEAKING if change else QUIET)
        self._listen_for_speech()

    def _close_leg(self) -> None:
        port, sock = self.port, self.sock
        self.port = self.sock = None
        self._connected = False
        if port is not None:
            port.open = False
            port.peer = None
            self.host.media_grace.retire(port, self.call.audio())
        if sock is not None:
            sock.close()  # the port, kept a moment in MediaGrace, tolerates a closed socket

    def _hangup(self, reason: str) -> None:
        log.info("mediation party call ends", extra={"leg": self.leg, "reason": reason})
        op = pj.CallOpParam()
        op.statusCode = 200  # ringing, pjsua cancels; answered, it says BYE
        with contextlib.suppress(pj.Error):
            self.call.hangup(op)

    # ----- telling the web process -------------------------------------------------------

    def _tell(self, state: str, reason: str = "", ip: str = "", port: int = 0) -> None:
        d = self.dial
        event = PartyEvent(d.leg, d.case_id, d.who, self.host.name, state, reason, ip, port)
        previous = self._last_tell

        async def tell() -> None:
            if previous is not None:  # in order: `joining` never overtakes `answered`
                await asyncio.gather(previous, return_exceptions=True)
            key = self.keys.party_events(d.inbox)
            async with self.host.redis.pipeline(transaction=True) as pipe:
                pipe.lpush(key, event.to_json())
                pipe.expire(key, EVENTS_TTL_S)
                await pipe.execute()

        self._last_tell = self.host.in_background(tell())

    async def _forget(self) -> None:
        if self._last_tell is not None:
            await asyncio.gather(self._last_tell, return_exceptions=True)
        await self.host.redis.delete(self.keys.line(self.leg))
        self.host.forget_party(self)


def expired(dial: PartyDial) -> bool:
    return dial.expires < time.time()


def parse_dial(raw: str) -> PartyDial | None:
    """The request, or None (logged without its content) when it is not one."""
    try:
        return PartyDial.parse(raw)
    except (ValueError, json.JSONDecodeError) as exc:
        log.warning("mediation dial request set aside", extra={"error": str(exc)[:200]})
        return None
