"""pjsua2, set up the way this gateway needs it, and thin subclasses that forward.

Facts this module is built around (measured with the pjsua2-python wheel):
- one process holds at most 4 calls (compiled in), so a centre runs several
  workers behind a SIP front;
- `threadCnt = 0` and `mainThreadOnly = True`: every SIP callback runs inside
  `libHandleEvents`, which the worker calls from its asyncio loop, so call state
  needs no locks;
- the null audio device with `sndAutoCloseTime = -1`: otherwise its clock stops
  when idle and call slots leak until every new call gets 488;
- media callbacks (a player reaching its end) come from the media clock
  thread: they only post to the asyncio loop;
- a player or recorder still connected to the conference bridge is stopped
  both ways and kept alive a moment before it is dropped (deleting it at once
  crashed the process under churn).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pjsua2 as pj

from lawline.telephony import steer
from lawline.telephony.steer import RtpAddress

log = logging.getLogger(__name__)

# Codecs a telephone network offers; G.722 when the trunk has it. Others are off.
CODEC_PRIORITY = {"PCMA/8000": 250, "PCMU/8000": 240, "G722/16000": 200}
# Calls one pjsua2 process holds (compiled into the wheel; more is ignored).
MAX_CALLS = 4
# Keep a stopped player or recorder this long before letting it be destroyed.
MEDIA_GRACE_S = 2.0


@dataclass(frozen=True, slots=True)
class SipConfig:
    host: str = "127.0.0.1"
    port: int = 5060
    rtp_port: int = 40000
    rtp_port_range: int = 400
    log_level: int = 1
    # Where RTP binds and what SDP advertises; empty: host. Behind the SIP front,
    # SIP is on loopback and media on the public address.
    media_host: str = ""
    conference_rate_hz: int = 8000  # pjsua's conference clock


def create_endpoint(cfg: SipConfig) -> pj.Endpoint:
    ep = pj.Endpoint()
    ep.libCreate()
    ep_cfg = pj.EpConfig()
    ep_cfg.uaConfig.threadCnt = 0
    ep_cfg.uaConfig.mainThreadOnly = True
    ep_cfg.uaConfig.maxCalls = MAX_CALLS
    ep_cfg.uaConfig.userAgent = "lawline"
    ep_cfg.logConfig.level = cfg.log_level
    ep_cfg.logConfig.consoleLevel = cfg.log_level
    ep_cfg.medConfig.sndAutoCloseTime = -1
    ep_cfg.medConfig.noVad = True
    ep_cfg.medConfig.clockRate = cfg.conference_rate_hz
    ep_cfg.medConfig.sndClockRate = cfg.conference_rate_hz
    ep.libInit(ep_cfg)
    ep.audDevManager().setNullDev()
    for kind in (pj.PJSIP_TRANSPORT_UDP, pj.PJSIP_TRANSPORT_TCP):
        tc = pj.TransportConfig()
        tc.port = cfg.port
        tc.boundAddress = cfg.host
        tc.publicAddress = cfg.host
        ep.transportCreate(kind, tc)
    ep.libStart()
    for codec in ep.codecEnum2():
        # Ids carry the channel count ("PCMA/8000/1").
        name = "/".join(codec.codecId.split("/")[:2])
        ep.codecSetPriority(codec.codecId, CODEC_PRIORITY.get(name, 0))
    return ep


def account_config(cfg: SipConfig, number: str) -> pj.AccountConfig:
    ac = pj.AccountConfig()
    ac.idUri = f"sip:{number}@{cfg.host}:{cfg.port}"
    media = ac.mediaConfig.transportConfig
    media.port = cfg.rtp_port
    media.portRange = cfg.rtp_port_range
    # Advertise the address we bind: never let pjsua pick another interface.
    media.boundAddress = cfg.media_host or cfg.host
    media.publicAddress = cfg.media_host or cfg.host
    return ac


class Account(pj.Account):
    """on_incoming gets the call's id and the INVITE as received."""

    def __init__(self, on_incoming: Callable[[int, str], None]) -> None:
        super().__init__()
        self._on_incoming = on_incoming

    def onIncomingCall(self, prm: pj.OnIncomingCallParam) -> None:
        if prm.callId < 0:
            # pjsua already refused it (no RTP port could be bound): a Call object for
            # it would trip an assertion and abort the worker.
            log.error("incoming call without a call slot, refused by pjsua")
            return
        self._on_incoming(prm.callId, prm.rdata.wholeMsg)


class CallEvents:
    """What a GatewayCall reports; the session implements it."""

    def on_state(self, state: int, status: int) -> None: ...
    def on_media_active(self) -> None: ...
    def on_dtmf(self, digit: str) -> None: ...
    # While the front steers the call's media (steer.py): where the caller receives RTP
    # (from its answer to the steer, or a re-INVITE of its own), or why the steer failed
    # (the SIP status; 0: pjsua could not send it) with the call's own stream back.
    def on_caller_media(self, address: RtpAddress) -> None: ...
    def on_steer_failed(self, status: int) -> None: ...
    # The final status of probe_line's OPTIONS (408: nobody answered in time).
    def on_line_probed(self, status: int) -> None: ...


def _call_now(work: Callable[[], None]) -> None:
    work()


def _call_now_later(delay_s: float, work: Callable[[], None]) -> None:
    work()


# Between the ACK of the quieting re-INVITE and the steering one: none. Sent back to
# back, the front's processes could pass the INVITE on ahead of that ACK (a strict
# caller drops the call for it); the front holds a worker's re-INVITE until the ACK of
# its last one has gone on (kamailio.cfg, route AFTER_LAST_ACK).
STEER_GAP_S = 0.0


class GatewayCall(pj.Call):
    """A pjsua2 call that forwards its callbacks; state lives in the session."""

    def __init__(self, acc: pj.Account, call_id: int) -> None:
        super().__init__(acc, call_id)
        self.events: CallEvents = CallEvents()
        # Where the front steers this call's media; None: to this call's own stream.
        self.steered_to: RtpAddress | None = None
        # Where the caller receives RTP, as its latest SDP said (the INVITE's, its own
        # offers, its answers to a steer): a steered room's caller leg sends there.
        self.caller_rtp: RtpAddress | None = None
        # The call's G.711 codec ("pcma", "pcmu") as its stream last had it.
        self._codec: str | None = None
        # probe_line's OPTIONS while it is out: "sending", then its pjsip transaction.
        self._probe: int | Literal["sending"] | None = None
        # The steering re-INVITE awaiting its answer: "quiet", "steer" or None.
        self._steer_step: Literal["quiet", "steer"] | None = None
        # Runs what must wait until pjsua is out of the callback it is in: a re-INVITE
        # sent from one goes out before the ACK of the last. The session sets its
        # loop's call_soon and call_later.
        self.call_soon: Callable[[Callable[[], None]], object] = _call_now
        self.call_later: Callable[[float, Callable[[], None]], object] = _call_now_later

    def onCallState(self, prm: pj.OnCallStateParam) -> None:
        ci = self.getInfo()
        self.events.on_state(ci.state, ci.lastStatusCode)

    def onCallMediaState(self, prm: pj.OnCallMediaStateParam) -> None:
        if self.audio() is not None:
            self.events.on_media_active()

    def onDtmfDigit(self, prm: pj.OnDtmfDigitParam) -> None:
        # RFC 4733 events and SIP INFO (application/dtmf-relay) both arrive here.
        self.events.on_dtmf(prm.digit)

    def steer_media(self, target: RtpAddress) -> None:
        """The caller's media to target, through the front (steer.py): this call's own
        stream quieted first, then steered; the answer comes as on_caller_media, or
        on_steer_failed with the call's own stream back."""
        if self.steered_to is None:
            steer.quiet_media(self)
            self._steer_step = "quiet"
        else:
            steer.steer_media(self, target)
            self._steer_step = "steer"
        self.steered_to = target

    def unsteer_media(self) -> None:
        """The caller's media back to this call's stream (on_media_active follows)."""
        steer.unsteer_media(self)
        self.steered_to = None

    @property
    def probing(self) -> bool:
        return self._probe is not None

    def probe_line(self) -> None:
        """Ask the caller's phone, in the dialog and through the front, whether it is
        still there (OPTIONS): while steered, no RTP reaches the worker to tell a dead
        line by. The final status comes as on_line_probed."""
        prm = pj.CallSendRequestParam()
        prm.method = "OPTIONS"
        self._probe = "sending"  # its transaction starts within sendRequest
        try:
            self.sendRequest(prm)
        finally:
            if self._probe == "sending":
                self._probe = None

    def onCallTsxState(self, prm: pj.OnCallTsxStateParam) -> None:
        if self._probe is not None and self._probe_event(prm):
            return
        if self.steered_to is None:
            return
        answer = steer.answer_to_offer(prm)
        if answer is None:
            return
        status, sdp = answer
        step, self._steer_step = self._steer_step, None
        if status >= 300:
            if step is not None:  # (a refresh of pjsua's own that fails changes nothing)
                self._steer_failed(status)
            return
        if step == "quiet":  # neither end sends now: point the caller at the target
            self.call_later(STEER_GAP_S, self._steer_quieted)
            return
        address = steer.sdp_audio_address(sdp)
        if address is not None:
            self.caller_rtp = address
            self.events.on_caller_media(address)

    def _probe_event(self, prm: pj.OnCallTsxStateParam) -> bool:
        """An event of probe_line's OPTIONS: its start, or its final status (a timeout is
        408), reported once. An earlier probe's transaction ending later is not it."""
        event = prm.e
        if event.type != pj.PJSIP_EVENT_TSX_STATE:
            return False
        tsx = event.body.tsxState.tsx
        if tsx.role != pj.PJSIP_ROLE_UAC or tsx.method != "OPTIONS":
            return False
        key = int(tsx.pjTransaction or 0)
        if self._probe == "sending":
            self._probe = key
            return True
        if key != self._probe:
            return False
        if tsx.state in (pj.PJSIP_TSX_STATE_COMPLETED, pj.PJSIP_TSX_STATE_TERMINATED):
            self._probe = None
            self.events.on_line_probed(int(tsx.statusCode))
        return True

    def _steer_quieted(self) -> None:
        if self.steered_to is None:
            return
        try:
            steer.steer_media(self, self.steered_to)
            self._steer_step = "steer"
        except pj.Error:  # the call ended, or an offer of the caller's came first
            self._steer_failed(0)

    def _steer_failed(self, status: int) -> None:
        # The call's own stream back (it may have been quieted already).
        self.steered_to = None
        self.call_soon(self._own_stream_back)
        self.events.on_steer_failed(status)

    def _own_stream_back(self) -> None:
        with contextlib.suppress(pj.Error):
            steer.unsteer_media(self)

    def onCallRxOffer(self, prm: pj.OnCallRxOfferParam) -> None:
        # The caller's own re-INVITE or UPDATE: its offer says where the caller now
        # receives; while steered (the front kept it so), that is reported. (An answer
        # in the ACK of a re-INVITE without SDP reaches pjsua with no callback.)
        address = steer.sdp_audio_address(prm.offer.wholeSdp)
        if address is not None:
            self.caller_rtp = address
            if self.steered_to is not None:
                self.events.on_caller_media(address)

    def caller_address(self) -> RtpAddress | None:
        """Where the caller receives RTP: its SDP's address, else where its RTP last
        came from (a callback's answer reaches pjsua with no callback that shows it);
        None if neither is an address a steered room's leg could use."""
        if self.caller_rtp is not None:
            return self.caller_rtp
        return self.rtp_source()

    def rtp_source(self) -> RtpAddress | None:
        """Where the caller's RTP to this call's own stream last came from; None before
        any came (or while steered: it goes to the room)."""
        try:
            host, _, port = self.getMedTransportInfo(0).srcRtpName.rpartition(":")
            return RtpAddress.checked(host, int(port))
        except (pj.Error, ValueError):
            return None

    def g711_codec(self) -> str | None:
        """The call's codec, "pcma" or "pcmu", as its stream has it (or last had it,
        while steered: no stream); None for any other codec."""
        with contextlib.suppress(pj.Error):
            name = self.getStreamInfo(0).codecName.upper()
            self._codec = {"PCMA": "pcma", "PCMU": "pcmu"}.get(name)
        return self._codec

    def audio(self) -> pj.AudioMedia | None:
        try:
            ci = self.getInfo()
        except pj.Error:  # the call is already gone
            return None
        for i, mi in enumerate(ci.media):
            if mi.type == pj.PJMEDIA_TYPE_AUDIO and mi.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                return self.getAudioMedia(i)
        return None

    def received_packets(self) -> int:
        """RTP packets received so far on the audio stream (dead-line detection)."""
        try:
            return int(self.getStreamStat(0).rtcp.rxStat.pkt)
        except pj.Error:
            return 0


class Player(pj.AudioMediaPlayer):
    """A prompt or playlist player whose end is reported on the asyncio loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, on_end: Callable[[], None]) -> None:
        super().__init__()
        self._loop = loop
        self._on_end = on_end

    def onEof2(self) -> None:
        # Media clock thread: hand over, do nothing else here.
        self._loop.call_soon_threadsafe(self._on_end)


def prompt_player(
    loop: asyncio.AbstractEventLoop, files: list[Path], repeat: bool, on_end: Callable[[], None]
) -> Player:
    """A player of one prompt or a playlist, not yet connected to anything; once through
    unless `repeat` (the hold music), then on_end runs on the loop."""
    player = Player(loop, on_end)
    options = 0 if repeat else pj.PJMEDIA_FILE_NO_LOOP
    if len(files) == 1:
        player.createPlayer(str(files[0]), options)
    else:
        player.createPlaylist([str(p) for p in files], "prompts", options)
    return player


class MediaGrace:
    """Stopped players and recorders, kept alive a moment before they are dropped.

    Owned by the worker, so shutdown can release them all before libDestroy
    (one released after it trips a pjmedia assertion).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._kept: dict[int, pj.AudioMedia] = {}

    def retire(self, port: pj.AudioMedia, call_audio: pj.AudioMedia | None) -> None:
        """Disconnect a player or recorder both ways; drop it after the grace period."""
        if call_audio is not None:
            for a, b in ((port, call_audio), (call_audio, port)):
                with contextlib.suppress(pj.Error):
                    a.stopTransmit(b)
        self._kept[id(port)] = port
        self._loop.call_later(MEDIA_GRACE_S, self._drop, id(port))

    def _drop(self, key: int) -> None:
        port = self._kept.pop(key, None)
        if port is not None:
            destroy_port(port)

    def release_all(self) -> None:
        while self._kept:
            destroy_port(self._kept.popitem()[1])


def destroy_port(port: pj.AudioMedia) -> None:
    """Delete pjsua2's side of a port now, while its Python side is whole.

    Left to the collector, Python empties a port subclass's attributes first and only
    then deletes the C++ port, which takes it out of the conference; the media clock
    thread may call the port in between: a callback on an emptied object (and once, a
    segfault). Deleted explicitly, the port leaves the conference before anything of
    it goes; pjsua2's destructor waits for a callback running at that moment."""
    destroy = getattr(type(port), "__swig_destroy__", None)
    if destroy is not None and port.thisown:
        destroy(port)
