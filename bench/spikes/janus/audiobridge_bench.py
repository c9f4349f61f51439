"""N 1:1 calls through Janus AudioBridge: one room per call, a WebRTC "browser" (aiortc,
Opus, DTLS-SRTP, ICE over the veth pair) and a plain-RTP "trunk" leg (G.711 u-law, 20 ms)
in each room. Measures Janus's CPU per call, mouth-to-ear delay both ways and the time
from "lawyer accepts" (room created) to the caller's first audio.

Run as root (it makes the namespaces s19j-srv / s19j-cli and starts Janus in the first):
    .venv/bin/python bench/spikes/janus/audiobridge_bench.py --calls 1,4,10 --seconds 10
Options: --browser-codec pcmu (the browser leg in G.711: no Opus in Janus),
--forward pcmu|opus (two rtp_forwards per room, one per speaker group, as the
live transcript would need), --prebuffer N (AudioBridge jitter buffer, packets; Janus default 6),
--rate 8000|16000|48000 (the room's mixing rate), --json out.json.

Tones: the trunk says 440 Hz, the browser 1200 Hz, each in bursts (500 ms on, 500 ms
off) whose send times are known; the other side finds each burst's onset (Goertzel on
20 ms frames). trunk->browser includes aiortc's jitter buffer and Opus decode; browser->
trunk ends when the packet arrives at the trunk's socket (a real phone adds its own
jitter buffer: pjsua's is 40-60 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import audioop
import fractions
import json
import math
import os
import socket
import struct
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lab

TRUNK_HZ, BROWSER_HZ = 440, 1200
PERIOD_FRAMES, ON_FRAMES = 50, 25  # 1 s period, 500 ms on, in 20 ms frames


def goertzel_share(x: np.ndarray, rate: int, hz: float) -> tuple[float, float]:
    """(share of the frame's power at hz, rms)."""
    x = x.astype(np.float64)
    n = len(x)
    k = 2 * math.cos(2 * math.pi * hz / rate)
    s1 = s2 = 0.0
    for v in x:  # 160..960 samples: fine in Python for a spike
        s1, s2 = v + k * s1 - s2, s1
    energy = float(np.dot(x, x))
    if energy <= 0:
        return 0.0, 0.0
    return 2 * (s1 * s1 + s2 * s2 - k * s1 * s2) / n / energy, math.sqrt(energy / n)


def goertzel_fast(x: np.ndarray, rate: int, hz: float) -> tuple[float, float]:
    """Same figure via a single DFT bin (numpy): |X(hz)|^2 * 2 / n / energy."""
    x = x.astype(np.float64)
    n = len(x)
    energy = float(np.dot(x, x))
    if energy <= 0:
        return 0.0, 0.0
    t = np.arange(n)
    w = np.exp(-2j * math.pi * hz * t / rate)
    p = abs(np.dot(x, w)) ** 2
    return 2 * p / n / energy, math.sqrt(energy / n)


class Detector:
    """Burst onsets in a stream of 20 ms frames."""

    def __init__(self) -> None:
        self.quiet = 10
        self.onsets: list[float] = []
        self.first: float | None = None

    def feed(self, t: float, share: float, level: float) -> None:
        on = share > 0.5 and level > 200
        if on:
            if self.first is None:
                self.first = t
            if self.quiet >= 5:
                self.onsets.append(t)
            self.quiet = 0
        else:
            self.quiet += 1


def delays(sent: list[float], heard: list[float], t_from: float, t_to: float) -> list[float]:
    out = []
    for h in heard:
        if not (t_from <= h <= t_to):
            continue
        prior = [s for s in sent if s <= h]
        if prior and h - prior[-1] < 0.6:
            out.append((h - prior[-1]) * 1000)
    return out


# ----- the plain-RTP trunk leg --------------------------------------------------------

_ULAW_ON = audioop.lin2ulaw(
    b"".join(
        struct.pack("<h", int(9000 * math.sin(2 * math.pi * TRUNK_HZ * i / 8000)))
        for i in range(160)
    ),
    2,
)
_ULAW_OFF = audioop.lin2ulaw(bytes(320), 2)


class Trunk(asyncio.DatagramProtocol):
    clock = staticmethod(time.monotonic)  # the Chromium bench uses wall time (time.time)

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.remote: tuple[str, int] | None = None
        self.seq = 0
        self.ts = 0
        self.ssrc = int.from_bytes(os.urandom(4), "big")
        self.frame = 0
        self.sent_onsets: list[float] = []
        self.det = Detector()
        self.packets_in = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send_tick(self, now: float) -> None:
        if not self.remote or not self.transport:
            return
        on = self.frame % PERIOD_FRAMES < ON_FRAMES
        if self.frame % PERIOD_FRAMES == 0:
            self.sent_onsets.append(now)
        hdr = struct.pack(
            "!BBHII",
            0x80,
            0x80 if self.seq == 0 else 0,
            self.seq & 0xFFFF,
            self.ts & 0xFFFFFFFF,
            self.ssrc,
        )
        self.transport.sendto(hdr + (_ULAW_ON if on else _ULAW_OFF), self.remote)
        self.seq += 1
        self.ts += 160
        self.frame += 1

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        now = self.clock()
        if len(data) < 12 or data[1] & 0x7F != 0:
            return
        cc = data[0] & 0x0F
        payload = data[12 + 4 * cc :]
        if data[0] & 0x10:  # header extension
            off = 12 + 4 * cc
            ext_len = struct.unpack("!H", data[off + 2 : off + 4])[0]
            payload = data[off + 4 + 4 * ext_len :]
        pcm = np.frombuffer(audioop.ulaw2lin(payload, 2), dtype="<i2")
        self.packets_in += 1
        self.det.feed(now, *goertzel_fast(pcm, 8000, BROWSER_HZ))


# ----- the WebRTC "browser" leg (aiortc) ----------------------------------------------

import av  # noqa: E402
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription  # noqa: E402
from aiortc.mediastreams import MediaStreamError  # noqa: E402

RATE, FRAME = 48000, 960
_ON = (9000 * np.sin(2 * np.pi * BROWSER_HZ * np.arange(FRAME) / RATE)).astype("<i2").tobytes()
_OFF = bytes(FRAME * 2)


class BurstTrack(MediaStreamTrack):
    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self.start: float | None = None
        self.n = 0
        self.sent_onsets: list[float] = []

    async def recv(self) -> av.AudioFrame:
        if self.start is None:
            self.start = time.monotonic()
        due = self.start + self.n * 0.02
        wait = due - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        on = self.n % PERIOD_FRAMES < ON_FRAMES
        if self.n % PERIOD_FRAMES == 0:
            self.sent_onsets.append(time.monotonic())
        frame = av.AudioFrame(format="s16", layout="mono", samples=FRAME)
        frame.planes[0].update(_ON if on else _OFF)
        frame.sample_rate = RATE
        frame.pts = self.n * FRAME
        frame.time_base = fractions.Fraction(1, RATE)
        self.n += 1
        return frame


async def listen(track: MediaStreamTrack, det: Detector) -> None:
    while True:
        try:
            frame = await track.recv()
        except MediaStreamError:
            return
        now = time.monotonic()
        a = frame.to_ndarray()
        chans = len(frame.layout.channels)
        mono = a.reshape(-1)[::chans] if a.shape[0] == 1 else a[0]
        det.feed(now, *goertzel_fast(mono, frame.sample_rate, TRUNK_HZ))


# ----- one call -----------------------------------------------------------------------


@dataclass
class Call:
    name: str
    trunk: Trunk = field(default_factory=Trunk)
    track: BurstTrack = field(default_factory=BurstTrack)
    browser_det: Detector = field(default_factory=Detector)
    pc: RTCPeerConnection | None = None
    t_accept: float = 0.0
    handles: tuple[int, int] = (0, 0)
    listener: asyncio.Task | None = None


async def open_call(
    s: lab.Session, j: lab.JanusProcess, name: str, args: argparse.Namespace
) -> Call:
    loop = asyncio.get_running_loop()
    call = Call(name)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((lab.CLI_IP, 0))
    await loop.create_datagram_endpoint(lambda: call.trunk, sock=sock)
    call.t_accept = time.monotonic()
    h_trunk = await s.attach("janus.plugin.audiobridge")
    await s.message(
        h_trunk,
        {
            "request": "create",
            "room": name,
            "admin_key": j.admin_secret,
            "is_private": True,
            "sampling_rate": args.rate,
            "allow_rtp_participants": True,
            "audiolevel_event": False,
            "default_prebuffering": args.prebuffer,
            **({"groups": ["citizen", "lawyer"]} if args.forward else {}),
        },
    )
    # The trunk leg: plain RTP, G.711 u-law, Janus sends to our socket.
    r = await s.message(
        h_trunk,
        {
            "request": "join",
            "room": name,
            "display": "caller",
            "codec": "pcmu",
            "prebuffer": args.prebuffer,
            **({"group": "citizen"} if args.forward else {}),
            "rtp": {"ip": lab.CLI_IP, "port": sock.getsockname()[1], "payload_type": 0},
        },
    )
    rtp = r["plugindata"]["data"]["rtp"]
    call.trunk.remote = (rtp["ip"], rtp["port"])
    # The browser leg: join with a complete offer, Janus answers (non-trickle).
    h_browser = await s.attach("janus.plugin.audiobridge")
    call.handles = (h_trunk, h_browser)
    pc = RTCPeerConnection()
    call.pc = pc
    pc.addTrack(call.track)

    @pc.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        call.listener = asyncio.ensure_future(listen(track, call.browser_det))

    await pc.setLocalDescription(await pc.createOffer())
    r = await s.message(
        h_browser,
        {
            "request": "join",
            "room": name,
            "display": "lawyer",
            "prebuffer": args.prebuffer,
            **({"group": "lawyer"} if args.forward else {}),
            **({"codec": args.browser_codec} if args.browser_codec else {}),
        },
        jsep={"type": "offer", "sdp": pc.localDescription.sdp},
    )
    jsep = r.get("jsep")
    if not jsep:  # the answer may come as a separate event
        while not jsep:
            ev = await asyncio.wait_for(s.events[h_browser].get(), 10)
            jsep = ev.get("jsep")
    await pc.setRemoteDescription(RTCSessionDescription(sdp=jsep["sdp"], type=jsep["type"]))
    if args.forward:  # each speaker's audio on its own to the transcriber (here: a counting sink)
        for group in ("citizen", "lawyer"):
            await s.message(
                h_trunk,
                {
                    "request": "rtp_forward",
                    "room": name,
                    "admin_key": j.admin_secret,
                    "group": group,
                    "host": lab.CLI_IP,
                    "port": FORWARD_SINK.port,
                    "codec": args.forward,
                },
            )
    return call


class Sink(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.packets = 0
        self.port = 0

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.packets += 1


FORWARD_SINK = Sink()


async def close_call(s: lab.Session, j: lab.JanusProcess, call: Call) -> None:
    if call.pc:
        await call.pc.close()
    if call.listener:
        call.listener.cancel()
    if call.trunk.transport:
        call.trunk.transport.close()
    await s.message(
        call.handles[0], {"request": "destroy", "room": call.name, "admin_key": j.admin_secret}
    )
    for h in call.handles:
        await s.detach(h)


async def ticker(calls: list[Call], stop: asyncio.Event) -> None:
    """Send every trunk's next 20 ms packet on one absolute 20 ms clock."""
    start = time.monotonic()
    n = 0
    while not stop.is_set():
        n += 1
        due = start + n * 0.02
        wait = due - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        now = time.monotonic()
        for c in list(calls):
            c.trunk.send_tick(c.trunk.clock() if c.trunk.clock is not time.monotonic else now)


def pct(v: list[float], p: float) -> float:
    if not v:
        return float("nan")
    o = sorted(v)
    return o[min(len(o) - 1, int(p / 100 * len(o)))]


async def run_n(j: lab.JanusProcess, n: int, args: argparse.Namespace, idle_rate: float) -> dict:
    import httpx

    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=50)) as http:
        s = await lab.Session(http, f"http://{lab.SRV_IP}:8088/janus", j.api_secret).create()
        calls: list[Call] = []
        if args.forward and not FORWARD_SINK.port:
            tr, _ = await asyncio.get_running_loop().create_datagram_endpoint(
                lambda: FORWARD_SINK, local_addr=(lab.CLI_IP, 0)
            )
            FORWARD_SINK.port = tr.get_extra_info("sockname")[1]
        stop = asyncio.Event()
        tick = asyncio.create_task(ticker(calls, stop))
        opened = await asyncio.gather(*(open_call(s, j, f"n{n}-call{i}", args) for i in range(n)))
        calls.extend(opened)
        await asyncio.sleep(args.warmup)
        c0, t0, d0 = lab.cpu_seconds(j.pid), time.monotonic(), sum(os.times()[:2])
        f0 = FORWARD_SINK.packets
        thr = lab.threads(j.pid)
        load_before = lab.loadavg()
        await asyncio.sleep(args.seconds)
        c1, t1, d1 = lab.cpu_seconds(j.pid), time.monotonic(), sum(os.times()[:2])
        window = t1 - t0
        forwarded = (FORWARD_SINK.packets - f0) / window / max(n, 1)
        stop.set()
        await tick
        first_audio = [
            (c.trunk.det.first - c.t_accept) * 1000 for c in calls if c.trunk.det.first is not None
        ]
        t2b = [d for c in calls for d in delays(c.trunk.sent_onsets, c.browser_det.onsets, t0, t1)]
        b2t = [d for c in calls for d in delays(c.track.sent_onsets, c.trunk.det.onsets, t0, t1)]
        expected = int(window) * n
        for c in calls:
            await close_call(s, j, c)
        await s.destroy()
    cpu = c1 - c0
    per_call = (cpu / window - idle_rate) / n * 100
    return {
        "calls": n,
        "window_s": round(window, 2),
        "janus_threads": thr,
        "janus_cpu_pct_core": round(cpu / window * 100, 2),
        "per_call_pct_core": round(per_call, 3),
        "driver_cpu_pct_core": round((d1 - d0) / window * 100, 1),
        "accept_to_first_audio_ms": {
            "p50": round(pct(first_audio, 50)),
            "p99": round(pct(first_audio, 99)),
            "n": len(first_audio),
        },
        "trunk_to_browser_ms": {
            "p50": round(pct(t2b, 50)),
            "p99": round(pct(t2b, 99)),
            "bursts": len(t2b),
            "expected": expected,
        },
        "browser_to_trunk_ms": {
            "p50": round(pct(b2t, 50)),
            "p99": round(pct(b2t, 99)),
            "bursts": len(b2t),
            "expected": expected,
        },
        "loadavg": load_before,
        **(
            {"forward": args.forward, "forwarded_pkts_per_s_per_call": round(forwarded, 1)}
            if args.forward
            else {}
        ),
    }


async def empty_rooms(
    j: lab.JanusProcess, n: int, seconds: float, idle_rate: float, rate: int
) -> dict:
    import httpx

    async with httpx.AsyncClient() as http:
        s = await lab.Session(http, f"http://{lab.SRV_IP}:8088/janus", j.api_secret).create()
        h = await s.attach("janus.plugin.audiobridge")
        for i in range(n):
            await s.message(
                h,
                {
                    "request": "create",
                    "room": f"empty{i}",
                    "admin_key": j.admin_secret,
                    "sampling_rate": rate,
                },
            )
        await asyncio.sleep(1)
        c0, t0 = lab.cpu_seconds(j.pid), time.monotonic()
        thr = lab.threads(j.pid)
        await asyncio.sleep(seconds)
        c1, t1 = lab.cpu_seconds(j.pid), time.monotonic()
        for i in range(n):
            await s.message(
                h, {"request": "destroy", "room": f"empty{i}", "admin_key": j.admin_secret}
            )
        await s.destroy()
    return {
        "empty_rooms": n,
        "janus_threads": thr,
        "per_room_pct_core": round(((c1 - c0) / (t1 - t0) - idle_rate) / n * 100, 3),
    }


async def main_async(j: lab.JanusProcess, args: argparse.Namespace) -> list[dict]:
    c0, t0 = lab.cpu_seconds(j.pid), time.monotonic()
    await asyncio.sleep(args.idle)
    idle_rate = (lab.cpu_seconds(j.pid) - c0) / (time.monotonic() - t0)
    results: list[dict] = [
        {
            "idle_janus_pct_core": round(idle_rate * 100, 3),
            "threads": lab.threads(j.pid),
            "prebuffer": args.prebuffer,
            "rate": args.rate,
            "forward": args.forward,
            "browser_codec": args.browser_codec or "opus",
        }
    ]
    print(json.dumps(results[0]), flush=True)
    if args.empty:
        r = await empty_rooms(j, args.empty, args.idle, idle_rate, args.rate)
        print(json.dumps(r), flush=True)
        results.append(r)
    for n in args.calls:
        r = await run_n(j, n, args, idle_rate)
        print(json.dumps(r), flush=True)
        results.append(r)
        await asyncio.sleep(1)
    return results


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", default="1,4,10", type=lambda v: [int(x) for x in v.split(",")])
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--warmup", type=float, default=3)
    ap.add_argument("--idle", type=float, default=5)
    ap.add_argument("--prebuffer", type=int, default=6)
    ap.add_argument("--rate", type=int, default=16000)
    ap.add_argument(
        "--forward", default="", help="pcmu|opus: rtp_forward each speaker's group (transcripts)"
    )
    ap.add_argument("--browser-codec", default="", help="pcmu: the WebRTC leg without Opus")
    ap.add_argument("--empty", type=int, default=0, help="also measure this many empty rooms")
    ap.add_argument("--json")
    args = ap.parse_args()
    lab.make_namespaces()
    try:
        with lab.janus() as j:
            lab.enter(lab.CLI_NS)
            results = asyncio.run(main_async(j, args))
    finally:
        lab.delete_namespaces()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
