"""Spike caller: one pjsua2 endpoint placing up to 4 calls, each saying 1000 Hz bursts
(200 ms every 2 s, the first 0.5 s in) and recording what it hears.

    python caller.py SIP_PORT OUTDIR NAME@WORKER_HOSTPORT [...]

Calls sip:NAME@WORKER_HOSTPORT for each (NAME: the lawyer the worker should ring).
When a call's media is up it starts that call's own player and recorder and prints
{"event":"media","name":..,"play_t":..,"rec_t":..} (wall clock), so bursts sent and heard
can be placed in time. Runs until SIGTERM, then hangs up.
"""

from __future__ import annotations

import json
import math
import signal
import struct
import sys
import time
import wave
from pathlib import Path

import pjsua2 as pj

from lawline.telephony.sip import SipConfig, account_config, create_endpoint

RATE = 16000


def say(event: str, **kw: object) -> None:
    print(json.dumps({"event": event, "t": time.time(), **kw}), flush=True)


def burst_wav(path: Path, hz: float = 1000, first: float = 0.5, period: float = 2.0,
              length: float = 0.2, seconds: float = 120) -> Path:  # fmt: skip
    frames = bytearray()
    for n in range(int(seconds * RATE)):
        t = n / RATE
        k = (t - first) % period
        on = t >= first and k < length
        frames += struct.pack("<h", int(12000 * math.sin(2 * math.pi * hz * t)) if on else 0)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(bytes(frames))
    return path


class Call(pj.Call):
    def __init__(self, acc: pj.Account, name: str, outdir: Path, wav: Path) -> None:
        super().__init__(acc)
        self.name, self.outdir, self.wav = name, outdir, wav
        self.player: pj.AudioMediaPlayer | None = None
        self.recorder: pj.AudioMediaRecorder | None = None
        self.gone = False

    def onCallState(self, prm: pj.OnCallStateParam) -> None:
        ci = self.getInfo()
        if ci.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.gone = True
            say("ended", name=self.name, status=ci.lastStatusCode)
        elif ci.state == pj.PJSIP_INV_STATE_CONFIRMED:
            say("confirmed", name=self.name)

    def onCallMediaState(self, prm: pj.OnCallMediaStateParam) -> None:
        ci = self.getInfo()
        for i, mi in enumerate(ci.media):
            ok = mi.type == pj.PJMEDIA_TYPE_AUDIO and mi.status == pj.PJSUA_CALL_MEDIA_ACTIVE
            if ok and self.recorder is None:
                am = self.getAudioMedia(i)
                self.recorder = pj.AudioMediaRecorder()
                self.recorder.createRecorder(str(self.outdir / f"{self.name}.wav"))
                am.startTransmit(self.recorder)
                rec_t = time.time()
                self.player = pj.AudioMediaPlayer()
                self.player.createPlayer(str(self.wav))
                self.player.startTransmit(am)
                say("media", name=self.name, rec_t=rec_t, play_t=time.time())


def main() -> None:
    port, outdir, targets = int(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]
    wav = outdir / "bursts_1000.wav"
    if not wav.exists():
        burst_wav(wav)
    cfg = SipConfig(host="127.0.0.1", port=port, rtp_port=port + 2, rtp_port_range=40)
    ep = create_endpoint(cfg)
    acc = pj.Account()
    acc.create(account_config(cfg, "13800138000"))
    calls = []
    for target in targets:
        name = target.split("@")[0]
        c = Call(acc, name, outdir, wav)
        c.makeCall(f"sip:{target}", pj.CallOpParam(True))
        calls.append(c)
        say("calling", name=name)
    stop: list[int] = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    while not stop:
        ep.libHandleEvents(10)
    ep.hangupAllCalls()
    for _ in range(100):
        ep.libHandleEvents(10)
    for c in calls:
        c.player = c.recorder = None
    calls.clear()
    del acc
    ep.libDestroy()


if __name__ == "__main__":
    main()
