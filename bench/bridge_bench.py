"""N bridged calls at once on the real media path: SIP caller -> telephony worker ->
Janus AudioBridge room <- the lawyer's browser (a cheap WebRTC generator peer).

Run as root, after scripts/setup.sh (which runs bench/setup_bench.sh for the generator):

    .venv/bin/python bench/bridge_bench.py [--calls 10,20,40,60] [--seconds 20] [--steer]

Everything runs in a network namespace: the current one when it is a test namespace
(LAWLINE_TEST_NETNS, as tests/test_benches.py runs it), else --netns (made if missing,
kept). A veth pair inside it gives Janus a non-loopback address for ICE (SRV_IP) and the
peers theirs (CLI_IP); SIP, plain RTP, Janus's API and redis stay on loopback.

Janus runs as `lawline serve` runs it (prepare_janus, MediaSupervisor: lawline's own
configuration, 16 kHz rooms, prebuffer 3), on ports of its own. For each N:
- ceil(N/4) `lawline telephony-worker` processes (4 calls each at most) with the media
  settings pointing at this Janus (live transcription off: asr_bench.py measures it);
- N callers (tests/pjsua_caller.py processes saying 440 Hz, choosing labour consultation
  with keys "11", recording what they hear), spread over the workers; each worker makes
  its call's room when the contact is offered and relays the caller as G.711 RTP;
- N duty lawyers accepting through the real queue (QueueService). As the console does
  on duty (media/standby.py), each lawyer's generator peer (bench/peers/webrtc_peers.py:
  one GStreamer process for all peers) is parked before the calls, muted in a standby
  room of its own, connected; at each accept StandbyLegs moves it into the contact's
  room. The peer says 1200 Hz in bursts (500 ms on/off). --join-at-accept instead
  offers at accept and BrowserLegs joins it (the console's way before parking, and
  still after a reload or where media.park_lawyers is off).
Printed per N (with parking, also what the parked legs cost Janus per leg while the
lawyers wait, over 3 s before the calls):
- CPU per bridged call: the server's processes only (Janus + the workers), /proc utime +
  stime over the talking window, less their idle rate before the calls, over N, as a
  share of one core (Janus's own share beside it); the generator and this process (the
  callers) apart, and the whole machine's busy share (/proc/stat, other work included);
- accept -> first audio p50/p99: at the peer (the lawyer first hears the caller: the
  generator's decoded frames on the monotonic clock, the reliable figure), and at the
  caller (its first lawyer tone; the caller's timeline is the worker's RTP timestamps,
  seen up to ~150 ms off under load: approximate);
- clean both ways: the lawyer hears 440 Hz in >= 95 % of the 100 ms windows; the caller
  hears >= 95 % of the bursts, and the tone in >= 95 % of the 100 ms windows inside
  them (50 ms in from each edge).
--steer runs design B (media.steer_calls): the callers call a Kamailio front (as serve
runs it, its call rate limit raised for the bench's burst) before the workers, which
steer each caller's RTP straight to its room; the server's processes are then Janus,
the workers and Kamailio (all its processes). --front puts the same front before
design A, to compare like with like.
The callers are bench/peers/sip_callers.py, all in this process (a pjsua2 process per
caller, tests/pjsua_caller.py, cost ~4 % of a core each and left no room for calls).
The last lines: `largest N with clean audio both ways: N` and `cpu_per_call=<share of a
core> estimate_calls=<int>` (calls one core of server processes would carry at the
largest clean N's per-call CPU, or the largest N's if none was clean: an estimate).
--out keeps every figure and, per call, what each side heard (100 ms a character).

Measured on 3 Dec 2026, 14:42-15:01 UTC, on a 2-core machine shared with other work
(--seconds 20; "machine" is its busy share over the window):

    N   clean  server/call  Janus/call  accept->lawyer hears  ->caller hears  machine
    1   1/1    8.7 %        3.5 %       247 ms                330 ms          34 %
    10  10/10  5.9 %        2.8 %       p50 280 / p99 358     432 / 504       61 %
    20  0/20   5.6 %        2.7 %       p50 631 / p99 748     1055 / 1297     94 %
    40  0/40   (starved)                p50 2990              5690            100 %

    largest N with clean audio both ways: 10
    cpu_per_call=0.0591 estimate_calls=16

Server CPU per call is ~5.5-6 % of a core at N = 10-20: Janus ~2.8 %, the telephony
workers' pjsua relay ~3 %. Estimate (not measured): one core carries ~16-18 bridged
calls, a 2-core node ~35 with nothing else on it. At N = 20 the server takes ~1.2 cores
and the generator and callers ~0.6: with other work the machine is out of CPU and the
workers' audio to the callers breaks (a caller's timeline falls behind: pjsua sends
less than real time); the bench says so. 40 calls cannot be tested on this machine with
the generator and callers on it. Under other work (load 5-35) N = 10 was 0/10 and
7/10 clean in two runs, 10/10 in three quieter ones.

On the quiet machine (load 0.6-0.8, 15:14 UTC), N = 10, by the workers' conference clock
(telephony.conference_rate_hz):

    16000 (default)  10/10  server/call 4.26 % (Janus 2.11 %)  lawyer hears p50 233 / p99 263 ms
    8000             10/10  server/call 3.81 % (Janus 2.27 %)  lawyer hears p50 229 / p99 260 ms

8000 spares the workers' resampling (~0.6 % of a core a call, and ~40 ms off the lawyer
to caller delay); it is not the default yet (see the issue's notes).

Design A against design B (--front, --steer: the callers through Kamailio either way;
Kamailio counted with the server), 6 Dec 2026 05:39-05:44 UTC, machine busy 48-99 %
with other work (load 0.8-6.7), 8 kHz conferences:

    A  N=10  10/10  server/call 3.26 % (Janus 1.62 %, Kamailio 0.20 %)
    A  N=20   0/20  server/call 3.16 % (Janus 1.44 %, Kamailio 0.17 %)  machine 99 %
    B  N=10  10/10  server/call 2.70 % (Janus 1.98 %, Kamailio 0.23 %)
    B  N=20  20/20  server/call 2.35 % (Janus 1.70 %, Kamailio 0.13 %)

The same on a quiet machine (nothing else running, 6 Dec 2026 15:35-15:50 UTC; accept ->
first audio p50/p99 ms, lawyer hears / caller hears; "machine" its busy share):

    A  N=10   9/10  server/call 2.34 % (Janus 1.09 %)  216/227  308/328   21 %
    A  N=20  20/20  server/call 1.98 % (Janus 0.99 %)  287/362  460/549   44 %
    A  N=40  37/40  server/call 2.20 % (Janus 1.10 %)  594/862  966/1258  76 %
    B  N=10  10/10  server/call 1.21 % (Janus 0.88 %)  312/321  275/294   18 %
    B  N=20  20/20  server/call 1.14 % (Janus 0.88 %)  290/304  365/397   27 %
    B  N=40  40/40  server/call 1.54 % (Janus 1.12 %)  451/680  666/881   63 %

    (B's last lines: largest N with clean audio both ways: 40, cpu_per_call=0.0154
    estimate_calls=65.) The busy runs above cost each call about twice as much: the
    other work's cache misses and wake-ups land on the audio threads. All N accepts come
    at once, so first audio at N=40 includes 40 joins queued at Janus (answer p50 256 ms).

B again once the front kept a worker's re-INVITE behind the ACK before it and the
worker's fixed 100 ms between the quieting re-INVITE and the steer was gone (quiet
machine, 6 Dec 2026 18:10 UTC, the same columns):

    B  N=10  10/10  server/call 1.19 % (Janus 0.89 %)  223/247  281/304   22 %
    B  N=20  20/20  server/call 1.33 % (Janus 0.98 %)  268/315  359/403   25 %
    B  N=40  40/40  server/call 1.24 % (Janus 0.98 %)  476/613  636/734   54 %

    (largest N with clean audio both ways: 40, cpu_per_call=0.0124 estimate_calls=80.)
    The lawyer hears the caller ~90 ms sooner; the caller's first audio waits on the
    lawyer's browser leg (Janus's answer p50 77 / 150 / 258 ms, then ICE and DTLS).
    Accepts spread 200 ms apart (a trial option, not kept) gave the lawyer's side p50
    91-104 / p99 219-250 ms at 10-40 calls; the caller's side then cannot be read (one
    call "heard" the lawyer 3 ms after the accept, before the browser was up): the
    caller's ear probably takes the hold music for the lawyer's tone (not checked; with
    all accepts at once the callers wait less and each call's delay was 13-100 ms).

The lawyers' browsers parked before the calls and moved into the call's room at accept
(media/standby.py, now the console's way), quiet machine, 6 Dec 2026 21:20 UTC; the
same machine measured join-at-accept, B N=10, at 2.15 % a call (Janus 1.53 %) and first
audio p99 327 / 430 ms that hour, so it was slower than at 18:10 above:

    B  N=10  10/10  server/call 1.94 % (Janus 1.33 %)  165/212  189/225   28 %
    B  N=20  20/20  server/call 2.03 % (Janus 1.48 %)  177/222  151/225   42 %
    B  N=40  40/40  server/call 1.81 % (Janus 1.36 %)  272/450  641/855   79 %

    (largest N with clean audio both ways: 40, cpu_per_call=0.0181 estimate_calls=55.)
    Parked, each waiting lawyer's leg cost Janus 0.8-1.1 % of a core (its room's mixer
    and 50 packets a second of silence to it); one standby room shared by all the parked
    legs cost 0.5-0.7 % a leg but made each accept notify every parked leg (40 accepts
    at once: the moves' replies came 2.3 s late, at 60 some after the 5 s timeout).
    First audio within 300 ms at 10 and 20 calls accepted at once; at 40 the steer's
    re-INVITEs queue (the machine 79 % busy with the generators on it). N=60 was not
    clean (machine 99 %).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cpu import cpu_seconds  # bench/ is on sys.path when run as a script
from peers.client import WebRTCPeers
from peers.sip_callers import SipCaller, say_all, tone_packets
from peers.tone_ear import share_in
from redis.asyncio import Redis

from lawline.config import Settings
from lawline.media.access import media_access
from lawline.media.janus_process import MediaSupervisor, prepare_janus
from lawline.media.legs import BrowserLegs
from lawline.media.rooms import LAWYER_GROUP
from lawline.media.settings import MediaSettings
from lawline.media.standby import StandbyLegs
from lawline.queue.model import Contact, Lawyer
from lawline.queue.service import QueueService
from lawline.queue.settings import RoutingSettings
from lawline.queue.skills import Domain, Presence, Service
from lawline.queue.store import QueueStore
from lawline.redis_server import EmbeddedRedis
from lawline.telephony import prompts
from lawline.telephony.front import prepare_front, worker_addresses
from lawline.telephony.settings import TelephonySettings

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the test helpers, run from anywhere
from tests.front_helpers import free_port_run  # noqa: E402
from tests.netns import ip, local_veth  # noqa: E402
from tests.ports import free_sip_port, free_tcp_port  # noqa: E402

CALLER_HZ, LAWYER_HZ = 440, 1200
SRV_IP, CLI_IP = "10.77.21.1", "10.77.21.2"  # Janus's ICE address, the peers'
LINKS = ("llbridge0", "llbridge1")
CLONE_NEWNET = 0x40000000
CALLS_PER_WORKER = 4
CLEAN = 0.95
JITTER_S = 0.15  # a burst heard this far off the call's median delay still counts
EDGE_S = 0.05  # bursts judged this far in from each edge (onset jitter, not dropouts)
BUSY = 0.85  # all processes' share of the machine's cores past which N is out of CPU


def enter_netns(name: str) -> None:
    """Move this process (before any thread starts) and so its children into `name`,
    made if missing; a test namespace (LAWLINE_TEST_NETNS) is used as it is."""
    if not os.environ.get("LAWLINE_TEST_NETNS"):
        if not Path(f"/var/run/netns/{name}").exists():
            ip("netns", "add", name)
            ip("-n", name, "link", "set", "lo", "up")
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(f"/var/run/netns/{name}", os.O_RDONLY)
        try:
            if libc.setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns failed")
        finally:
            os.close(fd)
    local_veth(LINKS, {LINKS[0]: f"{SRV_IP}/24", LINKS[1]: f"{CLI_IP}/24"})
    ip("link", "set", "lo", "up")


def media_settings(
    work: Path, api_port: int, admin_port: int, args: argparse.Namespace
) -> MediaSettings:
    return MediaSettings(
        enabled=True,
        browser_codec=args.browser_codec,
        sampling_rate=args.room_rate,
        api_port=api_port,
        admin_port=admin_port,
        interfaces=[SRV_IP],
        config_dir=work / "janus",
        # Apart from the workers' RTP (10000 up) and the test suite's own Janus.
        rtp_port_range="50000-52999",
        plain_rtp_port_range="53000-55999",
    )


def media_env(media: MediaSettings) -> dict[str, str]:
    """The LAWLINE_MEDIA__* a worker reads to reach this Janus."""
    return {
        "LAWLINE_MEDIA__ENABLED": "true",
        "LAWLINE_MEDIA__API_HOST": media.api_host,
        "LAWLINE_MEDIA__ADMIN_HOST": media.admin_host,
        "LAWLINE_MEDIA__RTP_HOST": media.rtp_host,
        "LAWLINE_MEDIA__API_PORT": str(media.api_port),
        "LAWLINE_MEDIA__ADMIN_PORT": str(media.admin_port),
        "LAWLINE_MEDIA__INTERFACES": f'["{SRV_IP}"]',
        "LAWLINE_MEDIA__CONFIG_DIR": str(media.config_dir),
        "LAWLINE_MEDIA__RTP_PORT_RANGE": media.rtp_port_range,
        "LAWLINE_MEDIA__PLAIN_RTP_PORT_RANGE": media.plain_rtp_port_range,
        "LAWLINE_MEDIA__SAMPLING_RATE": str(media.sampling_rate),
    }


def machine_busy() -> tuple[float, float]:
    """All cores' busy and total jiffies so far (/proc/stat): every process, ours or not."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return float(sum(fields) - idle), float(sum(fields))


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# ----- the server's processes and the callers ----------------------------------------------


@dataclass
class WorkerProc:
    proc: subprocess.Popen[bytes]
    log: Path
    sip_port: int


def start_worker(
    work: Path, name: str, redis_url: str, rtp: int, env: dict[str, str], sip_port: int = 0
) -> WorkerProc:
    log, sip_port = work / f"{name}.log", sip_port or free_sip_port()
    full_env = {
        **os.environ,
        "LAWLINE_DATA_DIR": str(work / "data"),
        "LAWLINE_REDIS_URL": redis_url,
        "LAWLINE_TELEPHONY__PROMPTS_DIR": str(work / "prompts"),
        "LAWLINE_TRANSCRIPTS__ENABLED": "false",
        **env,
    }
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "lawline", "telephony-worker", "--sip-port", str(sip_port),
             "--rtp-port", str(rtp), "--name", name],
            env=full_env, stdout=out, stderr=subprocess.STDOUT, cwd=work,
        )  # fmt: skip
    deadline = time.monotonic() + 30
    while "telephony worker listening" not in log.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"worker did not start:\n{log.read_text()[-2000:]}")
        time.sleep(0.05)
    return WorkerProc(proc, log, sip_port)


def stop_worker(w: WorkerProc) -> int:
    """Its exit code after SIGTERM; killed if it takes over 30 s."""
    w.proc.send_signal(signal.SIGTERM)
    try:
        return w.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        w.proc.kill()
        w.proc.wait()
        return -9


@dataclass
class FrontProc:
    """Kamailio before the workers (--steer), in a process session of its own."""

    proc: subprocess.Popen[bytes]
    log: Path
    address: tuple[str, int]

    def pids(self) -> list[int]:
        """Its main process and every child (they share its session)."""
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError):
                if int(stat.read_text().rsplit(")", 1)[1].split()[3]) == self.proc.pid:
                    found.append(int(stat.parent.name))
        return found


def start_front(work: Path, n: int, first_worker_port: int, workers: int) -> FrontProc:
    settings = Settings(
        data_dir=work / "data",  # the workers': they check the front's signature with it
        sip_host="127.0.0.1",
        sip_port=free_sip_port(),
        telephony={
            "workers": workers,
            "front": {"worker_port": first_worker_port, "invites_per_s": 1000},
        },
    )
    child = prepare_front(settings, worker_addresses(settings)).child
    log = work / f"kamailio-{n}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            child.args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + 30
    while "Listening on" not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"Kamailio did not start:\n{log.read_text()[-2000:]}")
        time.sleep(0.05)
    return FrontProc(proc, log, (settings.sip_host, settings.sip_port))


def stop_front(front: FrontProc) -> None:
    front.proc.terminate()
    try:
        front.proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        front.proc.kill()
        front.proc.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(front.proc.pid, signal.SIGKILL)  # children that outlived it


@dataclass
class Call:
    """One bridged call as the bench sees it."""

    name: str
    caller: SipCaller
    peer: str = ""  # the lawyer's generator peer: the call's own, or the lawyer's parked one
    contact_id: str = ""
    lawyer: str = ""
    accept_t: float = 0.0
    answer_t: float | None = None
    lawyer_heard_t: float | None = None
    error: str = ""
    figures: dict[str, Any] = field(default_factory=dict)


async def dial(call: Call) -> None:
    """Answered, the caller chooses labour consultation (1, then 1) a second later."""
    await asyncio.wait_for(call.caller.answered.wait(), 30)
    if call.caller.status != 200:
        raise RuntimeError(f"a call was not answered: {call.caller.status}")
    await asyncio.sleep(1)
    call.caller.press("11")


async def park(lawyer: str, peers: WebRTCPeers, standby: StandbyLegs) -> None:
    """A console going on duty: its peer offers, parked in the standby room, muted."""
    sdp = await peers.offer(lawyer, timeout_s=30)
    peers.answer(lawyer, await standby.park(lawyer, sdp, display=lawyer))
    await peers.wait(lawyer, "connected", 30)


async def take_parked(
    call: Call, contact: Contact, queue: QueueService, standby: StandbyLegs
) -> None:
    """The lawyer accepts; the web process moves their parked leg into the call's room."""
    assert contact.lawyer is not None
    call.contact_id, call.lawyer, call.peer = contact.id, contact.lawyer, contact.lawyer
    call.accept_t = time.monotonic()
    stage = "accept"
    try:
        if not await queue.accept(contact.id, contact.lawyer):
            raise RuntimeError("not accepted")
        stage = "move"
        if not await standby.into_call(
            contact.lawyer, contact.id, display=contact.lawyer, group=LAWYER_GROUP
        ):
            raise RuntimeError("the parked leg did not move")
        call.answer_t = time.monotonic()
    except Exception as exc:
        call.error = f"{stage}: {type(exc).__name__}: {exc}"


async def connect(
    call: Call, contact: Contact, queue: QueueService, peers: WebRTCPeers, legs: BrowserLegs
) -> None:
    """The lawyer accepts; the browser offers, the web process joins it to the room."""
    assert contact.lawyer is not None
    call.contact_id, call.lawyer = contact.id, contact.lawyer
    call.accept_t = time.monotonic()
    offer = asyncio.create_task(peers.offer(call.name, timeout_s=30))
    stage = "accept"
    try:
        if not await queue.accept(contact.id, contact.lawyer):
            raise RuntimeError("not accepted")
        stage = "offer"
        sdp = await offer
        stage = "join"
        answer = await legs.join(
            contact.lawyer, contact.id, sdp, display=contact.lawyer, group=LAWYER_GROUP
        )
        peers.answer(call.name, answer)
        call.answer_t = time.monotonic()
    except Exception as exc:
        offer.cancel()
        call.error = f"{stage}: {type(exc).__name__}: {exc}"


def _span(marks: str, t0: float | None, m0: float, m1: float) -> str:
    if t0 is None:
        return ""
    return marks[max(0, int((m0 - t0) / 0.1)) : max(0, int((m1 - t0) / 0.1))]


def judge(call: Call, peer: dict[str, Any], m0: float, m1: float) -> dict[str, Any]:
    """One call's figures over the talking window [m0, m1]."""
    ear = call.caller.ear
    heard = ear.summary()
    lawyer_share = (
        share_in(peer["windows"], peer["answer_t"], [(m0, m1)]) if peer["answer_t"] else None
    )
    sent = [s for s in peer["sent_onsets"] if m0 <= s <= m1 - 1.0]
    # Each burst's nearest onset at the caller (bursts are 1 s apart: within 0.5 s is
    # that burst). The caller's timeline (the worker's RTP timestamps, anchored at their
    # earliest arrival) was seen up to ~150 ms off the generator's clock, drifting within
    # a call under load: a burst counts as heard within JITTER_S of the call's median
    # delay, and the windows inside it are judged from its own onset.
    nearest = [
        min((h - s for h in heard["heard_onsets"] if abs(h - s) < 0.5), key=abs, default=None)
        for s in sent
    ]
    found = [d for d in nearest if d is not None]
    delay = statistics.median(found) if found else None
    delays = [d for d in found if delay is not None and abs(d - delay) <= JITTER_S]
    caller_share = None
    if delay is not None:
        starts = [
            s + (d if d is not None and abs(d - delay) <= JITTER_S else delay)
            for s, d in zip(sent, nearest, strict=True)
        ]
        periods = [(t + EDGE_S, t + 0.5 - EDGE_S) for t in starts]
        caller_share = share_in(heard["windows"], ear.t0 or 0.0, periods)
    first = next((t for t in heard["heard_onsets"] if t >= call.accept_t), None)
    return {
        "accept_to_caller_hears_s": None if first is None else first - call.accept_t,
        "accept_to_lawyer_hears_s": (
            None if call.lawyer_heard_t is None else call.lawyer_heard_t - call.accept_t
        ),
        "accept_to_answer_s": None if call.answer_t is None else call.answer_t - call.accept_t,
        "lawyer_hears_share": lawyer_share,
        "caller_hears_share": caller_share,
        "bursts_heard_share": len(delays) / len(sent) if sent else None,
        "delay_lawyer_to_caller_s": delay,
        "nearest_onset_s": [None if d is None else round(d, 3) for d in nearest],
        # What each side heard over the window, 100 ms a character (tone_ear).
        "lawyer_heard": _span(peer["windows"], peer["answer_t"], m0, m1),
        "caller_heard": _span(heard["windows"], ear.t0, m0, m1),
        "clean": (
            lawyer_share is not None
            and lawyer_share >= CLEAN
            and bool(sent)
            and len(delays) / len(sent) >= CLEAN
            and caller_share is not None
            and caller_share >= CLEAN
        ),
    }


# ----- one N -------------------------------------------------------------------------------


async def run_n(
    n: int,
    args: argparse.Namespace,
    work: Path,
    redis_url: str,
    media: MediaSupervisor,
    settings: Settings,
) -> dict[str, Any]:
    janus_pid = media.pid
    assert janus_pid is not None
    nw = math.ceil(n / CALLS_PER_WORKER)
    env = media_env(settings.media)
    env["LAWLINE_TELEPHONY__CONFERENCE_RATE_HZ"] = str(args.conference_rate)
    env["LAWLINE_MEDIA__STEER_CALLS"] = "true" if args.steer else "false"
    behind_front = args.steer or args.front
    first = free_port_run(nw) if behind_front else 0
    workers = [
        start_worker(
            work, f"worker-{n}-{i + 1}", redis_url, 10000 + 400 * i, env, first + i if first else 0
        )
        for i in range(nw)
    ]
    front = start_front(work, n, first, nw) if behind_front else None
    server_pids = [janus_pid, *(w.proc.pid for w in workers)]
    if front is not None:
        await asyncio.sleep(2)  # its children forked, its first probes answered
        server_pids += front.pids()

    def cpu_of(pids: list[int]) -> float:
        total = 0.0
        for pid in pids:
            with contextlib.suppress(OSError):
                total += cpu_seconds(pid)
        return total

    def server_cpu() -> float:
        return cpu_of(server_pids)

    front_pids = [p for p in server_pids if front is not None and p in front.pids()]

    redis = Redis.from_url(redis_url, decode_responses=True)
    await redis.flushall()
    routing = RoutingSettings(wrapup_s=0, console_timeout_s=3600)
    queue = QueueService(QueueStore(redis), Settings(routing=routing))
    legs = BrowserLegs(media_access(settings))
    standby = StandbyLegs(legs)
    tones = ["--send-hz", str(LAWYER_HZ), "--hear-hz", str(CALLER_HZ)]
    peers = await WebRTCPeers.start(
        ["--ice-ip", CLI_IP, *tones, "--codec", settings.media.browser_codec]
    )
    say = tone_packets(CALLER_HZ)
    saying: list[SipCaller] = []  # every caller's RTP, one timer for all
    speaker = asyncio.create_task(say_all(saying))
    calls: list[Call] = []
    codes: list[int] = []
    try:
        await asyncio.sleep(1)  # the workers settle after start
        t_idle, c_idle, j_idle = time.monotonic(), server_cpu(), cpu_seconds(janus_pid)
        await asyncio.sleep(3)
        idle = (server_cpu() - c_idle) / (time.monotonic() - t_idle)
        janus_idle = (cpu_seconds(janus_pid) - j_idle) / (time.monotonic() - t_idle)
        parked_cost: float | None = None
        for i in range(n):
            lawyer = Lawyer(
                id=f"lawyer{i}", services={Service.CONSULTATION: 4}, domains={Domain.LABOUR: 5}
            )
            await queue.create_lawyer(lawyer)
            await queue.set_presence(lawyer.id, Presence.AVAILABLE)
        if args.park:
            await asyncio.gather(*(park(f"lawyer{i}", peers, standby) for i in range(n)))
            # What the parked legs cost Janus while the lawyers wait (every one muted,
            # each sent the standby room's silence).
            await asyncio.sleep(1)
            t_p, j_p = time.monotonic(), cpu_seconds(janus_pid)
            await asyncio.sleep(3)
            janus_parked = (cpu_seconds(janus_pid) - j_p) / (time.monotonic() - t_p)
            parked_cost = (janus_parked - janus_idle) / n
        await queue.start()
        connecting: list[asyncio.Task[None]] = []
        async with queue.subscribe() as evs:
            for i in range(n):
                # Spread over the workers, or through the front, which spreads them.
                target = front.address if front else ("127.0.0.1", workers[i % nw].sip_port)
                caller = await SipCaller.start(target, f"1380000{i:04d}", say, LAWYER_HZ)
                calls.append(Call(f"call-{n}-{i}", caller, peer=f"call-{n}-{i}"))
                saying.append(caller)
            await asyncio.gather(*(dial(c) for c in calls))
            waiting = list(calls)
            while waiting:
                ev = await asyncio.wait_for(evs.get(), 60)
                if ev.type == "contact.offered" and ev.contact and ev.contact.lawyer:
                    # The call of that contact's caller (its number), so each call's
                    # accept and what its caller heard belong together.
                    mine = [c for c in waiting if c.caller.number == ev.contact.caller]
                    call = mine[0] if mine else waiting[0]
                    waiting.remove(call)
                    connecting.append(
                        asyncio.create_task(
                            take_parked(call, ev.contact, queue, standby)
                            if args.park
                            else connect(call, ev.contact, queue, peers, legs)
                        )
                    )
            await asyncio.gather(*connecting)

        async def heard(call: Call) -> None:
            if not call.error:
                with contextlib.suppress(TimeoutError):
                    call.lawyer_heard_t = await peers.wait(call.peer, "heard", args.timeout)

        await asyncio.gather(*(heard(c) for c in calls))
        await asyncio.sleep(2)  # settled

        others = [peers.pid, os.getpid()]
        m0, s0, busy0 = time.monotonic(), server_cpu(), machine_busy()
        j0, f0 = cpu_seconds(janus_pid), cpu_of(front_pids)
        o0 = sum(cpu_seconds(pid) for pid in others)
        await asyncio.sleep(args.seconds)
        m1, s1, busy1 = time.monotonic(), server_cpu(), machine_busy()
        j1, f1 = cpu_seconds(janus_pid), cpu_of(front_pids)
        o1 = sum(cpu_seconds(pid) for pid in others)
        stats = await peers.stats(timeout_s=30)
        for call in calls:
            if call.contact_id:
                await queue.end(call.contact_id, "lawyer")  # the worker hangs up the caller
                await legs.leave(call.lawyer)
    finally:
        for call in calls:
            peers.close(call.peer)
        with contextlib.suppress(TimeoutError):
            await peers.wait_closed([c.peer for c in calls], 10 + n / 2)
        await peers.quit()
        await standby.stop()
        await legs.stop()
        # The worker hangs up each caller once its contact ended; else the caller does.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(20):
                await asyncio.gather(*(c.caller.ended.wait() for c in calls))
        speaker.cancel()
        for call in calls:
            await call.caller.hang_up()
        await queue.stop()
        await redis.aclose()
        codes = [stop_worker(w) for w in workers]
        if front is not None:
            stop_front(front)
    span = m1 - m0
    for call in calls:
        peer = stats["peers"].get(call.peer)
        if peer is not None and not call.error:
            call.figures = judge(call, peer, m0, m1)
    judged = [c.figures for c in calls if c.figures]

    def values(key: str) -> list[float]:
        return [f[key] for f in judged if f.get(key) is not None]

    # The whole machine's busy share over the window (other work on it included).
    load = (busy1[0] - busy0[0]) / max(1.0, busy1[1] - busy0[1])
    return {
        "calls": n,
        "steered": bool(args.steer),
        "parked": bool(args.park),
        "janus_cpu_per_parked_leg": parked_cost,
        "front": front is not None,
        "workers": nw,
        "clean_calls": sum(1 for f in judged if f["clean"]),
        "errors": sorted({c.error for c in calls if c.error})[:3] + peers.errors[:3],
        "server_cpu_per_call": ((s1 - s0) / span - idle) / n,
        "server_idle": idle,
        "janus_cpu_per_call": (j1 - j0) / span / n,  # idle not taken off
        "front_cpu_per_call": (f1 - f0) / span / n,  # Kamailio's (idle not taken off)
        "others_cpu_per_call": (o1 - o0) / span / n,
        "machine_busy": load,
        "caller_hears_p50": pct(values("accept_to_caller_hears_s"), 0.5),
        "caller_hears_p99": pct(values("accept_to_caller_hears_s"), 0.99),
        "lawyer_hears_p50": pct(values("accept_to_lawyer_hears_s"), 0.5),
        "lawyer_hears_p99": pct(values("accept_to_lawyer_hears_s"), 0.99),
        "answer_p50": pct(values("accept_to_answer_s"), 0.5),
        "delay_p50": pct(values("delay_lawyer_to_caller_s"), 0.5),
        "lawyer_share_min": min(values("lawyer_hears_share"), default=None),
        "caller_share_min": min(values("caller_hears_share"), default=None),
        "bursts_min": min(values("bursts_heard_share"), default=None),
        "missing_first_audio": n - len(values("accept_to_caller_hears_s")),
        "workers_exit_ok": all(c == 0 for c in codes),
        "loadavg": Path("/proc/loadavg").read_text().split()[0],
        "per_call": judged,
    }


# ----- output ------------------------------------------------------------------------------


def fmt(v: float | None, pattern: str) -> str:
    return "-" if v is None else pattern.format(v)


def ms(v: float | None) -> str:
    return fmt(None if v is None else v * 1000, "{:.0f}")


def row(r: dict[str, Any]) -> str:
    design = "B (steered)" if r["steered"] else "A (relayed)"
    design += ", front" if r["front"] else ""
    return (
        f"N={r['calls']:>3} design {design} workers {r['workers']:>2}"
        f" clean {r['clean_calls']:>3}/{r['calls']:<3}"
        f" server cpu/call {r['server_cpu_per_call'] * 100:.2f}%"
        f" (Janus {r['janus_cpu_per_call'] * 100:.2f}%, Kamailio"
        f" {r['front_cpu_per_call'] * 100:.2f}%; idle {r['server_idle'] * 100:.1f}%)"
        f" others/call {r['others_cpu_per_call'] * 100:.1f}%"
        f" machine {r['machine_busy']:.0%}"
        f" | accept->first audio: lawyer hears p50 {ms(r['lawyer_hears_p50'])} ms"
        f" p99 {ms(r['lawyer_hears_p99'])} ms, caller hears p50 {ms(r['caller_hears_p50'])} ms"
        f" p99 {ms(r['caller_hears_p99'])} ms (answer p50 {ms(r['answer_p50'])} ms)"
        f" | delay l->c {ms(r['delay_p50'])} ms"
        f" heard min: lawyer {fmt(r['lawyer_share_min'], '{:.2f}')}"
        f" caller {fmt(r['caller_share_min'], '{:.2f}')}"
        f" bursts {fmt(r['bursts_min'], '{:.2f}')}"
        + (
            ""
            if r.get("janus_cpu_per_parked_leg") is None
            else f" | parked before: Janus {r['janus_cpu_per_parked_leg'] * 100:.2f}% a leg"
        )
        + f" | load {r['loadavg']}"
        + ("" if r["workers_exit_ok"] else " | A WORKER EXITED NOT 0")
    )


async def main_async(args: argparse.Namespace) -> None:
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="lawline-bridge-") as tmp:
        work = Path(tmp)
        prompts.build(work / "prompts")
        settings_media = media_settings(work, free_tcp_port(), free_tcp_port(), args)
        print(
            f"browser codec {args.browser_codec}, rooms at {args.room_rate} Hz, workers' "
            f"conference at {args.conference_rate} Hz; lawyers' browsers "
            + ("parked before the calls, moved in at accept" if args.park else "join at accept"),
            flush=True,
        )
        settings = Settings(data_dir=work / "data", media=settings_media)
        (work / "logs").mkdir()
        media = MediaSupervisor(prepare_janus(settings), os.environ, work / "logs", 20)
        await media.start()
        try:
            with EmbeddedRedis(work / "redis", appendfsync="everysec") as redis:
                for n in args.calls:
                    try:
                        r = await run_n(n, args, work, redis.url, media, settings)
                    except Exception as exc:  # the next N may still run
                        print(f"N={n:>3} failed: {type(exc).__name__}: {exc}", flush=True)
                        continue
                    results.append(r)
                    print(row(r), flush=True)
                    if args.out:
                        Path(args.out).write_text(json.dumps(results, indent=1) + "\n")
                    if r["errors"]:
                        print(f"  errors: {r['errors']}", flush=True)
                    if r["clean_calls"] < n and r["machine_busy"] >= BUSY:
                        print(
                            f"  N={n}: the machine is out of CPU ({r['machine_busy']:.0%} of its "
                            f"{os.cpu_count()} cores busy, the generator, the callers and other "
                            "work included): this N is past what it can test",
                            flush=True,
                        )
        finally:
            await media.stop()
    clean = [r for r in results if r["clean_calls"] == r["calls"]]
    largest = max(clean, key=lambda r: r["calls"]) if clean else None
    short = [r["calls"] for r in results if r["calls"] >= 40 and r["clean_calls"] < r["calls"]]
    if short:
        print(
            f"note: this machine ({os.cpu_count()} cores) did not reach clean audio at N = "
            f"{', '.join(map(str, short))} with the generator and the callers on it too"
        )
    basis = largest or max(results, key=lambda r: r["calls"], default=None)
    per_call = basis["server_cpu_per_call"] if basis else 0.0
    estimate = int(1 / per_call) if per_call > 0 else 0
    print(
        f"estimate: at {per_call * 100:.2f}% of a core per call (Janus + workers, N = "
        f"{basis['calls'] if basis else 0}), one core would carry ~{estimate} calls "
        "(from the per-call CPU, not measured)"
    )
    print(f"largest N with clean audio both ways: {largest['calls'] if largest else 0}")
    print(f"cpu_per_call={per_call:.4f} estimate_calls={estimate}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--calls",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[10, 20, 40, 60],
        help="N values: calls bridged at once",
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="talking time per N")
    parser.add_argument("--timeout", type=float, default=20.0, help="wait to hear, per call")
    parser.add_argument("--out", default="", help="write the results (JSON) here")
    parser.add_argument("--netns", default="lawline-bridge-bench", help="outside a test one")
    media, telephony = MediaSettings(), TelephonySettings()
    parser.add_argument("--browser-codec", default=media.browser_codec, choices=["pcmu", "opus"])
    parser.add_argument("--room-rate", type=int, default=media.sampling_rate)
    parser.add_argument("--conference-rate", type=int, default=telephony.conference_rate_hz)
    parser.add_argument(
        "--steer",
        action="store_true",
        help="design B: callers through a Kamailio front that steers their RTP to the rooms",
    )
    parser.add_argument(
        "--front", action="store_true", help="design A with the callers through a Kamailio front"
    )
    parser.add_argument(
        "--join-at-accept",
        dest="park",
        action="store_false",
        help="each lawyer's browser connects at accept, not parked beforehand (the console's "
        "way before media/standby.py)",
    )
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root: it makes a network namespace and interfaces")
    enter_netns(args.netns)
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
