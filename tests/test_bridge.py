"""A call's room on the media server, against real peers: a pjsua2 worker process, the
run's Janus (tests/media_server.py), a pjsua2 softphone saying a tone
(tests/pjsua_caller.py), a duty lawyer accepting through the real queue, and an aiortc
peer in place of the browser, joined to the room as the web process joins it
(media/legs.py), saying a tone of another pitch. Audio is told apart by frequency
(Goertzel)."""

from __future__ import annotations

import array
import asyncio
import json
import math
import shutil
import signal
import subprocess
import sys
import time
import wave
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import aioice.ice
import pytest
from aiortc import RTCSessionDescription
from aiortc.contrib.media import MediaPlayer
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioResampler
from redis.asyncio import Redis

from lawline.config import Settings
from lawline.media.access import media_access
from lawline.media.legs import BrowserLegs
from lawline.media.rooms import LAWYER_GROUP
from lawline.queue.model import Lawyer
from lawline.queue.service import QueueService
from lawline.queue.settings import RoutingSettings
from lawline.queue.skills import Domain, Presence, Service
from lawline.queue.store import Event, QueueStore
from lawline.telephony.bridge_wire import BridgeClient, BridgeError
from lawline.video.settings import WebRTCSettings
from lawline.video.webrtc import create_peer_connection, rtc_configuration, use_host_addresses
from tests.media_server import MEDIA_IP
from tests.ports import free_sip_port
from tests.sip_helpers import Worker

pytestmark = [
    pytest.mark.skipif(shutil.which("sox") is None, reason="sox is installed by scripts/setup.sh"),
    pytest.mark.usefixtures("realtime"),  # tones judged in 100 ms windows (conftest.py)
]
needs_media = pytest.mark.usefixtures("media")

CALLER_HZ = 440  # what the caller says
LAWYER_HZ = 1200  # what the lawyer's browser says
RELOADED_HZ = 1800  # what the browser says after the console is reloaded
HOLD_MUSIC_HZ = (523, 659, 784)  # the notes of the hold_music prompt
LOOPBACK = WebRTCSettings(host_addresses=["127.0.0.1"])
# Janus takes no loopback candidates: the peer standing for the browser offers the
# namespace's media address.
BROWSER = WebRTCSettings(host_addresses=[MEDIA_IP])


# ----- audio ---------------------------------------------------------------------------


def share(x: Sequence[int], rate: int, hz: float) -> float:
    """Share of the window's power at `hz` (Goertzel): about 1 for a pure tone at hz."""
    k = 2 * math.cos(2 * math.pi * hz / rate)
    s1 = s2 = 0.0
    for v in x:
        s1, s2 = v + k * s1 - s2, s1
    energy = sum(v * v for v in x)
    return 2 * (s1 * s1 + s2 * s2 - k * s1 * s2) / len(x) / energy if energy else 0.0


def rms(x: Sequence[int]) -> float:
    return math.sqrt(sum(v * v for v in x) / len(x)) if x else 0.0


def windows(x: Sequence[int], rate: int, seconds: float = 0.1) -> list[Sequence[int]]:
    n = int(rate * seconds)
    return [x[i : i + n] for i in range(0, len(x) - n + 1, n)]


def tone_pattern(x: Sequence[int], rate: int, hz: float) -> str:
    """Each 100 ms window: "#" loud and mostly `hz`, "." not (where a break fell)."""
    ws = windows(x, rate)
    assert ws, "no audio at all in that stretch"
    return "".join("#" if rms(w) > 300 and share(w, rate, hz) > 0.5 else "." for w in ws)


@dataclass(frozen=True)
class Tone:
    """How a stretch carried a tone, window by window; true when a listener would call
    it clean: the tone nearly throughout, and no break of 300 ms or more. (A lone
    100-200 ms gap is what a loaded machine's jitter costs now and then, and what a
    listener on the phone talks through; a break they would notice fails. Its repr,
    the pattern, is what a failed assertion shows.)"""

    pattern: str

    def __bool__(self) -> bool:
        return self.pattern.count("#") >= 0.85 * len(self.pattern) and "..." not in self.pattern

    @classmethod
    def of(cls, heard: Iterable[bool]) -> Tone:
        """From a judgement of each 100 ms window (a voice in a mix, say)."""
        return cls("".join("#" if h else "." for h in heard))


def clean_tone(x: Sequence[int], rate: int, hz: float) -> Tone:
    return Tone(tone_pattern(x, rate, hz))


def tone_in(x: Sequence[int], rate: int, hz: float) -> float:
    """Share of 100 ms windows that are loud and mostly `hz`: 1.0 is clean, unbroken tone."""
    pattern = tone_pattern(x, rate, hz)
    return pattern.count("#") / len(pattern)


def from_onset(
    x: Sequence[int], rate: int, heard: Callable[[Sequence[int]], bool], within: float
) -> list[int]:
    """The samples from the first 100 ms window where `heard` holds, which must come
    within `within` seconds: judge a change from when it reached the ear, not after a
    guessed set-up time."""
    n = int(rate * 0.1)
    for i, w in enumerate(windows(x, rate)):
        if heard(w):
            assert i * 0.1 <= within, f"heard only {i * 0.1:.1f} s after the request"
            return list(x[i * n :])
    raise AssertionError("never heard")


def make_tone(path: Path, hz: int, rate: int) -> Path:
    subprocess.run(
        ["sox", "-n", "-r", str(rate), "-c", "1", "-b", "16", str(path),
         "synth", "10", "sine", str(hz), "vol", "0.3"],
        check=True,
    )  # fmt: skip
    return path


# ----- the peers -----------------------------------------------------------------------


class Caller:
    """The citizen: tests/pjsua_caller.py as a process, choosing labour consultation (1-1)."""

    def __init__(
        self, tmp: Path, worker: Worker, tone: Path, uri: str = "", options: Sequence[str] = ()
    ) -> None:
        """Calls the worker itself, or `uri` (the SIP front before it); `options` are
        pjsua_caller.py's."""
        self.heard_wav = tmp / "caller-heard.wav"
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).parent / "pjsua_caller.py"),
             uri or f"sip:12348@127.0.0.1:{worker.sip_port}", str(self.heard_wav), "90",
             str(free_sip_port()), "--play", str(tone), "--keys", "11", *options],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        self.media_at = 0.0
        self.output = ""

    def wait_media(self) -> None:
        self.media_at = float(self.wait_line("media ").split()[1])

    def wait_line(self, prefix: str) -> str:
        """The softphone's next line that starts with prefix (blocks: run in a thread)."""
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output += line
            if line.startswith(prefix):
                return line
        raise RuntimeError(f"the caller never said {prefix.strip()!r}")

    def hang_up(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=30)
        self.output += out
        assert self.proc.returncode == 0, out[-2000:]

    def heard(self, t0: float, t1: float) -> tuple[list[int], int]:
        """What the caller heard between two time.monotonic() instants (after hang_up)."""
        with wave.open(str(self.heard_wav)) as w:
            rate = w.getframerate()
            samples = array.array("h", w.readframes(w.getnframes()))
        a, b = (int((t - self.media_at) * rate) for t in (t0, t1))
        return list(samples[max(0, a) : b]), rate


async def record_track(track: MediaStreamTrack, heard: list[tuple[float, list[int]]]) -> None:
    """Collect a remote audio track's samples (mono, 48 kHz) with their arrival times."""
    to_48k = AudioResampler(format="s16", layout="mono", rate=48000)
    while True:
        try:
            frame = await track.recv()
        except MediaStreamError:
            return
        now = time.monotonic()
        for mono in to_48k.resample(frame):  # G.711 legs arrive at 8 kHz
            pcm = array.array("h", bytes(mono.planes[0])[: mono.samples * 2])
            heard.append((now, list(pcm)))


class Browser:
    """An aiortc peer in place of the lawyer's console: says a tone, keeps what it hears."""

    def __init__(self, tone: Path) -> None:
        self.pc = create_peer_connection(BROWSER)
        self.player = MediaPlayer(str(tone), loop=True)
        assert self.player.audio is not None
        self.pc.addTrack(self.player.audio)
        self.frames: list[tuple[float, list[int]]] = []  # arrival time, left channel 48 kHz
        self._reader: asyncio.Task[None] | None = None
        self.pc.on("track", self._on_track)

    def _on_track(self, track: MediaStreamTrack) -> None:
        self._reader = asyncio.get_running_loop().create_task(self._read(track))

    async def _read(self, track: MediaStreamTrack) -> None:
        await record_track(track, self.frames)

    async def connect(self, legs: BrowserLegs, contact_id: str, owner: str = "console") -> None:
        """Offer (after gathering: no trickle), joined to the call's room as the web process
        joins a console's offer (in the lawyer's group: ignored by a room without groups),
        and take the media server's answer."""
        await self.pc.setLocalDescription(await self.pc.createOffer())
        sdp = self.pc.localDescription.sdp
        answer = await legs.join(owner, contact_id, sdp, display="wang", group=LAWYER_GROUP)
        await self.pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))

    def heard(self, t0: float, t1: float) -> list[int]:
        return [s for t, pcm in self.frames if t0 <= t < t1 for s in pcm]

    async def until_hearing(
        self, check: Callable[[Sequence[int]], bool], what: str, timeout_s: float = 10
    ) -> None:
        """Until the last half second the browser heard passes `check` (silence counts
        as nothing heard: a disconnected bridge may send no frames at all)."""
        deadline = time.monotonic() + timeout_s
        while True:
            now = time.monotonic()
            recent = self.heard(now - 0.5, now)
            if check(recent if len(recent) >= 4800 else [0] * 24000):
                return
            assert now < deadline, f"the browser never heard the {what}"
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        await self.pc.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)


# ----- fixtures ------------------------------------------------------------------------


@pytest.fixture
def worker(bridge_worker: Worker) -> Worker:
    """A worker whose calls' rooms are on the run's media server (conftest)."""
    return bridge_worker


@pytest.fixture
def client(redis: Redis) -> BridgeClient:
    return BridgeClient(redis, "ll")


@pytest.fixture
async def legs() -> AsyncIterator[BrowserLegs]:
    """The web process's side: browsers joined to rooms on the run's media server."""
    joined = BrowserLegs(media_access(Settings()))
    yield joined
    await joined.stop()


@pytest.fixture
async def queue(redis: Redis) -> AsyncIterator[QueueService]:
    """The queue with one duty lawyer, wang, for labour consultations; started by the test."""
    service = QueueService(QueueStore(redis), Settings(routing=RoutingSettings(wrapup_s=0)))
    await service.create_lawyer(
        Lawyer(id="wang", services={Service.CONSULTATION: 4}, domains={Domain.LABOUR: 5})
    )
    yield service
    await service.stop()


async def next_event(evs: asyncio.Queue[Event], kind: str) -> Event:
    while (ev := await asyncio.wait_for(evs.get(), 30)).type != kind:
        pass
    return ev


async def call_answered_by_wang(
    tmp: Path,
    worker: Worker,
    queue: QueueService,
    uri: str = "",
    says: Path | None = None,
    options: Sequence[str] = (),
) -> tuple[Caller, str]:
    """A caller says CALLER_HZ (or `says`), chooses labour consultation, and wang
    accepts; the caller calls the worker, or `uri` (the SIP front before it)."""
    tone = says or make_tone(tmp / "caller.wav", CALLER_HZ, 16000)
    caller = Caller(tmp, worker, tone, uri, options)
    await queue.set_presence("wang", Presence.AVAILABLE)
    await queue.start()
    async with queue.subscribe() as evs:
        await asyncio.to_thread(caller.wait_media)
        contact = (await next_event(evs, "contact.offered")).contact
        assert contact is not None
        assert await queue.accept(contact.id, "wang")
    return caller, contact.id


async def settle_for(seconds: float) -> float:
    """Let the caller hear the present state for this long; the time it ends."""
    await asyncio.sleep(seconds)
    return time.monotonic()


async def settle(seconds: float = 3.0) -> tuple[float, float]:
    """Let audio flow; the stretch to judge, leaving out the first second (set-up)."""
    start = time.monotonic()
    await asyncio.sleep(seconds)
    return start + 1.0, time.monotonic()


# ----- tests ---------------------------------------------------------------------------


async def test_peers_ask_no_stun_server_and_offer_only_the_configured_addresses() -> None:
    assert rtc_configuration(WebRTCSettings()).iceServers == []  # not aiortc's Google STUN
    pc = create_peer_connection(LOOPBACK)
    try:
        pc.addTransceiver("audio")
        await pc.setLocalDescription(await pc.createOffer())
        found = [ln for ln in pc.localDescription.sdp.splitlines() if ln.startswith("a=candidate")]
        assert found and all(" 127.0.0.1 " in c and "typ host" in c for c in found), found
    finally:
        await pc.close()
    use_host_addresses([])  # back to aioice's own choice: every interface but loopback
    try:
        assert "127.0.0.1" not in aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=False)
    finally:
        use_host_addresses(LOOPBACK.host_addresses)


@needs_media
async def test_caller_and_lawyer_hear_each_other(
    tmp_path: Path, worker: Worker, queue: QueueService, legs: BrowserLegs, redis: Redis
) -> None:
    caller, contact_id = await call_answered_by_wang(tmp_path, worker, queue)
    browser = Browser(make_tone(tmp_path / "lawyer.wav", LAWYER_HZ, 48000))
    await talk_then_the_lawyer_ends(caller, contact_id, browser, queue, connect=legs)
    assert "bridge closed" in worker.output()
    assert await legs.access.client.plugin_request(
        "janus.plugin.audiobridge", {"request": "exists", "room": contact_id}
    ) == {"audiobridge": "success", "room": contact_id, "exists": False}
    assert not await redis.exists(f"ll:line:{contact_id}"), "the line key outlived the call"


async def talk_then_the_lawyer_ends(
    caller: Caller,
    contact_id: str,
    browser: Browser,
    queue: QueueService,
    connect: BrowserLegs | None = None,
) -> None:
    """(The browser joins the call's room first, with `connect`.) They talk, the lawyer
    ends the call and the caller hears the survey a while, then both hang up; each
    heard the other clean, then the caller the survey (assert_talked_then_survey)."""
    try:
        if connect is not None:
            await browser.connect(connect, contact_id)
        t0, t1 = await settle()
        assert await queue.end(contact_id, "lawyer") == 1
        ended = time.monotonic()
        await asyncio.sleep(3)  # the caller hears the survey a while: the behaviour under test
    finally:
        await browser.close()
        await asyncio.to_thread(caller.hang_up)
    assert_talked_then_survey(browser, caller, (t0, t1), ended)


def assert_talked_then_survey(
    browser: Browser, caller: Caller, talking: tuple[float, float], ended: float
) -> None:
    """Each heard the other's tone clean while talking; after the lawyer ended, the
    caller heard the survey (within 2 s), not the browser."""
    to_lawyer = browser.heard(*talking)
    assert rms(to_lawyer) > 1000, "the browser heard silence"
    assert clean_tone(to_lawyer, 48000, CALLER_HZ), "the caller's tone is not clean"
    to_caller, rate = caller.heard(*talking)
    assert rms(to_caller) > 1000, "the caller heard silence"
    assert clean_tone(to_caller, rate, LAWYER_HZ), "the lawyer's tone is not clean"

    def is_survey(w: Sequence[int]) -> bool:
        return rms(w) > 300 and share(w, rate, LAWYER_HZ) < 0.5

    survey = from_onset(caller.heard(ended, ended + 3)[0], rate, is_survey, within=2)
    assert rms(survey) > 300 and tone_in(survey, rate, LAWYER_HZ) == 0


@needs_media
async def test_a_reloaded_console_offers_again_and_the_call_keeps_its_audio(
    tmp_path: Path, worker: Worker, queue: QueueService, legs: BrowserLegs, redis: Redis
) -> None:
    caller, contact_id = await call_answered_by_wang(tmp_path, worker, queue)
    first = Browser(make_tone(tmp_path / "lawyer.wav", LAWYER_HZ, 48000))
    second = Browser(make_tone(tmp_path / "reloaded.wav", RELOADED_HZ, 48000))
    try:
        await first.connect(legs, contact_id)
        a0, a1 = await settle()
        await second.connect(legs, contact_id)
        b0, b1 = await settle()
        # The first leg was let go on the media server: nothing more reaches it.
        assert not first.heard(b0, b1)
        assert (await redis.hget(f"ll:contact:{contact_id}", "state")) == "connected"
    finally:
        await first.close()
        await second.close()
        await asyncio.to_thread(caller.hang_up)
    assert clean_tone(first.heard(a0, a1), 48000, CALLER_HZ)
    assert clean_tone(second.heard(b0, b1), 48000, CALLER_HZ)
    before, rate = caller.heard(a0, a1)
    after, _ = caller.heard(b0, b1)
    assert clean_tone(before, rate, LAWYER_HZ)
    assert clean_tone(after, rate, RELOADED_HZ), "the caller does not hear the new console"
    assert tone_in(after, rate, LAWYER_HZ) == 0


@needs_media
async def test_hold_plays_music_to_the_caller_instead_of_the_lawyer(
    tmp_path: Path, worker: Worker, queue: QueueService, client: BridgeClient, legs: BrowserLegs
) -> None:
    caller, contact_id = await call_answered_by_wang(tmp_path, worker, queue)
    browser = Browser(make_tone(tmp_path / "lawyer.wav", LAWYER_HZ, 48000))
    try:
        await browser.connect(legs, contact_id)
        t0, t1 = await settle(2)
        # The caller hears each state a while (the behaviour under test): from when the
        # worker carried the request out (the browser stops, or starts again, hearing the
        # caller), not from a guessed delay. Each stretch is judged from when the change
        # reached the caller (from_onset), within a deadline.
        await client.request(contact_id, "hold", on=True)
        h0 = time.monotonic()
        await browser.until_hearing(lambda w: tone_in(w, 48000, CALLER_HZ) == 0, "hold")
        h1 = await settle_for(3)
        await client.request(contact_id, "hold", on=False)
        u0 = time.monotonic()
        await browser.until_hearing(lambda w: tone_in(w, 48000, CALLER_HZ) > 0.9, "unhold")
        u1 = await settle_for(2.5)
    finally:
        await browser.close()
        await asyncio.to_thread(caller.hang_up)
    assert_held_then_lawyer(caller, (t0, t1), (h0, h1), (u0, u1))


def assert_held_then_lawyer(
    caller: Caller,
    talking: tuple[float, float],
    held: tuple[float, float],
    unheld: tuple[float, float],
) -> None:
    """The caller heard the lawyer, the hold music from the hold request on (within 2 s),
    then the lawyer again from the request to end it (within 2 s)."""
    before, rate = caller.heard(*talking)

    def is_music(w: Sequence[int]) -> bool:
        return rms(w) > 300 and sum(share(w, rate, hz) for hz in HOLD_MUSIC_HZ) > 0.5

    def is_lawyer(w: Sequence[int]) -> bool:
        return rms(w) > 300 and share(w, rate, LAWYER_HZ) > 0.5

    music_heard = from_onset(caller.heard(*held)[0], rate, is_music, within=2)
    after = from_onset(caller.heard(*unheld)[0], rate, is_lawyer, within=2)
    assert clean_tone(before, rate, LAWYER_HZ)
    assert tone_in(music_heard, rate, LAWYER_HZ) == 0, "the caller on hold hears the lawyer"
    ws = windows(music_heard, rate)
    loud = [rms(w) > 300 for w in ws]
    assert sum(loud) > len(ws) / 4, "the caller on hold hears silence"
    # The music is a 0.6 s chord and a 0.9 s pause: a window holding only the chord's
    # first or last few milliseconds is loud but smeared across the spectrum, so the
    # notes are judged inside the chords (windows with loud neighbours).
    inside = [ws[i] for i in range(1, len(ws) - 1) if loud[i - 1] and loud[i] and loud[i + 1]]
    notes = [sum(share(w, rate, hz) for hz in HOLD_MUSIC_HZ) > 0.5 for w in inside]
    assert inside and sum(notes) >= 0.75 * len(notes), (
        f"what the caller on hold hears is not the music: {Tone.of(notes)}"
    )
    assert clean_tone(after, rate, LAWYER_HZ), "off hold, the lawyer is not heard again"


async def test_garbage_requests_get_an_error_and_the_worker_carries_on(
    worker: Worker, redis: Redis, client: BridgeClient
) -> None:
    garbage = [
        "not json at all",
        '{"id": "broken", "kind": ',  # no JSON, but the id can still be answered
        "[1, 2, 3]",
        '{"id": "dance", "kind": "dance", "contact_id": "c1"}',
        '{"id": "nocontact", "kind": "offer"}',
        '{"id": "badhold", "kind": "hold", "contact_id": "c1", "on": "yes"}',
        '{"id": "badoffer", "kind": "offer", "contact_id": "c1", "lawyer_id": "wang"}',
    ]
    for raw in garbage:
        await redis.lpush("ll:rpc:worker-1", raw)
    errors = {}
    for request_id in ("broken", "dance", "nocontact", "badhold", "badoffer"):
        popped = await redis.blpop([f"ll:rpc:reply:{request_id}"], timeout=10)
        assert popped is not None, f"no reply to {request_id}"
        reply = json.loads(popped[1])
        assert reply["ok"] is False and reply["error"]
        errors[request_id] = reply["error"]
    assert "not JSON" in errors["broken"] and "dance" in errors["dance"]
    assert worker.proc.poll() is None, worker.output()
    # Still serving: a well-formed request for a call it does not hold is refused.
    await redis.set("ll:line:c1", "worker-1")
    with pytest.raises(BridgeError, match="holds no call"):
        await client.request("c1", "hold", on=True)
    with pytest.raises(BridgeError, match="no telephony worker holds"):
        await client.request("nobody", "hold", on=True)
