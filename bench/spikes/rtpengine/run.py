"""One measured run of the Kamailio + rtpengine design (run it through run.sh, which
puts it in a network namespace of its own with only loopback).

    python run.py --calls N --mode pcma|opus [--window 20] [--out results]

Starts rtpengine (userspace, --table=-1), Kamailio (websocket + rtpengine modules),
a static page server, headless Chromium with N SIP.js lawyer phones, ceil(N/2) pjsua2
bridging workers (2 conversations each = 4 pjsua2 calls) and pjsua2 callers (up to 4
calls each). Measures the CPU seconds of rtpengine, Kamailio (all its processes) and the
workers over a window with everything registered but idle, then with N conversations up,
and the delays: caller->browser (1000 Hz bursts, detected in the page) and
browser->caller (1500 Hz bursts, detected in the caller's recording), plus
worker-INVITE-to-first-RTP-in-browser. Writes results/<mode>-<N>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import wave
from pathlib import Path

import numpy as np
from playwright.async_api import async_playwright

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
PY = sys.executable
TICK = os.sysconf("SC_CLK_TCK")

COMMON = "trust-address replace-origin replace-session-connection"
FLAGS = {
    # G.711 straight through: rtpengine only does ICE, DTLS-SRTP and rtcp-mux.
    "pcma": (f"{COMMON} ICE=force RTP/SAVPF rtcp-mux-offer SDES-off generate-mid",
             f"{COMMON} ICE=remove RTP/AVP rtcp-mux-demux"),
    # The browser sees only Opus; rtpengine transcodes Opus <-> the worker's G.711.
    "opus": (f"{COMMON} ICE=force RTP/SAVPF rtcp-mux-offer SDES-off generate-mid "
             "codec-mask-all codec-transcode-opus",
             f"{COMMON} ICE=remove RTP/AVP rtcp-mux-demux"),
    # Diagnostics: transcoding to another G.711 law; Opus declared mono to rtpengine.
    "pcmu-x": (f"{COMMON} ICE=force RTP/SAVPF rtcp-mux-offer SDES-off generate-mid "
               "codec-mask-all codec-transcode-PCMU",
               f"{COMMON} ICE=remove RTP/AVP rtcp-mux-demux"),
    # Wideband without transcoding: the worker's G.722 straight to the browser.
    "g722": (f"{COMMON} ICE=force RTP/SAVPF rtcp-mux-offer SDES-off generate-mid "
             "codec-strip-PCMA codec-strip-PCMU",
             f"{COMMON} ICE=remove RTP/AVP rtcp-mux-demux"),
    # pcma with a supervisor listening to each conversation (a third leg, same worker).
    "pcma-sup": (f"{COMMON} ICE=force RTP/SAVPF rtcp-mux-offer SDES-off generate-mid",
                 f"{COMMON} ICE=remove RTP/AVP rtcp-mux-demux"),
    # Baseline: the worker holds only the caller's leg (audio looped back), no browser.
    "oneleg": ("", ""),
}  # fmt: skip


WORKER_ARGS = {"oneleg": ["oneleg"], "pcma-sup": ["super"]}


def cpu(pid: int) -> float:
    try:
        f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(f[11]) + int(f[12])) / TICK


def tree(pid: int) -> list[int]:
    """pid and all its descendants."""
    kids: dict[int, list[int]] = {}
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                ppid = int((p / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (FileNotFoundError, ProcessLookupError):
                continue
            kids.setdefault(ppid, []).append(int(p.name))
    out, todo = [], [pid]
    while todo:
        q = todo.pop()
        out.append(q)
        todo += kids.get(q, [])
    return out


class Proc:
    """A child process whose stdout lines (JSON events) are collected on a thread."""

    def __init__(self, name: str, args: list[str], log: Path, **kw: object) -> None:
        self.name = name
        self.log = open(log, "w")  # noqa: SIM115
        self.p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log, text=True,
                                  **kw)  # type: ignore[call-overload]  # fmt: skip
        self.events: list[dict] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.p.stdout is not None
        for line in self.p.stdout:
            self.log.write(line)
            self.log.flush()
            if line.startswith("{"):
                self.events.append(json.loads(line))

    def wait_event(self, event: str, count: int = 1, timeout: float = 30) -> None:
        end = time.monotonic() + timeout
        while sum(e["event"] == event for e in self.events) < count:
            if time.monotonic() > end or self.p.poll() is not None:
                raise RuntimeError(f"{self.name}: no {count}x {event} (rc {self.p.poll()})")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


def wait_ng(timeout: float = 15) -> None:
    """Until rtpengine answers an NG ping (Kamailio disables a proxy that does not)."""
    import socket

    end = time.monotonic() + timeout
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.3)
        while time.monotonic() < end:
            s.sendto(b"c1 d7:command4:pinge", ("127.0.0.1", 22222))
            try:
                if b"pong" in s.recv(200):
                    return
            except OSError:
                time.sleep(0.2)
    raise RuntimeError("rtpengine does not answer on its NG port")


def onsets(wav: Path, hz: float, on: float = 0.02, off: float = 0.005) -> list[float]:
    """Seconds into the WAV where a tone of hz starts (Goertzel over 5 ms blocks)."""
    with wave.open(str(wav)) as w:
        rate = w.getframerate()
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64) / 32768
    n = rate // 200
    k = 2 * math.cos(2 * math.pi * hz / rate)
    out, state = [], False
    for b in range(len(x) // n):
        blk = x[b * n : (b + 1) * n]
        s1 = s2 = 0.0
        for v in blk:
            s1, s2 = v + k * s1 - s2, s1
        e = math.sqrt(max(0.0, s1 * s1 + s2 * s2 - k * s1 * s2)) / n
        if not state and e > on:
            state = True
            out.append((b + 1) * n / rate)
        elif state and e < off:
            state = False
    return out


def match(sent: list[float], heard: list[float]) -> list[float]:
    """Delay of each heard burst after the latest burst sent before it (under 1.5 s)."""
    out = []
    for h in heard:
        before = [s for s in sent if s <= h]
        if before and h - before[-1] < 1.5:
            out.append(h - before[-1])
    return out


def pct(xs: list[float], p: float) -> float | None:
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))]


def summary(xs_s: list[float]) -> dict:
    xs = [x * 1000 for x in xs_s]
    if not xs:
        return {"n": 0}
    return {"n": len(xs), "median_ms": round(statistics.median(xs), 1),
            "p95_ms": round(pct(xs, 95) or 0, 1), "max_ms": round(max(xs), 1)}  # fmt: skip


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=1)
    ap.add_argument("--mode", choices=list(FLAGS), default="pcma")
    ap.add_argument("--window", type=float, default=20)
    ap.add_argument("--out", default=str(HERE / "results"))
    args = ap.parse_args()
    n = args.calls
    out = Path(args.out)
    work = Path(f"/tmp/s19rtpe-{args.mode}-{n}")
    subprocess.run(["rm", "-rf", str(work)], check=True)
    work.mkdir(parents=True)
    out.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(HERE))
    from caller import burst_wav

    burst_wav(work / "bursts_1000.wav")
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    procs: list[Proc] = []
    result: dict = {"mode": args.mode, "calls": n, "window_s": args.window}
    try:
        rtpe = Proc("rtpengine", [
            "rtpengine", "--config-file=none", "--foreground", "--log-stderr", "--table=-1",
            "--interface=127.0.0.1", "--listen-ng=127.0.0.1:22222", "--port-min=31000",
            "--port-max=32999", "--num-threads=2", "--log-level=5", "--delete-delay=0",
            *os.environ.get("RTPE_EXTRA", "").split(),
        ], work / "rtpengine.log")  # fmt: skip
        procs.append(rtpe)
        wait_ng()
        offer, answer = FLAGS[args.mode]
        cfg = (HERE / "kamailio.cfg").read_text()
        cfg = cfg.replace("RTPE_OFFER_FLAGS", offer).replace("RTPE_ANSWER_FLAGS", answer)
        (work / "kamailio.cfg").write_text(cfg)
        kam = Proc("kamailio", [
            "kamailio", "-f", str(work / "kamailio.cfg"), "-DD", "-E", "-w", str(work),
            "-Y", str(work), "-P", str(work / "kamailio.pid"), "-m", "64", "-M", "16",
        ], work / "kamailio.log")  # fmt: skip
        procs.append(kam)
        web = Proc("http", [PY, "-m", "http.server", "--bind", "127.0.0.1", "8000",
                            "--directory", str(HERE)], work / "http.log")  # fmt: skip
        procs.append(web)
        time.sleep(1.5)
        for p in procs:
            if p.p.poll() is not None:
                raise RuntimeError(f"{p.name} exited: see {work}")
        names = [f"lawyer{i + 1}" for i in range(n)]
        sup = args.mode == "pcma-sup"
        per_worker = 1 if sup else 2
        phones = names + [f"sup{nm}" for nm in names] if sup else names
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=[
                "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                "--allow-loopback-in-peer-connection", "--no-sandbox",
                "--disable-features=WebRtcHideLocalIpsWithMdns",
                "--autoplay-policy=no-user-gesture-required",
            ])  # fmt: skip
            page = await browser.new_page()
            page.on("console", lambda m: (work / "page.log").open("a").write(m.text + "\n"))
            await page.goto("http://127.0.0.1:8000/page.html")
            await page.wait_for_function("window.ready === true")
            if args.mode != "oneleg":
                await page.evaluate("([u, ns]) => startLawyers(u, ns)",
                                    ["ws://127.0.0.1:8088", phones])  # fmt: skip
            workers = []
            for w in range((n + per_worker - 1) // per_worker):
                port = 6000 + 100 * w
                wp = Proc(f"worker{w}", [PY, str(HERE / "worker.py"), str(port),
                                         "127.0.0.1:5070", *WORKER_ARGS.get(args.mode, [])],
                          work / f"worker{w}.log", env=env)  # fmt: skip
                workers.append(wp)
                procs.append(wp)
            for wp in workers:
                wp.wait_event("ready")
            kam_pids = tree(kam.p.pid)
            groups = {"rtpengine": [rtpe.p.pid], "kamailio": kam_pids,
                      "workers": [w.p.pid for w in workers]}  # fmt: skip

            def sample() -> dict[str, float]:
                return {g: sum(cpu(p) for p in ps) for g, ps in groups.items()}

            async def window() -> dict[str, float]:
                a, t0 = sample(), time.monotonic()
                await asyncio.sleep(args.window)
                b, dt = sample(), time.monotonic() - t0
                return {g: (b[g] - a[g]) / dt for g in a}  # share of one core

            await asyncio.sleep(2)
            result["load_before"] = Path("/proc/loadavg").read_text().split()[:3]
            result["idle_core_share"] = await window()
            calls_at = time.time()
            for c in range(0, n, 4):
                chunk = [f"{nm}@127.0.0.1:{6000 + 100 * (i // per_worker)}"
                         for i, nm in enumerate(names) if c <= i < c + 4]  # fmt: skip
                port = str(7000 + 100 * (c // 4))
                cp = Proc(f"caller{c // 4}", [PY, str(HERE / "caller.py"), port,
                          str(work), *chunk], work / f"caller{c // 4}.log", env=env)  # fmt: skip
                procs.append(cp)
            callers = [p for p in procs if p.name.startswith("caller")]
            for w, wp in enumerate(workers):
                k = min(per_worker, n - per_worker * w)
                wp.wait_event("bridged", k, timeout=30)
                if sup:
                    wp.wait_event("listening", k, timeout=30)
            result["setup_s"] = round(time.time() - calls_at, 2)
            await asyncio.sleep(3)
            result["busy_core_share"] = await window()
            result["load_after"] = Path("/proc/loadavg").read_text().split()[:3]
            rep = await page.evaluate("report()")
            result["browser_stats"] = await page.evaluate("stats()")
            for cp in callers:
                cp.stop()
            await asyncio.sleep(1)
            await browser.close()
        idle, busy = result["idle_core_share"], result["busy_core_share"]
        result["per_call_core_pct"] = {g: round(100 * (busy[g] - idle[g]) / n, 3) for g in idle}
        result["per_call_core_pct"]["total"] = round(sum(result["per_call_core_pct"].values()), 3)
        if args.mode == "oneleg":
            (out / f"{args.mode}-{n}.json").write_text(json.dumps(result, indent=1))
            print(json.dumps(result, indent=1))
            return
        # Delays.
        invites = {e["name"]: e["t"] for w in workers for e in w.events
                   if e["event"] == "invite_lawyer"}  # fmt: skip
        media = {e["name"]: e for cp in callers for e in cp.events if e["event"] == "media"}
        c2b, b2c, first_rtp, first_audio, per = [], [], [], [], {}
        c2b_late: list[float] = []
        b2c_late: list[float] = []
        c2s: list[float] = []
        for r in rep:
            nm = r["name"]
            if nm.startswith("sup"):
                sent = [media[nm[3:]]["play_t"] + 0.5 + 2 * k for k in range(60)]
                d = match(sent, [h / 1000 for h in r["heard"]])
                c2s += d
                per[nm] = {"c2s_ms": [round(x * 1000) for x in d]}
                continue
            sent = [media[nm]["play_t"] + 0.5 + 2 * k for k in range(60)]
            h1 = [h / 1000 for h in r["heard"]]
            d1 = match(sent, h1)
            heard = [media[nm]["rec_t"] + o for o in onsets(work / f"{nm}.wav", 1500)]
            d2 = match([s / 1000 for s in r["sent"]], heard)
            c2b += d1
            b2c += d2
            # Steady state: bursts heard 12 s or more after the calls were placed.
            c2b_late += match(sent, [h for h in h1 if h > calls_at + 12])
            b2c_late += match([s / 1000 for s in r["sent"]],
                              [h for h in heard if h > calls_at + 12])  # fmt: skip
            if r["firstRtp"] and nm in invites:
                first_rtp.append(r["firstRtp"] / 1000 - invites[nm])
            if r["firstAudio"] and nm in invites:
                first_audio.append(r["firstAudio"] / 1000 - invites[nm])
            per[nm] = {"c2b_ms": [round(x * 1000) for x in d1],
                       "b2c_ms": [round(x * 1000) for x in d2]}  # fmt: skip
        result["caller_to_browser"] = summary(c2b)
        result["browser_to_caller"] = summary(b2c)
        result["caller_to_browser_steady"] = summary(c2b_late)
        if sup:
            result["caller_to_supervisor"] = summary(c2s)
        result["browser_to_caller_steady"] = summary(b2c_late)
        result["invite_to_first_rtp"] = summary(first_rtp)
        result["lawyers_not_up"] = [r["name"] for r in rep if r["state"] != "up"]
        page_log = (work / "page.log").read_text() if (work / "page.log").exists() else ""
        result["browser_refused_sdp"] = page_log.count("without DTLS fingerprint")
        result["invite_to_first_nonzero_audio"] = summary(first_audio)
        result["per_call"] = per
        result["offer_to_browser"] = rep[0]["offer"]
        result["browser_answer"] = rep[0]["answer"]
        (out / f"{args.mode}-{n}.json").write_text(json.dumps(result, indent=1))
        long = ("per_call", "offer_to_browser", "browser_answer")
        show = {k: v for k, v in result.items() if k not in long}
        print(json.dumps(show, indent=1))
    finally:
        for p in reversed(procs):
            p.stop()


if __name__ == "__main__":
    asyncio.run(main())
