"""SIPp against one telephony worker: call set-up time and CPU per held call.

Run by hand: .venv/bin/python bench/sip_bench.py
- set-up: short calls (answer, 200 ms, BYE) at 5, 10 and 20 new calls per second;
  INVITE to 200 OK, p50/p99, from SIPp's own round-trip trace;
- CPU: the worker's CPU idle, then with 4 calls held (its most) playing the
  greeting while SIPp sends G.711 audio, per held call and in MHz of this CPU,
  beside Asterisk's published ~100 G.711 calls per GHz (10 MHz per call).
Everything on 127.0.0.1; a private redis-server; prompts built into a temp dir.

With --front: Kamailio in front of a pool of workers, as `lawline serve` runs them:
- set-up through Kamailio at 10, 30 and 50 new calls per second (p50/p99);
- held calls: --held callers (default 100) in the menu and then the queue at once,
  each sending G.711; how many were answered and queued, a softphone among them
  checking it hears audio, and CPU per held call (all workers and Kamailio);
- where the limit comes from: calls per worker, CPU left, and Kamailio's share.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cpu import cpu_mhz, cpu_seconds  # bench/ is on sys.path when run as a script

from lawline.queue.keys import QueueKeys
from lawline.redis_server import EmbeddedRedis
from lawline.telephony import prompts

# The SIPp scenario builder the telephony tests use (run from anywhere).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.front_helpers import Pool, routed, sip_pool
from tests.ports import free_sip_port
from tests.sip_helpers import scenario

# Short calls for set-up time; held calls with the caller sending G.711 for CPU.
PCAP_S = 7  # SIPp's g711a.pcap: 7.05 s of speech
SHORT = scenario("short", [("pause", 200), ("bye", None)])


def held_calls(seconds: float) -> str:
    return scenario(
        "held", [("audio", "g711a.pcap"), ("pause", int(seconds * 1000)), ("bye", None)]
    )


def sipp(work: Path, port: int, xml: str, calls: int, rate: float, limit: int) -> Path:
    path = work / "bench.xml"
    path.write_text(xml)
    for old in work.glob("bench_*_rtt.csv"):
        old.unlink()
    subprocess.run(
        ["sipp", "-sf", str(path), "-s", "12348", f"127.0.0.1:{port}",
         "-i", "127.0.0.1", "-mi", "127.0.0.1", "-p", str(free_sip_port()),
         "-m", str(calls), "-r", str(rate), "-l", str(limit), "-nostdin",
         "-trace_rtt", "-rtt_freq", "1", "-timeout", "120s"],
        cwd=work, capture_output=True, timeout=180,
    )  # fmt: skip
    return next(work.glob("bench_*_rtt.csv"), work / "missing.csv")


def sipp_totals(screen: str) -> tuple[int, int]:
    """Successful and failed calls from SIPp's last screen. Its rows are
    `Successful call | <last period> | <cumulated>`: the cumulated column counts."""
    totals = {}
    for line in screen.splitlines():
        m = re.match(r"\s*(Successful|Failed) call\s*\|\s*\d+\s*\|\s*(\d+)", line)
        if m:
            totals[m.group(1)] = int(m.group(2))
    return totals.get("Successful", -1), totals.get("Failed", -1)


def setup_times_ms(rtt_csv: Path) -> list[float]:
    if not rtt_csv.exists():
        return []
    rows = rtt_csv.read_text().splitlines()[1:]
    return [float(r.split(";")[1]) for r in rows if r.count(";") >= 2]


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="5,10,20", help="new calls per second")
    parser.add_argument("--seconds", type=float, default=10, help="per rate")
    parser.add_argument("--hold-s", type=float, default=15, help="CPU window with 4 calls")
    parser.add_argument("--front", action="store_true", help="through Kamailio to a pool")
    parser.add_argument("--held", type=int, default=100, help="simultaneous calls (--front)")
    parser.add_argument("--workers", type=int, default=0, help="pool size; 0: held/4 + 1")
    args = parser.parse_args()
    if args.front:
        if args.rates == "5,10,20":
            args.rates = "10,30,50"
        print(run_front(args))
        return

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        prompts.build(work / "prompts")
        with EmbeddedRedis(work / "redis", appendfsync="everysec") as redis:
            sip_port = free_sip_port()
            env = {
                **os.environ,
                "LAWLINE_DATA_DIR": str(work / "data"),
                "LAWLINE_REDIS_URL": redis.url,
                "LAWLINE_TELEPHONY__PROMPTS_DIR": str(work / "prompts"),
            }
            worker = subprocess.Popen(
                [sys.executable, "-m", "lawline", "telephony-worker", "--sip-port",
                 str(sip_port), "--rtp-port", "42000", "--log-level", "WARNING"],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            try:
                time.sleep(3)
                figures = run(work, sip_port, worker.pid, args)
            finally:
                worker.send_signal(signal.SIGTERM)
                worker.wait(timeout=30)
    print(figures)


def run(work: Path, port: int, pid: int, args: argparse.Namespace) -> str:
    parts = []
    print(f"{'calls/s':>8} {'calls':>6} {'answered':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for rate in (float(r) for r in args.rates.split(",")):
        calls = int(rate * args.seconds)
        times = setup_times_ms(sipp(work, port, SHORT, calls, rate, limit=4))
        p50, p99 = pct(times, 50), pct(times, 99)
        print(f"{rate:>8.0f} {calls:>6} {len(times):>8} {p50:>8.2f} {p99:>8.2f}")
        parts.append(f"calls_per_s={rate:g} p50_ms={p50:.2f} p99_ms={p99:.2f} n={len(times)}")

    idle_start, t0 = cpu_seconds(pid), time.monotonic()
    time.sleep(5)
    idle = (cpu_seconds(pid) - idle_start) / (time.monotonic() - t0)

    # Four calls (a worker's most) held, greeting playing, caller sending G.711.
    (work / "bench.xml").write_text(held_calls(args.hold_s))
    held = subprocess.Popen(
        ["sipp", "-sf", str(work / "bench.xml"), "-s", "12348", f"127.0.0.1:{port}",
         "-i", "127.0.0.1", "-mi", "127.0.0.1", "-p", str(free_sip_port()),
         "-m", "4", "-r", "4", "-l", "4", "-nostdin", "-timeout", "120s"],
        cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(2)  # all four set up
    established = sum(
        1
        for line in Path("/proc/net/udp").read_text().splitlines()[1:]
        if int(line.split()[1].split(":")[1], 16) in range(42000, 42400)
    )
    print(f"RTP sockets open on the worker while holding: {established}")
    busy_start, t0 = cpu_seconds(pid), time.monotonic()
    time.sleep(max(1.0, args.hold_s - 4))
    busy = (cpu_seconds(pid) - busy_start) / (time.monotonic() - t0)
    if held.wait(timeout=args.hold_s + 60) != 0:
        print("WARNING: not every held call completed; the CPU figure is not for 4 calls")
    per_call = (busy - idle) / 4
    mhz = per_call * cpu_mhz()
    print(
        f"worker CPU: idle {idle:.1%}, 4 calls held {busy:.1%}, per call {per_call:.2%}"
        f" = {mhz:.0f} MHz of this CPU (Asterisk's published figure: ~10 MHz per call)"
    )
    parts.append(f"idle_cpu={idle:.1%} per_held_call={per_call:.2%} mhz_per_call={mhz:.0f}")
    return " | ".join(parts)


def _pids(pool: Pool) -> list[int]:
    """Every process of the pool: workers, Kamailio and Kamailio's own forks."""
    roots = {p.pid for p in pool.children.procs.values()}
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                pgid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[2])
            except (OSError, IndexError, ValueError):
                continue
            if pgid in roots:
                pids.append(int(entry.name))
    return pids


def _cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError):  # a Kamailio fork that ended
            total += cpu_seconds(pid)
    return total


def run_front(args: argparse.Namespace) -> str:
    import wave
    from array import array

    workers = args.workers or args.held // 4 + 1
    parts = [f"workers={workers}"]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        prompts.build(work / "prompts")
        with (
            EmbeddedRedis(work / "redis", appendfsync="everysec") as redis,
            sip_pool(
                work,
                redis.url,
                work / "prompts",
                workers=workers,
                invites_per_s=200,
                pike_requests=100000,
            ) as pool,
        ):
            kamailio = [
                pid
                for pid in _pids(pool)
                if pid not in {p.pid for n, p in pool.children.procs.items() if n != "kamailio"}
            ]
            print(f"{'calls/s':>8} {'calls':>6} {'answered':>8} {'p50 ms':>8} {'p99 ms':>8}")
            for rate in (float(r) for r in args.rates.split(",")):
                calls = int(rate * args.seconds)
                times = setup_times_ms(
                    sipp(work, pool.port, routed(SHORT), calls, rate, limit=workers * 4)
                )
                p50, p99 = pct(times, 50), pct(times, 99)
                print(f"{rate:>8.0f} {calls:>6} {len(times):>8} {p50:>8.2f} {p99:>8.2f}")
                parts.append(
                    f"calls_per_s={rate:g} p50_ms={p50:.2f} p99_ms={p99:.2f} n={len(times)}"
                )
            time.sleep(3)
            pids = _pids(pool)
            idle_start, t0 = _cpu(pids), time.monotonic()
            time.sleep(5)
            idle = (_cpu(pids) - idle_start) / (time.monotonic() - t0)

            hold_s = args.hold_s + args.held / 10 + 10
            # The caller talks the whole time (SIPp's pcap is 7 s, played again and
            # again): a line silent for rtp_timeout_s is taken for dead and hung up.
            talking = [("audio", "g711a.pcap"), ("pause", PCAP_S * 1000)] * math.ceil(
                hold_s / PCAP_S
            )
            xml = routed(
                scenario(
                    "held",
                    [
                        ("audio", "g711a.pcap"),
                        ("pause", 500),
                        ("keys", "2"),
                        ("pause", PCAP_S * 1000 - 500),
                        *talking,
                        ("bye", None),
                    ],
                )
            )
            (work / "held.xml").write_text(xml)
            held = subprocess.Popen(
                ["sipp", "-sf", str(work / "held.xml"), "-s", "12348",
                 f"127.0.0.1:{pool.port}", "-i", "127.0.0.1", "-mi", "127.0.0.1",
                 "-p", str(free_sip_port()), "-m", str(args.held), "-r", "10",
                 "-l", str(args.held), "-nostdin", "-timeout", f"{int(hold_s + 120)}s"],
                cwd=work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            )  # fmt: skip
            from redis import Redis

            client = Redis.from_url(redis.url)
            ramp_end = time.monotonic() + args.held / 10 + 8
            while time.monotonic() < ramp_end:
                time.sleep(1)
            queued = int(client.zcard(QueueKeys("ll").waiting))
            heard = work / "heard.wav"
            softphone = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve().parents[1] / "tests" /
                 "pjsua_caller.py"), f"sip:12348@127.0.0.1:{pool.port}", str(heard), "8",
                 str(free_sip_port()), "--keys", "2"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            busy_start, t0 = _cpu(pids), time.monotonic()
            kam_start = _cpu(kamailio)
            time.sleep(max(1.0, args.hold_s - 5))
            span = time.monotonic() - t0
            busy = (_cpu(pids) - busy_start) / span
            kam = (_cpu(kamailio) - kam_start) / span
            softphone.wait(timeout=60)
            loud = 0.0
            if heard.exists():
                with wave.open(str(heard)) as w:
                    samples = array("h", w.readframes(w.getnframes()))
                loud = max((abs(x) for x in samples[len(samples) // 3 :]), default=0)
            out, _ = held.communicate(timeout=hold_s + 180)
            ok, failed = sipp_totals(out)
            if failed:
                print("SIPp's last screen:\n" + "\n".join(out.splitlines()[-40:]))
            client.close()
    cores = os.cpu_count() or 1
    per_call = (busy - idle) / max(1, args.held)
    print(
        f"held: {args.held} offered, {queued} queued at once, SIPp {ok} ok / {failed} failed;"
        f" softphone among them heard peak {loud:.0f} (silence < 1000)"
    )
    print(
        f"CPU (all workers + Kamailio, share of one core): idle {idle:.0%}, holding {busy:.0%}"
        f" of {cores * 100}%; per held call {per_call:.2%} = {per_call * cpu_mhz():.0f} MHz;"
        f" Kamailio {kam:.1%}"
    )
    limit_key, limit = (
        ("cpu", "CPU")
        if busy > 0.85 * cores
        else ("calls_per_worker", "calls per worker (4) x workers")
        if queued >= workers * 4 - 4
        else ("neither", "neither: raise --held")
    )
    print(f"limit: {limit}; CPU-bound estimate {int(cores * 0.85 / max(per_call, 1e-6))} calls")
    parts += [
        f"held={args.held} queued={queued} ok={ok} failed={failed} heard_peak={loud:.0f}",
        f"idle_cpu={idle:.0%} busy_cpu={busy:.0%} per_call={per_call:.2%}"
        f" kamailio={kam:.1%} limit={limit_key}",
    ]
    return " | ".join(parts)


if __name__ == "__main__":
    main()
