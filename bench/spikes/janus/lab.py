"""The spike's lab: two network namespaces joined by a veth pair, Janus in one of them,
and a small Janus HTTP API client.

    s19j-srv  10.77.19.1  Janus (HTTP API :8088, admin :7088, RTP/ICE ports)
    s19j-cli  10.77.19.2  the benches: aiortc "browsers", plain-RTP "trunk", SIP UAs

Janus leaves loopback out of ICE, hence the veth pair. Nothing is sent anywhere else.
Secrets (api_secret, admin_secret = AudioBridge admin_key) are generated per run.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import itertools
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
SRV_NS, CLI_NS = "s19j-srv", "s19j-cli"
SRV_IP, CLI_IP = "10.77.19.1", "10.77.19.2"
CLONE_NEWNET = 0x40000000


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(list(args), check=check, capture_output=True, timeout=30)


def make_namespaces() -> None:
    """Create (or recreate) the two namespaces and their veth pair."""
    for ns in (SRV_NS, CLI_NS):
        sh("ip", "netns", "delete", ns, check=False)
        sh("ip", "netns", "add", ns)
        sh("ip", "-n", ns, "link", "set", "lo", "up")
    sh(
        "ip",
        "link",
        "add",
        "s19jsrv",
        "netns",
        SRV_NS,
        "type",
        "veth",
        "peer",
        "name",
        "s19jcli",
        "netns",
        CLI_NS,
    )
    sh("ip", "-n", SRV_NS, "addr", "add", f"{SRV_IP}/30", "dev", "s19jsrv")
    sh("ip", "-n", CLI_NS, "addr", "add", f"{CLI_IP}/30", "dev", "s19jcli")
    sh("ip", "-n", SRV_NS, "link", "set", "s19jsrv", "up")
    sh("ip", "-n", CLI_NS, "link", "set", "s19jcli", "up")


def delete_namespaces() -> None:
    for ns in (SRV_NS, CLI_NS):
        sh("ip", "netns", "delete", ns, check=False)


def enter(ns: str) -> None:
    """Move the calling thread (call it before any other thread starts) into `ns`."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/var/run/netns/{ns}", os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns failed")
    finally:
        os.close(fd)


class JanusProcess:
    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        conf: Path,
        api_secret: str,
        admin_secret: str,
        log: Path,
    ):
        self.proc, self.conf, self.log = proc, conf, log
        self.api_secret, self.admin_secret = api_secret, admin_secret

    @property
    def pid(self) -> int:
        return self.proc.pid


@contextlib.contextmanager
def janus(extra: dict[str, str] | None = None) -> Iterator[JanusProcess]:
    """Janus in SRV_NS with the spike's config (conf/*.jcfg, secrets filled in)."""
    api_secret, admin_secret = secrets.token_hex(16), secrets.token_hex(16)
    tmp = Path(tempfile.mkdtemp(prefix="s19j-"))
    conf = tmp / "conf"
    conf.mkdir()
    for f in (HERE / "conf").glob("*.jcfg"):
        text = f.read_text().replace("@CONF@", str(conf)).replace("@API_SECRET@", api_secret)
        text = text.replace("@ADMIN_SECRET@", admin_secret)
        loops = os.environ.get(
            "S19J_EVENT_LOOPS"
        )  # Janus's shared event loops (default: a thread per handle)
        text = text.replace("@EVENT_LOOPS@", f"event_loops = {int(loops)}" if loops else "")
        for k, v in (extra or {}).items():
            text = text.replace(k, v)
        (conf / f.name).write_text(text)
    log = tmp / "janus.log"
    proc = subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            SRV_NS,
            "janus",
            "-F",
            str(conf),
            "-C",
            str(conf / "janus.jcfg"),
            "-L",
            str(log),
            "-N",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if log.exists() and "HTTP webserver started" in log.read_text(errors="replace"):
                break
            if proc.poll() is not None:
                raise RuntimeError(
                    f"janus exited {proc.returncode}: {log.read_text(errors='replace')[-2000:]}"
                )
            time.sleep(0.2)
        time.sleep(0.5)
        yield JanusProcess(proc, conf, api_secret, admin_secret, log)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        keep = os.environ.get("S19J_KEEP_LOG")
        if keep:
            shutil.copy(log, keep)
        shutil.rmtree(tmp, ignore_errors=True)


class JanusError(RuntimeError):
    pass


class Session:
    """One Janus session over the HTTP API with a long-poll task delivering events."""

    _tx = itertools.count(1)

    def __init__(self, http: httpx.AsyncClient, base: str, api_secret: str):
        self.http, self.base, self.secret = http, base, api_secret
        self.id: int | None = None
        self.waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.events: dict[int, asyncio.Queue[dict[str, Any]]] = {}
        self._poll: asyncio.Task[None] | None = None

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        tx = f"t{next(self._tx)}"
        body = {**body, "transaction": tx, "apisecret": self.secret}
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.waiting[tx] = fut
        r = await self.http.post(self.base + path, json=body, timeout=30)
        reply = r.json()
        if reply.get("janus") == "error":
            self.waiting.pop(tx, None)
            raise JanusError(reply["error"])
        if reply.get("janus") == "ack":
            return await asyncio.wait_for(fut, 30)
        self.waiting.pop(tx, None)
        return reply

    async def create(self) -> Session:
        reply = await self._post("", {"janus": "create"})
        self.id = reply["data"]["id"]
        self._poll = asyncio.create_task(self._long_poll())
        return self

    async def attach(self, plugin: str) -> int:
        reply = await self._post(f"/{self.id}", {"janus": "attach", "plugin": plugin})
        handle = reply["data"]["id"]
        self.events[handle] = asyncio.Queue()
        return handle

    async def message(
        self, handle: int, body: dict[str, Any], jsep: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        msg: dict[str, Any] = {"janus": "message", "body": body}
        if jsep:
            msg["jsep"] = jsep
        reply = await self._post(f"/{self.id}/{handle}", msg)
        data = reply.get("plugindata", {}).get("data", {})
        if "error" in data:
            raise JanusError(f"{data.get('error_code')}: {data['error']}")
        return reply

    async def detach(self, handle: int) -> None:
        with contextlib.suppress(Exception):
            await self._post(f"/{self.id}/{handle}", {"janus": "detach"})

    async def _long_poll(self) -> None:
        while True:
            try:
                r = await self.http.get(
                    f"{self.base}/{self.id}",
                    params={"maxev": 10, "apisecret": self.secret},
                    timeout=40,
                )
            except (TimeoutError, httpx.HTTPError):
                await asyncio.sleep(0.1)
                continue
            data = r.json()
            for ev in data if isinstance(data, list) else [data]:
                tx = ev.get("transaction")
                if tx and tx in self.waiting and ev.get("janus") != "ack":
                    fut = self.waiting.pop(tx)
                    if not fut.done():
                        fut.set_result(ev)
                    continue
                q = self.events.get(ev.get("sender"))
                if q is not None:
                    q.put_nowait(ev)

    async def destroy(self) -> None:
        if self._poll:
            self._poll.cancel()
        with contextlib.suppress(Exception):
            await self._post(f"/{self.id}", {"janus": "destroy"})


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def threads(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    return -1


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 3)[:3].__str__()
