"""Does an AudioBridge plain-RTP participant take audio from any source, and does Janus
latch its sending onto the source it hears? (Matters if the trunk's media went straight
to Janus, design B.)

Run as root: .venv/bin/python bench/spikes/janus/latch_check.py
The RTP leg joins with socket A's port; the caller's 440 Hz is then sent from socket B
(another port, same address), then from socket C on another address (10.77.19.3 on the
same veth), then from A itself. Printed per phase: whether the browser hears 440 Hz, and
how many packets A and the sender receive from Janus (3 s, 150 expected). The Ear keeps
the last 500 frames, so counts are capped at 500.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lab
from supervisor_check import CALLER, RtpCaller, peer


class Counter(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.n = 0

    def datagram_received(self, data: bytes, addr) -> None:  # type: ignore[no-untyped-def]
        self.n += 1


async def main_async(j: lab.JanusProcess) -> list[dict]:
    loop = asyncio.get_running_loop()
    out = []
    async with httpx.AsyncClient() as http:
        s = await lab.Session(http, f"http://{lab.SRV_IP}:8088/janus", j.api_secret).create()
        h = await s.attach("janus.plugin.audiobridge")
        await s.message(
            h,
            {
                "request": "create",
                "room": "latch",
                "admin_key": j.admin_secret,
                "allow_rtp_participants": True,
                "sampling_rate": 16000,
            },
        )
        a = RtpCaller()  # joined with its port; says nothing until the last phase
        sa = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sa.bind((lab.CLI_IP, 0))
        await loop.create_datagram_endpoint(lambda: a, sock=sa)
        r = await s.message(
            h,
            {
                "request": "join",
                "room": "latch",
                "display": "caller",
                "codec": "pcmu",
                "prebuffer": 3,
                "rtp": {"ip": lab.CLI_IP, "port": sa.getsockname()[1], "payload_type": 0},
            },
        )
        janus_rtp = (r["plugindata"]["data"]["rtp"]["ip"], r["plugindata"]["data"]["rtp"]["port"])
        _, _, lawyer = await peer(s, "latch", "lawyer", 1200, False)
        a.remote = janus_rtp
        for label, addr in (
            ("B (other port)", lab.CLI_IP),
            ("C (other address)", "10.77.19.3"),
            ("A (joined port)", None),
        ):
            if addr is None:
                sender = a
            else:
                sender = RtpCaller()
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sock.bind((addr, 0))
                await loop.create_datagram_endpoint(lambda sender=sender: sender, sock=sock)
                sender.remote = janus_rtp
            a_before = len(a.ear.frames)
            b_before = len(sender.ear.frames)
            task = asyncio.create_task(sender.speak())
            await asyncio.sleep(3)
            row = {
                "caller sends from": label,
                "browser hears caller 440 Hz": lawyer.hears(time.monotonic() - 2)[CALLER],
                "packets from Janus to": {
                    "A (joined port)": len(a.ear.frames) - a_before,
                    label: len(sender.ear.frames) - b_before,
                },
            }
            print(json.dumps(row), flush=True)
            out.append(row)
            task.cancel()
            await asyncio.sleep(0.5)
        await s.message(h, {"request": "destroy", "room": "latch", "admin_key": j.admin_secret})
        await s.destroy()
    return out


def main() -> None:
    lab.make_namespaces()
    lab.sh("ip", "-n", lab.CLI_NS, "addr", "add", "10.77.19.3/30", "dev", "s19jcli")
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
