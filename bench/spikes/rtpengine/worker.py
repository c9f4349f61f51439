"""Spike worker: one pjsua2 endpoint that answers callers and bridges each to a lawyer.

    python worker.py SIP_PORT KAMAILIO_HOSTPORT [oneleg|super]

For every incoming call (To user = the lawyer's name, e.g. lawyer3) it answers, then
calls sip:lawyer3@KAMAILIO (the lawyer's browser, registered over WebSocket there;
Kamailio engages rtpengine) and, once both legs have media, connects them both ways in
pjsua2's conference bridge (what lawline's worker would do instead of aiortc). Holds at
most 4 calls, so 2 bridged conversations. Prints one JSON line per event (wall clock).
"super": once bridged, it also calls sip:supNAME@KAMAILIO (a supervisor's browser) and
connects caller -> supervisor and lawyer -> supervisor (listen: a third pjsua2 call, so one
conversation per worker). "oneleg" (the baseline for the second leg's cost): no lawyer
call, the caller's audio is looped back to it in the bridge instead. Same pjsua2 set-up
as lawline's worker (lawline.telephony.sip.create_endpoint).
"""

from __future__ import annotations

import contextlib
import json
import re
import signal
import sys
import time

import pjsua2 as pj

from lawline.telephony.sip import SipConfig, account_config, create_endpoint


def say(event: str, **kw: object) -> None:
    print(json.dumps({"event": event, "t": time.time(), **kw}), flush=True)


class Leg(pj.Call):
    def __init__(self, worker: Worker, acc: pj.Account, call_id: int = pj.PJSUA_INVALID_ID,
                 name: str = "", role: str = "") -> None:  # fmt: skip
        super().__init__(acc, call_id)
        self.worker, self.name, self.role = worker, name, role
        self.peer: Leg | None = None
        self.watched: list[Leg] = []
        self.media: pj.AudioMedia | None = None
        self.gone = False

    def onCallState(self, prm: pj.OnCallStateParam) -> None:
        ci = self.getInfo()
        if ci.state == pj.PJSIP_INV_STATE_CONFIRMED:
            say("confirmed", name=self.name, role=self.role)
        elif ci.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.gone = True
            say("ended", name=self.name, role=self.role, status=ci.lastStatusCode)
            self.worker.ended.append(self)

    def onCallMediaState(self, prm: pj.OnCallMediaStateParam) -> None:
        ci = self.getInfo()
        for i, mi in enumerate(ci.media):
            active = mi.type == pj.PJMEDIA_TYPE_AUDIO and mi.status == pj.PJSUA_CALL_MEDIA_ACTIVE
            if active and self.media is None:
                self.media = self.getAudioMedia(i)
                si = self.getStreamInfo(i)
                say("media", name=self.name, role=self.role,
                    codec=f"{si.codecName}/{si.codecClockRate}")  # fmt: skip
                self.worker.maybe_bridge(self)


class Account(pj.Account):
    def __init__(self, worker: Worker) -> None:
        super().__init__()
        self.worker = worker

    def onIncomingCall(self, prm: pj.OnIncomingCallParam) -> None:
        m = re.search(r"^To:\s*<?sip:([^@>;]+)@", prm.rdata.wholeMsg, re.M | re.I)
        name = m.group(1) if m else "unknown"
        self.worker.incoming(prm.callId, name)


class Worker:
    def __init__(self, port: int, kamailio: str, mode: str = "") -> None:
        self.kamailio, self.oneleg, self.super = kamailio, mode == "oneleg", mode == "super"
        cfg = SipConfig(host="127.0.0.1", port=port, rtp_port=port + 2, rtp_port_range=40)
        self.ep = create_endpoint(cfg)
        self.acc = Account(self)
        self.acc.create(account_config(cfg, f"worker{port}"))
        self.legs: list[Leg] = []
        self.ended: list[Leg] = []

    def incoming(self, call_id: int, name: str) -> None:
        caller = Leg(self, self.acc, call_id, name, "caller")
        self.legs.append(caller)
        op = pj.CallOpParam()
        op.statusCode = 200
        caller.answer(op)
        if self.oneleg:
            return
        lawyer = Leg(self, self.acc, name=name, role="lawyer")
        caller.peer, lawyer.peer = lawyer, caller
        self.legs.append(lawyer)
        say("invite_lawyer", name=name)
        lawyer.makeCall(f"sip:{name}@{self.kamailio}", pj.CallOpParam(True))

    def maybe_bridge(self, leg: Leg) -> None:
        if self.oneleg and leg.media is not None:
            leg.media.startTransmit(leg.media)
            say("bridged", name=leg.name)
            return
        if leg.role == "supervisor":
            # Listen: both voices to the supervisor, nothing back. Whisper would add
            # sup -> lawyer, barge sup -> lawyer and sup -> caller.
            for other in leg.watched:
                if other.media is not None:
                    other.media.startTransmit(leg.media)
            say("listening", name=leg.name)
            return
        peer = leg.peer
        if peer is None or leg.media is None or peer.media is None:
            return
        leg.media.startTransmit(peer.media)
        peer.media.startTransmit(leg.media)
        say("bridged", name=leg.name)
        if self.super:
            sup = Leg(self, self.acc, name=f"sup{leg.name}", role="supervisor")
            sup.watched = [leg, peer]
            self.legs.append(sup)
            say("invite_supervisor", name=sup.name)
            sup.makeCall(f"sip:{sup.name}@{self.kamailio}", pj.CallOpParam(True))

    def run(self) -> None:
        stop: list[int] = []
        signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
        say("ready")
        while not stop:
            self.ep.libHandleEvents(10)
            for leg in self.ended:
                peer = leg.peer
                if peer is not None and not peer.gone:
                    with contextlib.suppress(pj.Error):
                        peer.hangup(pj.CallOpParam())
            self.ended.clear()
        self.ep.hangupAllCalls()
        for _ in range(100):
            self.ep.libHandleEvents(10)
        self.legs.clear()
        del self.acc
        self.ep.libDestroy()


if __name__ == "__main__":
    Worker(int(sys.argv[1]), sys.argv[2], (sys.argv[3:] or [""])[0]).run()
