"""A real softphone for tests that is called: the citizen's phone when lawline calls back.

Run as a process (pjsua2 allows one endpoint per process):
    python tests/pjsua_callee.py LOCAL_SIP_PORT out.wav answer [--key K] [--say F.wav]
        [--hang-up-after S]
    python tests/pjsua_callee.py LOCAL_SIP_PORT out.wav busy [--calls N]
"answer": answer, record what is heard, and press K every 2 s (RFC 4733) until
lawline hangs up (or, with --hang-up-after, until S seconds after the first key: the
party hangs up); with --say, say that file (looped) from the moment media is up.
"busy": refuse N calls with 486. Prints "ready", then one line per call ("answered",
"refused"); exits 0 when done, 1 if that took over 60 s.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time

import pjsua2 as pj
from softphone import RecordingCall  # run as a script: tests/ is on sys.path

from lawline.telephony.sip import SipConfig, account_config, create_endpoint


class Call(RecordingCall):
    def __init__(self, acc: pj.Account, call_id: int, out: str, say: str) -> None:
        super().__init__(acc, out, call_id, play=say)
        self.confirmed_at: float | None = None
        self.disconnected = False

    def onCallState(self, prm: pj.OnCallStateParam) -> None:
        state = self.getInfo().state
        if state == pj.PJSIP_INV_STATE_CONFIRMED:
            self.confirmed_at = time.monotonic()
        elif state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.disconnected = True


class Phone(pj.Account):
    def __init__(self, out: str, mode: str, say: str = "") -> None:
        super().__init__()
        self.out, self.mode, self.say = out, mode, say
        self.calls: list[Call] = []

    def onIncomingCall(self, prm: pj.OnIncomingCallParam) -> None:
        call = Call(self, prm.callId, self.out, self.say)
        self.calls.append(call)
        op = pj.CallOpParam()
        op.statusCode = pj.PJSIP_SC_OK if self.mode == "answer" else pj.PJSIP_SC_BUSY_HERE
        print("answered" if self.mode == "answer" else "refused", flush=True)
        call.answer(op)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("sip_port", type=int)
    ap.add_argument("out")
    ap.add_argument("mode", choices=["answer", "busy"])
    ap.add_argument("--key", default="")
    ap.add_argument("--calls", type=int, default=1)
    ap.add_argument("--say", default="")
    ap.add_argument("--hang-up-after", type=float, default=0.0)
    args = ap.parse_args()
    sip_port, out, mode, key = args.sip_port, args.out, args.mode, args.key
    cfg = SipConfig(port=sip_port, rtp_port=sip_port + 2, rtp_port_range=10)
    ep = create_endpoint(cfg)
    phone = Phone(out, mode, args.say)
    phone.create(account_config(cfg, "13800138000"))
    print("ready", flush=True)
    done = run(ep, phone, key, args.calls, args.hang_up_after)
    for _ in range(50):  # let the last responses go out
        ep.libHandleEvents(10)
    # Every Call released before the library goes (one freed after it aborts).
    phone.calls.clear()
    del phone
    ep.libDestroy()
    return 0 if done else 1


def run(ep: pj.Endpoint, phone: Phone, key: str, calls: int, hang_up_after: float) -> bool:
    end = time.monotonic() + 60
    next_key = 0.0
    hang_up_at: float | None = None
    while time.monotonic() < end:
        ep.libHandleEvents(10)
        if sum(c.disconnected for c in phone.calls) >= calls:
            return True
        if not phone.calls or phone.calls[-1].disconnected:
            continue
        call = phone.calls[-1]
        now = time.monotonic()
        if hang_up_at is not None and now >= hang_up_at:
            hang_up_at = end  # once
            with contextlib.suppress(pj.Error):
                call.hangup(pj.CallOpParam(True))
        if key and call.confirmed_at is not None and now >= next_key:
            next_key = now + 2
            with contextlib.suppress(pj.Error):  # media not up yet
                call.dialDtmf(key)
                if hang_up_after and hang_up_at is None:
                    hang_up_at = now + hang_up_after
    return False


if __name__ == "__main__":
    sys.exit(main())
