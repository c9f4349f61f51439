"""Live transcription with the real recogniser: lawline's transcriber processes (Vosk,
the Korean model: the only complete Vosk model installable here) fed real speech,
through the same code a call uses, into a real Redis."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import av
import pytest
from redis.asyncio import Redis
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from lawline.config import Settings
from lawline.queue.keys import QueueKeys
from lawline.queue.model import Contact
from lawline.queue.skills import Channel, Service
from lawline.queue.store import QueueStore
from lawline.transcripts import alert_phrases
from lawline.transcripts.alert_phrases import LivePhrases
from lawline.transcripts.client import TranscriberPool
from lawline.transcripts.live import LiveSettings, LiveTranscript
from lawline.transcripts.protocol import EOF_MESSAGE, config_message
from lawline.transcripts.runtime import Transcription, live_settings
from lawline.transcripts.segments import Kind, Leg, Segment
from lawline.transcripts.settings import TranscriptSettings
from lawline.transcripts.store import TranscriptStore
from lawline.transcripts.text import compact
from tests.ports import free_tcp_port
from tests.speech import (
    CITIZEN_SAYS,
    LAWYER_SAYS,
    RATE,
    TranscriberProcess,
    pcm_of,
    silence,
    speak,
    transcriber,
)

CHUNK = RATE * 20 // 1000 * 2  # 20 ms, as the bridge hands it over


@pytest.fixture(scope="module")
def asr() -> Iterator[TranscriberProcess]:
    with transcriber() as t:
        yield t


@pytest.fixture(scope="module")
def voices(tmp_path_factory: pytest.TempPathFactory) -> dict[Leg, bytes]:
    d = tmp_path_factory.mktemp("voices")
    return {
        Leg.CITIZEN: pcm_of(speak(CITIZEN_SAYS, d / "citizen.wav")),
        Leg.LAWYER: pcm_of(speak(LAWYER_SAYS, d / "lawyer.wav")),
    }


@pytest.fixture
async def store(redis: Redis) -> AsyncIterator[TranscriptStore]:
    qs = QueueStore(redis)
    contact = Contact(
        id="c1",
        service=Service.CONSULTATION,
        channel=Channel.VOICE,
        language="zh",
        entered_at=time.time(),
        caller="13800000000",
    )
    assert await qs.add_contact(contact, time.time())
    yield TranscriptStore(qs)


async def test_the_transcriber_speaks_vosk_servers_protocol(
    asr: TranscriberProcess, voices: dict[Leg, bytes]
) -> None:
    """A vosk-server client (config, audio frames, {"eof" : 1}) works unchanged."""
    replies: list[dict[str, Any]] = []
    async with connect(asr.url) as ws:
        await ws.send(config_message(RATE))
        pcm = voices[Leg.CITIZEN]
        for i in range(0, len(pcm), 3200):  # 100 ms frames, as vosk-server's examples send
            await ws.send(pcm[i : i + 3200])
            replies.append(json.loads(await ws.recv()))
        await ws.send(EOF_MESSAGE)
        last = json.loads(await ws.recv())
        with pytest.raises(ConnectionClosed):
            await ws.recv()  # the server closes after the final
    assert len(replies) == (len(pcm) + 3199) // 3200  # one reply per frame
    partials = [r["partial"] for r in replies if r.get("partial")]
    assert len(partials) >= 3, replies  # words appear while the sentence is spoken
    finals = [r for r in [*replies, last] if r.get("text")]
    assert finals, "no final text"
    words = [w for f in finals for w in f["result"]]
    assert all(0 <= w["start"] < w["end"] <= len(pcm) / 2 / RATE + 0.1 for w in words)


async def test_each_connection_has_its_own_times_though_recognisers_are_reused(
    asr: TranscriberProcess, voices: dict[Leg, bytes]
) -> None:
    """The transcriber keeps recognisers between utterances (building one is costly);
    word times still start from each connection's own first sample."""
    pcm = voices[Leg.LAWYER]
    firsts = []
    for _ in range(3):
        async with connect(asr.url) as ws:
            await ws.send(config_message(RATE))
            await ws.send(pcm)
            await ws.recv()
            await ws.send(EOF_MESSAGE)
            words = [w for r in (json.loads(await ws.recv()),) for w in r.get("result", [])]
        assert words and words[-1]["end"] <= len(pcm) / 2 / RATE + 0.1
        firsts.append(words[0]["start"])
    assert max(firsts) - min(firsts) < 0.3  # the same audio, the same times each time


async def test_a_full_transcriber_refuses_more_streams_and_says_why(
    voices: dict[Leg, bytes], store: TranscriptStore
) -> None:
    with transcriber(max_streams=1) as one:
        async with connect(one.url) as first:
            await first.send(config_message(RATE))
            async with connect(one.url) as second:
                with pytest.raises(ConnectionClosed) as refused:
                    await second.recv()
            assert refused.value.rcvd is not None and refused.value.rcvd.code == 1013
        # Both speakers at once on a transcriber that takes one: what it cannot take is
        # reported as a gap (not re-sent: nowhere to send it), the rest is transcribed.
        t0 = time.time()
        live = LiveTranscript("c1", LiveSettings(), TranscriberPool([one.url]), store, t0)
        plan = [(Leg.CITIZEN, 0.5, voices[Leg.CITIZEN]), (Leg.LAWYER, 0.5, voices[Leg.LAWYER])]
        await feed_live(live, plan, t0, tail_s=1.0)
        await live.close()
    _, stored = await store.read("c1")
    finals = [s for s in stored if s.kind == Kind.FINAL]
    gaps = [s for s in stored if s.kind == Kind.GAP]
    assert finals and gaps and not any(g.resent for g in gaps)


async def test_garbage_on_the_transcriber_socket_gets_a_clear_close(
    asr: TranscriberProcess,
) -> None:
    for garbage in ("hello", '{"config": {"sample_rate": 1}}', b"\x01\x02\x03"):
        async with connect(asr.url) as ws:
            await ws.send(garbage)
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1007
    async with connect(asr.url) as ws:  # and it still serves
        await ws.send(config_message(RATE))
        await ws.send(bytes(3200))
        assert "partial" in json.loads(await ws.recv())


async def feed_live(
    transcript: LiveTranscript,
    plan: list[tuple[Leg, float, bytes]],
    t0: float,
    tail_s: float,
    real_time: bool = False,
) -> None:
    """Feed each leg's audio in 20 ms chunks as if it arrived in real time from t0, faster
    than real time (the times are passed in) unless `real_time`; `plan`: (leg, start
    second, pcm)."""
    end = max(start + len(pcm) / 2 / RATE for _, start, pcm in plan) + tail_s
    streams = {leg: (start, pcm) for leg, start, pcm in plan}
    for i in range(int(end * 50)):
        t = i / 50
        for leg, (start, pcm) in streams.items():
            # A leg's audio flows all along (silence around its speech), as on a call.
            k = i - round(start * 50)
            chunk = pcm[k * CHUNK : (k + 1) * CHUNK] if k >= 0 else b""
            transcript.feed(leg, chunk.ljust(CHUNK, b"\0"), RATE, t0 + t + 0.02)
        if i % 10 == 0:
            await asyncio.sleep(0.2 if real_time else 0.02)  # let utterances stream


async def live_segments(redis: Redis, channel: str, into: list[Segment]) -> None:
    async with redis.pubsub() as ps:
        await ps.subscribe(channel)
        async for m in ps.listen():
            if m["type"] == "message":
                into.append(Segment.from_json(json.loads(m["data"])))


async def test_each_leg_is_transcribed_apart_with_partials_then_timed_finals(
    asr: TranscriberProcess, voices: dict[Leg, bytes], store: TranscriptStore, redis: Redis
) -> None:
    seen: list[Segment] = []
    listener = asyncio.create_task(live_segments(redis, store.keys.live("c1"), seen))
    await asyncio.sleep(0.2)
    t0 = time.time()
    live = LiveTranscript("c1", LiveSettings(), TranscriberPool([asr.url]), store, t0)
    # The citizen speaks from 1 s; the lawyer answers from 8 s.
    plan = [(Leg.CITIZEN, 1.0, voices[Leg.CITIZEN]), (Leg.LAWYER, 8.0, voices[Leg.LAWYER])]
    await feed_live(live, plan, t0, tail_s=1.5)
    await live.close()
    await asyncio.sleep(0.3)
    listener.cancel()

    meta, stored = await store.read("c1")
    assert meta["started_at"] == pytest.approx(t0)
    # On while a transcriber answered, ended once the call is over.
    assert [s.text for s in stored if s.kind == Kind.STATUS] == ["on", "ended"]
    assert meta["status"]["text"] == "ended"
    finals = {leg: [s for s in stored if s.kind == Kind.FINAL and s.leg == leg] for leg in Leg}
    for leg, start, pcm in plan:
        assert finals[leg], f"no final for the {leg} leg"
        # Each leg's finals lie within that speaker's own speech.
        end = start + len(pcm) / 2 / RATE
        for s in finals[leg]:
            assert start - 0.4 <= s.start < s.end <= end + 0.1, (leg, s)
            assert s.text and "  " not in s.text
        # Partials came first, live, for the same leg.
        first_final = seen.index(finals[leg][0])
        assert any(
            s.kind == Kind.PARTIAL and s.leg == leg and s.text for s in seen[:first_final]
        ), leg
    # Finals are stored in the order they happened, each leg numbered on its own.
    assert [s.seq for s in finals[Leg.CITIZEN]] == list(range(1, len(finals[Leg.CITIZEN]) + 1))


async def test_a_hang_up_mid_sentence_forces_the_final(
    asr: TranscriberProcess, voices: dict[Leg, bytes], store: TranscriptStore
) -> None:
    t0 = time.time()
    live = LiveTranscript("c1", LiveSettings(), TranscriberPool([asr.url]), store, t0)
    pcm = voices[Leg.CITIZEN]
    cut = pcm[: len(pcm) * 2 // 3 // CHUNK * CHUNK]  # the line drops two thirds in
    await feed_live(live, [(Leg.CITIZEN, 0.5, cut)], t0, tail_s=0)
    assert live.legs[Leg.CITIZEN].utterance is not None  # still speaking
    await live.close()
    _, stored = await store.read("c1")
    [final] = [s for s in stored if s.kind == Kind.FINAL]
    assert final.leg == Leg.CITIZEN and final.text
    assert final.end <= 0.5 + len(cut) / 2 / RATE + 0.1


async def test_a_phrase_on_the_watch_list_alerts_supervisors_at_once(
    asr: TranscriberProcess,
    voices: dict[Leg, bytes],
    store: TranscriptStore,
    redis: Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # What the recogniser hears in this audio (the model only roughly follows espeak's
    # Korean): the longest word of the first pass becomes the watched phrase.
    t0 = time.time()
    first = LiveTranscript("c1", LiveSettings(), TranscriberPool([asr.url]), store, t0)
    await feed_live(first, [(Leg.CITIZEN, 0.5, voices[Leg.CITIZEN])], t0, tail_s=1.0)
    await first.close()
    _, stored = await store.read("c1")
    heard = " ".join(s.text for s in stored if s.kind == Kind.FINAL)
    phrase = max(heard.split(), key=len)
    assert await redis.llen("ll:alerts") == 0

    # An admin puts it on the watch list (the settings' list has only another word): the
    # running process takes the saved list at its next final (here it looks every time).
    monkeypatch.setattr(alert_phrases, "REFRESH_S", 0.0)
    keys = QueueKeys("ll")
    alerts = LivePhrases({"other": ["없는말씀"]}, redis, keys)
    assert not (await alerts.current()).match(heard)
    watched = {"violence": [phrase], "other": ["없는말씀"]}
    await alert_phrases.save(redis, keys, watched, "root", time.time())
    settings = LiveSettings(alerts=alerts)
    events_before = await redis.xlen("ll:events")
    t1 = time.time()
    second = LiveTranscript("c1", settings, TranscriberPool([asr.url]), store, t1)
    await feed_live(second, [(Leg.CITIZEN, 0.5, voices[Leg.CITIZEN])], t1, tail_s=1.0)
    await second.close()
    [alert] = [json.loads(a) for a in await redis.lrange("ll:alerts", 0, -1)]
    assert alert["category"] == "violence" and alert["phrase"] == phrase
    assert alert["contact_id"] == "c1" and alert["leg"] == "citizen"
    assert compact(phrase) in compact(alert["text"])
    events = await redis.xrange("ll:events", f"{int(t1 * 1000)}-0")
    raised = [e for _, e in events if e["type"] == "transcript.alert"]
    assert len(raised) == 1 and json.loads(raised[0]["contact"])["id"] == "c1"
    # The alert, then the transcript's end for the ledger: nothing else.
    assert await redis.xlen("ll:events") == events_before + 2
    assert [e["type"] for _, e in events][-1] == "transcript.closed"


async def test_a_dying_transcriber_hands_its_streams_to_another_and_says_so(
    voices: dict[Leg, bytes], store: TranscriptStore
) -> None:
    with transcriber() as a, transcriber() as b:
        pool = TranscriberPool([a.url, b.url])
        t0 = time.time()
        live = LiveTranscript("c1", LiveSettings(), pool, store, t0)
        pcm = voices[Leg.CITIZEN]
        half = len(pcm) // 2 // CHUNK * CHUNK
        await feed_live(live, [(Leg.CITIZEN, 0.5, pcm[:half])], t0, tail_s=0)
        await asyncio.sleep(0.5)
        [busy] = [t for t in (a, b) if pool.load[t.url]]
        busy.kill()
        rest = pcm[half:] + silence(1.5)
        t1 = t0 + 0.5 + half / 2 / RATE
        for i in range(0, len(rest), CHUNK):
            live.feed(
                Leg.CITIZEN,
                rest[i : i + CHUNK].ljust(CHUNK, b"\0"),
                RATE,
                t1 + (i // CHUNK + 1) * 0.02,
            )
            if i % (10 * CHUNK) == 0:
                await asyncio.sleep(0.02)
        await live.close()
    _, stored = await store.read("c1")
    kinds = [(s.kind, s.leg) for s in stored if s.kind != Kind.STATUS]
    gaps = [s for s in stored if s.kind == Kind.GAP]
    assert len(gaps) == 1 and gaps[0].resent and gaps[0].leg == Leg.CITIZEN, kinds
    finals = [s for s in stored if s.kind == Kind.FINAL]
    assert finals and finals[-1].end > t1 - t0, "the rest of the speech was not transcribed"


async def test_without_a_model_calls_go_on_and_the_record_says_why(
    tmp_path: Path, store: TranscriptStore, voices: dict[Leg, bytes]
) -> None:
    settings = Settings(data_dir=tmp_path, transcripts=TranscriptSettings(urls=[]))
    transcription = Transcription(settings, store.queue_store)
    assert transcription.pool is None
    live = transcription.start("c1")
    live.feed(Leg.CITIZEN, voices[Leg.CITIZEN], RATE, time.time())
    await live.close()
    meta, stored = await store.read("c1")
    # Why, as a code the console words; the model's path stays in the log.
    assert [s.text for s in stored] == ["no_model", "ended"]
    assert meta["status"]["text"] == "ended"


async def test_transcribers_nobody_runs_are_not_called_on(
    tmp_path: Path, store: TranscriptStore, voices: dict[Leg, bytes]
) -> None:
    """Transcribers configured but not running: the console must not say 转写中."""
    dead = f"ws://127.0.0.1:{free_tcp_port()}"
    settings = Settings(data_dir=tmp_path, transcripts=TranscriptSettings(urls=[dead]))
    live = Transcription(settings, store.queue_store).start("c1")
    live.feed(Leg.CITIZEN, voices[Leg.CITIZEN], RATE, time.time())
    await live.close()
    _, stored = await store.read("c1")
    assert [s.text for s in stored if s.kind == Kind.STATUS] == ["unreachable", "ended"]


async def test_each_leg_is_recorded_compressed_when_the_centre_says_so(
    tmp_path: Path, asr: TranscriberProcess, store: TranscriptStore, voices: dict[Leg, bytes]
) -> None:
    settings = Settings(
        data_dir=tmp_path, transcripts=TranscriptSettings(urls=[asr.url], record_audio=True)
    )
    t0 = time.time()
    live = LiveTranscript("c1", live_settings(settings), TranscriberPool([asr.url]), store, t0)
    plan = [(Leg.CITIZEN, 0.0, voices[Leg.CITIZEN]), (Leg.LAWYER, 0.0, voices[Leg.LAWYER])]
    await feed_live(live, plan, t0, tail_s=1.0)
    await live.close()
    meta, _ = await store.read("c1")
    assert len(meta["recordings"]) == 2
    fed_s = max(len(p) for _, _, p in plan) / 2 / RATE + 1.0
    for path in map(Path, meta["recordings"]):
        assert path.parent == tmp_path / "recordings"
        with av.open(str(path)) as f:
            stream = f.streams.audio[0]
            assert stream.codec_context.name == "opus"
            seconds = sum(fr.samples for fr in f.decode(stream)) / stream.codec_context.sample_rate
        assert seconds == pytest.approx(fed_s, abs=0.1)
        # Opus at 16 kbit/s: far smaller than the 32 kB/s of raw 16 kHz audio.
        assert path.stat().st_size < fed_s * 32_000 / 8
