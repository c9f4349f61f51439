"""A mediation room's cost in AudioBridge: one room, P parties, some on the phone
(plain RTP, G.711), the rest browsers (aiortc, Opus), everyone saying a tone of their own.

Run as root: .venv/bin/python bench/spikes/janus/mediation_bench.py [--phones 3 --browsers 5]
Prints Janus's CPU for the room (less idle) and per party, its threads, and for each
party the share of 20 ms frames in which each other party's tone is present.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
import time
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lab
import supervisor_check as sc
from audiobridge_bench import goertzel_fast


class Phone(sc.RtpCaller):
    def __init__(self, hz: int) -> None:
        super().__init__()
        self.hz = hz

    async def speak(self) -> None:
        import audioop

        n = 0
        start = time.monotonic()
        while True:
            n += 1
            await asyncio.sleep(max(0, start + n * 0.02 - time.monotonic()))
            t = (np.arange(160) + n * 160) / 8000
            pcm = (5000 * np.sin(2 * np.pi * self.hz * t)).astype("<i2").tobytes()
            hdr = (
                bytes([0x80, 0])
                + (n & 0xFFFF).to_bytes(2, "big")
                + (n * 160).to_bytes(4, "big")
                + b"\x00\x00\x00\x09"
            )
            if self.remote:
                self.transport.sendto(hdr + audioop.lin2ulaw(pcm, 2), self.remote)


def hears(ear: sc.Ear, since: float, tones: list[int]) -> dict[int, float]:
    fr = [(a, r) for t, a, r in ear.frames if t >= since]
    out = {}
    for hz in tones:
        hits = sum(
            1
            for a, r in fr
            if goertzel_fast(a, r, hz)[0] > 0.03 and goertzel_fast(a, r, hz)[1] > 50
        )
        out[hz] = round(hits / len(fr), 2) if fr else 0.0
    return out


async def main_async(j: lab.JanusProcess, args: argparse.Namespace) -> dict:
    loop = asyncio.get_running_loop()
    c0, t0 = lab.cpu_seconds(j.pid), time.monotonic()
    await asyncio.sleep(5)
    idle = (lab.cpu_seconds(j.pid) - c0) / (time.monotonic() - t0)
    # Phone tones below 4 kHz, distinct and not harmonics of each other.
    tones = [350, 470, 610, 760, 910, 1090, 1270, 1430, 1630, 1870][: args.phones + args.browsers]
    async with httpx.AsyncClient() as http:
        s = await lab.Session(http, f"http://{lab.SRV_IP}:8088/janus", j.api_secret).create()
        adm = await s.attach("janus.plugin.audiobridge")
        await s.message(
            adm,
            {
                "request": "create",
                "room": "mediation",
                "admin_key": j.admin_secret,
                "allow_rtp_participants": True,
                "sampling_rate": args.rate,
            },
        )
        ears: dict[str, sc.Ear] = {}
        tasks = []
        for i in range(args.phones):
            ph = Phone(tones[i])
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind((lab.CLI_IP, 0))
            await loop.create_datagram_endpoint(lambda ph=ph: ph, sock=sock)
            h = await s.attach("janus.plugin.audiobridge")
            r = await s.message(
                h,
                {
                    "request": "join",
                    "room": "mediation",
                    "display": f"phone{i}",
                    "codec": "pcmu",
                    "prebuffer": 3,
                    "rtp": {"ip": lab.CLI_IP, "port": sock.getsockname()[1], "payload_type": 0},
                },
            )
            ph.remote = (
                r["plugindata"]["data"]["rtp"]["ip"],
                r["plugindata"]["data"]["rtp"]["port"],
            )
            tasks.append(asyncio.create_task(ph.speak()))
            ears[f"phone{i} ({tones[i]} Hz)"] = ph.ear
        for k in range(args.browsers):
            hz = tones[args.phones + k]
            _, _, ear = await sc.peer(s, "mediation", f"browser{k}", hz, False)
            ears[f"browser{k} ({hz} Hz)"] = ear
        await asyncio.sleep(3)
        c0, t0 = lab.cpu_seconds(j.pid), time.monotonic()
        thr, load = lab.threads(j.pid), lab.loadavg()
        await asyncio.sleep(args.seconds)
        c1, t1 = lab.cpu_seconds(j.pid), time.monotonic()
        since = time.monotonic() - 2
        heard = {who: hears(ear, since, tones) for who, ear in ears.items()}
        for t in tasks:
            t.cancel()
        await s.message(
            adm, {"request": "destroy", "room": "mediation", "admin_key": j.admin_secret}
        )
        await s.destroy()
    parties = args.phones + args.browsers
    room = ((c1 - c0) / (t1 - t0) - idle) * 100
    return {
        "phones": args.phones,
        "browsers": args.browsers,
        "rate": args.rate,
        "room_pct_core": round(room, 2),
        "per_party_pct_core": round(room / parties, 2),
        "janus_threads": thr,
        "loadavg": load,
        "heard": heard,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--phones", type=int, default=3)
    ap.add_argument("--browsers", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--rate", type=int, default=16000)
    ap.add_argument("--json")
    args = ap.parse_args()
    lab.make_namespaces()
    try:
        with lab.janus() as j:
            lab.enter(lab.CLI_NS)
            res = asyncio.run(main_async(j, args))
    finally:
        lab.delete_namespaces()
    print(json.dumps(res, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
