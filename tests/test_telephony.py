"""The 12348 voice gateway against real peers: a pjsua2 worker process, SIPp callers,
a real redis-server, and (for the survey) a duty lawyer driven through the real queue."""

from __future__ import annotations

import array
import asyncio
import contextlib
import json
import math
import shutil
import socket
import statistics
import subprocess
import sys
import wave
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from redis.asyncio import Redis

from lawline.config import Settings
from lawline.queue.model import Lawyer
from lawline.queue.service import QueueService
from lawline.queue.settings import RoutingSettings
from lawline.queue.skills import Domain, Presence, Service
from lawline.queue.store import Event, QueueStore
from tests.ports import free_sip_port
from tests.sip_helpers import (
    CALLER,
    Worker,
    run_sipp,
    scenario,
    telephony_worker,
)

pytestmark = pytest.mark.skipif(
    shutil.which("sipp") is None, reason="SIPp (Debian sip-tester) is installed by scripts/setup.sh"
)


@pytest.fixture
def worker(tmp_path: Path, clean_redis_url: str, prompts_dir: Path) -> Iterator[Worker]:
    with telephony_worker(tmp_path, clean_redis_url, prompts_dir) as w:
        yield w


async def events(redis: Redis) -> list[dict[str, str]]:
    return [fields for _, fields in await redis.xrange("ll:events")]


def queue_events(stream: list[dict[str, str]]) -> list[str]:
    """The call's and the queue's events, without the transcript's (it closes on its
    own time, in the background, after the conversation ends)."""
    return [e["type"] for e in stream if not e["type"].startswith("transcript.")]


async def only_contact(redis: Redis) -> dict[str, str]:
    [key] = await redis.keys("ll:contact:*")
    return await redis.hgetall(key)


async def contact_once(
    redis: Redis, holds: Callable[[dict[str, str]], bool], timeout_s: float = 10
) -> dict[str, str]:
    """The only contact, once `holds` is true of it (or as it is after timeout_s)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not holds(contact := await only_contact(redis)):
        if asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.05)
    return contact


def sipp(
    tmp: Path, worker: Worker, steps: list[tuple[str, object]], transport: str = "u1", **kw: Any
) -> None:
    result = run_sipp(tmp, worker, scenario("call", steps, **kw), transport=transport)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


async def test_caller_chooses_legal_aid_then_hangs_up_while_waiting(
    tmp_path: Path, worker: Worker, redis: Redis
) -> None:
    await asyncio.to_thread(
        sipp, tmp_path, worker, [("pause", 500), ("keys", "2"), ("pause", 2500), ("bye", None)]
    )
    # The caller's BYE is answered before the worker's queue operation lands: wait for it.
    contact = await contact_once(redis, lambda c: c["state"] != "waiting")
    assert contact["service"] == "legal_aid"
    assert contact["caller"] == CALLER
    assert json.loads(contact["attrs"])["menu"] == "main:2"
    # Hung up before a lawyer answered: abandoned, not left waiting as a ghost.
    assert contact["state"] == "abandoned"
    assert await redis.zcard("ll:waiting") == 0
    kinds = [e["type"] for e in await events(redis)]
    assert kinds == ["call.menu", "contact.entered", "contact.abandoned"]


async def test_consultation_submenu_and_green_channel(
    tmp_path: Path, worker: Worker, redis: Redis
) -> None:
    await asyncio.to_thread(
        sipp,
        tmp_path,
        worker,
        [
            ("pause", 500),
            ("info", "84"),
            ("pause", 500),
            ("info", "11"),
            ("pause", 2000),
            ("bye", None),
        ],
    )
    contact = await only_contact(redis)
    assert (contact["service"], contact["domain"], contact["green"]) == (
        "consultation",
        "labour",
        "migrant_wages",
    )
    assert json.loads(contact["attrs"])["menu"] == "main:8 green:4 main:1 consultation:1"


async def test_unknown_number_is_refused_with_404(tmp_path: Path, worker: Worker) -> None:
    result = await asyncio.to_thread(
        run_sipp, tmp_path, worker, scenario("wrong", [("status", 404)], answered=False), "99999"
    )
    assert result.returncode == 0, result.stdout[-2000:]


async def test_key_1_while_waiting_books_a_callback_and_lawline_hangs_up(
    tmp_path: Path, worker: Worker, redis: Redis
) -> None:
    await book_callback(tmp_path, worker, redis)
    contact = await only_contact(redis)
    assert contact["callback_number"] == CALLER
    assert await redis.zcard("ll:waiting") == 1


async def test_a_number_over_its_daily_callbacks_is_told_so_and_keeps_waiting(
    tmp_path: Path, worker: Worker, redis: Redis
) -> None:
    # This number has asked for today's callbacks already (as three earlier calls would).
    day = datetime.now(ZoneInfo(Settings().timezone)).strftime("%Y%m%d")
    await redis.set(f"ll:callbacks-day:{CALLER}:{day}", 3)
    # Key 1 while waiting; lawline does not hang up: the caller hangs up 6 s later.
    await asyncio.to_thread(
        sipp,
        tmp_path,
        worker,
        [
            ("pause", 500),
            ("keys", "3"),
            ("pause", 2500),
            ("keys", "1"),
            ("pause", 6000),
            ("bye", None),
        ],
    )
    # No callback was booked, so hanging up abandons the call (no ghost waits for one).
    async with asyncio.timeout(10):
        while (contact := await only_contact(redis))["state"] == "waiting":
            await asyncio.sleep(0.05)
    assert (contact["state"], contact.get("callback", "0")) == ("abandoned", "0")
    assert await redis.zcard("ll:waiting") == 0


async def test_after_the_lawyer_ends_the_caller_rates_the_service(
    tmp_path: Path, worker: Worker, redis: Redis, clean_redis_url: str
) -> None:
    settings = Settings(routing=RoutingSettings(wrapup_s=0))
    queue = QueueService(QueueStore(redis), settings)
    await queue.create_lawyer(
        Lawyer(id="wang", services={Service.CONSULTATION: 4}, domains={Domain.LABOUR: 5})
    )
    await queue.set_presence("wang", Presence.AVAILABLE)
    await queue.start()

    async def duty_lawyer() -> None:
        """Accepts the first offer, talks for a second, ends the conversation."""
        async with queue.subscribe() as evs:
            while True:
                ev = await evs.get()
                if ev.type == "contact.offered" and ev.contact is not None:
                    assert await queue.accept(ev.contact.id, "wang")
                    await asyncio.sleep(1)
                    assert await queue.end(ev.contact.id, "lawyer") == 1
                    return

    lawyer = asyncio.create_task(duty_lawyer())
    try:
        await asyncio.to_thread(
            sipp,
            tmp_path,
            worker,
            # Menu 1-1 (labour), talk, then the survey: press 4 and lawline says goodbye.
            [("pause", 500), ("info", "11"), ("pause", 7000), ("keys", "4"), ("expect_bye", 20000)],
        )
        await asyncio.wait_for(lawyer, 5)
    finally:
        lawyer.cancel()
        await queue.stop()
    contact = await only_contact(redis)
    assert (contact["state"], contact["rating"]) == ("ended", "4")
    kinds = queue_events(await events(redis))
    assert kinds[-3:] == ["contact.answered", "contact.ended", "contact.rated"]


async def test_the_lawyers_holds_are_kept_with_the_call_until_it_ends_on_one(
    tmp_path: Path, worker: Worker, clean_redis_url: str
) -> None:
    """The console holds a real call twice (the worker plays the music) and the call
    ends during the second hold. Each hold and its end are on the transcript's clock in
    the ledger, the second ending with the call, for the quality review. The lawyer
    ends it (a caller hanging up after a fixed time would race the test's steps)."""
    from lawline.web.auth import Role
    from tests.lawline_server import next_frame, running_lawline

    settings = Settings(
        data_dir=tmp_path,
        secret_key="test-secret",
        routing=RoutingSettings(offer_timeout_s=30, wrapup_s=0, console_timeout_s=60),
    )
    wang = {"id": "wang", "services": {"consultation": 4}, "domains": {"labour": 5}}

    async def hold(ws: Any, cid: str, on: bool) -> None:
        """Until the worker has connected the lawyer (a hold before is refused)."""
        for _ in range(50):
            await ws.send(json.dumps({"type": "hold", "contact_id": cid, "on": on}))
            while (result := await next_frame(ws, "result"))["request"] != "hold":
                pass
            if result["ok"]:
                return
            await asyncio.sleep(0.1)
        raise AssertionError(result["message"])

    async with running_lawline(settings, clean_redis_url) as lawline:
        async with lawline.client("boss", Role.SUPERVISOR) as http:
            assert (await http.post("/api/lawyers", json=wang)).status_code == 201
        steps = [("pause", 500), ("info", "11"), ("expect_bye", 60000)]
        caller = asyncio.create_task(asyncio.to_thread(sipp, tmp_path, worker, steps))
        async with lawline.console("wang") as ws:
            await next_frame(ws, "hello")
            await ws.send(json.dumps({"type": "state", "state": "available"}))
            cid = (await next_frame(ws, "offer", timeout=20))["contact"]["id"]
            await ws.send(json.dumps({"type": "accept", "contact_id": cid}))
            await next_frame(ws, "connected")
            # Only true or false is a hold request.
            await ws.send(json.dumps({"type": "hold", "contact_id": cid, "on": "yes"}))
            assert "true or false" in (await next_frame(ws, "error"))["message"]
            await hold(ws, cid, True)
            await asyncio.sleep(1.5)  # hold lengths the record must show, not waits
            await hold(ws, cid, False)
            await asyncio.sleep(1)
            await hold(ws, cid, True)
            await asyncio.sleep(1)  # a hold of about a second, then the call ends on it
            await ws.send(json.dumps({"type": "end", "contact_id": cid}))
            await next_frame(ws, "ended", timeout=20)
        await caller
        async with lawline.client("boss", Role.SUPERVISOR) as http:
            for _ in range(200):
                c = (await http.get(f"/api/ledger/contacts/{cid}")).json()
                holds = [(t["text"], t["start"]) for t in c.get("transcript", [])]
                if len(holds) == 4:
                    break
                await asyncio.sleep(0.1)
    assert [h for h, _ in holds] == ["on", "off", "on", "off"], holds
    on1, off1, on2, hung_up = (t for _, t in holds)
    assert 0 <= on1 < off1 < on2 < hung_up
    assert 1.2 < off1 - on1 < 3 and 0.8 < on2 - off1 < 3
    # The last hold ends with the call, on the clock of the conversation (from the
    # lawyer's answer): within a second of the call's own length.
    talked = (
        datetime.fromisoformat(c["ended_at"]) - datetime.fromisoformat(c["answered_at"])
    ).total_seconds()
    assert hung_up - on2 > 0.8 and abs(hung_up - talked) < 1.5, (holds, talked)
    assert {t["kind"] for t in c["transcript"]} == {"hold"}


WIDEBAND = "9 8 101\na=rtpmap:9 G722/8000\na=rtpmap:8 PCMA/8000\na=rtpmap:101 telephone-event/8000"


@pytest.mark.parametrize(
    "form, key, service",
    [
        # SIP over TCP from the trunk works like UDP.
        ({"transport": "t1", "answer_sdp": "PCMA/8000"}, "4", "notarisation"),
        # G.722 first, G.711 as fall-back: lawline takes the wideband codec.
        ({"media": WIDEBAND, "answer_sdp": "m=audio [0-9]+ RTP/AVP 9 "}, "2", "legal_aid"),
        # An INVITE without SDP: lawline's 200 OK makes the offer, the ACK answers.
        ({"delayed_offer": True, "answer_sdp": "PCMA/8000"}, "3", "mediation"),
    ],
    ids=["tcp", "g722", "invite-without-sdp"],
)
async def test_every_form_of_call_a_trunk_sends_reaches_the_menu(
    tmp_path: Path, worker: Worker, redis: Redis, form: dict[str, Any], key: str, service: str
) -> None:
    await asyncio.to_thread(
        sipp,
        tmp_path,
        worker,
        [("pause", 500), ("info", key), ("pause", 1500), ("bye", None)],
        **form,
    )
    # The caller's BYE is answered before the worker's queue operation lands: wait for it.
    contact = await contact_once(redis, lambda c: c["state"] != "waiting")
    assert (contact["service"], contact["state"]) == (service, "abandoned")


async def test_a_line_gone_dead_without_a_bye_leaves_no_ghost_in_the_queue(
    tmp_path: Path, clean_redis_url: str, prompts_dir: Path, redis: Redis
) -> None:
    # The caller's phone sends no RTP at all after choosing (SIP INFO needs none).
    with telephony_worker(
        tmp_path, clean_redis_url, prompts_dir, LAWLINE_TELEPHONY__RTP_TIMEOUT_S="2"
    ) as w:
        await asyncio.to_thread(
            sipp, tmp_path, w, [("pause", 500), ("info", "2"), ("expect_bye", 30000)]
        )
    contact = await only_contact(redis)
    assert (contact["state"], contact["ended_by"]) == ("abandoned", "caller hung up")
    assert await redis.zcard("ll:waiting") == 0
    assert "no RTP from caller" in w.output()


async def test_a_worker_stopped_with_a_caller_waiting_hangs_up_and_leaves_no_ghost(
    tmp_path: Path, clean_redis_url: str, prompts_dir: Path, redis: Redis
) -> None:
    with telephony_worker(tmp_path, clean_redis_url, prompts_dir) as w:
        caller = subprocess.Popen(
            [sys.executable, str(Path(__file__).parent / "pjsua_caller.py"),
             f"sip:12348@127.0.0.1:{w.sip_port}", str(tmp_path / "heard.wav"), "60",
             str(free_sip_port()), "--keys", "2"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        for _ in range(200):
            if await redis.zcard("ll:waiting") == 1:
                break
            await asyncio.sleep(0.1)
        assert await redis.zcard("ll:waiting") == 1, "the caller is queued"
    # The worker exited cleanly (the fixture checks): the caller was hung up on ...
    out, _ = await asyncio.to_thread(caller.communicate, timeout=30)
    assert caller.returncode == 0, out[-2000:]
    # ... and left the queue.
    assert (await only_contact(redis))["state"] == "abandoned"


async def test_no_common_codec_gets_488(tmp_path: Path, worker: Worker) -> None:
    gsm_only = "3\na=rtpmap:3 GSM/8000"
    xml = scenario("gsm", [("status", 488)], answered=False, media=gsm_only)
    result = await asyncio.to_thread(run_sipp, tmp_path, worker, xml)
    assert result.returncode == 0, result.stdout[-2000:]


async def test_wrong_keys_three_times_then_general_consultation(
    tmp_path: Path, worker: Worker, redis: Redis
) -> None:
    await asyncio.to_thread(
        sipp, tmp_path, worker, [("pause", 500), ("info", "76*"), ("pause", 2000), ("bye", None)]
    )
    contact = await only_contact(redis)
    assert (contact["service"], contact["domain"]) == ("consultation", "")
    assert json.loads(contact["attrs"])["menu"] == "main:7? main:6? main:*?"


async def test_malformed_sip_does_not_stop_the_worker(
    tmp_path: Path, worker: Worker, redis: Redis
) -> None:
    garbage = [
        b"\x00\xff garbage \r\n\r\n",
        b"INVITE sip:12348@127.0.0.1 SIP/2.0\r\nVia: nonsense\r\n\r\n",
        b"INVITE sip:12348@127.0.0.1 SIP/2.0\r\nContent-Length: 99999\r\n\r\nv=0",
        b"BYE sip:12348@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKx\r\n"
        b"From: <sip:a@b>;tag=1\r\nTo: <sip:12348@127.0.0.1>;tag=2\r\nCall-ID: nobody\r\n"
        b"CSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n",
    ]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for packet in garbage:
            s.sendto(packet, ("127.0.0.1", worker.sip_port))
    # One socket, read in order: a call served after the garbage proves it was survived.
    await asyncio.to_thread(
        sipp, tmp_path, worker, [("pause", 500), ("keys", "4"), ("pause", 1500), ("bye", None)]
    )
    assert worker.proc.poll() is None, worker.output()
    assert (await only_contact(redis))["service"] == "notarisation"


async def test_after_hours_the_caller_leaves_a_voice_message(
    tmp_path: Path, clean_redis_url: str, prompts_dir: Path, redis: Redis
) -> None:
    # A roster that covers no time at all: the hotline is closed.
    await redis.hset(
        "ll:lawyer:night",
        mapping={
            "id": "night",
            "roster": json.dumps([{"weekdays": [0], "start": "03:00", "end": "03:00"}]),
        },
    )
    await redis.sadd("ll:lawyers", "night")
    with telephony_worker(
        tmp_path, clean_redis_url, prompts_dir, LAWLINE_OPEN_WITHOUT_ROSTER="false"
    ) as w:
        await asyncio.to_thread(
            sipp,
            tmp_path,
            w,
            [
                ("pause", 1000),
                ("keys", "1"),
                ("pause", 9000),
                ("audio", "g711a.pcap"),
                ("pause", 4000),
                ("info", "#"),
                ("expect_bye", 20000),
            ],
        )
    contact = await only_contact(redis)
    assert (contact["state"], contact["callback"]) == ("waiting", "1")
    message = Path(json.loads(contact["attrs"])["voicemail"])
    info = subprocess.run(["soxi", "-D", str(message)], capture_output=True, text=True)
    assert float(info.stdout) > 3, "the recording holds the caller's message"
    stat = subprocess.run(["sox", str(message), "-n", "stat"], capture_output=True, text=True)
    rms = float(
        next(ln for ln in stat.stderr.splitlines() if "RMS     amplitude" in ln).split(":")[1]
    )
    assert rms > 0.001, "the recording is not silence"


def envelope(path: Path, frame_s: float = 0.02) -> list[float]:
    """Loudness per 20 ms frame of a 16-bit mono WAV."""
    with wave.open(str(path)) as w:
        rate, samples = w.getframerate(), array.array("h", w.readframes(w.getnframes()))
    n = int(rate * frame_s)
    return [
        math.sqrt(sum(x * x for x in samples[i : i + n]) / n) for i in range(0, len(samples) - n, n)
    ]


def best_correlation(heard: list[float], prompt: list[float], max_lag: int = 75) -> float:
    """Highest Pearson correlation of the two envelopes, the prompt starting up to 1.5 s late."""
    best = -1.0
    for lag in range(max_lag):
        a = heard[lag : lag + len(prompt)]
        b = prompt[: len(a)]
        if len(a) < 100:
            break
        best = max(best, statistics.correlation(a, b))
    return best


async def test_the_caller_really_hears_the_greeting(
    tmp_path: Path, worker: Worker, prompts_dir: Path
) -> None:
    """A real softphone records the call; what it heard is the greeting, not silence."""
    heard = tmp_path / "heard.wav"
    caller = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            str(Path(__file__).parent / "pjsua_caller.py"),
            f"sip:12348@127.0.0.1:{worker.sip_port}",
            str(heard),
            "6",
            str(free_sip_port()),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert caller.returncode == 0, caller.stdout[-2000:]
    heard_env = envelope(heard)
    assert max(heard_env) > 1000, "the caller heard silence"
    greeting = best_correlation(heard_env, envelope(prompts_dir / "welcome.wav"))
    other = best_correlation(heard_env, envelope(prompts_dir / "survey.wav"))
    # G.711 and the bridge change the samples, not the shape of the speech.
    assert greeting > 0.7, f"heard audio does not follow the greeting (r={greeting:.2f})"
    assert greeting > other + 0.2, f"greeting r={greeting:.2f}, another prompt r={other:.2f}"


class Callee:
    """The citizen's phone for callbacks: tests/pjsua_callee.py as a process."""

    def __init__(self, tmp: Path, *args: str) -> None:
        self.port = free_sip_port()
        self.heard = tmp / "callee.wav"
        script = Path(__file__).parent / "pjsua_callee.py"
        self.proc = subprocess.Popen(
            [sys.executable, str(script), str(self.port), str(self.heard), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.proc.stdout is not None
        for line in self.proc.stdout:  # pjlib's own start-up lines come first
            if line.strip() == "ready":
                break
        else:
            raise RuntimeError("the callee softphone did not start")

    def finish(self) -> tuple[int, str]:
        out, _ = self.proc.communicate(timeout=70)
        return self.proc.returncode, out


async def next_event(evs: asyncio.Queue[Event], kind: str) -> Event:
    while (ev := await asyncio.wait_for(evs.get(), 20)).type != kind:
        pass
    return ev


async def book_callback(tmp_path: Path, worker: Worker, redis: Redis) -> str:
    """A caller chooses mediation, presses 1 while waiting, and is hung up on."""
    await asyncio.to_thread(
        sipp,
        tmp_path,
        worker,
        [("pause", 500), ("keys", "3"), ("pause", 2500), ("keys", "1"), ("expect_bye", 20000)],
    )
    contact = await only_contact(redis)
    # The caller is gone but keeps their place: still waiting, marked for a callback.
    assert (contact["state"], contact["callback"]) == ("waiting", "1")
    return contact["id"]


async def mediator_on_duty(redis: Redis, settings: Settings) -> QueueService:
    queue = QueueService(QueueStore(redis), settings)
    await queue.create_lawyer(Lawyer(id="li", services={Service.MEDIATION: 4}))
    await queue.set_presence("li", Presence.AVAILABLE)
    await queue.start()
    return queue


async def test_a_lawyer_accepts_a_callback_and_lawline_rings_the_caller_back(
    tmp_path: Path, clean_redis_url: str, prompts_dir: Path, redis: Redis
) -> None:
    callee = Callee(tmp_path, "answer", "--key", "5")
    trunk = f"127.0.0.1:{callee.port}"
    with telephony_worker(
        tmp_path, clean_redis_url, prompts_dir, LAWLINE_TELEPHONY__TRUNK=trunk
    ) as w:
        contact_id = await book_callback(tmp_path, w, redis)
        queue = await mediator_on_duty(redis, Settings(routing=RoutingSettings(wrapup_s=0)))
        try:
            async with queue.subscribe() as evs:
                await next_event(evs, "contact.offered")
                assert await queue.accept(contact_id, "li")
                await next_event(evs, "call.callback_answered")
                # The whole greeting, then the lawyer talks a moment.
                greeting = prompts_dir / "callback_connected.wav"
                with wave.open(str(greeting)) as g:
                    await asyncio.sleep(g.getnframes() / g.getframerate() + 2)
                assert await queue.end(contact_id, "lawyer") == 1
            # The callee keeps pressing 5: ignored while talking, the rating in the survey.
            code, out = await asyncio.to_thread(callee.finish)
        finally:
            await queue.stop()
    assert code == 0, out
    contact = await only_contact(redis)
    assert (contact["state"], contact["rating"], contact["callback_attempts"]) == (
        "ended",
        "5",
        "0",
    )
    kinds = queue_events(await events(redis))
    dialled = kinds.index("call.callback_dialled")
    assert kinds.index("contact.answered") < dialled < kinds.index("call.callback_answered")
    assert kinds[-2:] == ["contact.ended", "contact.rated"]
    [dial] = [e for e in await events(redis) if e["type"] == "call.callback_dialled"]
    assert dial["uri"] == f"sip:{CALLER}@{trunk}"
    # What the citizen heard first is lawline saying who calls back.
    heard = envelope(callee.heard)
    r = best_correlation(heard, envelope(prompts_dir / "callback_connected.wav"))
    assert r > 0.7, f"callback greeting not heard (r={r:.2f})"


async def test_an_unanswered_callback_frees_the_lawyer_and_is_tried_again(
    tmp_path: Path, clean_redis_url: str, prompts_dir: Path, redis: Redis
) -> None:
    callee = Callee(tmp_path, "busy", "--calls", "2")
    env = {
        "LAWLINE_TELEPHONY__TRUNK": f"127.0.0.1:{callee.port}",
        "LAWLINE_TELEPHONY__CALLBACK_RETRY_S": "1",
        "LAWLINE_TELEPHONY__CALLBACK_ATTEMPTS": "2",
    }
    with telephony_worker(tmp_path, clean_redis_url, prompts_dir, **env) as w:
        contact_id = await book_callback(tmp_path, w, redis)
        queue = await mediator_on_duty(redis, Settings(routing=RoutingSettings(wrapup_s=0)))
        seen: list[str] = []
        try:
            async with queue.subscribe() as evs:
                while "contact.abandoned" not in seen:
                    ev = await asyncio.wait_for(evs.get(), 30)
                    seen.append(ev.type)
                    if ev.type == "contact.offered":
                        assert await queue.accept(contact_id, "li")
                    if ev.type == "contact.callback_failed":
                        # Busy: the lawyer is free at once, no conversation counted.
                        assert ev.lawyer is not None and ev.lawyer.state == "available"
                        assert ev.contact is not None and ev.contact.state == "scheduled"
            code, out = await asyncio.to_thread(callee.finish)
        finally:
            await queue.stop()
    assert code == 0 and out.count("refused") == 2, out
    contact = await only_contact(redis)
    assert (contact["state"], contact["ended_by"], contact["callback_attempts"]) == (
        "abandoned",
        "callback not answered",
        "2",
    )
    assert contact["last_attempt_result"] == "busy"
    assert seen.count("contact.requeued") == 1
    stats = await redis.hgetall("ll:stats:mediation")
    assert stats.get("answered", "0") == "0", "an unanswered callback is no answered call"
    assert stats["abandoned"] == "1"


async def test_a_display_name_cannot_name_the_caller(
    tmp_path: Path, worker: Worker, redis: Redis
) -> None:
    """The number is the From URI's user part: a display name that looks like a SIP
    URI changes nothing, so a callback cannot be pointed at someone else's phone."""
    xml = scenario("spoof", [("pause", 500), ("keys", "2"), ("pause", 1500), ("bye", None)])
    spoofed = xml.replace("From: caller <sip:", 'From: "sip:+8699912345678@x" <sip:')
    assert spoofed != xml
    result = await asyncio.to_thread(run_sipp, tmp_path, worker, spoofed)
    assert result.returncode == 0, result.stdout[-2000:]
    contact = await only_contact(redis)
    assert contact["caller"] == CALLER


async def test_a_caller_uri_that_is_no_number_is_taken_as_withheld(
    tmp_path: Path, worker: Worker, redis: Redis
) -> None:
    xml = scenario("odd", [("pause", 500), ("keys", "2"), ("pause", 1500), ("bye", None)])
    odd = xml.replace(
        f"From: caller <sip:{CALLER}", f'From: "sip:+8699912345678@x" <sip:{"9" * 45}'
    )
    assert odd != xml
    result = await asyncio.to_thread(run_sipp, tmp_path, worker, odd)
    assert result.returncode == 0, result.stdout[-2000:]
    contact = await only_contact(redis)
    assert contact["caller"] == ""
    assert await redis.hget("ll:telephony:counts", "invalid_caller_number") == "1"
    assert "9" * 45 not in worker.output() and "8699912345678" not in worker.output()


async def test_a_stored_callback_number_that_is_no_number_is_never_dialled(
    tmp_path: Path, clean_redis_url: str, prompts_dir: Path, redis: Redis
) -> None:
    """The number becomes the user part of the URI lawline dials: whatever wrote it into
    the queue, one that is not a telephone number is refused, not dialled."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as trunk:
        trunk.bind(("127.0.0.1", 0))
        trunk.settimeout(0.2)
        env = {"LAWLINE_TELEPHONY__TRUNK": f"127.0.0.1:{trunk.getsockname()[1]}"}
        with telephony_worker(tmp_path, clean_redis_url, prompts_dir, **env) as w:
            contact_id = await book_callback(tmp_path, w, redis)
            await redis.hset(f"ll:contact:{contact_id}", "callback_number", "1@evil.example;x")
            queue = await mediator_on_duty(redis, Settings(routing=RoutingSettings(wrapup_s=0)))
            try:
                async with queue.subscribe() as evs:
                    await next_event(evs, "contact.offered")
                    assert await queue.accept(contact_id, "li")
                    await next_event(evs, "contact.callback_failed")
            finally:
                await queue.stop()
            with contextlib.suppress(TimeoutError):
                assert not trunk.recv(65535), "lawline dialled it"
    contact = await only_contact(redis)
    assert contact["last_attempt_result"] == "not a telephone number"
    assert await redis.hget("ll:telephony:counts", "undialable_callback_number") == "1"
