"""Design A's worker for e2e_bench.py: a pjsua2 user agent (as lawline's telephony worker,
null sound device, 16 kHz conference) that answers N SIP calls and joins each call's
audio to a relay port: an AudioMediaPort (8 kHz, 20 ms) whose callbacks send/receive
G.711 RTP to/from the call's AudioBridge room (port_rtp_bench.RelayPort).

Protocol on stdin/stdout (one JSON line each): prints {"relay_ports": [...]}, reads
[[janus_ip, janus_port], ...] (one per call, same order), prints {"ready": true}, then
{"media": k} as call k's media comes up. Runs inside s19j-cli (ip netns exec).
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

import pjsua2 as pj

sys.path.insert(0, str(Path(__file__).resolve().parent))
from port_rtp_bench import RelayPort

HOST, PORT = "10.77.19.2", 5080


class Call(pj.Call):
    def __init__(self, acc: Account, call_id: int, port: RelayPort, k: int) -> None:
        super().__init__(acc, call_id)
        self.port, self.k = port, k

    def onCallMediaState(self, prm: pj.OnCallMediaStateParam) -> None:
        am = self.getAudioMedia(-1)
        am.startTransmit(self.port)
        self.port.startTransmit(am)
        print(json.dumps({"media": self.k}), flush=True)


class Account(pj.Account):
    def __init__(self, ports: list[RelayPort]) -> None:
        super().__init__()
        self.ports, self.calls = ports, []

    def onIncomingCall(self, prm: pj.OnIncomingCallParam) -> None:
        k = len(self.calls)
        call = Call(self, prm.callId, self.ports[k], k)
        self.calls.append(call)
        op = pj.CallOpParam()
        op.statusCode = 200
        call.answer(op)


def main() -> None:
    n = int(sys.argv[1])
    ep = pj.Endpoint()
    ep.libCreate()
    cfg = pj.EpConfig()
    cfg.uaConfig.threadCnt = 0
    cfg.uaConfig.mainThreadOnly = True
    cfg.uaConfig.maxCalls = 4
    cfg.logConfig.level = 1
    cfg.logConfig.consoleLevel = 1
    cfg.medConfig.sndAutoCloseTime = -1
    cfg.medConfig.noVad = True
    ep.libInit(cfg)
    ep.audDevManager().setNullDev()
    tc = pj.TransportConfig()
    tc.port = PORT
    tc.boundAddress = HOST
    tc.publicAddress = HOST
    ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tc)
    ep.libStart()
    for codec in ep.codecEnum2():  # G.711 u-law only, as the trunk
        ep.codecSetPriority(codec.codecId, 255 if codec.codecId.startswith("PCMU/") else 0)
    ac = pj.AccountConfig()
    ac.idUri = f"sip:worker@{HOST}:{PORT}"
    ac.mediaConfig.transportConfig.port = 7000
    ac.mediaConfig.transportConfig.boundAddress = HOST
    ac.mediaConfig.transportConfig.publicAddress = HOST
    ports = [RelayPort(bind=HOST) for _ in range(n)]
    print(json.dumps({"relay_ports": [p.sock.getsockname()[1] for p in ports]}), flush=True)
    dests = json.loads(sys.stdin.readline())
    for p, (ip, port) in zip(ports, dests, strict=False):
        p.dest = (ip, port)
    acc = Account(ports)
    acc.create(ac)
    print(json.dumps({"ready": True}), flush=True)
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    while not stop.is_set():
        ep.libHandleEvents(20)
    ep.hangupAllCalls()
    for _ in range(20):
        ep.libHandleEvents(20)
    ep.libDestroy()


if __name__ == "__main__":
    main()
