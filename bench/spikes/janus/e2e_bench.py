"""Design A end to end: SIP caller -> pjsua2 worker -> relay port -> Janus AudioBridge
room <- WebRTC browser (aiortc), N calls (at most 4: one worker).

Run as root: .venv/bin/python bench/spikes/janus/e2e_bench.py --calls 1,4
The caller is SIPp's built-in UAC with -rtp_echo (G.711 u-law): whatever it hears it
says back, so the browser's 1200 Hz bursts come back to the browser through the whole
path twice: browser -> Janus (jitter buffer) -> relay port -> pjsua conference -> the
SIP call (pjsua jitter buffer at SIPp's side: none, SIPp echoes at once) -> back the
same way. Printed: the round trip, the worker's CPU per call (pjsua call + relay,
minus its idle), Janus's CPU per call, accept -> first echo.
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
from aiortc import RTCPeerConnection, RTCSessionDescription

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lab
from audiobridge_bench import BurstTrack, Detector, delays, pct
from sip_plugin_bench import listen

HERE = Path(__file__).resolve().parent
PY = str(Path(sys.executable))


async def read_json(proc: asyncio.subprocess.Process) -> dict:
    """The worker's next JSON line (pjsua logs to stdout before its log config applies)."""
    while True:
        line = await proc.stdout.readline()
        if not line:
            raise RuntimeError("worker exited")
        if line.startswith(b"{"):
            return json.loads(line)


async def run_n(j: lab.JanusProcess, n: int, args: argparse.Namespace, janus_idle: float) -> dict:
    worker = await asyncio.create_subprocess_exec(
        PY,
        "-W",
        "ignore",
        str(HERE / "e2e_worker.py"),
        str(n),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    relay_ports = (await read_json(worker))["relay_ports"]
    async with httpx.AsyncClient() as http:
        s = await lab.Session(http, f"http://{lab.SRV_IP}:8088/janus", j.api_secret).create()
        dests, rooms, pcs, tracks, dets, t_accept, tasks = [], [], [], [], [], [], []
        for i, rp in enumerate(relay_ports):
            name = f"e2e{n}-{i}"
            t_accept.append(time.monotonic())
            h = await s.attach("janus.plugin.audiobridge")
            await s.message(
                h,
                {
                    "request": "create",
                    "room": name,
                    "admin_key": j.admin_secret,
                    "is_private": True,
                    "sampling_rate": args.rate,
                    "allow_rtp_participants": True,
                },
            )
            r = await s.message(
                h,
                {
                    "request": "join",
                    "room": name,
                    "display": "caller",
                    "codec": "pcmu",
                    "prebuffer": args.prebuffer,
                    "rtp": {"ip": lab.CLI_IP, "port": rp, "payload_type": 0},
                },
            )
            dests.append(
                [r["plugindata"]["data"]["rtp"]["ip"], r["plugindata"]["data"]["rtp"]["port"]]
            )
            rooms.append((h, name))
        worker.stdin.write((json.dumps(dests) + "\n").encode())
        await worker.stdin.drain()
        assert (await read_json(worker))["ready"]
        # Worker idle (relay ports not in any conference yet).
        c0, t0 = lab.cpu_seconds(worker.pid), time.monotonic()
        await asyncio.sleep(3)
        worker_idle = (lab.cpu_seconds(worker.pid) - c0) / (time.monotonic() - t0)
        sipp = subprocess.Popen(
            [
                "sipp",
                "-sn",
                "uac",
                f"{lab.CLI_IP}:5080",
                "-i",
                lab.CLI_IP,
                "-p",
                "5090",
                "-mi",
                lab.CLI_IP,
                "-mp",
                "6100",
                "-rtp_echo",
                "-m",
                str(n),
                "-l",
                str(n),
                "-r",
                "50",
                "-d",
                str(int((args.seconds + 30) * 1000)),
                "-nostdin",
                "-bg",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd="/tmp",
        )
        for _ in range(n):
            await asyncio.wait_for(read_json(worker), 15)
        # Browsers join (the lawyer accepts after the caller is in).
        for i in range(n):
            h = await s.attach("janus.plugin.audiobridge")
            pc = RTCPeerConnection()
            track, det = BurstTrack(), Detector()
            pc.addTrack(track)
            pc.on("track", lambda t, det=det: tasks.append(asyncio.ensure_future(listen(t, det))))
            await pc.setLocalDescription(await pc.createOffer())
            r = await s.message(
                h,
                {
                    "request": "join",
                    "room": rooms[i][1],
                    "display": "lawyer",
                    "prebuffer": args.prebuffer,
                },
                jsep={"type": "offer", "sdp": pc.localDescription.sdp},
            )
            jsep = r.get("jsep")
            while not jsep:
                jsep = (await asyncio.wait_for(s.events[h].get(), 10)).get("jsep")
            await pc.setRemoteDescription(RTCSessionDescription(sdp=jsep["sdp"], type=jsep["type"]))
            pcs.append(pc)
            tracks.append(track)
            dets.append(det)
            t_accept[i] = time.monotonic()
        await asyncio.sleep(3)
        w0, c0, t0 = lab.cpu_seconds(worker.pid), lab.cpu_seconds(j.pid), time.monotonic()
        load = lab.loadavg()
        await asyncio.sleep(args.seconds)
        w1, c1, t1 = lab.cpu_seconds(worker.pid), lab.cpu_seconds(j.pid), time.monotonic()
        rtt = [
            d
            for tr, det in zip(tracks, dets, strict=False)
            for d in delays(tr.sent_onsets, det.onsets, t0, t1)
        ]
        first = [
            (det.first - ta) * 1000 for det, ta in zip(dets, t_accept, strict=False) if det.first
        ]
        for pc in pcs:
            await pc.close()
        for t in tasks:
            t.cancel()
        for h, name in rooms:
            await s.message(h, {"request": "destroy", "room": name, "admin_key": j.admin_secret})
        await s.destroy()
    worker.stdin.close()
    try:
        await asyncio.wait_for(worker.wait(), 10)
    except TimeoutError:
        worker.kill()
    sipp.terminate()
    sipp.wait(10)
    w = t1 - t0
    return {
        "calls": n,
        "prebuffer": args.prebuffer,
        "rate": args.rate,
        "worker_pct_core_per_call": round(((w1 - w0) / w - worker_idle) / n * 100, 2),
        "worker_idle_pct_core": round(worker_idle * 100, 2),
        "janus_pct_core_per_call": round(((c1 - c0) / w - janus_idle) / n * 100, 2),
        "accept_to_first_echo_ms": {
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
        "loadavg": load,
    }


async def main_async(j: lab.JanusProcess, args: argparse.Namespace) -> list[dict]:
    c0, t0 = lab.cpu_seconds(j.pid), time.monotonic()
    await asyncio.sleep(3)
    idle = (lab.cpu_seconds(j.pid) - c0) / (time.monotonic() - t0)
    out = []
    for n in args.calls:
        r = await run_n(j, n, args, idle)
        print(json.dumps(r), flush=True)
        out.append(r)
        await asyncio.sleep(1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", default="1,4", type=lambda v: [int(x) for x in v.split(",")])
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--prebuffer", type=int, default=3)
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
