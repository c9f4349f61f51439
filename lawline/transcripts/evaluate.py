"""`lawline asr eval DIR`: how well the configured engines hear a centre's own recordings.

DIR holds audio files and `refs.tsv` (file id TAB reference text; the file is
`<id>.wav`, or `<id>.flac` where WAV would be too big to keep). Each file goes
through the same code a call's caller leg does (`LiveTranscript`: soxr resampling
from the file's own rate, lawline's voice-activity segmentation, one utterance at a
time to the engines), so an 8 kHz μ-law recording is heard as telephone audio. The
audio is fed as fast as it can be taken; the real-time factor is the wall time from
the first sample to the last final, over the audio's length. Character error rate:
edit distance over the reference's length, punctuation and spaces left out; scored
twice, with the numerals as written and with numerals made Arabic digits on both
sides (二十 and 20 are the same answer: a reference and a recogniser may write a
number either way). The last line is the second.

Engines: the configured transcriber and decoder URLs, else a Vosk transcriber
and a Whisper decoder started in this process on loopback, as `lawline serve`
would run one of each.
"""

from __future__ import annotations

import contextlib
import csv
import re
import time
import unicodedata
import warnings
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import av
import cn2an
import numpy as np
from websockets.asyncio.server import serve

from lawline.config import Settings
from lawline.transcripts.client import TranscriberPool
from lawline.transcripts.engines import Engines, decode_settings, pack_limits
from lawline.transcripts.live import LiveTranscript
from lawline.transcripts.runtime import live_settings
from lawline.transcripts.segments import Kind, Leg, Segment
from lawline.transcripts.text import AlertMatch

CHUNK_S = 0.02  # fed as the bridge hands audio over


class EvalError(Exception):
    """Bad input or no engine: the message is for the user."""


@dataclass
class FileResult:
    id: str
    reference: str
    hypothesis: str
    edits: int
    audio_s: float
    wall_s: float
    # The same with numerals as digits on both sides (see `numerals`).
    numeral_edits: int = 0
    numeral_chars: int = 0

    @property
    def cer(self) -> float:
        return self.edits / max(1, len(normalise(self.reference)))

    @property
    def numeral_cer(self) -> float:
        return self.numeral_edits / max(1, self.numeral_chars)

    @property
    def rtf(self) -> float:
        return self.wall_s / self.audio_s if self.audio_s else 0.0


def normalise(text: str) -> str:
    """What is compared: NFKC, lower case, no punctuation, no spaces."""
    text = unicodedata.normalize("NFKC", text).lower()
    return "".join(c for c in text if not unicodedata.category(c).startswith(("P", "Z", "S")))


_NUMERAL = "零〇一二三四五六七八九十百千万亿两幺0-9"
# Words whose 一, 十 or 万 is no quantity, kept as written (cn2an would make 一下 1下,
# 十分 10分). Not after a numeral: 三十分钟, 三万一千 are numbers.
_WORDS = (
    "一下|一起|一样|一直|一定|一些|一般|一边|一方面|一会|一旦|一致|一切|一向|一共|一同|一再|"
    "一律|一概|一辈子|一块儿|一口气|统一|唯一|万一|十分|千万"
)
_KEEP = re.compile(
    rf"(?<![{_NUMERAL}])(?:{_WORDS})"
    # 一点 as "a little" (有一点, 慢一点, 一点儿), not the hour (下午一点).
    r"|(?<=[有快慢大小多少早晚好])一点|一点(?=[儿点都也])"
    # 等一等, 看一看.
    r"|([\u4e00-\u9fff])一\1"
    # 半: cn2an makes 半天 0.5天 and 一个半小时 1个0.5小时.
    r"|半"
    # Ranges said as two numerals (两三个月, 三四千块): cn2an would read 两三 as 23.
    rf"|(?<![{_NUMERAL}])(?:一两|两三|三四|四五|五六|六七|七八|八九)[十百千万]*(?![{_NUMERAL}])"
)
_ARABIC_WITH_UNIT = re.compile(r"(\d+(?:\.\d+)?)([万亿])")


def numerals(text: str) -> str:
    """Chinese numerals made Arabic digits (二十 -> 20, 两万块 -> 20000块, 二零二三年 ->
    2023年, 3万 -> 30000), words that only contain a numeral (一下, 一样) left alone."""
    text = unicodedata.normalize("NFKC", text)
    out: list[str] = []
    pos = 0
    for m in _KEEP.finditer(text):
        out += [_cn2an(text[pos : m.start()]), m.group(0)]
        pos = m.end()
    out.append(_cn2an(text[pos:]))
    return _ARABIC_WITH_UNIT.sub(_times_unit, "".join(out))


def _cn2an(text: str) -> str:
    if not text:
        return text
    with warnings.catch_warnings():
        # It warns about each run of numerals it cannot read, and leaves it as it is.
        warnings.simplefilter("ignore")
        return cn2an.transform(text, "cn2an")


def _times_unit(m: re.Match[str]) -> str:
    value = float(m.group(1)) * (10_000 if m.group(2) == "万" else 100_000_000)
    return str(int(value)) if value == int(value) else m.group(0)


def edit_distance(ref: str, hyp: str) -> int:
    """Levenshtein distance between two strings (characters)."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i]
        for j, h in enumerate(hyp, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h)))
        prev = cur
    return prev[-1]


def read_refs(directory: Path) -> list[tuple[str, str, Path]]:
    """(id, reference, audio) for each line of refs.tsv, every file checked to be there
    (`<id>.wav`, else `<id>.flac`)."""
    refs = directory / "refs.tsv"
    if not refs.is_file():
        raise EvalError(f"{refs} is missing (one line per file: id TAB reference text)")
    items: list[tuple[str, str, Path]] = []
    with refs.open(encoding="utf-8", newline="") as f:
        for n, row in enumerate(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE), 1):
            if not row or not "".join(row).strip():
                continue
            if len(row) != 2 or not row[0].strip():
                raise EvalError(f"{refs}:{n}: expected `id TAB text`, got {row!r}")
            wav = directory / f"{row[0].strip()}.wav"
            if not wav.is_file() and wav.with_suffix(".flac").is_file():
                wav = wav.with_suffix(".flac")
            if not wav.is_file():
                raise EvalError(f"{refs}:{n}: no {wav.name} in {directory}")
            items.append((row[0].strip(), row[1].strip(), wav))
    if not items:
        raise EvalError(f"{refs} lists no files")
    return items


def read_audio(path: Path) -> tuple[bytes, int]:
    """16-bit mono PCM at the file's own rate (PCM or μ-law WAV, FLAC alike)."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.audio[0]
            rate = stream.rate
            resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
            out = bytearray()
            for frame in container.decode(stream):
                for f in resampler.resample(frame):
                    out += f.to_ndarray().astype(np.int16).tobytes()
            for f in resampler.resample(None):
                out += f.to_ndarray().astype(np.int16).tobytes()
    except (av.error.FFmpegError, IndexError) as exc:
        raise EvalError(f"{path.name}: not readable audio ({exc})") from None
    return bytes(out), rate


class _Finals:
    """A transcript sink that keeps the finals."""

    def __init__(self) -> None:
        self.finals: list[Segment] = []

    async def started(self, contact_id: str, started_at: float, **meta: str) -> float:
        return started_at

    async def segment(self, contact_id: str, seg: Segment) -> None:
        if seg.kind == Kind.FINAL:
            self.finals.append(seg)

    async def alert(self, contact_id: str, seg: Segment, match: AlertMatch) -> bool:
        return False

    async def closed(self, contact_id: str) -> None:
        pass


@contextlib.asynccontextmanager
async def local_engines(settings: Settings, language: str) -> AsyncIterator[Engines]:
    """The configured engines, or one of each served here on loopback."""
    t = settings.transcripts
    want = t.engines.get(language)
    async with contextlib.AsyncExitStack() as stack:
        vosk_urls, whisper_urls = list(t.urls), list(t.whisper.urls)
        if not whisper_urls and want is not None and want.finals == "whisper":
            from lawline.transcripts.decoder import DecoderService
            from lawline.transcripts.whisper import ModelMissing, WhisperDecoder

            with contextlib.suppress(ModelMissing):
                decoder = WhisperDecoder(
                    settings.whisper_model_path,
                    t.whisper.threads,
                    t.whisper.compute_type,
                    decode_settings(settings, language),
                )
                service = DecoderService(
                    decoder, limits=pack_limits(settings), batch=t.whisper.batch_utterances
                )
                whisper_urls = [await _serve(stack, service.handle)]
        if not vosk_urls and (want is None or want.finals == "vosk" or not whisper_urls):
            from lawline.transcripts.server import ModelMissing as VoskMissing
            from lawline.transcripts.server import Transcriber

            with contextlib.suppress(VoskMissing):
                vosk = Transcriber(settings.model_path, t.threads, t.streams_per_process)
                vosk_urls = [await _serve(stack, vosk.handle)]
        yield Engines(
            t.engines,
            TranscriberPool(vosk_urls) if vosk_urls else None,
            TranscriberPool(whisper_urls) if whisper_urls else None,
            t.whisper.final_timeout_s,
        )


async def _serve(stack: contextlib.AsyncExitStack, handler: Callable[..., object]) -> str:
    server = await stack.enter_async_context(serve(handler, "127.0.0.1", 0, max_size=1 << 21))  # type: ignore[arg-type]
    port = next(iter(server.sockets)).getsockname()[1]
    return f"ws://127.0.0.1:{port}"


async def transcribe_file(
    settings: Settings, engines: Engines, language: str, pcm: bytes, rate: int
) -> tuple[str, float]:
    """The file's text as a call's caller leg would get it, and the wall time taken."""
    leg_engines = engines.for_language(language)
    if leg_engines is None:
        raise EvalError(f"no speech engine for {language!r}: see `lawline models status`")
    sink = _Finals()
    started = time.perf_counter()
    live = LiveTranscript("eval", live_settings(settings), leg_engines, sink, 0.0)
    step = int(rate * CHUNK_S) * 2
    for i in range(0, len(pcm), step):
        chunk = pcm[i : i + step]
        live.feed(Leg.CITIZEN, chunk, rate, (i + len(chunk)) / 2 / rate)
    # The speaker's last pause, so VAD ends the utterance as it would in a call.
    tail = bytes(step)
    for k in range(int(1.0 / CHUNK_S)):
        live.feed(Leg.CITIZEN, tail, rate, (len(pcm) + (k + 1) * len(tail)) / 2 / rate)
    await live.close()
    text = "".join(s.text for s in sorted(sink.finals, key=lambda s: s.start))
    return text, time.perf_counter() - started


async def run_eval(
    settings: Settings, directory: Path, language: str, echo: Callable[[str], None]
) -> list[FileResult]:
    items = read_refs(directory)
    results: list[FileResult] = []
    async with local_engines(settings, language) as engines:
        if not engines.any:
            raise EvalError("no speech engine: see `lawline models status`")
        echo("id\tcer\trtf\taudio_s\ttext")
        for file_id, reference, wav in items:
            pcm, rate = read_audio(wav)
            text, wall = await transcribe_file(settings, engines, language, pcm, rate)
            ref_num = normalise(numerals(reference))
            r = FileResult(
                file_id,
                reference,
                text,
                edit_distance(normalise(reference), normalise(text)),
                len(pcm) / 2 / rate,
                wall,
                edit_distance(ref_num, normalise(numerals(text))),
                len(ref_num),
            )
            results.append(r)
            echo(f"{r.id}\t{r.cer:.3f}\t{r.rtf:.3f}\t{r.audio_s:.2f}\t{r.hypothesis}")
    ref_chars = sum(len(normalise(r.reference)) for r in results)
    cer = sum(r.edits for r in results) / max(1, ref_chars)
    num_chars = sum(r.numeral_chars for r in results)
    num_cer = sum(r.numeral_edits for r in results) / max(1, num_chars)
    rtf = sum(r.wall_s for r in results) / max(1e-9, sum(r.audio_s for r in results))
    echo(f"total: {len(results)} files, {ref_chars} reference characters")
    changed = [
        f"{r.id} {r.cer:.3f}->{r.numeral_cer:.3f}" for r in results if r.cer != r.numeral_cer
    ]
    echo(f"numerals as digits changed: {', '.join(changed) or 'no file'}")
    echo(f"raw cer={cer:.4f} (numerals as written)")
    # Last, for scripts: the figure with numerals compared as numbers.
    echo(f"cer={num_cer:.4f} rtf={rtf:.3f}")
    return results
