"""Design B against real peers (media.steer_calls): the caller's RTP steered by the real
Kamailio front straight to the call's room on the run's Janus, so no audio passes
through the worker. As tests/test_bridge.py: a pjsua2 softphone saying a tone (here
through the front), a telephony worker process, a duty lawyer accepting through the real
queue, and an aiortc peer in place of the browser saying a tone of another pitch; audio
told apart by frequency (Goertzel). The live transcript hears each side from the room's
forwarder of its group (per-leg recordings of tones, and real speech through Vosk)."""

from __future__ import annotations

import array
import asyncio
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import av
import pytest
from aiortc import RTCSessionDescription
from redis.asyncio import Redis

from lawline.config import Settings
from lawline.media.access import media_access
from lawline.media.legs import BrowserLegs
from lawline.media.rooms import LAWYER_GROUP
from lawline.queue.model import Lawyer
from lawline.queue.service import QueueService
from lawline.queue.settings import RoutingSettings
from lawline.queue.skills import ContactState, Domain, Presence, Service
from lawline.queue.store import QueueStore
from lawline.telephony.bridge_wire import BridgeClient
from lawline.transcripts.segments import Kind, Leg
from lawline.transcripts.store import TranscriptStore
from tests import test_bridge
from tests.front_helpers import LoneFront, free_port_run, lone_front
from tests.media_server import own_janus
from tests.ports import free_sip_port
from tests.sip_helpers import CALLER, PCAPS, Worker, ok_to_last, telephony_worker
from tests.speech import CITIZEN_SAYS, LAWYER_SAYS, transcriber
from tests.test_bridge import (
    CALLER_HZ,
    LAWYER_HZ,
    Browser,
    Caller,
    assert_held_then_lawyer,
    call_answered_by_wang,
    clean_tone,
    make_tone,
    next_event,
    settle,
    settle_for,
    talk_then_the_lawyer_ends,
    tone_in,
)
from tests.test_sip_steer import sipp_send as steer_peer_request
from tests.test_transcripts_browser import looped_speech

pytestmark = [
    pytest.mark.skipif(shutil.which("sox") is None, reason="sox is installed by scripts/setup.sh"),
    pytest.mark.skipif(
        shutil.which("kamailio") is None, reason="Kamailio is installed by scripts/setup.sh"
    ),
    pytest.mark.usefixtures("realtime", "media"),
]
STEERED = {"LAWLINE_MEDIA__STEER_CALLS": "true", "LAWLINE_TRANSCRIPTS__RECORD_AUDIO": "true"}


# ----- fixtures ------------------------------------------------------------------------

# As the bridge tests have them: the bridge's requests, the web process's browser legs,
# the queue with one duty lawyer (wang).
client, legs, queue = test_bridge.client, test_bridge.legs, test_bridge.queue


@pytest.fixture
def steered(
    tmp_path: Path, clean_redis_url: str, prompts_dir: Path, media: dict[str, str]
) -> Iterator[tuple[Worker, LoneFront]]:
    """A worker steering its calls to rooms on the run's Janus, behind a Kamailio front."""
    env = {**media, **STEERED}
    with (
        telephony_worker(tmp_path, clean_redis_url, prompts_dir, **env) as worker,
        lone_front(tmp_path, worker.sip_port) as front,
    ):
        yield worker, front


# ----- what the worker and the front say -----------------------------------------------


def log_records(worker: Worker, message: str) -> list[dict[str, Any]]:
    """The worker's JSON log records with this message."""
    found = []
    for line in worker.output().splitlines():
        if message in line:
            try:
                found.append(json.loads(line))
            except ValueError:
                continue
    return [r for r in found if r.get("message") == message]


def assert_relay_idle(worker: Worker) -> None:
    """The worker's relay carried nothing: every frame went straight to the room."""
    closed = log_records(worker, "bridge closed")
    assert closed, worker.output()[-3000:]
    steering = [r for r in worker.output().splitlines() if "steer" in r]
    for record in closed:
        relayed = record["frames_to_room"], record["frames_to_caller"]
        assert relayed == (0, 0), "\n".join(steering)
    steered = log_records(worker, "steered bridge closed")
    assert steered and not any(r["relayed"] for r in steered), steered


def leg_recording(data_dir: Path, contact_id: str, leg: Leg) -> tuple[list[int], int]:
    """The live transcript's recording of one leg (Ogg Opus), as mono samples."""
    [path] = (data_dir / "recordings").glob(f"{contact_id}-*-{leg.value}.ogg")
    samples: list[int] = []
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
        for frame in container.decode(audio=0):
            for mono in resampler.resample(frame):
                samples.extend(array.array("h", bytes(mono.planes[0])[: mono.samples * 2]))
    return samples, rate


async def until(check: Any, what: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        got = check()
        if asyncio.iscoroutine(got):
            got = await got
        if got:
            return
        assert time.monotonic() < deadline, f"never: {what}"
        await asyncio.sleep(0.05)


async def steered_call(
    tmp: Path,
    worker: Worker,
    front: LoneFront,
    queue: QueueService,
    legs: BrowserLegs,
    options: Sequence[str] = (),
) -> tuple[Caller, str, Browser]:
    """A caller through the front says CALLER_HZ, wang accepts, and the browser saying
    LAWYER_HZ joins the room; returned once the browser hears the caller (steered,
    unless the steering refused the call)."""
    caller, contact_id = await call_answered_by_wang(tmp, worker, queue, front.uri, options=options)
    browser = Browser(make_tone(tmp / "lawyer.wav", LAWYER_HZ, 48000))
    try:
        await browser.connect(legs, contact_id)
        await browser.until_hearing(lambda w: tone_in(w, 48000, CALLER_HZ) > 0.9, "caller", 20)
    except BaseException:
        await browser.close()
        await asyncio.to_thread(caller.hang_up)
        raise
    return caller, contact_id, browser


# ----- tests -----------------------------------------------------------------------------


async def test_steered_caller_and_lawyer_hear_each_other_and_the_worker_relays_nothing(
    tmp_path: Path,
    steered: tuple[Worker, LoneFront],
    queue: QueueService,
    legs: BrowserLegs,
    redis: Redis,
) -> None:
    worker, front = steered
    caller, contact_id, browser = await steered_call(tmp_path, worker, front, queue, legs)
    # After the lawyer ends: steered back, the survey from the worker.
    await talk_then_the_lawyer_ends(caller, contact_id, browser, queue)

    # Not a frame through the worker's relay; the front steered the call there and back.
    await until(lambda: log_records(worker, "steered bridge closed"), "the bridge closed")
    assert_relay_idle(worker)
    kamailio = front.log()
    assert "steered: call" in kamailio and "unsteered: call" in kamailio
    assert CALLER not in kamailio and CALLER not in worker.output()

    # The live transcript heard each side on its own leg (the room's forwarders).
    data_dir = tmp_path / "data"
    citizen, crate = leg_recording(data_dir, contact_id, Leg.CITIZEN)
    lawyer, lrate = leg_recording(data_dir, contact_id, Leg.LAWYER)
    assert sum(tone_in(w, crate, CALLER_HZ) for w in [citizen]) > 0.5, "citizen's leg"
    assert tone_in(lawyer, lrate, LAWYER_HZ) > 0.5, "lawyer's leg"
    assert tone_in(citizen, crate, LAWYER_HZ) == 0 and tone_in(lawyer, lrate, CALLER_HZ) == 0
    assert not await redis.exists(f"ll:line:{contact_id}"), "the line key outlived the call"


async def test_a_caller_behind_a_nat_is_not_steered_and_the_worker_relays_its_call(
    tmp_path: Path, steered: tuple[Worker, LoneFront], queue: QueueService, legs: BrowserLegs
) -> None:
    """A phone behind a NAT gives its own address in its SDP and its RTP comes from the
    NAT's: the room's leg would send where nobody listens and the caller hear nothing.
    The worker's stream follows the RTP, so the call stays on the relay. (The caller
    plays the NAT: its SDP says 127.0.0.5, it sends from 127.0.0.1.)"""
    worker, front = steered
    caller, contact_id, browser = await steered_call(
        tmp_path, worker, front, queue, legs, options=["--media-address", "127.0.0.5"]
    )
    await talk_then_the_lawyer_ends(caller, contact_id, browser, queue)

    await until(lambda: log_records(worker, "steered bridge closed"), "the bridge closed")
    [refused] = log_records(worker, "call not steered: the worker relays it")
    assert "NAT" in refused["why"]
    [closed] = log_records(worker, "steered bridge closed")
    assert closed["relayed"] is True
    assert "steered: call" not in front.log()


async def test_a_steered_callers_phone_gone_without_a_bye_ends_the_call(
    tmp_path: Path,
    clean_redis_url: str,
    prompts_dir: Path,
    media: dict[str, str],
    queue: QueueService,
    legs: BrowserLegs,
    redis: Redis,
) -> None:
    """While steered no RTP reaches the worker to tell a dead line by: it asks the
    phone (an in-dialog OPTIONS through the front) as often as a line may be quiet. A
    live phone answers and keeps its call; one gone (power cut: no BYE) is hung up on."""
    env = {**media, **STEERED, "LAWLINE_TELEPHONY__RTP_TIMEOUT_S": "1"}
    with (
        telephony_worker(tmp_path, clean_redis_url, prompts_dir, **env) as worker,
        lone_front(tmp_path, worker.sip_port) as front,
    ):
        caller, contact_id, browser = await steered_call(tmp_path, worker, front, queue, legs)
        try:
            # Asked twice (every 5 s here), the live phone keeps its call.
            for _ in range(2):
                await asyncio.wait_for(asyncio.to_thread(caller.wait_line, "asked OPTIONS"), 30)
            t1 = await settle_for(1)
            assert clean_tone(browser.heard(t1 - 1, t1), 48000, CALLER_HZ), "call cut"
            caller.proc.kill()
            await asyncio.to_thread(caller.proc.wait)

            async def ended() -> bool:
                state = await redis.hget(f"ll:contact:{contact_id}", "state")
                return state == ContactState.ENDED

            await until(ended, "the dead line ended", 60)
        finally:
            await browser.close()
        await until(lambda: log_records(worker, "steered bridge closed"), "the bridge closed")
    [dead] = log_records(worker, "the caller's phone did not answer in the call, ending it")
    assert dead["status"] == 408
    assert CALLER not in worker.output() and CALLER not in front.log()


async def test_hold_steers_the_caller_back_for_the_music_and_then_to_the_lawyer_again(
    tmp_path: Path,
    steered: tuple[Worker, LoneFront],
    queue: QueueService,
    client: BridgeClient,
    legs: BrowserLegs,
) -> None:
    worker, front = steered
    caller, contact_id, browser = await steered_call(tmp_path, worker, front, queue, legs)
    try:
        t0, t1 = await settle(2)
        # Each state is judged from when it reached the caller (from_onset), as in
        # test_bridge.py's hold test.
        await client.request(contact_id, "hold", on=True)
        h0 = time.monotonic()
        await browser.until_hearing(lambda w: tone_in(w, 48000, CALLER_HZ) == 0, "hold")
        h1 = await settle_for(3)
        await client.request(contact_id, "hold", on=False)
        u0 = time.monotonic()
        await browser.until_hearing(lambda w: tone_in(w, 48000, CALLER_HZ) > 0.9, "unhold", 20)
        u1 = await settle_for(2.5)
    finally:
        await browser.close()
        await asyncio.to_thread(caller.hang_up)
    assert_held_then_lawyer(caller, (t0, t1), (h0, h1), (u0, u1))

    await until(lambda: log_records(worker, "steered bridge closed"), "the bridge closed")
    assert_relay_idle(worker)
    # Steered to the room, back for the music, to the room again, back at the end (or
    # the caller hung up first).
    assert len(log_records(worker, "call steered to its room")) == 2
    assert len(log_records(worker, "call steered back to the worker")) >= 1
    assert front.log().count("unsteered: call") >= 1


async def test_each_side_speaks_into_the_live_transcript_on_its_own_leg(
    tmp_path: Path, clean_redis_url: str, prompts_dir: Path, media: dict[str, str], redis: Redis
) -> None:
    """Real speech (Vosk, Korean model, as tests/test_transcripts_browser.py): the caller
    through the front and the browser each say their sentence, looped; each side's finals
    come on its own leg, from the room's forwarder of its group."""
    citizen = looped_speech(CITIZEN_SAYS, tmp_path / "citizen.wav", 16000, pause_s=2.0)
    lawyer = looped_speech(LAWYER_SAYS, tmp_path / "lawyer.wav", 48000, pause_s=2.5)
    legs = BrowserLegs(media_access(Settings()))
    service = QueueService(QueueStore(redis), Settings(routing=RoutingSettings(wrapup_s=0)))
    await service.create_lawyer(
        Lawyer(id="wang", services={Service.CONSULTATION: 4}, domains={Domain.LABOUR: 5})
    )
    store = TranscriptStore(service.store)
    try:
        with transcriber() as asr:
            env = {**media, **STEERED, "LAWLINE_TRANSCRIPTS__URLS": json.dumps([asr.url])}
            with (
                telephony_worker(tmp_path, clean_redis_url, prompts_dir, **env) as worker,
                lone_front(tmp_path, worker.sip_port) as front,
            ):
                caller, cid = await call_answered_by_wang(
                    tmp_path, worker, service, front.uri, says=citizen
                )
                browser = Browser(lawyer)
                try:
                    await browser.connect(legs, cid)

                    async def finals_of_both() -> bool:
                        _, stored = await store.read(cid)
                        legs_heard = {s.leg for s in stored if s.kind == Kind.FINAL}
                        return legs_heard == {Leg.CITIZEN, Leg.LAWYER}

                    await until(finals_of_both, "finals of both sides", 90)
                    assert await service.end(cid, "lawyer") == 1
                finally:
                    await browser.close()
                    await asyncio.to_thread(caller.hang_up)
                await until(lambda: log_records(worker, "steered bridge closed"), "closed")
                assert_relay_idle(worker)
    finally:
        await legs.stop()
        await service.stop()
    _, stored = await store.read(cid)
    finals = [s for s in stored if s.kind == Kind.FINAL]
    assert {s.leg for s in finals} == {Leg.CITIZEN, Leg.LAWYER}
    assert all(s.text.strip() and 0 <= s.start < s.end for s in finals)


async def test_janus_killed_mid_call_the_caller_is_steered_to_the_room_made_again(
    tmp_path: Path, clean_redis_url: str, prompts_dir: Path, queue: QueueService
) -> None:
    env, settings, media = own_janus(tmp_path)
    await media.start()
    legs = BrowserLegs(media_access(settings))
    lost: asyncio.Queue[str] = asyncio.Queue()
    browsers: list[Browser] = []
    lawyer_tone = make_tone(tmp_path / "lawyer.wav", LAWYER_HZ, 48000)
    try:
        with (
            telephony_worker(tmp_path, clean_redis_url, prompts_dir, **env, **STEERED) as worker,
            lone_front(tmp_path, worker.sip_port) as front,
        ):
            caller, room = await call_answered_by_wang(tmp_path, worker, queue, front.uri)
            try:
                browsers.append(Browser(lawyer_tone))
                pc = browsers[0].pc
                await pc.setLocalDescription(await pc.createOffer())
                answer = await legs.join(
                    "console", room, pc.localDescription.sdp, display="wang",
                    on_lost=lost.put_nowait, group=LAWYER_GROUP,
                )  # fmt: skip
                await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
                await browsers[0].until_hearing(caller_heard, "caller", 30)
                a0, a1 = await settle()

                # Janus dies mid-call; the supervisor starts it again; the worker makes
                # the room again with the caller's leg and steers the call to it.
                assert media.pid is not None
                os.kill(media.pid, signal.SIGKILL)
                await until(lambda: media.starts == 2 and media.ready.is_set(), "restart")
                assert await asyncio.wait_for(lost.get(), 30) == room
                browsers.append(Browser(lawyer_tone))
                await browsers[1].connect(legs, room)
                await browsers[1].until_hearing(caller_heard, "caller again", 30)
                b0, b1 = await settle()
            finally:
                for b in browsers:
                    await b.close()
                await asyncio.to_thread(caller.hang_up)
            assert "room not restored" not in worker.output()
            await until(lambda: log_records(worker, "steered bridge closed"), "closed")
            assert_relay_idle(worker)
            assert "steered: call" in front.log()
        before, rate = caller.heard(a0, a1)
        after, _ = caller.heard(b0, b1)
        assert clean_tone(before, rate, LAWYER_HZ)
        assert clean_tone(after, rate, LAWYER_HZ), "the caller lost the lawyer"
        assert clean_tone(browsers[1].heard(b0, b1), 48000, CALLER_HZ)
    finally:
        await legs.stop()
        await media.stop()


def caller_heard(heard: Sequence[int]) -> bool:
    return tone_in(heard, 48000, CALLER_HZ) > 0.9


def refusing_caller_scenario() -> str:
    """SIPp as a caller that talks (sipp's PCMA sample) and chooses labour consultation
    (keys 1, 1), takes the worker's quieting re-INVITE, refuses the steer (488) and
    takes the worker's own stream back, then talks three seconds more and hangs up."""
    sdp = (
        "v=0\no=caller 1 {v} IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\n"
        "m=audio [media_port] RTP/AVP 8 101\na=rtpmap:8 PCMA/8000\n"
        "a=rtpmap:101 telephone-event/8000\n{direction}"
    )
    contact = (f"Contact: <sip:{CALLER}@[local_ip]:[local_port]>",)
    refuse = (
        "  <send><![CDATA[\nSIP/2.0 488 Not Acceptable Here\n[last_Via:]\n[last_From:]\n"
        "[last_To:]\n[last_Call-ID:]\n[last_CSeq:]\nContent-Length: 0\n  ]]></send>\n"
    )
    # Keys as SIP INFO (two RFC 4733 "1"s from SIPp's one pcap would be one event); the
    # worker's first re-INVITE may come at once after the second.
    info = [
        steer_peer_request(
            "INFO [next_url] SIP/2.0", f"{cseq} INFO", "Signal=1\nDuration=160\n"
        ).replace("application/sdp", "application/dtmf-relay")
        + '  <recv response="200"/>\n'
        for cseq in (2, 3)
    ]
    keys = '  <pause milliseconds="500"/>\n' + '  <pause milliseconds="300"/>\n'.join(info)
    wait = '  <recv request="INVITE" timeout="60000"/>\n'
    return (
        '<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="refusing">\n'
        + steer_peer_request(
            "INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0",
            "1 INVITE",
            sdp.format(v=1, direction=""),
            dialog=False,
        )
        + '  <recv response="100" optional="true"/>\n  <recv response="180" optional="true"/>\n'
        + '  <recv response="200" rrs="true"><action><ereg regexp="tag=([^;> ]+)" '
        + 'search_in="hdr" header="To:" check_it="true" assign_to="tag,peer"/></action></recv>\n'
        + steer_peer_request("ACK [next_url] SIP/2.0", "1 ACK")
        # RTP from the SDP's address: a caller the steering may try (sipp's PCMA sample).
        + f'  <nop><action><exec play_pcap_audio="{PCAPS / "g711a.pcap"}"/></action></nop>\n'
        + keys
        + wait  # the worker quiets the call
        + ok_to_last(contact, sdp.format(v=2, direction="a=inactive\n"))
        + '  <recv request="ACK"/>\n'
        + wait  # the steer: refused
        + refuse
        + '  <recv request="ACK"/>\n'
        + wait  # the call's own stream back
        + ok_to_last(contact, sdp.format(v=3, direction=""))
        + '  <recv request="ACK"/>\n'
        + '  <pause milliseconds="3000"/>\n'
        + steer_peer_request("BYE [next_url] SIP/2.0", "4 BYE")
        + '  <recv response="200"/>\n'
        + '  <Reference variables="tag,peer"/>\n</scenario>\n'
    )


async def test_a_refused_steer_leaves_the_call_on_the_workers_relay(
    tmp_path: Path, steered: tuple[Worker, LoneFront], queue: QueueService
) -> None:
    worker, front = steered
    path = tmp_path / "refusing.xml"
    path.write_text(refusing_caller_scenario())
    settings = front.settings
    sipp = subprocess.Popen(
        ["sipp", "-sf", str(path), "-s", "12348", f"{settings.sip_host}:{settings.sip_port}",
         "-i", "127.0.0.1", "-p", str(free_sip_port()), "-mi", "127.0.0.1",
         "-mp", str(free_port_run(4)), "-t", "u1", "-m", "1", "-timeout", "90s",
         "-timeout_error", "-nostdin", "-trace_err"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        await queue.set_presence("wang", Presence.AVAILABLE)
        await queue.start()
        async with queue.subscribe() as evs:
            contact = (await next_event(evs, "contact.offered")).contact
            assert contact is not None and await queue.accept(contact.id, "wang")
        out, _ = await asyncio.to_thread(sipp.communicate, timeout=120)
    finally:
        if sipp.poll() is None:
            sipp.kill()
    errors = "\n".join(p.read_text() for p in tmp_path.glob("*_errors.log"))
    assert sipp.returncode == 0, out[-3000:] + errors[-3000:]
    await until(lambda: log_records(worker, "steered bridge closed"), "the bridge closed")
    [refused] = log_records(worker, "steer refused: the worker relays this call")
    assert refused["status"] == 488
    [closed] = log_records(worker, "steered bridge closed")
    assert closed["relayed"] is True
    [relay] = log_records(worker, "bridge closed")
    assert relay["frames_to_room"] > 50, relay  # a second and more through the relay
    assert CALLER not in worker.output() and CALLER not in front.log()
