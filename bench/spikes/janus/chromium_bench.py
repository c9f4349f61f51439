"""The AudioBridge 1:1 call with a real browser: headless Debian Chromium (Playwright)
in s19j-cli as the lawyer, the plain-RTP trunk leg (G.711) as the caller.

Run as root: .venv/bin/python bench/spikes/janus/chromium_bench.py --calls 1,4
One tab per call. The page makes the PeerConnection and says 1200 Hz in bursts (WebAudio
oscillator -> MediaStreamDestination, gain toggled every 500 ms, onset times recorded in
wall-clock ms); it listens to Janus's audio with an AnalyserNode polled every 5 ms
(Goertzel at 440 Hz over 10.7 ms) and records onsets. Python does the Janus signalling
(the page hands over its complete offer) and runs the trunk legs with wall-clock times,
so both directions are compared on one clock. "Ear" here is WebAudio's graph, not the
sound card (add the device's output latency).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import socket
import sys
import time
from pathlib import Path

import httpx
from playwright.async_api import async_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lab
from audiobridge_bench import Trunk, delays, pct, ticker

PAGE_JS = r"""
async () => {
  const ctx = new AudioContext({sampleRate: 48000});
  await ctx.resume();
  const osc = ctx.createOscillator(); osc.frequency.value = 1200;
  const gain = ctx.createGain(); gain.gain.value = 0;
  const dest = ctx.createMediaStreamDestination();
  osc.connect(gain).connect(dest); osc.start();
  const pc = new RTCPeerConnection();
  pc.addTrack(dest.stream.getAudioTracks()[0], dest.stream);
  const st = {sent: [], heard: [], first: null, pc, ctx};
  window.st = st;
  const now = () => performance.timeOrigin + performance.now();
  pc.ontrack = (ev) => {
    const audio = new Audio();
    audio.muted = true;
    audio.srcObject = ev.streams[0] || new MediaStream([ev.track]);
    audio.play().catch(() => {});
    const src = ctx.createMediaStreamSource(new MediaStream([ev.track]));
    const an = ctx.createAnalyser(); an.fftSize = 512; src.connect(an);
    const buf = new Float32Array(an.fftSize);
    const k = 2 * Math.cos(2 * Math.PI * 440 / ctx.sampleRate);
    let quiet = 10;
    setInterval(() => {
      an.getFloatTimeDomainData(buf);
      let s1 = 0, s2 = 0, e = 0;
      for (const v of buf) { const s = v + k * s1 - s2; s2 = s1; s1 = s; e += v * v; }
      const share = e > 0 ? 2 * (s1 * s1 + s2 * s2 - k * s1 * s2) / buf.length / e : 0;
      const rms = Math.sqrt(e / buf.length);
      if (share > 0.5 && rms > 0.01) {
        if (st.first === null) st.first = now();
        if (quiet >= 10) st.heard.push(now());
        quiet = 0;
      } else quiet++;
    }, 5);
  };
  let on = false;
  const toggle = () => {
    on = !on;
    gain.gain.setValueAtTime(on ? 0.3 : 0, ctx.currentTime);
    if (on) st.sent.push(now());
  };
  st.startBursts = () => { toggle(); setInterval(toggle, 500); };
  const t0 = now();
  pc.onconnectionstatechange = () => {
    if (pc.connectionState === 'connected') st.connected = now();
  };
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  await new Promise((r) => {
    if (pc.iceGatheringState === 'complete') r();
    else pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && r();
  });
  st.gathered = now(); st.gather_ms = st.gathered - t0;
  return pc.localDescription.sdp;
}
"""


async def run_n(
    browser, j: lab.JanusProcess, n: int, args: argparse.Namespace, idle_rate: float
) -> dict:
    loop = asyncio.get_running_loop()
    async with httpx.AsyncClient() as http:
        s = await lab.Session(http, f"http://{lab.SRV_IP}:8088/janus", j.api_secret).create()
        trunks: list[Trunk] = []
        stop = asyncio.Event()

        class Holder:  # ticker() wants objects with .trunk
            def __init__(self, t: Trunk) -> None:
                self.trunk = t

        holders: list[Holder] = []
        tick = asyncio.create_task(ticker(holders, stop))  # type: ignore[arg-type]
        pages, rooms, handles, accepted, answered = [], [], [], [], []
        phases: dict[str, list[float]] = {
            "room_and_trunk_ms": [],
            "offer_incl_gathering_ms": [],
            "join_answer_ms": [],
            "answer_to_connected_ms": [],
            "connected_to_first_audio_ms": [],
        }
        for i in range(n):
            name = f"chr{n}-{i}"
            page = await browser.new_page()  # the console is open before the lawyer accepts
            t_accept = time.time()
            h1 = await s.attach("janus.plugin.audiobridge")
            await s.message(
                h1,
                {
                    "request": "create",
                    "room": name,
                    "admin_key": j.admin_secret,
                    "is_private": True,
                    "sampling_rate": args.rate,
                    "allow_rtp_participants": True,
                },
            )
            tr = Trunk()
            tr.clock = time.time  # type: ignore[assignment]
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind((lab.CLI_IP, 0))
            await loop.create_datagram_endpoint(lambda tr=tr: tr, sock=sock)
            r = await s.message(
                h1,
                {
                    "request": "join",
                    "room": name,
                    "display": "caller",
                    "codec": "pcmu",
                    "prebuffer": args.prebuffer,
                    "rtp": {"ip": lab.CLI_IP, "port": sock.getsockname()[1], "payload_type": 0},
                },
            )
            tr.remote = (
                r["plugindata"]["data"]["rtp"]["ip"],
                r["plugindata"]["data"]["rtp"]["port"],
            )
            trunks.append(tr)
            holders.append(Holder(tr))
            t_trunk = time.time()
            phases["room_and_trunk_ms"].append((t_trunk - t_accept) * 1000)
            sdp = await page.evaluate(PAGE_JS)
            t_offer = time.time()
            phases["offer_incl_gathering_ms"].append((t_offer - t_trunk) * 1000)
            h2 = await s.attach("janus.plugin.audiobridge")
            r = await s.message(
                h2,
                {"request": "join", "room": name, "display": "lawyer", "prebuffer": args.prebuffer},
                jsep={"type": "offer", "sdp": sdp},
            )
            jsep = r.get("jsep")
            while not jsep:
                jsep = (await asyncio.wait_for(s.events[h2].get(), 10)).get("jsep")
            t_answer = time.time()
            phases["join_answer_ms"].append((t_answer - t_offer) * 1000)
            answered.append(t_answer)
            await page.evaluate(
                "(a) => { st.pc.setRemoteDescription({type: 'answer', sdp: a});"
                " st.startBursts(); }",
                jsep["sdp"],
            )
            pages.append(page)
            rooms.append(name)
            handles += [h1, h2]
            accepted.append(t_accept)
        await asyncio.sleep(args.warmup)
        c0, t0m, t0 = lab.cpu_seconds(j.pid), time.monotonic(), time.time()
        load = lab.loadavg()
        await asyncio.sleep(args.seconds)
        c1, t1m, t1 = lab.cpu_seconds(j.pid), time.monotonic(), time.time()
        stop.set()
        await tick
        t2b, b2t, first = [], [], []
        for page, tr, ta in zip(pages, trunks, accepted, strict=False):
            st = await page.evaluate(
                "() => ({sent: st.sent, heard: st.heard, first: st.first, connected: st.connected})"
            )
            if st.get("connected"):
                ta_ans = answered[pages.index(page)]
                phases["answer_to_connected_ms"].append(st["connected"] - ta_ans * 1000)
                if tr.det.first:
                    phases["connected_to_first_audio_ms"].append(
                        tr.det.first * 1000 - st["connected"]
                    )
            sent = [x / 1000 for x in st["sent"]]
            heard = [x / 1000 for x in st["heard"]]
            t2b += delays(tr.sent_onsets, heard, t0, t1)
            b2t += delays(sent, tr.det.onsets, t0, t1)
            if tr.det.first:
                first.append((tr.det.first - ta) * 1000)
            await page.close()
        for name in rooms:
            await s.message(
                handles[0], {"request": "destroy", "room": name, "admin_key": j.admin_secret}
            )
        for tr in trunks:
            tr.transport.close()
        await s.destroy()
    w = t1m - t0m
    return {
        "calls": n,
        "janus_cpu_pct_core": round((c1 - c0) / w * 100, 2),
        "per_call_pct_core": round(((c1 - c0) / w - idle_rate) / n * 100, 3),
        "accept_to_first_audio_ms": {
            "p50": round(pct(first, 50)),
            "p99": round(pct(first, 99)),
            "n": len(first),
        },
        "trunk_to_browser_ms": {
            "p50": round(pct(t2b, 50)),
            "p99": round(pct(t2b, 99)),
            "bursts": len(t2b),
        },
        "browser_to_trunk_ms": {
            "p50": round(pct(b2t, 50)),
            "p99": round(pct(b2t, 99)),
            "bursts": len(b2t),
        },
        "loadavg": load,
        "phases_p50_ms": {k: round(pct(v, 50)) for k, v in phases.items()},
        "phases_max_ms": {k: round(max(v)) if v else None for k, v in phases.items()},
    }


async def main_async(j: lab.JanusProcess, args: argparse.Namespace) -> list[dict]:
    c0, t0 = lab.cpu_seconds(j.pid), time.monotonic()
    await asyncio.sleep(args.idle)
    idle = (lab.cpu_seconds(j.pid) - c0) / (time.monotonic() - t0)
    out: list[dict] = [
        {
            "idle_janus_pct_core": round(idle * 100, 3),
            "prebuffer": args.prebuffer,
            "rate": args.rate,
        }
    ]
    print(json.dumps(out[0]), flush=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=shutil.which("chromium"),
            args=[
                "--use-fake-device-for-media-stream",
                "--use-fake-ui-for-media-stream",
                "--allow-loopback-in-peer-connection",
                "--disable-features=WebRtcHideLocalIpsWithMdns",
                "--autoplay-policy=no-user-gesture-required",
                "--no-sandbox",
            ],
        )
        try:
            for n in args.calls:
                r = await run_n(browser, j, n, args, idle)
                print(json.dumps(r), flush=True)
                out.append(r)
        finally:
            await browser.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", default="1,4", type=lambda v: [int(x) for x in v.split(",")])
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--warmup", type=float, default=3)
    ap.add_argument("--idle", type=float, default=5)
    ap.add_argument("--prebuffer", type=int, default=6)
    ap.add_argument("--rate", type=int, default=16000)
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
