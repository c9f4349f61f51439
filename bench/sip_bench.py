"""SIPp against one telephony worker: call set-up time and CPU per held call.

Run by hand: .venv/bin/python bench/sip_bench.py
- set-up: short calls (answer, 200 ms, BYE) at 5, 10 and 20 new calls per second;
  INVITE to 200 OK, p50/p99, from SIPp's own round-trip trace;
- CPU: the worker's CPU idle, then with 4 calls held (its most) playing the
  greeting while SIPp sends G.711 audio, per held call and in MHz of this CPU,
  beside Asterisk's published ~100 G.711 calls per GHz (10 MHz per call).
Everything on 127.0.0.1; a private redis-server; prompts built into a temp dir.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cpu import cpu_mhz, cpu_seconds  # bench/ is on sys.path when run as a script

from lawline.redis_server import EmbeddedRedis
from lawline.telephony import prompts

# The SIPp scenario builder the telephony tests use (run from anywhere).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.sip_helpers import free_sip_port, scenario

# Short calls for set-up time; held calls with the caller sending G.711 for CPU.
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
    args = parser.parse_args()

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
        parts.append(f"setup@{rate:g}/s p50_ms={p50:.2f} p99_ms={p99:.2f} n={len(times)}")

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


if __name__ == "__main__":
    main()
