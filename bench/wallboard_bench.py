"""The supervisors' wallboard under load: lawyers and waiting callers changing all the
time, and many wallboards open on one web process.

Run by hand from the project root:

    .venv/bin/python bench/wallboard_bench.py          # 200 lawyers, 1,000 waiting, 50 boards
    .venv/bin/python bench/wallboard_bench.py --boards 5 --seconds 5

What runs: a private redis-server and ONE web process (`lawline.web.app` on uvicorn, a
child, so its CPU is its own). The bench process is the rest of the centre: it makes
the lawyers and the waiting callers through the queue's own scripts (as the telephony
workers and consoles would), then changes something `--rate` times a second (a lawyer
goes on a break or comes back, a caller hangs up and another calls), and opens
`--boards` supervisor sockets, each reading every `wallboard` frame. A probe lawyer's
break reason changes twice a second; the delay is from that change to each board
showing it. The web process's CPU is measured with no board open, then with them:

  delay_p50_ms / delay_p99_ms   a change to every open board showing it
  web_cpu_pct                   the web process, boards open (% of one core)
  feed_cpu_pct                  what the boards add to it (the feed's own cost)

Last line: `boards=50 lawyers=200 waiting=1000 delay_p50_ms=... delay_p99_ms=...
web_cpu_pct=... feed_cpu_pct=...`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import websockets
from cpu import cpu_seconds  # bench/ is on sys.path when run as a script
from sockets_bench import (
    SECRET,
    free_port,
    pct_ms,
    raise_fd_limit,
    sign_in,
    start_web,
    stop_web,
    until_serving,
)

from lawline.config import Settings
from lawline.queue.model import Contact, Lawyer
from lawline.queue.service import QueueService
from lawline.queue.skills import Channel, Presence, Service
from lawline.queue.store import QueueStore
from lawline.redis_client import connect_redis
from lawline.redis_server import EmbeddedRedis
from lawline.web.auth import Role

PROBE = "probe"


class Boards:
    """Supervisor sockets reading wallboard frames; when each first showed each probe."""

    def __init__(self) -> None:
        self.sent: dict[int, float] = {}
        self.delays: list[float] = []
        self.frames = 0
        self.tasks: list[asyncio.Task[None]] = []

    async def open(self, ws_url: str, headers: dict[str, str], n: int) -> None:
        for _ in range(n):
            ws = await websockets.connect(
                ws_url, additional_headers={**headers, "Origin": ws_url.replace("ws", "http", 1)},
                max_size=16 * 1024 * 1024,
            )  # fmt: skip
            self.tasks.append(asyncio.get_running_loop().create_task(self._read(ws)))

    async def _read(self, ws: Any) -> None:
        seen = 0
        async for raw in ws:
            if not raw.startswith('{"type": "wallboard"'):
                continue
            self.frames += 1
            at = raw.find('"break_reason": "p-')  # the probe's: no other break says p-
            if at < 0:
                continue
            n = int(raw[at + 19 : raw.index('"', at + 19)])
            if n > seen:
                seen = n
                if n in self.sent:
                    self.delays.append(time.time() - self.sent[n])

    async def close(self) -> None:
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def centre(queue: QueueService, lawyers: int, waiting: int) -> list[str]:
    for i in range(lawyers):
        lid = PROBE if i == 0 else f"lawyer-{i}"
        await queue.create_lawyer(Lawyer(id=lid, name=lid, services={Service.CONSULTATION: 3}))
        await queue.set_presence(lid, Presence.BREAK, "会议")
    now = time.time()
    ids = [f"c-{i}" for i in range(waiting)]
    for cid in ids:
        await queue.add_contact(
            Contact(cid, Channel.VOICE, Service.CONSULTATION, "zh", now, caller="12345678901")
        )
    return ids


async def churn(queue: QueueService, lawyers: int, waiting: list[str], rate: float) -> None:
    """A change every 1/rate s: a lawyer's break, or a caller replaced by another."""
    n = len(waiting)
    while True:
        if random.random() < 0.5:
            lid = f"lawyer-{random.randrange(1, lawyers)}"
            presence = random.choice([Presence.BREAK, Presence.OFFLINE])
            await queue.set_presence(lid, presence, "午休" if presence == Presence.BREAK else "")
        else:
            gone = waiting.pop(random.randrange(len(waiting)))
            await queue.abandon(gone)
            n += 1
            cid = f"c-{n}"
            await queue.add_contact(
                Contact(cid, Channel.VOICE, Service.CONSULTATION, "zh", time.time(), caller="1")
            )
            waiting.append(cid)
        await asyncio.sleep(1 / rate)


async def probe(queue: QueueService, boards: Boards) -> None:
    n = 0
    while True:
        n += 1
        boards.sent[n] = time.time()
        await queue.set_presence(PROBE, Presence.BREAK, f"p-{n}")
        await asyncio.sleep(0.5)


async def cpu_pct(pid: int, seconds: float) -> float:
    c0, t0 = cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(seconds)
    return 100 * (cpu_seconds(pid) - c0) / (time.monotonic() - t0)


async def run(args: argparse.Namespace) -> None:
    raise_fd_limit()
    with (
        tempfile.TemporaryDirectory(prefix="wallboard-bench-") as tmp,
        EmbeddedRedis(Path(tmp) / "redis", appendfsync="everysec") as redis_server,
    ):
        data = Path(tmp) / "data"
        data.mkdir()
        port = free_port()
        env = {
            **os.environ,
            "LAWLINE_DATA_DIR": str(data),
            "LAWLINE_SECRET_KEY": SECRET,
            "LAWLINE_ACCOUNTS__COOKIE_SECURE": "false",
            "LAWLINE_ROUTING__CONSOLE_TIMEOUT_S": "86400",
            "LAWLINE_SOCKETS__PER_USER": str(args.boards + 10),
            "LAWLINE_SOCKETS__PER_CREDENTIAL": str(args.boards + 10),
            "LAWLINE_MEDIA__ENABLED": "false",
        }
        server = start_web(redis_server.url, port, env)
        base = f"http://127.0.0.1:{port}"
        redis = connect_redis(redis_server.url)
        queue = QueueService(QueueStore(redis, Settings().redis_prefix), Settings())
        boards = Boards()
        tasks: list[asyncio.Task[None]] = []
        try:
            started = time.monotonic()
            await until_serving(base, server, timeout_s=180, settled=True)
            print(f"  web process settled in {time.monotonic() - started:.1f} s", flush=True)
            waiting = await centre(queue, args.lawyers, args.waiting)
            print(f"  {args.lawyers} lawyers and {len(waiting)} callers in the queue", flush=True)
            loop = asyncio.get_running_loop()
            tasks.append(loop.create_task(churn(queue, args.lawyers, waiting, args.rate)))
            tasks.append(loop.create_task(probe(queue, boards)))
            await asyncio.sleep(1)
            idle = await cpu_pct(server.pid, args.seconds)
            headers = await sign_in(redis_server.url, "boss", Role.SUPERVISOR)
            await boards.open(f"ws://127.0.0.1:{port}/api/supervisor/ws", headers, args.boards)
            print(f"  {args.boards} boards open", flush=True)
            await asyncio.sleep(1)
            boards.delays.clear()
            busy = await cpu_pct(server.pid, args.seconds)
            delays = boards.delays or [float("nan")]
            print(
                f"  idle web process {idle:.1f} % of a core; frames read {boards.frames}; "
                f"delays measured {len(boards.delays)} (load {os.getloadavg()[0]:.1f})",
                flush=True,
            )
            print(
                f"boards={args.boards} lawyers={args.lawyers} waiting={args.waiting} "
                f"delay_p50_ms={pct_ms(delays, 0.5):.0f} delay_p99_ms={pct_ms(delays, 0.99):.0f} "
                f"web_cpu_pct={busy:.1f} feed_cpu_pct={busy - idle:.1f}",
                flush=True,
            )
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await boards.close()
            await redis.aclose()
            stop_web(server)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--boards", type=int, default=50)
    parser.add_argument("--lawyers", type=int, default=200)
    parser.add_argument("--waiting", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=20, help="changes a second")
    parser.add_argument("--seconds", type=float, default=20, help="each measurement")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
