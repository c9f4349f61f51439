"""Both ends of a steered call, driven line by line from stdin (pjsua2 allows one
endpoint per process, so each end is a process of its own).

    python tests/pjsua_steer_peer.py worker SIP_PORT RTP_PORT SAY.wav
        The worker's side: answers one call with lawline's GatewayCall, says SAY.wav
        (looped) into it, and takes `steer HOST PORT` (steer.RtpAddress checked),
        `steer-raw HOST PORT` (unchecked), `refresh` (a re-INVITE
        as pjsua makes its own) and `unsteer`.
        Prints "media" whenever the call's own stream is (again) up (the first time once
        the call is confirmed: its ACK in), "caller HOST PORT"
        for the caller's RTP address while steered, "steer-failed STATUS", and
        "reinvite steer-header=yes|no" for each re-INVITE the caller sends.
    python tests/pjsua_steer_peer.py caller SIP_PORT RTP_PORT URI
        The caller: calls URI and takes `reinvite [NAME: VALUE]` (new media transport,
        so a new RTP port; the header added as written) and `hangup`. Prints "media"
        and, every 50 ms, "rx N": RTP packets received in all (across the streams a
        re-INVITE makes anew).
Both print "ended" when the call is over and exit 0 once it is.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from collections.abc import Callable

import pjsua2 as pj

from lawline.telephony.sip import (
    CallEvents,
    GatewayCall,
    SipConfig,
    account_config,
    create_endpoint,
    destroy_port,
)
from lawline.telephony.steer import HEADER, RtpAddress


def say(line: str) -> None:
    print(line, flush=True)


class WorkerEvents(CallEvents):
    def __init__(self, call: GatewayCall, play: str) -> None:
        self.call = call
        self.play = play
        self.player: pj.AudioMediaPlayer | None = None
        self.ended = False
        self.confirmed = False

    def on_state(self, state: int, status: int) -> None:
        if state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.ended = True
        elif state == pj.PJSIP_INV_STATE_CONFIRMED and not self.confirmed:
            self.confirmed = True
            if self.player is not None:
                say("media")

    def on_media_active(self) -> None:
        audio = self.call.audio()
        if audio is None:
            return
        if self.player is None:
            self.player = pj.AudioMediaPlayer()
            self.player.createPlayer(self.play)  # looped
        self.player.startTransmit(audio)
        # Said once the caller's ACK is in too: a re-INVITE (a steer) before it is refused.
        if self.confirmed:
            say("media")

    def on_caller_media(self, address: RtpAddress) -> None:
        say(f"caller {address.host} {address.port}")

    def on_steer_failed(self, status: int) -> None:
        say(f"steer-failed {status}")


class WorkerCall(GatewayCall):
    def onCallRxReinvite(self, prm: pj.OnCallRxReinviteParam) -> None:
        seen = HEADER.lower() + ":" in prm.rdata.wholeMsg.lower()
        say(f"reinvite steer-header={'yes' if seen else 'no'}")
        super().onCallRxReinvite(prm)


class WorkerAccount(pj.Account):
    def __init__(self, play: str) -> None:
        super().__init__()
        self.play = play
        self.call: WorkerCall | None = None
        self.events: WorkerEvents | None = None
        self.later: list[tuple[float, Callable[[], None]]] = []

    def onIncomingCall(self, prm: pj.OnIncomingCallParam) -> None:
        self.call = WorkerCall(self, prm.callId)
        self.events = WorkerEvents(self.call, self.play)
        self.call.events = self.events
        # Run after libHandleEvents returns (and not before their time).
        self.call.call_soon = lambda work: self.later.append((0.0, work))
        self.call.call_later = lambda delay, work: self.later.append(
            (time.monotonic() + delay, work)
        )
        op = pj.CallOpParam()
        op.statusCode = pj.PJSIP_SC_OK
        self.call.answer(op)


class CallerCall(pj.Call):
    def __init__(self, acc: pj.Account) -> None:
        super().__init__(acc)
        self.ended = False
        self.rx_base = 0
        self.rx_last = 0

    def onCallState(self, prm: pj.OnCallStateParam) -> None:
        if self.getInfo().state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.ended = True

    def onCallMediaState(self, prm: pj.OnCallMediaStateParam) -> None:
        info = self.getInfo()
        if any(
            mi.type == pj.PJMEDIA_TYPE_AUDIO and mi.status == pj.PJSUA_CALL_MEDIA_ACTIVE
            for mi in info.media
        ):
            say("media")

    def rx_total(self) -> int:
        """Packets received in all: a new stream starts its count at 0 again."""
        try:
            now = int(self.getStreamStat(0).rtcp.rxStat.pkt)
        except pj.Error:
            now = 0
        if now < self.rx_last:
            self.rx_base += self.rx_last
        self.rx_last = now
        return self.rx_base + now


def commands() -> queue.Queue[str]:
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in sys.stdin:
            lines.put(line.strip())
        lines.put("hangup")  # stdin closed: the test is done with us

    threading.Thread(target=read, daemon=True).start()
    return lines


def run_worker(ep: pj.Endpoint, cfg: SipConfig, play: str) -> None:
    acc = WorkerAccount(play)
    acc.create(account_config(cfg, "12348"))
    say("ready")
    todo = commands()
    while acc.events is None or not acc.events.ended:
        ep.libHandleEvents(10)
        due = [item for item in acc.later if item[0] <= time.monotonic()]
        for item in due:
            acc.later.remove(item)
            item[1]()
        if acc.call is None or todo.empty():
            continue
        verb, _, arg = todo.get().partition(" ")
        try:
            if verb == "steer":
                host, port = arg.split()
                acc.call.steer_media(RtpAddress.checked(host, int(port)))
            elif verb == "steer-raw":
                host, port = arg.split()
                acc.call.steer_media(RtpAddress(host, int(port)))  # not checked
            elif verb == "refresh":
                # As pjsua's own re-INVITEs go (session timer, codec lock): no header,
                # the direction it was last given.
                acc.call.reinvite(pj.CallOpParam(True))
            elif verb == "unsteer":
                acc.call.unsteer_media()
            elif verb == "hangup":
                acc.call.hangup(pj.CallOpParam(True))
        except pj.Error as exc:
            say(f"error {exc.reason}")
    say("ended")
    if acc.events.player is not None:
        destroy_port(acc.events.player)
    # The call and its events refer to each other: part them, so the call goes now,
    # before the library (one released after it trips a pjsua assertion).
    if acc.call is not None:
        acc.call.events = CallEvents()
    acc.call = None
    acc.events = None


def run_caller(ep: pj.Endpoint, cfg: SipConfig, uri: str) -> None:
    acc = pj.Account()
    acc.create(account_config(cfg, "13800138000"))
    call = CallerCall(acc)
    call.makeCall(uri, pj.CallOpParam(True))
    todo = commands()
    next_report = 0.0
    while not call.ended:
        ep.libHandleEvents(10)
        if time.monotonic() >= next_report:
            next_report = time.monotonic() + 0.05
            say(f"rx {call.rx_total()}")
        if todo.empty():
            continue
        verb, _, arg = todo.get().partition(" ")
        try:
            if verb == "reinvite":
                prm = pj.CallOpParam(True)
                prm.opt.flag |= pj.PJSUA_CALL_REINIT_MEDIA
                if arg:
                    name, _, value = arg.partition(":")
                    header = pj.SipHeader()
                    header.hName, header.hValue = name.strip(), value.strip()
                    prm.txOption.headers.append(header)
                call.reinvite(prm)
            elif verb == "hangup":
                call.hangup(pj.CallOpParam(True))
        except pj.Error as exc:
            say(f"error {exc.reason}")
    say("ended")
    del call


def main() -> int:
    role, sip_port, rtp_port, arg = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    cfg = SipConfig(port=sip_port, rtp_port=rtp_port, rtp_port_range=10)
    ep = create_endpoint(cfg)
    if role == "worker":
        run_worker(ep, cfg, arg)
    else:
        run_caller(ep, cfg, arg)
    for _ in range(50):  # let the last messages go out
        ep.libHandleEvents(10)
    ep.libDestroy()
    return 0


if __name__ == "__main__":
    sys.exit(main())
