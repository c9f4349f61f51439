"""The WebRTC load generator (bench/peers/webrtc_peers.py) against a real Janus AudioBridge.

Run as root, after bench/setup_bench.sh (the generator's Debian packages):

    .venv/bin/python bench/spikes/janus/generator_bench.py [--calls 1,10,20,40,60]
        [--seconds 20] [--sampling-rate 16000] [--prebuffer 3] [--out results/x.json]
    .venv/bin/python bench/spikes/janus/generator_bench.py --table results/x.json

Findings: GENERATOR.md beside this file.

Everything runs in the network namespace `lawline-bench` (made if missing, kept), on a
veth pair inside it: Janus's API and ICE on 10.77.19.1 (lawline's own Janus
configuration, as `lawline serve` writes it), the WebRTC peers on 10.77.19.2, the
callers on loopback (Janus's plain RTP is there, as for telephony workers). Per call:
one private room; a plain-RTP "caller" (a UDP socket of this process saying 440 Hz in
G.711 u-law, 20 ms a packet, hearing with tone_ear.Ear); one generator peer (the lawyer's
browser: complete offer, Opus, 1200 Hz in bursts of 500 ms on / 500 ms off).

Per N (calls started --ramp-ms apart, then all talking for --seconds):
- CPU: Janus's per call (its process only), the generator's per peer, this process's
  (callers and Janus client) per call, each as a share of one core;
- accept to first audio, p50/p99: from the accept (room creation and the browser's offer
  begin together) to the caller first hearing the lawyer's tone, and to the lawyer first
  hearing the caller's;
- clean both ways: lawyer hears the caller in >= 95 % of 100 ms windows; the caller hears
  >= 95 % of the bursts sent, and the tone in >= 95 % of the windows inside them (shifted
  by the call's median delay, 50 ms in from each edge), and the one-way delay of a burst
  (lawyer -> caller).
The last lines: `largest N with clean audio both ways: N` and `cpu_per_call=...
estimate_calls=...` (calls per core of Janus at the largest clean N's per-call CPU, or
the largest N's if none was clean: an estimate, not measured).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import os
import random
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np

BENCH = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(BENCH))
from cpu import cpu_seconds  # noqa: E402
from peers.client import WebRTCPeers  # noqa: E402
from peers.tone_ear import RATE, Ear, share_in, ulaw_encode, ulaw_table  # noqa: E402

from lawline.config import Settings  # noqa: E402
from lawline.media.janus_client import AudioBridge, JanusClient, JanusSession  # noqa: E402
from lawline.media.janus_process import MediaSupervisor, prepare_janus  # noqa: E402
from lawline.media.settings import MediaSettings  # noqa: E402

NETNS = "lawline-bench"
SRV_IP, CLI_IP = "10.77.19.1", "10.77.19.2"
RTP_IP = "127.0.0.1"  # callers <-> Janus's plain RTP: loopback, as workers on its node
CALLER_HZ, LAWYER_HZ = 440, 1200
CLONE_NEWNET = 0x40000000
CLEAN = 0.95
EDGE_S = 0.05


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


def enter_netns(name: str) -> None:
    """Make `name` (a veth pair in it with both addresses) if missing; move this thread
    (before any other starts) and so every child into it."""
    if not Path(f"/var/run/netns/{name}").exists():
        ip("netns", "add", name)
        ip("-n", name, "link", "set", "lo", "up")
        ip("-n", name, "link", "add", "lbench0", "type", "veth", "peer", "name", "lbench1")
        ip("-n", name, "addr", "add", f"{SRV_IP}/24", "dev", "lbench0")
        ip("-n", name, "addr", "add", f"{CLI_IP}/24", "dev", "lbench1")
        ip("-n", name, "link", "set", "lbench0", "up")
        ip("-n", name, "link", "set", "lbench1", "up")
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/var/run/netns/{name}", os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns failed")
    finally:
        os.close(fd)
    addresses = subprocess.run(["ip", "-br", "addr"], capture_output=True, text=True).stdout
    if SRV_IP not in addresses or CLI_IP not in addresses:
        raise SystemExit(f"{name} lacks {SRV_IP} and {CLI_IP}: delete it and run again")


# ----- the plain-RTP callers ---------------------------------------------------------------

ULAW = ulaw_table()
# One second of 440 Hz is a whole number of cycles: 50 packets said again and again.
_tone = 12000 * np.sin(2 * np.pi * CALLER_HZ * np.arange(RATE) / RATE)
TONE_PACKETS = [ulaw_encode(_tone[k * 160 : (k + 1) * 160]) for k in range(50)]


class Caller(asyncio.DatagramProtocol):
    """The telephony side of one call: says 440 Hz to Janus, hears the lawyer's tone."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.to: tuple[str, int] | None = None
        self.ear = Ear(LAWYER_HZ)
        self.ssrc, self.seq, self.ts = random.getrandbits(32), random.getrandbits(16), 0
        self.received = 0
        self.ts0: int | None = None  # the first packet's RTP timestamp, and
        self.anchor = 0.0  # the earliest arrival its timeline allows (time.monotonic())

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if len(data) < 12:
            return
        arrived = time.monotonic()
        self.received += 1
        skip = 12 + 4 * (data[0] & 0x0F)
        if data[0] & 0x10 and len(data) >= skip + 4:  # a header extension
            skip += 4 + 4 * struct.unpack_from("!H", data, skip + 2)[0]
        # Heard on the sender's timeline (RTP timestamps), anchored to the earliest
        # arrival: as a phone's jitter buffer plays it, so this process's own scheduling
        # delays are not counted as gaps in Janus's audio.
        ts = struct.unpack_from("!I", data, 4)[0]
        if self.ts0 is None:
            self.ts0, self.anchor = ts, arrived
        offset = ((ts - self.ts0) & 0xFFFFFFFF) / RATE
        if abs(arrived - (self.anchor + offset)) > 1.0:  # a new timeline
            self.ts0, self.anchor, offset = ts, arrived, 0.0
        self.anchor = min(self.anchor, arrived - offset)
        self.ear.feed(ULAW[np.frombuffer(data[skip:], dtype=np.uint8)], self.anchor + offset)

    def send_next(self) -> None:
        if self.transport is None or self.to is None:
            return
        header = struct.pack("!BBHII", 0x80, 0, self.seq & 0xFFFF, self.ts, self.ssrc)
        self.transport.sendto(header + TONE_PACKETS[self.seq % 50], self.to)
        self.seq, self.ts = self.seq + 1, (self.ts + 160) & 0xFFFFFFFF


async def say_all(callers: list[Caller]) -> None:
    """Every caller's next packet each 20 ms, by the clock (one timer for all)."""
    started, n = time.monotonic(), 0
    while True:
        for caller in callers:
            caller.send_next()
        n += 1
        await asyncio.sleep(max(0.0, started + n * 0.02 - time.monotonic()))


# ----- one call ----------------------------------------------------------------------------


@dataclass
class Call:
    name: str
    caller: Caller
    session: JanusSession | None = None
    rooms: AudioBridge | None = None  # the handle that made the room (and destroys it)
    accept_t: float = 0.0
    caller_heard_t: float | None = None
    lawyer_heard_t: float | None = None
    offer_t: float | None = None
    error: str = ""
    figures: dict[str, Any] = field(default_factory=dict)


async def open_call(
    call: Call, client: JanusClient, admin_key: str, peers: WebRTCPeers, media: MediaSettings
) -> None:
    call.accept_t = time.monotonic()
    # The browser makes its offer while the worker makes the room and joins it.
    offer = asyncio.create_task(peers.offer(call.name))
    stage = "session"
    try:
        call.session = session = await client.session()
        stage = "room"
        call.rooms = rooms = await AudioBridge.attach(session, admin_key)
        await rooms.create_room(
            call.name, sampling_rate=media.sampling_rate, prebuffer=media.prebuffer
        )
        stage = "join_rtp"
        assert call.caller.transport is not None
        port = call.caller.transport.get_extra_info("sockname")[1]
        rtp = await rooms.join_rtp(call.name, RTP_IP, port)
        call.caller.ear.t0 = time.monotonic()
        call.caller.to = (rtp.ip, rtp.port)
        stage = "offer"
        lawyer = await AudioBridge.attach(session, admin_key)
        sdp = await offer
        call.offer_t = time.monotonic()
        stage = "join_webrtc"
        answer = await lawyer.join_webrtc(call.name, sdp, display="lawyer")
        peers.answer(call.name, answer)
    except Exception as exc:
        offer.cancel()
        call.error = f"{stage}: {type(exc).__name__}: {exc}"


async def close_call(call: Call) -> None:
    if call.caller.transport is not None:
        call.caller.transport.close()
    if call.rooms is not None:  # a room outlives its participants' sessions
        with contextlib.suppress(Exception):
            await call.rooms.destroy_room(call.name)
    if call.session is not None:
        with contextlib.suppress(Exception):
            await call.session.destroy()


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _span(marks: str, t0: float | None, m0: float, m1: float) -> str:
    if t0 is None:
        return ""
    return marks[max(0, int((m0 - t0) / 0.1)) : max(0, int((m1 - t0) / 0.1))]


def judge(call: Call, peer: dict[str, Any], m0: float, m1: float) -> dict[str, Any]:
    """One call's figures over the measured interval [m0, m1]."""
    heard_lawyer = call.caller.ear.summary()
    lawyer_share = (
        share_in(peer["windows"], peer["answer_t"], [(m0, m1)]) if peer["answer_t"] else None
    )
    sent = [s for s in peer["sent_onsets"] if m0 <= s <= m1 - 1.0]
    onsets = heard_lawyer["heard_onsets"]
    delays = []
    for s in sent:
        match = [h - s for h in onsets if s - 0.02 <= h <= s + 0.45]
        if match:
            delays.append(match[0])
    delay = statistics.median(delays) if delays else None
    caller_share = None
    if delay is not None and call.caller.ear.t0 is not None:
        # Inside each burst, EDGE_S in from both ends: where an onset falls within a
        # packet or a mix tick is delay jitter, measured apart, not a dropout.
        on = [(s + delay + EDGE_S, s + delay + 0.5 - EDGE_S) for s in sent]
        caller_share = share_in(heard_lawyer["windows"], call.caller.ear.t0, on)
    first = [t for t in (call.caller_heard_t, call.lawyer_heard_t) if t is not None]
    phases = {
        f"accept_to_{k}_s": peer[f"{k}_t"] - call.accept_t
        for k in ("answer", "connected")
        if peer.get(f"{k}_t") is not None
    }
    if call.offer_t is not None:
        phases["accept_to_offer_s"] = call.offer_t - call.accept_t
    clean = (
        lawyer_share is not None
        and lawyer_share >= CLEAN
        and bool(sent)
        and len(delays) / len(sent) >= CLEAN
        and caller_share is not None
        and caller_share >= CLEAN
    )
    return {
        "lawyer_hears_share": lawyer_share,
        "bursts_sent": len(sent),
        "bursts_heard": len(delays),
        "caller_hears_share": caller_share,
        "delay_lawyer_to_caller_s": delay,
        "accept_to_caller_hears_s": (
            call.caller_heard_t - call.accept_t if call.caller_heard_t else None
        ),
        "accept_to_lawyer_hears_s": (
            call.lawyer_heard_t - call.accept_t if call.lawyer_heard_t else None
        ),
        "accept_to_both_s": max(first) - call.accept_t if len(first) == 2 else None,
        "clean": clean,
        **phases,
        # What each side heard in the measured interval, 100 ms a character (tone_ear).
        "lawyer_heard": _span(peer["windows"], peer["answer_t"], m0, m1),
        "caller_heard": _span(heard_lawyer["windows"], call.caller.ear.t0, m0, m1),
    }


async def run_n(
    n: int,
    args: argparse.Namespace,
    media: MediaSupervisor,
    settings: MediaSettings,
) -> dict[str, Any]:
    client = media.server.client(timeout_s=15)  # not 5: a loaded Janus answers slowly
    admin_key = media.server.config.secrets.admin_key
    janus_pid = media.pid
    assert janus_pid is not None
    loop = asyncio.get_running_loop()
    gen_args = ["--ice-ip", CLI_IP, "--send-hz", str(LAWYER_HZ), "--hear-hz", str(CALLER_HZ)]
    peers = await WebRTCPeers.start(gen_args)
    t_idle, j_idle, g_idle = time.monotonic(), cpu_seconds(janus_pid), cpu_seconds(peers.pid)
    await asyncio.sleep(2)
    idle_s = time.monotonic() - t_idle
    janus_idle = (cpu_seconds(janus_pid) - j_idle) / idle_s
    gen_idle = (cpu_seconds(peers.pid) - g_idle) / idle_s

    calls: list[Call] = []
    for i in range(n):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((RTP_IP, 0))
        _, caller = await loop.create_datagram_endpoint(Caller, sock=sock)
        calls.append(Call(f"bench-{n}-{i}-{random.getrandbits(24):06x}", caller))
    saying = asyncio.create_task(say_all([c.caller for c in calls]))
    opening: list[asyncio.Task[None]] = []
    try:
        for call in calls:
            opening.append(asyncio.create_task(open_call(call, client, admin_key, peers, settings)))
            await asyncio.sleep(args.ramp_ms / 1000)
        await asyncio.gather(*opening)
        if any(c.error.startswith("offer") for c in calls):  # what the generator got to
            steps = (await peers.stats())["peers"]
            for call in calls:
                if call.error.startswith("offer"):
                    peer = steps.get(call.name, {})
                    done = {k: round(t - call.accept_t, 3) for k, t in peer["steps"].items()}
                    print(f"  no offer: {peer.get('signaling')} {done}", flush=True)

        async def heard(call: Call) -> None:
            if call.error:
                return
            with contextlib.suppress(TimeoutError):
                call.lawyer_heard_t = await peers.wait(call.name, "heard", args.timeout)
            deadline = time.monotonic() + args.timeout
            while call.caller.ear.first_heard is None and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            call.caller_heard_t = call.caller.ear.first_heard

        await asyncio.gather(*(heard(c) for c in calls))
        await asyncio.sleep(2)  # settled

        own = os.getpid()
        m0 = time.monotonic()
        j0, g0, b0 = cpu_seconds(janus_pid), cpu_seconds(peers.pid), cpu_seconds(own)
        await asyncio.sleep(args.seconds)
        m1 = time.monotonic()
        j1, g1, b1 = cpu_seconds(janus_pid), cpu_seconds(peers.pid), cpu_seconds(own)
        stats = await peers.stats(timeout_s=30)
    finally:
        saying.cancel()
        for call in calls:  # one by one, as calls end (the generator's close path)
            peers.close(call.name)
        try:
            await peers.wait_closed([c.name for c in calls], 10 + n / 2)
        except TimeoutError:
            print(f"  the generator did not close every peer in {10 + n / 2} s", flush=True)
        await peers.quit()
        await asyncio.gather(*(close_call(c) for c in calls))
    span = m1 - m0
    for call in calls:
        peer = stats["peers"].get(call.name)
        if peer is not None and not call.error:
            call.figures = judge(call, peer, m0, m1)
    judged = [c.figures for c in calls if c.figures]
    clean = sum(1 for f in judged if f["clean"])

    def values(key: str) -> list[float]:
        return [f[key] for f in judged if f.get(key) is not None]

    to_both = values("accept_to_both_s")
    result = {
        "calls": n,
        "sampling_rate": settings.sampling_rate,
        "prebuffer": settings.prebuffer,
        "seconds": round(span, 2),
        "opened": n - sum(1 for c in calls if c.error),
        "errors": sorted({c.error for c in calls if c.error})[:5],
        "generator_errors": peers.errors[:5],
        "clean_calls": clean,
        "all_clean": clean == n,
        "janus_cpu_per_call": (j1 - j0) / span / n,
        "janus_cpu_idle": janus_idle,
        "generator_cpu_per_peer": (g1 - g0) / span / n,
        "generator_cpu_idle": gen_idle,
        "callers_cpu_per_call": (b1 - b0) / span / n,
        "accept_to_both_p50_s": pct(to_both, 0.5),
        "accept_to_both_p99_s": pct(to_both, 0.99),
        "accept_to_caller_hears_p50_s": pct(values("accept_to_caller_hears_s"), 0.5),
        "accept_to_lawyer_hears_p50_s": pct(values("accept_to_lawyer_hears_s"), 0.5),
        "delay_lawyer_to_caller_p50_s": pct(values("delay_lawyer_to_caller_s"), 0.5),
        "phases_p50_s": {
            k: pct(values(f"accept_to_{k}_s"), 0.5)
            for k in ("offer", "answer", "connected", "caller_hears", "lawyer_hears")
        },
        "lawyer_hears_share_min": min(values("lawyer_hears_share"), default=None),
        "caller_hears_share_min": min(values("caller_hears_share"), default=None),
        "bursts_heard_min_share": min(
            (f["bursts_heard"] / f["bursts_sent"] for f in judged if f["bursts_sent"]),
            default=None,
        ),
        "loadavg": Path("/proc/loadavg").read_text().split()[:3],
        "per_call": judged,
    }
    return result


def fmt(v: Any, pattern: str = "{:.3f}") -> str:
    return "-" if v is None else pattern.format(v)


def row(r: dict[str, Any]) -> str:
    ms = "{:.0f}"
    return (
        f"N={r['calls']:>3} clean {r['clean_calls']:>3}/{r['calls']:<3}"
        f" janus/call {fmt(r['janus_cpu_per_call'] * 100, '{:.2f}')}%"
        f" gen/peer {fmt(r['generator_cpu_per_peer'] * 100, '{:.2f}')}%"
        f" callers/call {fmt(r['callers_cpu_per_call'] * 100, '{:.2f}')}%"
        f" accept->both p50 {fmt(_ms(r['accept_to_both_p50_s']), ms)} ms"
        f" p99 {fmt(_ms(r['accept_to_both_p99_s']), ms)} ms"
        f" delay l->c {fmt(_ms(r['delay_lawyer_to_caller_p50_s']), ms)} ms"
        f" hear min l {fmt(r['lawyer_hears_share_min'], '{:.2f}')}"
        f" c {fmt(r['caller_hears_share_min'], '{:.2f}')}"
        f" bursts {fmt(r['bursts_heard_min_share'], '{:.2f}')}"
        "\n      accept-> p50 ms: "
        + " ".join(f"{k} {fmt(_ms(v), ms)}" for k, v in r["phases_p50_s"].items())
    )


def _ms(v: float | None) -> float | None:
    return None if v is None else v * 1000


async def main_async(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="lawline-bench-") as tmp:
        media_settings = MediaSettings(
            enabled=True,
            api_host=SRV_IP,
            admin_host=SRV_IP,
            interfaces=[SRV_IP],
            start_timeout_s=20,
            sampling_rate=args.sampling_rate,
            prebuffer=args.prebuffer,
        )
        settings = Settings(data_dir=Path(tmp), media=media_settings)
        server = prepare_janus(settings)
        log_dir = Path(tmp) / "logs"
        log_dir.mkdir()
        media = MediaSupervisor(server, os.environ, log_dir, media_settings.start_timeout_s)
        await media.start()
        results = []
        try:
            for n in args.calls:
                try:
                    r = await run_n(n, args, media, media_settings)
                except Exception as exc:  # the next N may still run
                    frames = traceback.extract_tb(exc.__traceback__)
                    ours = [f for f in frames if str(BENCH) in f.filename]  # not asyncio's
                    where = (ours or frames)[-1]
                    print(
                        f"N={n:>3} failed: {type(exc).__name__}: {exc} "
                        f"({Path(where.filename).name}:{where.lineno})",
                        flush=True,
                    )
                    continue
                results.append(r)
                print(row(r), flush=True)
                if r["errors"] or r["generator_errors"]:
                    print(f"  errors: {r['errors']} {r['generator_errors']}", flush=True)
                if args.out:
                    Path(args.out).write_text(json.dumps(results, indent=1) + "\n")
                await asyncio.sleep(2)  # Janus lets the last calls go
                left = await media.client.plugin_request(
                    "janus.plugin.audiobridge",
                    {"request": "list", "admin_key": media.server.config.secrets.admin_key},
                )
                if left.get("list"):
                    print(f"  {len(left['list'])} rooms left on Janus", flush=True)
        finally:
            await media.stop()
    clean = [r for r in results if r["all_clean"]]
    largest = max(clean, key=lambda r: r["calls"]) if clean else None
    print(f"largest N with clean audio both ways: {largest['calls'] if largest else 0}")
    # Janus's CPU per call at the largest clean N (else the largest measured), and the
    # calls one core of Janus would carry at that rate: an estimate, not a measurement.
    basis = largest or max(results, key=lambda r: r["calls"], default=None)
    if basis is not None:
        per_call = basis["janus_cpu_per_call"]
        estimate = int(1 / per_call) if per_call > 0 else 0
        print(f"cpu_per_call={per_call:.4f} estimate_calls={estimate}")


def table(results: list[dict[str, Any]]) -> str:
    """The results as GENERATOR.md's table (% of one core; ms)."""

    def pc(v: float | None) -> str:
        return fmt(None if v is None else v * 100, "{:.2f}")

    def ms(v: float | None) -> str:
        return fmt(_ms(v), "{:.0f}")

    lines = [
        "| N | clean calls | Janus % core per call | generator % core per peer "
        "| callers % core per call | accept -> both hear p50 / p99 | -> offer / answer / "
        "connected / lawyer hears / caller hears (p50) | lawyer -> caller delay p50 "
        "| min share heard: lawyer / caller / bursts | load avg |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        phases = " / ".join(
            ms(r["phases_p50_s"][k])
            for k in ("offer", "answer", "connected", "lawyer_hears", "caller_hears")
        )
        shares = " / ".join(
            fmt(r[k], "{:.2f}")
            for k in ("lawyer_hears_share_min", "caller_hears_share_min", "bursts_heard_min_share")
        )
        lines.append(
            f"| {r['calls']} | {r['clean_calls']}/{r['calls']} | {pc(r['janus_cpu_per_call'])} "
            f"| {pc(r['generator_cpu_per_peer'])} | {pc(r['callers_cpu_per_call'])} "
            f"| {ms(r['accept_to_both_p50_s'])} / {ms(r['accept_to_both_p99_s'])} | {phases} "
            f"| {ms(r['delay_lawyer_to_caller_p50_s'])} | {shares} | {r['loadavg'][0]} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--calls", type=lambda s: [int(x) for x in s.split(",")], default=[1, 10, 20, 40, 60]
    )
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--ramp-ms", type=float, default=100.0)
    parser.add_argument("--timeout", type=float, default=15.0)
    parser.add_argument("--out", default="", help="write the results (JSON) here")
    parser.add_argument("--table", default="", help="print a results file as a table, only")
    defaults = MediaSettings()
    parser.add_argument("--sampling-rate", type=int, default=defaults.sampling_rate)
    parser.add_argument("--prebuffer", type=int, default=defaults.prebuffer)
    args = parser.parse_args()
    if args.table:
        print(table(json.loads(Path(args.table).read_text())))
        return
    if os.geteuid() != 0:
        raise SystemExit("run as root: it makes a network namespace")
    enter_netns(NETNS)
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
