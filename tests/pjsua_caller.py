"""A real softphone for tests: call a SIP URI, record what is heard, hang up.

Run as a process (pjsua2 allows one endpoint per process):
    python tests/pjsua_caller.py sip:12348@127.0.0.1:PORT out.wav SECONDS LOCAL_SIP_PORT
Exits 0 when the call was answered and the recording written.
"""

from __future__ import annotations

import sys
import time

import pjsua2 as pj


class Call(pj.Call):
    def __init__(self, acc: pj.Account, out: str) -> None:
        super().__init__(acc)
        self.out = out
        self.recorder: pj.AudioMediaRecorder | None = None
        self.answered = False
        self.disconnected = False

    def onCallState(self, prm: pj.OnCallStateParam) -> None:
        state = self.getInfo().state
        if state == pj.PJSIP_INV_STATE_CONFIRMED:
            self.answered = True
        elif state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.disconnected = True

    def onCallMediaState(self, prm: pj.OnCallMediaStateParam) -> None:
        # Keep the CallInfo alive while reading its media: SWIG frees a temporary at once.
        info = self.getInfo()
        for i, mi in enumerate(info.media):
            active = mi.type == pj.PJMEDIA_TYPE_AUDIO and mi.status == pj.PJSUA_CALL_MEDIA_ACTIVE
            if active and self.recorder is None:
                self.recorder = pj.AudioMediaRecorder()
                self.recorder.createRecorder(self.out)
                self.getAudioMedia(i).startTransmit(self.recorder)


def main() -> int:
    uri, out, seconds, sip_port = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
    ep = pj.Endpoint()
    ep.libCreate()
    cfg = pj.EpConfig()
    cfg.uaConfig.threadCnt = 0
    cfg.uaConfig.mainThreadOnly = True
    cfg.logConfig.level = 1
    cfg.logConfig.consoleLevel = 1
    cfg.medConfig.sndAutoCloseTime = -1
    ep.libInit(cfg)
    ep.audDevManager().setNullDev()
    tc = pj.TransportConfig()
    tc.port = sip_port
    tc.boundAddress = tc.publicAddress = "127.0.0.1"
    ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tc)
    ep.libStart()
    for codec in ep.codecEnum2():  # a telephone: G.711 only
        ep.codecSetPriority(codec.codecId, 200 if codec.codecId.startswith("PCMA/") else 0)
    ac = pj.AccountConfig()
    ac.idUri = f"sip:13800138000@127.0.0.1:{sip_port}"
    ac.mediaConfig.transportConfig.port = sip_port + 2
    ac.mediaConfig.transportConfig.boundAddress = "127.0.0.1"
    ac.mediaConfig.transportConfig.publicAddress = "127.0.0.1"
    acc = pj.Account()
    acc.create(ac)
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
