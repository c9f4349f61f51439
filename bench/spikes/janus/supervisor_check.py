"""Does AudioBridge carry a supervisor's listen, whisper and barge, and a caucus move?

Run as root: .venv/bin/python bench/spikes/janus/supervisor_check.py
Parties, each saying a continuous tone of its own: the caller (plain RTP, G.711, 440 Hz),
the lawyer (aiortc, 1200 Hz) and the supervisor (aiortc, 1800 Hz). Each step prints who
hears which tone (share of 20 ms frames in a 2 s window where that tone holds >= 15 %
of the power, i.e. is present in the mix):
1. listen:  the supervisor joins the call's room muted;
2. whisper: a second room "coach" with the lawyer (a second PeerConnection, muted there)
            and the supervisor (a second PeerConnection, talking); the caller must not
            hear the supervisor, the lawyer must;
3. barge:   the supervisor unmutes in the call's room (configure muted=false);
4. caucus:  the lawyer's main PeerConnection moves to another room (changeroom, no new
            negotiation) and back.
"""

from __future__ import annotations

import asyncio
import fractions
import json
import socket
import sys
import time
from collections import deque
from pathlib import Path

import av
import httpx
import numpy as np
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

sys.path.insert(0, str(Path(__file__).resolve().parent))
import audioop

import lab
from audiobridge_bench import goertzel_fast

CALLER, LAWYER, SUPERVISOR = 440, 1200, 1800
TONES = (CALLER, LAWYER, SUPERVISOR)


class Ear:
    def __init__(self) -> None:
        self.frames: deque[tuple[float, np.ndarray, int]] = deque(maxlen=500)

    def hears(self, since: float) -> dict[int, float]:
        fr = [(a, r) for t, a, r in self.frames if t >= since]
        out = {}
        for hz in TONES:
            hits = 0
            for a, r in fr:
                share, level = goertzel_fast(a, r, hz)
                hits += share > 0.15 and level > 100
            out[hz] = round(hits / len(fr), 2) if fr else 0.0
        return out


class ToneTrack(MediaStreamTrack):
    kind = "audio"

    def __init__(self, hz: int | None) -> None:
        super().__init__()
        self.hz, self.n, self.start = hz, 0, None

    async def recv(self) -> av.AudioFrame:
        if self.start is None:
            self.start = time.monotonic()
        wait = self.start + self.n * 0.02 - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        t = (np.arange(960) + self.n * 960) / 48000
        pcm = (
            (7000 * np.sin(2 * np.pi * self.hz * t)).astype("<i2")
            if self.hz
            else np.zeros(960, "<i2")
        )
        f = av.AudioFrame(format="s16", layout="mono", samples=960)
        f.planes[0].update(pcm.tobytes())
        f.sample_rate, f.pts, f.time_base = 48000, self.n * 960, fractions.Fraction(1, 48000)
        self.n += 1
        return f


async def peer(
    s: lab.Session, room: str, display: str, hz: int | None, muted: bool
) -> tuple[int, RTCPeerConnection, Ear]:
    h = await s.attach("janus.plugin.audiobridge")
    pc = RTCPeerConnection()
    pc.addTrack(ToneTrack(hz))
    ear = Ear()

    async def listen(track: MediaStreamTrack) -> None:
        while True:
            try:
                fr = await track.recv()
            except MediaStreamError:
                return
            a = fr.to_ndarray().reshape(-1)[:: len(fr.layout.channels)]
            ear.frames.append((time.monotonic(), a, fr.sample_rate))

    pc.on("track", lambda t: asyncio.ensure_future(listen(t)))
    await pc.setLocalDescription(await pc.createOffer())
    r = await s.message(
        h,
        {"request": "join", "room": room, "display": display, "muted": muted, "prebuffer": 3},
        jsep={"type": "offer", "sdp": pc.localDescription.sdp},
    )
    jsep = r.get("jsep")
    while not jsep:
        jsep = (await asyncio.wait_for(s.events[h].get(), 10)).get("jsep")
    await pc.setRemoteDescription(RTCSessionDescription(sdp=jsep["sdp"], type=jsep["type"]))
    return h, pc, ear


class RtpCaller(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.ear = Ear()
        self.remote = None
        self.transport = None

    def connection_made(self, transport) -> None:  # type: ignore[no-untyped-def]
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:  # type: ignore[no-untyped-def]
        if data[1] & 0x7F == 0:
            pcm = np.frombuffer(audioop.ulaw2lin(data[12:], 2), "<i2")
            self.ear.frames.append((time.monotonic(), pcm, 8000))

    async def speak(self) -> None:
        n = 0
        start = time.monotonic()
        while True:
            n += 1
            await asyncio.sleep(max(0, start + n * 0.02 - time.monotonic()))
            t = (np.arange(160) + n * 160) / 8000
            pcm = (7000 * np.sin(2 * np.pi * CALLER * t)).astype("<i2").tobytes()
            hdr = (
                bytes([0x80, 0])
                + (n & 0xFFFF).to_bytes(2, "big")
                + (n * 160).to_bytes(4, "big")
                + b"\x00\x00\x00\x07"
            )
            if self.remote:
                self.transport.sendto(hdr + audioop.lin2ulaw(pcm, 2), self.remote)


async def main_async(j: lab.JanusProcess) -> list[dict]:
    out = []
    async with httpx.AsyncClient() as http:
        s = await lab.Session(http, f"http://{lab.SRV_IP}:8088/janus", j.api_secret).create()
        adm = await s.attach("janus.plugin.audiobridge")
        for room in ("call", "coach", "caucus"):
            await s.message(
                adm,
                {
                    "request": "create",
                    "room": room,
                    "admin_key": j.admin_secret,
                    "allow_rtp_participants": True,
                    "sampling_rate": 16000,
                },
            )
        caller = RtpCaller()
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((lab.CLI_IP, 0))
        await asyncio.get_running_loop().create_datagram_endpoint(lambda: caller, sock=sock)
        hc = await s.attach("janus.plugin.audiobridge")
        r = await s.message(
            hc,
            {
                "request": "join",
                "room": "call",
                "display": "caller",
                "codec": "pcmu",
                "prebuffer": 3,
                "rtp": {"ip": lab.CLI_IP, "port": sock.getsockname()[1], "payload_type": 0},
            },
        )
        caller.remote = (
            r["plugindata"]["data"]["rtp"]["ip"],
            r["plugindata"]["data"]["rtp"]["port"],
        )
        speaking = asyncio.create_task(caller.speak())
        hl, _, lawyer = await peer(s, "call", "lawyer", LAWYER, False)

        async def step(name: str, ears: dict[str, Ear]) -> None:
            await asyncio.sleep(3)
            since = time.monotonic() - 2
            row = {"step": name, **{who: ear.hears(since) for who, ear in ears.items()}}
            print(json.dumps(row), flush=True)
            out.append(row)

        hs, _, sup = await peer(s, "call", "supervisor", SUPERVISOR, True)
        await step(
            "1 listen (supervisor muted in call)",
            {"caller": caller.ear, "lawyer": lawyer, "supervisor": sup},
        )
        _, _, lawyer_coach = await peer(s, "coach", "lawyer-coach", None, True)
        _, _, _sup_coach = await peer(s, "coach", "supervisor-coach", SUPERVISOR, False)
        await step(
            "2 whisper (+ coach room: lawyer muted, supervisor talking)",
            {
                "caller": caller.ear,
                "lawyer(call)": lawyer,
                "lawyer(coach)": lawyer_coach,
                "supervisor": sup,
            },
        )
        await s.message(hs, {"request": "configure", "muted": False})
        await step(
            "3 barge (supervisor unmuted in call)",
            {"caller": caller.ear, "lawyer(call)": lawyer, "supervisor": sup},
        )
        await s.message(hs, {"request": "configure", "muted": True})
        await s.message(hl, {"request": "changeroom", "room": "caucus", "display": "lawyer"})
        await step(
            "4a caucus (lawyer's PC moved to room caucus, supervisor muted again)",
            {"caller": caller.ear, "lawyer": lawyer, "supervisor": sup},
        )
        await s.message(hl, {"request": "changeroom", "room": "call", "display": "lawyer"})
        await step(
            "4b back (changeroom to call)",
            {"caller": caller.ear, "lawyer": lawyer, "supervisor": sup},
        )
        speaking.cancel()
        for room in ("call", "coach", "caucus"):
            await s.message(adm, {"request": "destroy", "room": room, "admin_key": j.admin_secret})
        await s.destroy()
    return out


def main() -> None:
    lab.make_namespaces()
    try:
        with lab.janus() as j:
            lab.enter(lab.CLI_NS)
            res = asyncio.run(main_async(j))
    finally:
        lab.delete_namespaces()
    if len(sys.argv) > 1:
        Path(sys.argv[1]).write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
