"""N mediation rooms at once on the real media path, four participants each: the
mediator and a party in browsers (cheap WebRTC generator peers) and two parties on the
phone, who dial 12348, press 0 and enter the room's number and their PIN.

Run as root, after scripts/setup.sh (which runs bench/setup_bench.sh for the generator):

    .venv/bin/python bench/rooms_bench.py [--rooms 1,5,10,20] [--seconds 20]

The namespace, Janus and the telephony workers are set up as bench/bridge_bench.py sets
them up (its helpers are used here). The web process's part is this process: lawline's
LiveRooms opens each room (an AudioBridge room with a group per side, as a mediator's
room_open does), seats the browsers' offers, and takes the phones' legs from the
workers (PhoneParties, the same Redis contract). Per room:
- the mediator: a generator peer saying 1200 Hz in bursts (500 ms on, off as long) at a
  tenth of full scale, listening for 440 Hz;
- a party in a browser: a peer of a second generator, silent, listening for 440 Hz;
- a party on the phone (bench/peers/sip_callers.py) saying 440 Hz, listening for the
  mediator's bursts;
- a second party on the phone, silent, listening for 440 Hz.
So every participant has one voice to hear, and the others in the mix (the mediator's
quiet bursts) leave it the larger part of each frame, as in a mediation where one
speaks at a time: clean is each of the four hearing its voice in >= 95 % of the 100 ms
windows of the talking time (the phone hearing the bursts: judged burst by burst, as
the bridge bench judges its callers).
Printed per N: server CPU per participant (Janus and the workers, less their idle rate,
over the talking window, over 4 N, as a share of one core; Janus's share beside it),
the generators' and this process's apart, the machine's busy share, rooms clean, and
the mixing delay p50 (the mediator's burst onset to the phone party hearing it: browser
-> Janus mix -> worker -> phone). The last line: `rooms=N parties_per_room=4 clean=yes
cpu_per_party=<share of a core> estimate_rooms=<int>` for the largest clean N (rooms one
core of server processes would carry at that per-party CPU: an estimate); `clean=no`
and the largest N's figures when none was clean.

Measured on 4 Dec 2026, 20:05-20:08 UTC, on this 2-core machine otherwise quiet
(--seconds 20; "machine" is its busy share over the window, generators included):

    rooms  clean  server/party  Janus/party  mixing delay p50/p99  machine
    1      1/1    2.30 %        1.15 %       133 / 133 ms          10 %
    5      5/5    1.48 %        0.75 %       106 / 137 ms          34 %
    10     10/10  1.47 %        0.78 %       108 / 126 ms          58 %
    20     0/20   1.31 %        0.65 %       117 / 142 ms          99 % (out of CPU)

    rooms=10 parties_per_room=4 clean=yes cpu_per_party=0.0147 estimate_rooms=17

Ten rooms of four (40 participants, 20 of them phones through 5 telephony workers) are
clean on this machine, the aim. At 20 the server takes ~1.05 cores and the generators
and phones the rest: the machine is out of CPU and the phones' audio breaks (heard
0.83 at worst); the bench says so. Estimate (not measured): one core of server
processes carries ~17 rooms of four, a 2-core node with nothing else ~34. The mixing
delay is the mediator's voice to a phone party's ear through the room (browser peer ->
Janus mix -> worker relay -> phone), ~110 ms; transcription is off here (a room's
transcript adds four forwarders and Vosk or Whisper per side: asr_bench.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bridge_bench import (  # bench/ is on sys.path when run as a script
    BUSY,
    CLEAN,
    CLI_IP,
    Call,
    enter_netns,
    free_tcp_port,
    judge,
    machine_busy,
    media_env,
    media_settings,
    pct,
    start_worker,
    stop_worker,
)
from cpu import cpu_seconds
from peers.client import WebRTCPeers
from peers.sip_callers import SipCaller, say_all, tone_packets
from peers.tone_ear import share_in
from redis.asyncio import Redis

from lawline.config import Settings
from lawline.media.access import media_access
from lawline.media.janus_process import MediaSupervisor, prepare_janus
from lawline.media.legs import BrowserLegs
from lawline.media.settings import MediaSettings
from lawline.mediation.live import MEDIATOR, LiveRooms, SeatOf, party_seat
from lawline.mediation.phone_parties import PhoneParties
from lawline.redis_server import EmbeddedRedis
from lawline.telephony import prompts
from lawline.telephony.settings import TelephonySettings

VOICE_HZ, MEDIATOR_HZ = 440, 1200
PHONES_PER_WORKER = 4
SILENCE = [b"\xff" * 160] * 50  # u-law silence, a second of it


@dataclass
class Room:
    case_id: str
    phone_voice: SipCaller | None = None  # says 440, hears the mediator
    phone_quiet: SipCaller | None = None  # silent, hears 440
    error: str = ""
    figures: dict[str, Any] | None = None

    @property
    def mediator(self) -> str:
        return f"m-{self.case_id}"

    @property
    def party(self) -> str:
        return f"w-{self.case_id}"


async def _noop(frame: dict[str, Any]) -> None:
    pass


async def seat_browsers(room: Room, rooms: LiveRooms, med: WebRTCPeers, web: WebRTCPeers) -> None:
    for who, peers, name in ((MEDIATOR, med, room.mediator), (party_seat(1), web, room.party)):
        await rooms.take_seat(room.case_id, who, name, _noop)
        offer = await peers.offer(name, timeout_s=30)
        peers.answer(name, await rooms.offer(room.case_id, who, name, offer))


async def dial_in(
    room: Room,
    rooms: LiveRooms,
    target: tuple[str, int],
    say: list[bytes],
    saying: list[SipCaller],
) -> None:
    """Both phone parties call, press 0, then the room's number and their own PIN."""
    live = rooms.get(room.case_id)
    assert live is not None
    voice = await SipCaller.start(target, "13900000001", say, MEDIATOR_HZ)
    quiet = await SipCaller.start(target, "13900000002", SILENCE, VOICE_HZ)
    room.phone_voice, room.phone_quiet = voice, quiet
    saying += [voice, quiet]  # their RTP (and keys) from now, on the one timer
    for caller, seat in ((voice, party_seat(2)), (quiet, party_seat(3))):
        await asyncio.wait_for(caller.answered.wait(), 30)
        if caller.status != 200:
            raise RuntimeError(f"a phone party was not answered: {caller.status}")
        caller.press("0" + live.dial_in + live.seats[seat].pin)
    deadline = time.monotonic() + 60
    while not all(live.seats[party_seat(i)].dial == "in_room" for i in (2, 3)):
        if time.monotonic() > deadline:
            states = [live.seats[party_seat(i)].dial for i in (2, 3)]
            raise RuntimeError(f"the phones did not take their seats: {states}")
        await asyncio.sleep(0.1)


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
    nw = math.ceil(2 * n / PHONES_PER_WORKER)
    env = media_env(settings.media)
    workers = [
        start_worker(work, f"worker-{n}-{i + 1}", redis_url, 10000 + 400 * i, env)
        for i in range(nw)
    ]
    server_pids = [janus_pid, *(w.proc.pid for w in workers)]

    def server_cpu() -> float:
        return sum(cpu_seconds(pid) for pid in server_pids)

    redis = Redis.from_url(redis_url)
    listen = Redis.from_url(redis_url)
    await redis.flushall()
    legs = BrowserLegs(media_access(settings))
    phones = PhoneParties(redis, listen, settings.redis_prefix)
    rooms = LiveRooms(legs, lambda name: work / name, announce=False, phones=phones)
    following = asyncio.create_task(phones.run(rooms.phone_event))
    codec = ["--ice-ip", CLI_IP, "--codec", settings.media.browser_codec]
    med = await WebRTCPeers.start(
        [*codec, "--send-hz", str(MEDIATOR_HZ), "--volume", "0.1", "--hear-hz", str(VOICE_HZ)]
    )
    web = await WebRTCPeers.start([*codec, "--volume", "0", "--hear-hz", str(VOICE_HZ)])
    say = tone_packets(VOICE_HZ)
    saying: list[SipCaller] = []
    speaker = asyncio.create_task(say_all(saying))
    all_rooms = [Room(f"bench{n}x{i}") for i in range(n)]
    try:
        await asyncio.sleep(1)  # the workers settle after start
        t_idle, c_idle = time.monotonic(), server_cpu()
        await asyncio.sleep(3)
        idle = (server_cpu() - c_idle) / (time.monotonic() - t_idle)
        parties = [
            SeatOf(1, "甲", "applicant", "link"),
            SeatOf(2, "乙", "respondent", "phone"),
            SeatOf(3, "丙", "third_party", "phone"),
        ]

        async def set_up(i: int, room: Room) -> None:
            try:
                await rooms.open(room.case_id, "调解员", parties)
                await seat_browsers(room, rooms, med, web)
                target = ("127.0.0.1", workers[i % nw].sip_port)
                await dial_in(room, rooms, target, say, saying)
            except Exception as exc:
                room.error = f"{type(exc).__name__}: {exc}"

        await asyncio.gather(*(set_up(i, r) for i, r in enumerate(all_rooms)))
        up = [r for r in all_rooms if not r.error]

        async def heard(peers: WebRTCPeers, name: str) -> None:
            with contextlib.suppress(TimeoutError):
                await peers.wait(name, "heard", args.timeout)

        await asyncio.gather(
            *(heard(med, r.mediator) for r in up), *(heard(web, r.party) for r in up)
        )
        await asyncio.sleep(2)  # settled
        others = [med.pid, web.pid, os.getpid()]
        m0, s0, busy0 = time.monotonic(), server_cpu(), machine_busy()
        j0 = cpu_seconds(janus_pid)
        o0 = sum(cpu_seconds(pid) for pid in others)
        await asyncio.sleep(args.seconds)
        m1, s1, busy1 = time.monotonic(), server_cpu(), machine_busy()
        j1 = cpu_seconds(janus_pid)
        o1 = sum(cpu_seconds(pid) for pid in others)
        med_stats, web_stats = await med.stats(timeout_s=30), await web.stats(timeout_s=30)
    finally:
        for room in all_rooms:
            with contextlib.suppress(Exception):
                await rooms.close(room.case_id)  # the phones are told and hung up on
            med.close(room.mediator)
            web.close(room.party)
        for peers in (med, web):
            await peers.quit()
        following.cancel()
        await asyncio.gather(following, return_exceptions=True)
        await legs.stop()
        speaker.cancel()
        for room in all_rooms:
            for caller in (room.phone_voice, room.phone_quiet):
                if caller is not None:
                    await caller.hang_up()
        await redis.aclose()
        await listen.aclose()
        codes = [stop_worker(w) for w in workers]
    span = m1 - m0
    for room in up:
        room.figures = judge_room(room, med_stats["peers"], web_stats["peers"], m0, m1)
    judged = [r.figures for r in up if r.figures]

    def values(key: str) -> list[float]:
        return [f[key] for f in judged if f.get(key) is not None]

    load = (busy1[0] - busy0[0]) / max(1.0, busy1[1] - busy0[1])
    parties_n = 4 * n
    return {
        "rooms": n,
        "workers": nw,
        "clean_rooms": sum(1 for f in judged if f["clean"]),
        "errors": sorted({r.error for r in all_rooms if r.error})[:3] + med.errors[:2],
        "server_cpu_per_party": ((s1 - s0) / span - idle) / parties_n,
        "server_idle": idle,
        "janus_cpu_per_party": (j1 - j0) / span / parties_n,
        "others_cpu_per_party": (o1 - o0) / span / parties_n,
        "machine_busy": load,
        "mixing_delay_p50": pct(values("mixing_delay_s"), 0.5),
        "mixing_delay_p99": pct(values("mixing_delay_s"), 0.99),
        "heard_min": {
            k: min(values(k), default=None)
            for k in ("mediator", "web_party", "phone_voice", "phone_quiet")
        },
        "workers_exit_ok": all(c == 0 for c in codes),
        "loadavg": Path("/proc/loadavg").read_text().split()[0],
        "per_room": judged,
    }


def judge_room(
    room: Room, med: dict[str, Any], web: dict[str, Any], m0: float, m1: float
) -> dict[str, Any] | None:
    mediator, party = med.get(room.mediator), web.get(room.party)
    voice, quiet = room.phone_voice, room.phone_quiet
    if mediator is None or party is None or voice is None or quiet is None:
        return None
    # The mediator and the phone that speaks: judged as the bridge bench judges a call.
    pair = judge(Call(room.case_id, voice), mediator, m0, m1)
    answered = party["answer_t"]
    web_share = share_in(party["windows"], answered, [(m0, m1)]) if answered else None
    ear = quiet.ear.summary()
    quiet_share = share_in(ear["windows"], quiet.ear.t0 or 0.0, [(m0, m1)])
    shares = {
        "mediator": pair["lawyer_hears_share"],
        "web_party": web_share,
        "phone_voice": pair["caller_hears_share"],
        "phone_quiet": quiet_share,
    }
    clean = pair["clean"] and all(s is not None and s >= CLEAN for s in shares.values())
    return {**shares, "mixing_delay_s": pair["delay_lawyer_to_caller_s"], "clean": clean}


def fmt(v: float | None, pattern: str) -> str:
    return "-" if v is None else pattern.format(v)


def row(r: dict[str, Any]) -> str:
    heard = " ".join(f"{k} {fmt(v, '{:.2f}')}" for k, v in r["heard_min"].items())
    delay = r["mixing_delay_p50"], r["mixing_delay_p99"]
    return (
        f"rooms={r['rooms']:>3} workers {r['workers']:>2}"
        f" clean {r['clean_rooms']:>3}/{r['rooms']:<3}"
        f" server cpu/party {r['server_cpu_per_party'] * 100:.2f}%"
        f" (Janus {r['janus_cpu_per_party'] * 100:.2f}%; idle {r['server_idle'] * 100:.1f}%)"
        f" others/party {r['others_cpu_per_party'] * 100:.1f}% machine {r['machine_busy']:.0%}"
        f" | mixing delay p50 {fmt(delay[0] and delay[0] * 1000, '{:.0f}')} ms"
        f" p99 {fmt(delay[1] and delay[1] * 1000, '{:.0f}')} ms | heard min: {heard}"
        f" | load {r['loadavg']}" + ("" if r["workers_exit_ok"] else " | A WORKER EXITED NOT 0")
    )


async def main_async(args: argparse.Namespace) -> None:
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="lawline-rooms-") as tmp:
        work = Path(tmp)
        prompts.build(work / "prompts")
        media = media_settings(work, free_tcp_port(), free_tcp_port(), args)
        settings = Settings(data_dir=work / "data", media=media)
        (work / "logs").mkdir()
        supervisor = MediaSupervisor(prepare_janus(settings), os.environ, work / "logs", 20)
        await supervisor.start()
        try:
            with EmbeddedRedis(work / "redis", appendfsync="everysec") as redis:
                for n in args.rooms:
                    try:
                        r = await run_n(n, args, work, redis.url, supervisor, settings)
                    except Exception as exc:  # the next N may still run
                        print(f"rooms={n:>3} failed: {type(exc).__name__}: {exc}", flush=True)
                        continue
                    results.append(r)
                    print(row(r), flush=True)
                    if r["errors"]:
                        print(f"  errors: {r['errors']}", flush=True)
                    if r["clean_rooms"] < n and r["machine_busy"] >= BUSY:
                        print(
                            f"  rooms={n}: the machine is out of CPU ({r['machine_busy']:.0%} of"
                            f" its {os.cpu_count()} cores busy, the generators and phones "
                            "included): this N is past what it can test",
                            flush=True,
                        )
        finally:
            await supervisor.stop()
    clean = [r for r in results if r["clean_rooms"] == r["rooms"]]
    largest = max(clean, key=lambda r: r["rooms"]) if clean else None
    basis = largest or max(results, key=lambda r: r["rooms"], default=None)
    per_party = basis["server_cpu_per_party"] if basis else 0.0
    estimate = int(1 / (4 * per_party)) if per_party > 0 else 0
    print(
        f"estimate: at {per_party * 100:.2f}% of a core per participant (Janus + workers, "
        f"{basis['rooms'] if basis else 0} rooms), one core would carry ~{estimate} rooms of 4"
        " (from the per-participant CPU, not measured)"
    )
    n = largest["rooms"] if largest else (basis["rooms"] if basis else 0)
    print(
        f"rooms={n} parties_per_room=4 clean={'yes' if largest else 'no'} "
        f"cpu_per_party={per_party:.4f} estimate_rooms={estimate}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rooms",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[1, 5, 10, 20],
        help="N values: rooms of four at once",
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="talking time per N")
    parser.add_argument("--timeout", type=float, default=20.0, help="wait to hear, per peer")
    parser.add_argument("--netns", default="lawline-rooms-bench", help="outside a test one")
    media, telephony = MediaSettings(), TelephonySettings()
    parser.add_argument("--browser-codec", default=media.browser_codec, choices=["pcmu", "opus"])
    parser.add_argument("--room-rate", type=int, default=media.sampling_rate)
    parser.add_argument("--conference-rate", type=int, default=telephony.conference_rate_hz)
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root: it makes a network namespace and interfaces")
    enter_netns(args.netns)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
