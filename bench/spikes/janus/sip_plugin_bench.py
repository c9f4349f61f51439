"""The Janus SIP plugin variant: browser (aiortc) <-> Janus SIP plugin <-> a SIP call.

Run as root: .venv/bin/python bench/spikes/janus/sip_plugin_bench.py --calls 1,4,10
The SIP side is SIPp's built-in UAS with -rtp_echo (10.77.19.2:5070, G.711 u-law in
its answer), standing in for the pjsua2 worker's leg: every RTP packet it gets goes back.
Per call: Janus's SIP plugin handle "registers" as a guest (no REGISTER sent), calls
sip:echo@10.77.19.2:5070 with the browser's complete offer, and the answer comes back.
The browser says 1200 Hz in bursts and hears its own bursts come back: the figure is a
round trip browser -> Janus -> SIP UA -> Janus -> browser (aiortc's jitter buffer once).
No mixing or transcoding in Janus: it only relays SRTP <-> RTP, so the browser must
speak the SIP side's codec (here PCMU).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lab
from aiortc.mediastreams import MediaStreamError
from audiobridge_bench import BROWSER_HZ, BurstTrack, Detector, delays, goertzel_fast, pct


async def listen(track: MediaStreamTrack, det: Detector) -> None:
    while True:
        try:
            frame = await track.recv()
        except MediaStreamError:
            return
        now = time.monotonic()
        a = frame.to_ndarray()
        chans = len(frame.layout.channels)
        mono = a.reshape(-1)[::chans]
        det.feed(now, *goertzel_fast(mono, frame.sample_rate, BROWSER_HZ))


async def open_call(s: lab.Session, i: int) -> dict:
    t0 = time.monotonic()
    h = await s.attach("janus.plugin.sip")
    await s.message(
        h, {"request": "register", "type": "guest", "username": f"sip:lawyer{i}@{lab.SRV_IP}"}
    )
    pc = RTCPeerConnection()
    track = BurstTrack()
    pc.addTrack(track)
    det = Detector()
    tasks: list[asyncio.Task] = []

    @pc.on("track")
    def on_track(t: MediaStreamTrack) -> None:
        tasks.append(asyncio.ensure_future(listen(t, det)))

    await pc.setLocalDescription(await pc.createOffer())
    await s.message(
        h,
        {"request": "call", "uri": f"sip:echo@{lab.CLI_IP}:5070"},
        jsep={"type": "offer", "sdp": pc.localDescription.sdp},
    )
    jsep = None
    while not jsep:
        ev = await asyncio.wait_for(s.events[h].get(), 15)
        data = ev.get("plugindata", {}).get("data", {})
        if data.get("result", {}).get("event") == "hangup":
            raise RuntimeError(f"hung up: {data}")
        jsep = ev.get("jsep")
    await pc.setRemoteDescription(RTCSessionDescription(sdp=jsep["sdp"], type=jsep["type"]))
    return {"h": h, "pc": pc, "track": track, "det": det, "t0": t0, "tasks": tasks}


async def run_n(j: lab.JanusProcess, n: int, args: argparse.Namespace, idle_rate: float) -> dict:
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=50)) as http:
        s = await lab.Session(http, f"http://{lab.SRV_IP}:8088/janus", j.api_secret).create()
        calls = await asyncio.gather(*(open_call(s, i) for i in range(n)))
        await asyncio.sleep(args.warmup)
        c0, t0 = lab.cpu_seconds(j.pid), time.monotonic()
        load = lab.loadavg()
        await asyncio.sleep(args.seconds)
        c1, t1 = lab.cpu_seconds(j.pid), time.monotonic()
        rtt = [d for c in calls for d in delays(c["track"].sent_onsets, c["det"].onsets, t0, t1)]
        first = [(c["det"].first - c["t0"]) * 1000 for c in calls if c["det"].first]
        codec = [
            line
            for line in calls[0]["pc"].remoteDescription.sdp.splitlines()
            if line.startswith("a=rtpmap")
        ][:2]
        for c in calls:
            await s.message(c["h"], {"request": "hangup"})
            await c["pc"].close()
            for t in c["tasks"]:
                t.cancel()
            await s.detach(c["h"])
        await s.destroy()
    w = t1 - t0
    return {
        "calls": n,
        "janus_cpu_pct_core": round((c1 - c0) / w * 100, 2),
        "per_call_pct_core": round(((c1 - c0) / w - idle_rate) / n * 100, 3),
        "first_echo_ms": {
            "p50": round(pct(first, 50)),
            "p99": round(pct(first, 99)),
            "n": len(first),
        },
        "round_trip_ms": {
            "p50": round(pct(rtt, 50)),
            "p99": round(pct(rtt, 99)),
            "bursts": len(rtt),
            "expected": int(w) * n,
        },
        "answer_codecs": codec,
        "loadavg": load,
    }


async def main_async(j: lab.JanusProcess, args: argparse.Namespace) -> list[dict]:
    c0, t0 = lab.cpu_seconds(j.pid), time.monotonic()
    await asyncio.sleep(args.idle)
    idle = (lab.cpu_seconds(j.pid) - c0) / (time.monotonic() - t0)
    out = [{"idle_janus_pct_core": round(idle * 100, 3)}]
    print(json.dumps(out[0]), flush=True)
    for n in args.calls:
        r = await run_n(j, n, args, idle)
        print(json.dumps(r), flush=True)
        out.append(r)
        await asyncio.sleep(1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", default="1,4,10", type=lambda v: [int(x) for x in v.split(",")])
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--warmup", type=float, default=3)
    ap.add_argument("--idle", type=float, default=5)
    ap.add_argument("--json")
    args = ap.parse_args()
    lab.make_namespaces()
    sipp = None
    try:
        sipp = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                lab.CLI_NS,
                "sipp",
                "-sn",
                "uas",
                "-i",
                lab.CLI_IP,
                "-p",
                "5070",
                "-mi",
                lab.CLI_IP,
                "-mp",
                "6000",
                "-rtp_echo",
                "-nostdin",
                "-trace_err",
                "-error_file",
                "/tmp/s19j-sipp-err.log",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd="/tmp",
        )
        with lab.janus() as j:
            lab.enter(lab.CLI_NS)
            results = asyncio.run(main_async(j, args))
    finally:
        if sipp:
            sipp.terminate()
            sipp.wait(10)
        lab.delete_namespaces()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
