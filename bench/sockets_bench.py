"""Idle village terminals and consoles on one web process: memory, sign-in and offers.

Run by hand from the project root:

    .venv/bin/python bench/sockets_bench.py                 # 0, 500, then 2,000 terminals
    .venv/bin/python bench/sockets_bench.py --levels 100 --consoles 20 --samples 20

What runs: a private redis-server, and ONE web process (`lawline.web.app` on uvicorn,
a child process, so its RSS is its own) over SQLite. Terminals are enrolled in bulk
through the registry; the bench process then opens their websockets (the device token
in the first frame) and leaves them idle, and opens `--consoles` lawyer consoles, all
on duty. At each level it measures, with the idle sockets open:

  rss_mb         the web process's resident memory (VmRSS)
  signin_p99_ms  POST /api/session with a real user's password (argon2 included)
  offer_p99_ms   from a gateway's POST /api/contacts being sent to the "offer" frame
                 arriving at the console it went to (which accepts and ends it, so the
                 lawyer is free again at once, wrap-up 0)

Last line: `terminals=2000 rss_mb=... signin_p99_ms=... offer_p99_ms=...`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import websockets

from lawline.accounts.service import Accounts
from lawline.accounts.sessions import SessionStore
from lawline.accounts.settings import AccountSettings
from lawline.config import Settings
from lawline.db import make_engine, session_factory, upgrade
from lawline.redis_client import connect_redis
from lawline.redis_server import EmbeddedRedis
from lawline.terminals.registry import enrol
from lawline.web.auth import COOKIE_NAME, Principal, Role, issue_token

SECRET = "bench-secret"
PASSWORD = "correct horse battery"
CONNECT_AT_ONCE = 50  # sockets opened concurrently while filling a level

SERVER = """
import sys, uvicorn
from lawline.config import Settings
from lawline.web.app import create_app
app = create_app(Settings(), sys.argv[1])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning",
            access_log=False, lifespan="on", backlog=4096)
"""


def start_web(redis_url: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """ONE web process (uvicorn, a child: its CPU and memory are its own)."""
    return subprocess.Popen([sys.executable, "-c", SERVER, redis_url, str(port)], env=env)


async def until_serving(
    base: str, server: subprocess.Popen[bytes], timeout_s: float = 60, settled: bool = False
) -> None:
    """Until the web process answers; `settled`: and has finished its start-up work (the
    statute hints' index, built in a thread at start), so a CPU figure is the feed's."""
    async with httpx.AsyncClient(base_url=base, timeout=5) as http:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                r = await http.get("/api/health")
                if r.status_code < 500 and (not settled or r.json().get("hints_ready")):
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("the web process did not start")
            await asyncio.sleep(0.2)


def stop_web(server: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
    """Stop the web process; killed if it will not stop (an orphan would keep this
    bench's output open after it ends)."""
    server.terminate()
    try:
        server.wait(timeout_s)
    except subprocess.TimeoutExpired:
        print(f"  the web process did not stop within {timeout_s:.0f} s: killed", flush=True)
        server.kill()
        server.wait()


def raise_fd_limit() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def pct_ms(samples: Sequence[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000


def argon2_ms(samples: int = 10) -> float:
    """One password check alone, here and now (argon2-cffi's defaults, as lawline's):
    most of a sign-in's time, and what CPU contention stretches."""
    from argon2 import PasswordHasher

    hasher = PasswordHasher()
    hashed = hasher.hash(PASSWORD)
    times = []
    for _ in range(samples):
        t0 = time.perf_counter()
        hasher.verify(hashed, PASSWORD)
        times.append(time.perf_counter() - t0)
    return pct_ms(times, 0.5)


def prepare_db(url: str, terminals: int) -> list[str]:
    """The schema, a lawyer who signs in with a password, and `terminals` device tokens."""
    upgrade(url)
    engine = make_engine(url)
    now = datetime.now(UTC)
    try:
        with session_factory(engine)() as session:
            Accounts(session, AccountSettings()).add_user("bench", "lawyer", PASSWORD, now)
        with session_factory(engine)() as session, session.begin():
            return [
                enrol(session, f"box-{i}", f"村{i}", "镇", "zh", now).token
                for i in range(terminals)
            ]
    finally:
        engine.dispose()


async def sign_in(redis_url: str, username: str, role: Role) -> dict[str, str]:
    """Headers of a browser signed in as this person: a session made by the sign-in's own
    SessionStore.create (people have sessions, never service tokens)."""
    settings = Settings()
    redis = connect_redis(redis_url)
    try:
        store = SessionStore(redis, settings.redis_prefix, settings.accounts.session_ttl_s)
        session_id = await store.create(username, role)
    finally:
        await redis.aclose()
    return {"Cookie": f"{COOKIE_NAME}={session_id}"}


class Consoles:
    """Lawyer consoles that accept every offer at once and end the call straight away."""

    def __init__(self) -> None:
        self.offered: dict[str, asyncio.Future[float]] = {}
        self.sockets: list[Any] = []
        self.tasks: list[asyncio.Task[None]] = []

    async def open(self, ws_base: str, lawyer_ids: list[str], redis_url: str) -> None:
        origin = ws_base.replace("ws://", "http://")
        for lid in lawyer_ids:
            headers = await sign_in(redis_url, lid, Role.LAWYER) | {"Origin": origin}
            ws = await websockets.connect(
                f"{ws_base}/api/console/ws", additional_headers=headers, open_timeout=30
            )
            self.sockets.append(ws)
            await ws.send(json.dumps({"type": "state", "state": "available"}))
            self.tasks.append(asyncio.create_task(self._serve(ws)))

    async def _serve(self, ws: Any) -> None:
        async for text in ws:
            frame = json.loads(text)
            if frame["type"] == "offer":
                cid = frame["contact"]["id"]
                # The offer may come before the POST's answer: the time is kept either way.
                waiter = self.offered.setdefault(cid, asyncio.get_running_loop().create_future())
                if not waiter.done():
                    waiter.set_result(time.perf_counter())
                await ws.send(json.dumps({"type": "accept", "contact_id": cid}))
            elif frame["type"] == "connected":
                cid = frame["contact"]["id"]
                await ws.send(json.dumps({"type": "end", "contact_id": cid}))


async def open_terminals(ws_base: str, tokens: list[str]) -> list[Any]:
    gate = asyncio.Semaphore(CONNECT_AT_ONCE)

    async def one(token: str) -> Any:
        async with gate:
            ws = await websockets.connect(f"{ws_base}/api/terminal/ws", open_timeout=60)
            await ws.send(json.dumps({"type": "auth", "token": token}))
            hello = json.loads(await asyncio.wait_for(ws.recv(), 60))
            assert hello["type"] == "hello", hello
            return ws

    return list(await asyncio.gather(*(one(t) for t in tokens)))


async def measure(base: str, consoles: Consoles, samples: int) -> tuple[list[float], list[float]]:
    signins: list[float] = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        for _ in range(samples):
            t0 = time.perf_counter()
            r = await http.post("/api/session", json={"username": "bench", "password": PASSWORD})
            signins.append(time.perf_counter() - t0)
            assert r.status_code == 200, r.text
    gateway = issue_token(Principal("gw", Role.GATEWAY), SECRET, ttl_s=7200)
    offers: list[float] = []
    headers = {"Authorization": f"Bearer {gateway}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as http:
        for i in range(samples):
            call = {"channel": "voice", "service": "consultation", "caller": f"1380013{i:04d}"}
            t0 = time.perf_counter()
            r = await http.post("/api/contacts", json=call)
            assert r.status_code == 201, r.text
            cid = r.json()["id"]
            waiter = consoles.offered.setdefault(cid, asyncio.get_running_loop().create_future())
            offers.append(await asyncio.wait_for(waiter, 30) - t0)
            await asyncio.sleep(0.05)  # one call at a time: latency, not throughput
    return signins, offers


async def run(args: argparse.Namespace) -> None:
    raise_fd_limit()
    levels: list[int] = sorted(args.levels)
    with (
        tempfile.TemporaryDirectory(prefix="sockets-bench-") as tmp,
        EmbeddedRedis(Path(tmp) / "redis", appendfsync="everysec") as redis_server,
    ):
        data = Path(tmp) / "data"
        data.mkdir()
        db_url = f"sqlite:///{data / 'lawline.db'}"
        tokens = await asyncio.to_thread(prepare_db, db_url, levels[-1])
        port = free_port()
        env = {
            **os.environ,
            "LAWLINE_DATA_DIR": str(data),
            "LAWLINE_SECRET_KEY": SECRET,
            "LAWLINE_ROUTING__WRAPUP_S": "0",
            "LAWLINE_ROUTING__CONSOLE_TIMEOUT_S": "600",
            "LAWLINE_ACCOUNTS__COOKIE_SECURE": "false",
            "LAWLINE_SOCKETS__PER_ADDRESS": str(levels[-1] + args.consoles + 100),
        }
        server = start_web(redis_server.url, port, env)
        base, ws_base = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}"
        try:
            await until_serving(base, server)
            lawyer_ids = [f"lawyer-{i}" for i in range(args.consoles)]
            headers = await sign_in(redis_server.url, "boss", Role.SUPERVISOR)
            async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as http:
                for lid in lawyer_ids:
                    body = {
                        "id": lid,
                        "name": lid,
                        "services": {"consultation": 3},
                        "languages": ["zh"],
                    }
                    r = await http.post("/api/lawyers", json=body)
                    assert r.status_code == 201, r.text
            consoles = Consoles()
            await consoles.open(ws_base, lawyer_ids, redis_server.url)
            print(f"consoles={args.consoles} rss_mb={rss_mb(server.pid):.0f}", flush=True)
            terminals: list[Any] = []
            for level in levels:
                terminals += await open_terminals(ws_base, tokens[len(terminals) : level])
                await asyncio.sleep(2)  # let the connects' garbage settle before reading RSS
                signin, offer = await measure(base, consoles, args.samples)
                print(
                    f"  p50: signin_ms={pct_ms(signin, 0.5):.0f} "
                    f"offer_ms={pct_ms(offer, 0.5):.0f} (one argon2 check alone: "
                    f"{await asyncio.to_thread(argon2_ms):.0f} ms; load {os.getloadavg()[0]:.1f})",
                    flush=True,
                )
                print(
                    f"terminals={level} rss_mb={rss_mb(server.pid):.0f} "
                    f"signin_p99_ms={pct_ms(signin, 0.99):.0f} "
                    f"offer_p99_ms={pct_ms(offer, 0.99):.0f}",
                    flush=True,
                )
            for ws in terminals + consoles.sockets:
                await ws.close()
        finally:
            stop_web(server)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--levels", type=int, nargs="+", default=[0, 500, 2000])
    parser.add_argument("--consoles", type=int, default=200)
    parser.add_argument("--samples", type=int, default=100)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
