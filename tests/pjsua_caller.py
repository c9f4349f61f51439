"""A real softphone for tests and benches: call, press keys, say a WAV, record.

Run as a process (pjsua2 allows one endpoint per process):
    python tests/pjsua_caller.py URI OUT.wav SECONDS LOCAL_SIP_PORT [--play SAY.wav] [--keys 11]
        [--user ID --password PW [--register HOST:PORT]] [--host ADDRESS] [--header N=V]
        [--media-address ADDRESS]
Once media is up it prints "media T" (T: time.monotonic() when recording started, so
another process can place what was heard in time), loops SAY.wav into the call,
records what it hears to OUT.wav, presses KEYS (RFC 4733) a second later, and hangs up
after SECONDS, on SIGTERM, or when lawline does. Exits 0 if the call was answered.
As a SIP terminal (--user, --password) it answers digest challenges; with --register
it first registers there and prints "registered STATUS" (exit 2 unless 200).
The call's final status is printed as "ended STATUS", an in-dialog OPTIONS it is
asked as "asked OPTIONS".
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
            print(f"ended {self.getInfo().lastStatusCode}", flush=True)

    def onCallTsxState(self, prm: pj.OnCallTsxStateParam) -> None:
        # lawline asking, in the dialog, whether this phone is still there.
        if prm.e.type != pj.PJSIP_EVENT_TSX_STATE:
            return
        tsx = prm.e.body.tsxState.tsx
        asked = tsx.role == pj.PJSIP_ROLE_UAS and tsx.method == "OPTIONS"
        if asked and tsx.state == pj.PJSIP_TSX_STATE_TRYING:
            print("asked OPTIONS", flush=True)


class Terminal(pj.Account):
    def __init__(self) -> None:
        super().__init__()
        self.status: int | None = None

    def onRegState(self, prm: pj.OnRegStateParam) -> None:
        if prm.code // 100 != 1:
            self.status = prm.code


def _header(name: str, value: str) -> pj.SipHeader:
    h = pj.SipHeader()
    h.hName, h.hValue = name, value
    return h


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("uri")
    ap.add_argument("out")
    ap.add_argument("seconds", type=float)
    ap.add_argument("sip_port", type=int)
    ap.add_argument("--play", default="")
    ap.add_argument("--keys", default="")
    ap.add_argument("--user", default="")
    ap.add_argument("--password", default="")
    ap.add_argument("--register", default="")
    ap.add_argument("--host", default="127.0.0.1", help="address to call from")
    ap.add_argument(
        "--media-address",
        default="",
        help="the RTP address its SDP gives (it sends from --host): a phone behind a NAT",
    )
    ap.add_argument(
        "--header",
        action="append",
        default=[],
        help="NAME=VALUE added to the INVITE as written (a CRLF folds it)",
    )
    args = ap.parse_args()
    # The same pjsua2 set-up as the worker (G.711 first, null audio device, one thread).
    cfg = SipConfig(
        host=args.host, port=args.sip_port, rtp_port=args.sip_port + 2, rtp_port_range=10
    )
    ep = create_endpoint(cfg)
    acc = Terminal()
    ac = account_config(cfg, args.user or "13800138000")
    if args.user:
        ac.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", args.user, 0, args.password))
    if args.register:
        ac.regConfig.registrarUri = f"sip:{args.register}"
    if args.media_address:
        ac.mediaConfig.transportConfig.publicAddress = args.media_address
    acc.create(ac)
    if args.register:
        deadline = time.monotonic() + 10
        while acc.status is None and time.monotonic() < deadline:
            ep.libHandleEvents(10)
        print(f"registered {acc.status}", flush=True)
        if acc.status != 200:
            del acc
            ep.libDestroy()
            return 2
    call = Call(acc, args.out, args.play)
    op = pj.CallOpParam(True)
    for header in args.header:
        name, _, value = header.partition("=")
        op.txOption.headers.append(_header(name, value))
    call.makeCall(args.uri, op)
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
