"""A real softphone for tests: call a SIP URI, record what is heard, hang up.

Run as a process (pjsua2 allows one endpoint per process):
    python tests/pjsua_caller.py sip:12348@127.0.0.1:PORT out.wav SECONDS LOCAL_SIP_PORT
        [--play say.wav]
Stays on the line SECONDS at most (less if lawline hangs up); with --play it says
that file, looped. Exits 0 when the call was answered and the recording written.
"""

from __future__ import annotations

import argparse
import sys
import time

import pjsua2 as pj
from softphone import RecordingCall  # run as a script: tests/ is on sys.path

from lawline.telephony.sip import SipConfig, account_config, create_endpoint


class Call(RecordingCall):
    def __init__(self, acc: pj.Account, out: str, play: str) -> None:
        super().__init__(acc, out, play=play)
        self.answered = False
        self.disconnected = False

    def onCallState(self, prm: pj.OnCallStateParam) -> None:
        state = self.getInfo().state
        if state == pj.PJSIP_INV_STATE_CONFIRMED:
            self.answered = True
        elif state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.disconnected = True


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("uri")
    ap.add_argument("out")
    ap.add_argument("seconds", type=float)
    ap.add_argument("sip_port", type=int)
    ap.add_argument("--play", default="")
    args = ap.parse_args()
    uri, out, seconds, sip_port = args.uri, args.out, args.seconds, args.sip_port
    # The same pjsua2 set-up as the worker (G.711 first, null audio device, one thread).
    cfg = SipConfig(port=sip_port, rtp_port=sip_port + 2, rtp_port_range=10)
    ep = create_endpoint(cfg)
    acc = pj.Account()
    acc.create(account_config(cfg, "13800138000"))
    call = Call(acc, out, args.play)
    call.makeCall(uri, pj.CallOpParam(True))
    end = time.monotonic() + seconds
    while time.monotonic() < end and not call.disconnected:
        ep.libHandleEvents(10)
    answered = call.answered
    if not call.disconnected:
        call.hangup(pj.CallOpParam())
        for _ in range(200):
            ep.libHandleEvents(10)
            if call.disconnected:
                break
    call.recorder = call.player = None
    del call
    del acc
    ep.libDestroy()
    return 0 if answered else 1


if __name__ == "__main__":
    sys.exit(main())
