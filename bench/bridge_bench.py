"""N bridged calls at once: a SIP caller to an aiortc peer standing in for the browser.

Run by hand: .venv/bin/python bench/bridge_bench.py [--calls 1,2,4,8] [--seconds 10]
For each N: ceil(N/4) telephony workers (4 calls each at most), N pjsua2 callers
(tests/pjsua_caller.py, saying 440 Hz) choosing labour consultation, N duty lawyers
accepting through the real queue, and N aiortc peers in this process offering through
BridgeClient and saying 1200 Hz in bursts (500 ms on, 500 ms off) whose send times
are known. Printed per N:
- CPU per bridged call: the workers' CPU while all N talk, less their idle CPU, over N;
- accept to first audio at the caller (p50/p99): the lawyer accepts -> the browser
  offers -> the worker answers -> ICE/DTLS -> the caller first hears the lawyer;
- added delay: what the bridge buffers each way (its own log at close), and the whole
  browser -> caller path (burst sent -> burst heard, Opus, aiortc's jitter buffer and
  G.711 included);
- clean: share of 100 ms windows where the expected tone is heard, both ways, and the
  bridge's underruns and drops. The largest N with clean audio is printed last.
Everything on 127.0.0.1; a private redis-server; prompts built into a temp dir.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import fractions
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path

import av
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from cpu import cpu_mhz, cpu_seconds  # bench/ is on sys.path when run as a script
from redis.asyncio import Redis

from lawline.config import Settings
from lawline.queue.model import Contact, Lawyer
from lawline.queue.service import QueueService
from lawline.queue.settings import RoutingSettings
from lawline.queue.skills import Domain, Presence, Service
from lawline.queue.store import QueueStore
from lawline.redis_server import EmbeddedRedis
from lawline.telephony import prompts
from lawline.telephony.bridge_wire import BridgeClient
from lawline.video.settings import WebRTCSettings
from lawline.video.webrtc import create_peer_connection

# The test helpers (run from anywhere).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.sip_helpers import free_sip_port
from tests.test_bridge import make_tone, record_track, rms, share, windows

CALLER_HZ, LAWYER_HZ = 440, 1200
RATE = 48000
FRAME = 960  # 20 ms at 48 kHz: 24 whole periods of 1200 Hz, so every "on" frame is the same
_ON = array.array(
    "h", (int(9000 * math.sin(2 * math.pi * LAWYER_HZ * i / RATE)) for i in range(FRAME))
).tobytes()
_OFF = bytes(FRAME * 2)
ROOT = Path(__file__).resolve().parents[1]
CLEAN = 0.98  # share of windows with the expected tone, each way, to call audio clean


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


class BurstTrack(MediaStreamTrack):
    """The lawyer's voice: 1200 Hz, 500 ms on and 500 ms off, paced by the clock; the
    time each burst was handed to the sender is kept."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self.start = 0.0
        self.n = 0
        self.bursts: list[float] = []

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self.n == 0:
            self.start = time.monotonic()
        else:
            await asyncio.sleep(self.start + self.n * FRAME / RATE - time.monotonic())
        phase = self.n % 50  # frames into this second
        if phase == 0:
            self.bursts.append(time.monotonic())
        frame = av.AudioFrame(format="s16", layout="mono", samples=FRAME)
        frame.planes[0].update(_ON if phase < 25 else _OFF)
        frame.sample_rate, frame.time_base = RATE, fractions.Fraction(1, RATE)
        frame.pts = self.n * FRAME
        self.n += 1
        return frame


@dataclass
class Leg:
    """One bridged call as the bench sees it."""

    caller: subprocess.Popen[str]
    wav: Path
    media_at: float = 0.0
    contact_id: str = ""
    accepted_at: float = 0.0
    answered_at: float = 0.0
    track: BurstTrack = field(default_factory=BurstTrack)
    heard: list[tuple[float, list[int]]] = field(default_factory=list)
    pc: RTCPeerConnection | None = None

    def wait_media(self) -> None:
        assert self.caller.stdout is not None
        for line in self.caller.stdout:
            if line.startswith("media "):
                self.media_at = float(line.split()[1])
                return
        raise RuntimeError("a caller's media never came up")

    async def connect(self, client: BridgeClient, lawyer: str) -> None:
        pc = self.pc = create_peer_connection(WebRTCSettings(host_addresses=["127.0.0.1"]))
        pc.addTrack(self.track)
        pc.on("track", lambda t: asyncio.ensure_future(self._read(t)))
        await pc.setLocalDescription(await pc.createOffer())
        reply = await client.request(
            self.contact_id, "offer", lawyer_id=lawyer, sdp=pc.localDescription.sdp
        )
        await pc.setRemoteDescription(RTCSessionDescription(reply["sdp"], "answer"))
        self.answered_at = time.monotonic()

    async def _read(self, track: MediaStreamTrack) -> None:
        await record_track(track, self.heard)

    def caller_heard(self) -> tuple[list[int], int]:
        with wave.open(str(self.wav)) as w:
            return list(array.array("h", w.readframes(w.getnframes()))), w.getframerate()


def lawyer_on_caller(samples: list[int], rate: int, media_at: float, t: float) -> bool:
    """Does the caller hear the lawyer's tone in the 10 ms from time t?"""
    i = int((t - media_at) * rate)
    w = samples[i : i + rate // 100]
    return len(w) == rate // 100 and rms(w) > 300 and share(w, rate, LAWYER_HZ) > 0.5


def analyse(leg: Leg, t0: float, t1: float) -> dict[str, float]:
    samples, rate = leg.caller_heard()
    # Accept to first audio: the first 10 ms in which the caller hears the lawyer.
    first = next(
        (
            t
            for k in range(3000)
            if lawyer_on_caller(samples, rate, leg.media_at, t := leg.accepted_at + k / 100)
        ),
        math.nan,
    )
    # Browser -> caller delay: each burst's send time to its first 10 ms heard.
    delays = []
    for sent in (b for b in leg.track.bursts if t0 <= b < t1 - 1):
        heard = next(
            (k for k in range(60) if lawyer_on_caller(samples, rate, leg.media_at, sent + k / 100)),
            None,
        )
        if heard is not None:
            delays.append(heard * 10.0)
    delay = statistics.median(delays) if delays else math.nan
    # Clean, lawyer to caller: the middle 400 ms of every burst (shifted by the delay).
    on = []
    for sent in (b for b in leg.track.bursts if t0 <= b < t1 - 1):
        for k in range(5, 45):
            on.append(lawyer_on_caller(samples, rate, leg.media_at, sent + delay / 1000 + k / 100))
    # Clean, caller to lawyer: 440 Hz in every 100 ms received, and no audio missing.
    got = [s for t, pcm in leg.heard if t0 <= t < t1 for s in pcm]
    ws = windows(got, RATE)
    to_lawyer = sum(rms(w) > 300 and share(w, RATE, CALLER_HZ) > 0.5 for w in ws) / max(1, len(ws))
    return {
        "first_audio_ms": (first - leg.accepted_at) * 1000,
        "signalling_ms": (leg.answered_at - leg.accepted_at) * 1000,
        "browser_to_caller_ms": delay,
        "clean_to_caller": sum(on) / max(1, len(on)),
        "clean_to_lawyer": to_lawyer,
        "received_ratio": len(got) / (RATE * (t1 - t0)),
    }


@dataclass
class WorkerProc:
    proc: subprocess.Popen[bytes]
    log: Path
    sip_port: int

    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid)


def start_worker(work: Path, name: str, redis_url: str, rtp: int) -> WorkerProc:
    log, sip_port = work / f"{name}.log", free_sip_port()
    env = {
        **os.environ,
        "LAWLINE_DATA_DIR": str(work / "data"),
        "LAWLINE_REDIS_URL": redis_url,
        "LAWLINE_TELEPHONY__PROMPTS_DIR": str(work / "prompts"),
        "LAWLINE_WEBRTC__HOST_ADDRESSES": '["127.0.0.1"]',
    }
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "lawline", "telephony-worker", "--sip-port", str(sip_port),
             "--rtp-port", str(rtp), "--name", name],
            env=env, stdout=out, stderr=subprocess.STDOUT, cwd=work,
        )  # fmt: skip
    deadline = time.monotonic() + 30
    while "telephony worker listening" not in log.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(log.read_text())
        time.sleep(0.05)
    return WorkerProc(proc, log, sip_port)


def stop_worker(w: WorkerProc) -> int:
    """Its exit code (the worker was sent SIGTERM); killed if it takes over 30 s."""
    try:
        return w.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        w.proc.kill()
        w.proc.wait()
        return -9


async def run_n(n: int, work: Path, redis_url: str, seconds: float) -> dict[str, float]:
    nw = math.ceil(n / 4)
    workers = [
        start_worker(work, f"worker-{i + 1}", redis_url, 30000 + 1000 * i) for i in range(nw)
    ]
    redis = Redis.from_url(redis_url, decode_responses=True)
    await redis.flushall()
    queue = QueueService(QueueStore(redis), Settings(routing=RoutingSettings(wrapup_s=0)))
    legs: list[Leg] = []
    try:
        await asyncio.sleep(2)
        idle0 = sum(w.cpu() for w in workers)
        await asyncio.sleep(3)
        idle = (sum(w.cpu() for w in workers) - idle0) / 3
        for i in range(n):
            lawyer = Lawyer(
                id=f"lawyer{i}", services={Service.CONSULTATION: 4}, domains={Domain.LABOUR: 5}
            )
            await queue.create_lawyer(lawyer)
            await queue.set_presence(lawyer.id, Presence.AVAILABLE)
        await queue.start()
        client = BridgeClient(redis, "ll")
        tone = make_tone(work / "caller.wav", CALLER_HZ, 16000)
        connecting = []
        async with queue.subscribe() as evs:
            for i in range(n):
                wav = work / f"heard-{n}-{i}.wav"
                sip_port = workers[i % nw].sip_port  # callers spread over the workers
                caller = subprocess.Popen(
                    [sys.executable, str(ROOT / "tests" / "pjsua_caller.py"),
                     f"sip:12348@127.0.0.1:{sip_port}", str(wav), "120", str(free_sip_port()),
                     "--play", str(tone), "--keys", "11"],
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                )  # fmt: skip
                legs.append(Leg(caller, wav))
            await asyncio.gather(*(asyncio.to_thread(leg.wait_media) for leg in legs))
            waiting = list(legs)
            while waiting:
                ev = await asyncio.wait_for(evs.get(), 60)
                if ev.type == "contact.offered" and ev.contact and ev.contact.lawyer:
                    leg = waiting.pop()
                    leg.contact_id = ev.contact.id
                    connecting.append(asyncio.create_task(accept(queue, client, leg, ev.contact)))
        await asyncio.gather(*connecting)
        await asyncio.sleep(2)
        t0, cpu0 = time.monotonic(), sum(w.cpu() for w in workers)
        me0 = cpu_seconds(os.getpid())
        await asyncio.sleep(seconds)
        t1 = time.monotonic()
        busy = (sum(w.cpu() for w in workers) - cpu0) / (t1 - t0)
        me = (cpu_seconds(os.getpid()) - me0) / (t1 - t0)
        for leg in legs:
            await queue.end(leg.contact_id, "lawyer")
        await asyncio.sleep(1)
    finally:
        for leg in legs:
            if leg.pc is not None:
                await leg.pc.close()
            leg.caller.send_signal(signal.SIGTERM)
        for leg in legs:
            leg.caller.wait(timeout=30)
        await queue.stop()
        await redis.aclose()
        for w in workers:
            w.proc.send_signal(signal.SIGTERM)
        codes = [stop_worker(w) for w in workers]
    per_leg = [analyse(leg, t0, t1) for leg in legs]
    closed = [
        json.loads(line)
        for w in workers
        for line in w.log.read_text().splitlines()
        if '"bridge closed"' in line
    ]
    return summarise(n, nw, per_leg, closed, (busy - idle) / n, me, codes)


async def accept(queue: QueueService, client: BridgeClient, leg: Leg, contact: Contact) -> None:
    assert contact.lawyer is not None
    leg.accepted_at = time.monotonic()
    assert await queue.accept(contact.id, contact.lawyer)
    await leg.connect(client, contact.lawyer)


def summarise(
    n: int,
    nw: int,
    legs: list[dict[str, float]],
    closed: list[dict[str, float]],
    cpu_per_call: float,
    bench_cpu: float,
    codes: list[int],
) -> dict[str, float]:
    def col(key: str) -> list[float]:
        return [leg[key] for leg in legs if not math.isnan(leg[key])]

    clean = min(col("clean_to_caller") + col("clean_to_lawyer") or [0.0])
    return {
        "n": n,
        "workers": nw,
        "cpu_per_call": cpu_per_call,
        "mhz_per_call": cpu_per_call * cpu_mhz(),
        "bench_cpu": bench_cpu,
        "first_audio_p50": pct(col("first_audio_ms"), 50),
        "first_audio_p99": pct(col("first_audio_ms"), 99),
        "signalling_p50": pct(col("signalling_ms"), 50),
        "browser_to_caller_ms": pct(col("browser_to_caller_ms"), 50),
        "bridge_to_caller_ms": statistics.fmean([c["to_caller_ms"] for c in closed] or [0]),
        "bridge_to_lawyer_ms": statistics.fmean([c["to_lawyer_ms"] for c in closed] or [0]),
        "underruns": sum(c["underruns"] for c in closed),
        "dropped": sum(c["dropped"] for c in closed),
        "clean_min": clean,
        "received_min": min(col("received_ratio") or [0.0]),
        "missing_first_audio": sum(math.isnan(leg["first_audio_ms"]) for leg in legs),
        "worker_exit_ok": all(c == 0 for c in codes),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", default="1,2,4,8", help="N values: calls bridged at once")
    parser.add_argument("--seconds", type=float, default=10, help="talking time measured per N")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        prompts.build(work / "prompts")
        with EmbeddedRedis(work / "redis", appendfsync="everysec") as redis:
            print(
                f"{'N':>3} {'wrk':>3} {'cpu/call':>8} {'MHz':>5} {'bench':>6} "
                f"{'1st p50':>8} {'1st p99':>8} {'sig p50':>8} {'b->c':>6} "
                f"{'buf->c':>7} {'buf->l':>7} {'under':>5} {'drop':>5} {'clean':>6} {'rx':>5}"
            )
            for n in (int(x) for x in args.calls.split(",")):
                r = asyncio.run(run_n(n, work, redis.url, args.seconds))
                results.append(r)
                print(
                    f"{r['n']:>3} {r['workers']:>3} {r['cpu_per_call']:>8.1%} "
                    f"{r['mhz_per_call']:>5.0f} {r['bench_cpu']:>6.0%} "
                    f"{r['first_audio_p50']:>6.0f}ms {r['first_audio_p99']:>6.0f}ms "
                    f"{r['signalling_p50']:>6.0f}ms {r['browser_to_caller_ms']:>4.0f}ms "
                    f"{r['bridge_to_caller_ms']:>5.0f}ms {r['bridge_to_lawyer_ms']:>5.1f}ms "
                    f"{r['underruns']:>5} {r['dropped']:>5} {r['clean_min']:>6.1%} "
                    f"{r['received_min']:>5.0%}"
                    + ("" if r["worker_exit_ok"] else "  WORKER EXIT NOT 0")
                )
    ok = [r["n"] for r in results if r["clean_min"] >= CLEAN and r["received_min"] >= CLEAN]
    print(f"largest N with clean audio both ways: {max(ok) if ok else 0}")
    print(f"clean_calls={max(ok) if ok else 0}")


if __name__ == "__main__":
    main()
