"""A real softphone for tests and benches: call, press keys, say a WAV, record.

Run as a process (pjsua2 allows one endpoint per process):
    python tests/pjsua_caller.py URI OUT.wav SECONDS LOCAL_SIP_PORT [--play SAY.wav] [--keys 11]
Once media is up it prints "media T" (T: time.monotonic() when recording started, so
another process can place what was heard in time), loops SAY.wav into the call,
records what it hears to OUT.wav, presses KEYS (RFC 4733) a second later, and hangs up
after SECONDS, on SIGTERM, or when lawline does. Exits 0 if the call was answered.
"""

from __future__ import annotations

import argparse
import signal
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
    ap.add_argument("--keys", default="")
    args = ap.parse_args()
    # The same pjsua2 set-up as the worker (G.711 first, null audio device, one thread).
    cfg = SipConfig(port=args.sip_port, rtp_port=args.sip_port + 2, rtp_port_range=10)
    ep = create_endpoint(cfg)
    acc = pj.Account()
    acc.create(account_config(cfg, "13800138000"))
    call = Call(acc, args.out, args.play)
    call.makeCall(args.uri, pj.CallOpParam(True))
    end = time.monotonic() + args.seconds
    # SIGTERM: hang up properly, so the recording is complete and lawline sees a BYE.
    stop: list[int] = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    keys = args.keys
    while time.monotonic() < end and not call.disconnected and not stop:
        ep.libHandleEvents(10)
        if keys and call.media_at is not None and time.monotonic() > call.media_at + 1:
            call.dialDtmf(keys)  # the menu takes keys while its prompt plays
            keys = ""
    answered = call.answered
    if not call.disconnected:
        call.hangup(pj.CallOpParam())
        for _ in range(200):
            ep.libHandleEvents(10)
            if call.disconnected:
                break
    # Every pjsua2 object released before the library goes.
    call.recorder = call.player = None
    del call
    del acc
    ep.libDestroy()
    return 0 if answered else 1


if __name__ == "__main__":
    sys.exit(main())
