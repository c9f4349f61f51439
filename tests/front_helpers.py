"""A node's SIP side as `lawline serve` runs it: Kamailio in front of a pool of real
telephony workers (the same supervisor serve uses), and SIPp callers through it."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lawline.children import Children
from lawline.config import Settings
from lawline.telephony.front import prepare_front, worker_addresses
from lawline.telephony.supervisor import worker_supervisor
from tests.ports import free_both, free_sip_port
from tests.sip_helpers import rtp_port


def free_port_run(count: int, host: str = "127.0.0.1") -> int:
    """The first of `count` consecutive ports free for UDP and TCP (the workers')."""
    for _ in range(200):
        first = free_sip_port()
        if all(free_both(first + i, host) for i in range(count)):
            return first
    raise RuntimeError(f"no {count} consecutive free ports")


def routed(xml: str) -> str:
    """A scenario for calls through a proxy: keep the 200's Record-Route and send the
    ACK, BYE and INFO to the callee's Contact along that route."""
    answer = '<recv response="200" rtd="true">'
    xml = xml.replace(answer, answer[:-1] + ' rrs="true">')
    out = []
    for block in xml.split("<send"):
        if "[peer_tag_param]" in block:
            block = re.sub(
                r"\n(\w+) sip:\[service\]@\[remote_ip\]:\[remote_port\] SIP/2.0",
                r"\n\1 [next_url] SIP/2.0",
                block,
                count=1,
            )
            block = block.replace("Max-Forwards: 70", "[routes]\nMax-Forwards: 70", 1)
        out.append(block)
    return "<send".join(out)


@dataclass
class Pool:
    settings: Settings
    children: Children
    log_dir: Path
    host: str
    port: int
    stopped: list[str] = field(default_factory=list)

    def log(self, name: str) -> str:
        path = self.log_dir / f"{name.replace('/', '_')}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def kamailio_log(self) -> str:
        return self.log("kamailio")

    def worker_names(self) -> list[str]:
        return [w.name for w in worker_addresses(self.settings)]

    def pid(self, name: str) -> int:
        return self.children.procs[name].pid

    def in_the_set(self, name: str, listening_since: float) -> bool:
        """Kamailio sends new calls to this worker, listening since that time.monotonic():
        every probe sent before it listened has had its verdict (an answer, or a timeout
        after worker_timeout_s, on tm's coarse timer tick), and the last one logged
        (kamailio.cfg's dispatcher event routes) is not "down"."""
        front = self.settings.telephony.front
        if time.monotonic() < listening_since + front.worker_timeout_s + 0.5:
            return False
        [worker] = [w for w in worker_addresses(self.settings) if w.name == name]
        uri = f"sip:{worker.sip_host}:{worker.sip_port} "
        verdicts = [
            "down" if "worker down: " + uri in line else "up"
            for line in self.kamailio_log().splitlines()
            if "worker down: " + uri in line or "worker up: " + uri in line
        ]
        return not verdicts or verdicts[-1] == "up"


def wait_for(check: Any, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@contextmanager
def sip_pool(
    tmp: Path,
    redis_url: str,
    prompts_dir: Path,
    workers: int = 2,
    host: str = "127.0.0.1",
    node: str = "node-a",
    **front: Any,
) -> Iterator[Pool]:
    """Kamailio on host:<free port>, `workers` telephony workers on loopback behind it."""
    port = free_sip_port()
    first = free_port_run(workers)
    settings = Settings(
        data_dir=tmp / node,
        redis_url=redis_url,
        sip_host=host,
        sip_port=port,
        telephony={
            "workers": workers,
            "node": node,
            "rtp_port": rtp_port(first),
            "front": {"worker_port": first, "probe_interval_s": 1, **front},
        },
    )
    log_dir = tmp / f"{node}-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    env = {"LAWLINE_TELEPHONY__PROMPTS_DIR": str(prompts_dir), "LAWLINE_TELEPHONY__NODE": node}
    children = worker_supervisor(settings, redis_url, env, log_dir)
    pool = Pool(settings, children, log_dir, host, port)
    loop = asyncio.new_event_loop()
    task = loop.create_task(children.run())

    def supervise() -> None:
        with suppress(asyncio.CancelledError):
            loop.run_until_complete(task)

    thread = threading.Thread(target=supervise, daemon=True)
    thread.start()
    try:
        listening = {}
        for name in pool.worker_names():
            wait_for(lambda n=name: "telephony worker listening" in pool.log(n), f"{name} up")
            listening[name] = time.monotonic()
        wait_for(lambda: "Listening on" in pool.kamailio_log(), "Kamailio up")
        # Kamailio's first probes may go out before the workers listened: those workers
        # are back in the set after the next probe that they answer.
        for name, since in listening.items():
            wait_for(lambda n=name, t=since: pool.in_the_set(n, t), f"{name} in Kamailio's set")
        yield pool
    finally:
        loop.call_soon_threadsafe(task.cancel)
        thread.join(timeout=60)
        loop.close()


def sipp(
    tmp: Path,
    pool: Pool,
    xml: str,
    calls: int = 1,
    rate: float = 10,
    local_ip: str = "127.0.0.1",
    number: str = "12348",
    extra: tuple[str, ...] = (),
    timeout: float = 120,
    name: str = "scenario",
) -> subprocess.CompletedProcess[str]:
    """SIPp from local_ip to the pool's front: `calls` calls at `rate` per second."""
    path = tmp / f"{name}.xml"
    path.write_text(xml)
    return subprocess.run(
        ["sipp", "-sf", str(path), "-s", number, f"{pool.host}:{pool.port}",
         "-i", local_ip, "-mi", local_ip, "-p", str(free_sip_port()),
         "-mp", str(free_port_run(4, local_ip)), "-t", "u1",
         "-m", str(calls), "-l", str(calls), "-r", str(rate),
         "-timeout", f"{int(timeout - 20)}s", "-timeout_error", "-nostdin", *extra],
        cwd=tmp, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def sipp_async(tmp: Path, pool: Pool, xml: str, name: str, **kw: Any) -> subprocess.Popen[str]:
    """Like sipp(), started in the background."""
    path = tmp / f"{name}.xml"
    path.write_text(xml)
    calls = kw.get("calls", 1)
    return subprocess.Popen(
        ["sipp", "-sf", str(path), "-s", "12348", f"{pool.host}:{pool.port}",
         "-i", "127.0.0.1", "-mi", "127.0.0.1", "-p", str(free_sip_port()),
         "-mp", str(free_port_run(4)), "-t", "u1",
         "-m", str(calls), "-l", str(calls), "-r", str(kw.get("rate", 10)),
         "-timeout", "100s", "-timeout_error", "-nostdin"],
        cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


@dataclass
class LoneFront:
    """Kamailio as serve writes it, in front of one worker the test runs itself."""

    settings: Settings
    log_path: Path
    redis_url: str | None = None
    proc: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"sip:12348@{self.settings.sip_host}:{self.settings.sip_port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def start(self) -> None:
        child = prepare_front(self.settings, worker_addresses(self.settings), self.redis_url).child
        # Counted before it starts: a quick Kamailio has said it by the time it is counted.
        started = self.log().count("Listening on")
        with self.log_path.open("ab") as out:
            # A group of its own: Kamailio's children ignore SIGTERM and outlive a main
            # process killed outright.
            self.proc = subprocess.Popen(
                child.args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        proc = self.proc

        def up() -> bool:
            return self.log().count("Listening on") > started or proc.poll() is not None

        wait_for(up, "Kamailio")
        assert proc.poll() is None, self.log()[-3000:]

    def stop(self, sig: int = signal.SIGTERM) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        with suppress(ProcessLookupError):
            proc.send_signal(sig)
        # Exited but not yet reaped, its pid (the group's id) cannot be anyone else's.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT):
                break
            time.sleep(0.05)
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # whatever of this Kamailio is left
        proc.wait()

    def crash_and_restart(self) -> None:
        """Killed outright (every process of it), then started again as serve would."""
        self.stop(signal.SIGKILL)
        self.start()


@contextmanager
def lone_front(tmp: Path, worker_port: int, redis_url: str | None = None) -> Iterator[LoneFront]:
    """Kamailio on 127.0.0.1:<free port>, its one worker at 127.0.0.1:worker_port (that
    worker already listening, so no probe finds it down); with redis_url, it keeps the
    calls it steers there too."""
    settings = Settings(
        # The worker's (tests/sip_helpers.py): one front secret, so it signs the calls.
        data_dir=tmp / "data",
        sip_host="127.0.0.1",
        sip_port=free_sip_port(),
        telephony={"workers": 1, "front": {"worker_port": worker_port}},
    )
    log_path = tmp / "kamailio.log"
    log_path.write_bytes(b"")
    front = LoneFront(settings, log_path, redis_url)
    try:
        front.start()
        yield front
    finally:
        front.stop()
