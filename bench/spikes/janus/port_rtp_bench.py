"""What it costs a pjsua2 telephony worker to carry a call's audio to Janus itself:
a pjsua2 AudioMediaPort (8 kHz, 20 ms, in the call's conference) whose Python callbacks
send each frame as G.711 u-law RTP and play back what comes in, no asyncio in between.

Run: .venv/bin/python bench/spikes/janus/port_rtp_bench.py [--calls 1,4] [--seconds 20]
(loopback only: each port's socket sends to itself, so every packet is also received).

For each N it measures this process's CPU with N looping tone players into the
conference (the stand-in for N calls, as without the relay), then with the same N
players each feeding a relay port, and prints the difference per call (% of a core).
pjsua2 allows one endpoint per process; 4 calls per process is the wheel's limit,
so N=4 is the figure per worker.
"""

from __future__ import annotations

import argparse
import audioop
import json
import math
import os
import socket
import struct
import sys
import tempfile
import time
import wave
from collections import deque
from pathlib import Path

import pjsua2 as pj

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from lawline.telephony.bridge import _read_vector  # the fast ByteVector copy lawline uses

RATE, SAMPLES = 8000, 160
SILENCE = bytes(SAMPLES * 2)
PREFILL, MAX_QUEUED = 2, 5  # frames: 40 ms before playing, past 100 ms the oldest goes


class RelayPort(pj.AudioMediaPort):
    def __init__(self, bind: str = "127.0.0.1") -> None:
        super().__init__()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((bind, 0))
        self.sock.setblocking(False)
        self.dest = self.sock.getsockname()  # to itself: stands in for Janus's port
        self.seq = self.ts = 0
        self.ssrc = int.from_bytes(os.urandom(4), "big")
        self.sent = self.received = self.dropped = self.underruns = 0
        self.queue: deque[bytes] = deque()
        self.starved = True
        fmt = pj.MediaFormatAudio()
        fmt.init(pj.PJMEDIA_FORMAT_PCM, RATE, 1, 20000, 16)
        self.createPort("relay", fmt)

    def onFrameReceived(self, frame: pj.MediaFrame) -> None:
        try:
            pcm = _read_vector(frame.buf) if frame.type == pj.PJMEDIA_FRAME_TYPE_AUDIO else SILENCE
            if len(pcm) != SAMPLES * 2:
                pcm = SILENCE
            hdr = struct.pack("!BBHII", 0x80, 0, self.seq & 0xFFFF, self.ts & 0xFFFFFFFF, self.ssrc)
            self.sock.sendto(hdr + audioop.lin2ulaw(pcm, 2), self.dest)
            self.seq += 1
            self.ts += SAMPLES
            self.sent += 1
        except Exception:
            pass

    def onFrameRequested(self, frame: pj.MediaFrame) -> None:
        # Janus's mixer and pjsua's conference run on two 20 ms clocks: keep a small
        # buffer (PREFILL frames before playing, at most MAX_QUEUED, oldest dropped).
        try:
            q = self.queue
            while True:
                try:
                    q.append(self.sock.recv(2048))
                except BlockingIOError:
                    break
            while len(q) > MAX_QUEUED:
                q.popleft()
                self.dropped += 1
            if self.starved and len(q) < PREFILL:
                pkt = None
            else:
                pkt = q.popleft() if q else None
                self.starved = pkt is None
                self.underruns += pkt is None
            pcm = audioop.ulaw2lin(pkt[12:], 2) if pkt else SILENCE
            if pkt:
                self.received += 1
            frame.type = pj.PJMEDIA_FRAME_TYPE_AUDIO
            frame.buf = pj.ByteVector(pcm)
            frame.size = len(pcm)
        except Exception:
            pass


def tone_wav(path: Path) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(
            b"".join(
                struct.pack("<h", int(9000 * math.sin(2 * math.pi * 440 * i / RATE)))
                for i in range(RATE * 2)
            )
        )
    return path


def cpu() -> float:
    t = os.times()
    return t.user + t.system


def measure(seconds: float) -> float:
    c0, t0 = cpu(), time.monotonic()
    time.sleep(seconds)
    return (cpu() - c0) / (time.monotonic() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", default="1,4", type=lambda v: [int(x) for x in v.split(",")])
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--json")
    args = ap.parse_args()
    ep = pj.Endpoint()
    ep.libCreate()
    cfg = pj.EpConfig()
    cfg.uaConfig.threadCnt = 0
    cfg.uaConfig.mainThreadOnly = True
    cfg.logConfig.level = 1
    cfg.logConfig.consoleLevel = 1
    cfg.medConfig.sndAutoCloseTime = -1
    cfg.medConfig.noVad = True
    ep.libInit(cfg)
    ep.audDevManager().setNullDev()
    ep.libStart()
    sink = ep.audDevManager().getPlaybackDevMedia()
    wav = tone_wav(Path(tempfile.mkdtemp()) / "tone.wav")
    out = {
        "clock_rate": cfg.medConfig.clockRate,
        "idle_pct_core": round(measure(args.seconds / 2) * 100, 2),
    }
    print(json.dumps(out), flush=True)
    results = [out]
    for n in args.calls:
        players = []
        for _ in range(n):
            p = pj.AudioMediaPlayer()
            p.createPlayer(str(wav))
            p.startTransmit(sink)
            players.append(p)
        time.sleep(1)
        base = measure(args.seconds)
        ports = []
        for p in players:
            port = RelayPort()
            p.startTransmit(port)
            port.startTransmit(sink)
            ports.append(port)
        time.sleep(1)
        s0 = sum(pt.sent for pt in ports)
        relay = measure(args.seconds)
        sent = sum(pt.sent for pt in ports) - s0
        r = {
            "calls": n,
            "players_only_pct_core": round(base * 100, 2),
            "with_relay_pct_core": round(relay * 100, 2),
            "relay_per_call_pct_core": round((relay - base) / n * 100, 3),
            "packets_per_s_per_call": round(sent / args.seconds / n, 1),
            "received_per_call": [pt.received for pt in ports][:4],
            "loadavg": Path("/proc/loadavg").read_text().split()[:3],
        }
        print(json.dumps(r), flush=True)
        results.append(r)
        for p, port in zip(players, ports, strict=False):
            p.stopTransmit(port)
            port.stopTransmit(sink)
            p.stopTransmit(sink)
        del ports, players
        time.sleep(0.5)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    ep.libDestroy()


if __name__ == "__main__":
    main()
