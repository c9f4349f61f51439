"""A real softphone for tests: call a SIP URI, record what is heard, hang up.

Run as a process (pjsua2 allows one endpoint per process):
    python tests/pjsua_caller.py sip:12348@127.0.0.1:PORT out.wav SECONDS LOCAL_SIP_PORT
Exits 0 when the call was answered and the recording written.
"""

from __future__ import annotations

import sys
import time

import pjsua2 as pj
from softphone import RecordingCall  # run as a script: tests/ is on sys.path

from lawline.telephony.sip import SipConfig, account_config, create_endpoint


class Call(RecordingCall):
    def __init__(self, acc: pj.Account, out: str) -> None:
        super().__init__(acc, out)
        self.answered = False
        self.disconnected = False

    def onCallState(self, prm: pj.OnCallStateParam) -> None:
        state = self.getInfo().state
        if state == pj.PJSIP_INV_STATE_CONFIRMED:
            self.answered = True
        elif state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.disconnected = True


def main() -> int:
    uri, out, seconds, sip_port = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
    # The same pjsua2 set-up as the worker (G.711 first, null audio device, one thread).
    cfg = SipConfig(port=sip_port, rtp_port=sip_port + 2, rtp_port_range=10)
    ep = create_endpoint(cfg)
    acc = pj.Account()
    acc.create(account_config(cfg, "13800138000"))
    call = Call(acc, out)
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
    call.recorder = None
    del call
    del acc
    ep.libDestroy()
    return 0 if answered else 1


if __name__ == "__main__":
    sys.exit(main())
