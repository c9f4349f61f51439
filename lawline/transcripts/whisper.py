"""Whisper (faster-whisper on CTranslate2) decoding one finished utterance.

Whisper base is far better at Mandarin than any Vosk model installable here, but
it has known ways of going wrong, each guarded against:

- loops (one word repeated to the end of the window): faster-whisper's own
  temperature fallback re-decodes when the compression ratio says so (not on a
  low mean log probability: on telephone-quality audio that re-decoded nearly
  every utterance at every temperature, four times the work for the same text);
  a loop that survives it is found in the text
  (`find_loop`), decoded once more with repetition penalties, and if it is still
  there collapsed to one occurrence;
- dropped text (decoding stops before the speech does): when the last segment
  ends well before the audio, the rest is decoded on its own and appended;
- text made up over silence: segments Whisper itself takes for no speech are
  dropped, and so are the subtitle credits it learnt from video;
- traditional characters: the text is converted to simplified (OpenCC, from
  Taiwan's standard).

Numbers stay as spoken and written (三个月) unless `numbers="digits"`. The quiet
around what was said is left out before the encoder's window is chosen (pause.py),
but for 0.4 s after the last word: Whisper cuts short a sentence that ends too near
the end of its window.
"""

from __future__ import annotations

import math
import re
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np

from lawline.transcripts.packing import TimedWord, pack, split_words
from lawline.transcripts.pause import trim_quiet
from lawline.transcripts.text import tidy

RATE = 16_000  # Whisper's own rate
TAIL_S = 2.0  # speech left undecoded after the last segment: decoded again on its own
MIN_TAIL_S = 0.5
RETRY_FULL_S = 1.0  # an utterance this long heard as nothing in a cut window: try the full one
FULL_WINDOW = 3000  # mel frames: the 30 s Whisper was trained on
LOOP_REPEATS = 4  # a unit this many times in a row is a loop
LOOP_MAX_UNIT = 10  # characters
FALLBACK_TEMPERATURES = (0.0, 0.4, 0.8)
# What Whisper writes over silence or music, learnt from subtitled video.
CREDITS = re.compile(
    r"(字幕|subtitles?|amara|点赞|订阅|轉發|转发|打赏|明镜|栏目|感谢观看|謝謝觀看|謝謝收看)",
    re.IGNORECASE,
)


class ModelMissing(FileNotFoundError):
    pass


# What a CTranslate2 Whisper model directory cannot do without.
MODEL_FILES = ("model.bin", "config.json", "tokenizer.json")


def check_whisper_model(path: Path) -> None:
    """A CTranslate2 Whisper model directory: model.bin, config.json and a tokenizer."""
    if not path.is_dir():
        raise ModelMissing(f"no Whisper model at {path}")
    for part in MODEL_FILES:
        if not (path / part).is_file():
            raise ModelMissing(f"{path} is not a CTranslate2 Whisper model (no {part})")


@dataclass(frozen=True)
class DecodeSettings:
    language: str = "zh"
    beam_size: int = 5
    # Words the decoder should expect (a legal glossary): given as the prompt (as if
    # said before), or as hotwords (faster-whisper's hint ahead of the prompt).
    prompt: str = ""
    hotwords: str = ""
    script: Literal["simplified", "as-decoded"] = "simplified"
    numbers: Literal["as-spoken", "digits"] = "as-spoken"
    compression_ratio_threshold: float = 2.4
    log_prob_threshold: float = -1.0
    no_speech_threshold: float = 0.6
    # The encoder's window is cut to the audio (in 5 s steps), never below this many
    # seconds; 0 keeps Whisper's full 30 s window for every utterance.
    min_window_s: float = 5.0
    # The quiet before and after what was said (the voice-activity decision's lead-in
    # and its 0.6 s of silence at the end) left out, but for 0.2 s before and 0.4 s
    # after, before the window is chosen (pause.py): more utterances fit in 5 s.
    trim_quiet: bool = True
    # Homophones of legal terms corrected after decoding (legal_terms.py), with the
    # centre's own terms added to the shipped lexicon.
    correct_legal_terms: bool = True
    legal_terms: tuple[str, ...] = ()
    # Then two- and three-character words of the statutes (压金 -> 押金) where the
    # characters make no word and the word is far likelier (legal_words.py).
    correct_legal_words: bool = True


@dataclass
class Decoded:
    text: str
    audio_s: float  # the utterance as it came
    compute_s: float = 0.0
    decoded_s: float = 0.0  # what was decoded of it: its quiet ends left out
    # What the guards did: "tail" (dropped text decoded again), "loop" (re-decoded),
    # "collapsed" (a loop cut to one), "credits" or "no-speech" (segments dropped).
    guards: list[str] = field(default_factory=list)


def window_frames(audio_s: float, min_window_s: float) -> int:
    """The encoder's window for `audio_s` of audio, in mel frames (100 a second): the
    audio and half a second, in steps of 5 s, at least `min_window_s`, at most Whisper's
    30 s (3000 frames). 0 as the minimum: always the full window."""
    if min_window_s <= 0:
        return FULL_WINDOW
    seconds = max(min_window_s, math.ceil((audio_s + 0.5) / 5) * 5)
    return min(FULL_WINDOW, int(seconds * 100))


def _windowed_model() -> type[Any]:
    """faster-whisper's model, its encoder given `window_frames` of each (padded) window.

    faster-whisper pads every window's features to 3000 frames (30 s) before encoding,
    so a 3 s utterance costs the encoder as much as 30 s of speech; CTranslate2 takes
    fewer frames. The cut happens after the padding, on the padded features: frames
    past the audio are padding either way."""
    from faster_whisper import WhisperModel  # here: importing lawline stays light

    class WindowedWhisperModel(WhisperModel):  # type: ignore[misc]
        window_frames = FULL_WINDOW

        def encode(self, features: np.ndarray) -> Any:
            return super().encode(features[..., : self.window_frames])

    return WindowedWhisperModel


def _compression_ratio(text: str) -> float:
    """How much zlib shrinks the text: Whisper's own measure of a repetitive decode."""
    data = text.encode()
    return len(data) / len(zlib.compress(data))


def _needed(unit: int, repeats: int) -> int:
    # One character said four times is speech (对对对对, 谢谢谢谢); a loop goes on.
    return 2 * repeats if unit == 1 else repeats


def find_loop(text: str, repeats: int = LOOP_REPEATS, max_unit: int = LOOP_MAX_UNIT) -> str | None:
    """The unit a text repeats `repeats` times in a row or more, if any."""
    for unit in range(1, max_unit + 1):
        n = _needed(unit, repeats)
        m = re.search(rf"(.{{{unit}}})\1{{{n - 1},}}", text, re.DOTALL)
        if m and m.group(1).strip(" ，。,.、"):
            return m.group(1)
    return None


def collapse_loops(text: str, repeats: int = LOOP_REPEATS, max_unit: int = LOOP_MAX_UNIT) -> str:
    """Every run of a unit repeated `repeats` times or more, cut to one occurrence
    (shortest units first: a word looped twelve times is also a longer unit looped)."""
    for unit in range(1, max_unit + 1):
        n = _needed(unit, repeats)
        text = re.sub(rf"(.{{{unit}}})\1{{{n - 1},}}", r"\1", text, flags=re.DOTALL)
    return text


def pcm_to_float(pcm: bytes, rate: int) -> np.ndarray:
    """16-bit mono PCM at `rate` as Whisper's float32 audio at 16 kHz."""
    audio = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768.0
    if rate != RATE:
        import soxr

        audio = soxr.resample(audio, rate, RATE)
    return audio


class WhisperDecoder:
    """One loaded model; `decode` one utterance at a time (CTranslate2 uses `threads`)."""

    def __init__(
        self,
        model_path: Path,
        threads: int = 1,
        compute_type: str = "int8",
        settings: DecodeSettings | None = None,
    ) -> None:
        check_whisper_model(model_path)
        self.model = _windowed_model()(
            str(model_path),
            device="cpu",
            compute_type=compute_type,
            cpu_threads=threads,
            num_workers=1,
        )
        self.settings = settings or DecodeSettings()
        if self.settings.correct_legal_terms:
            from lawline.transcripts.legal_terms import shipped_corrector

            # Built now (a second or two), not while the first utterance waits.
            shipped_corrector(self.settings.legal_terms)
        if self.settings.correct_legal_words:
            from lawline.transcripts.legal_words import shipped_word_corrector

            shipped_word_corrector(self.settings.legal_terms)

    @cached_property
    def _to_simplified(self) -> Any:
        import opencc

        # Taiwan's standard, which Whisper mostly writes: 拿著 is 拿着 there, and
        # generic traditional leaves 著 as it is (measured on the tuning sets: three
        # characters fewer wrong at each rate, nothing else changed).
        return opencc.OpenCC("tw2s")

    def decode(self, pcm: bytes, rate: int) -> Decoded:
        started = time.perf_counter()
        audio = self._audio(pcm, rate)
        result = Decoded("", len(pcm) / 2 / rate, decoded_s=len(audio) / RATE)
        # Times from here on are the decoded audio's, from its first kept sample.
        text, last_end = self._transcribe(audio, result)
        if not text and result.decoded_s >= RETRY_FULL_S and self.settings.min_window_s > 0:
            # Nothing heard in a cut window: on hard audio (a poor line, an odd voice)
            # the short window can take speech for silence; the full one is the judge.
            result.guards.append("full-window")
            text, last_end = self._transcribe(audio, result, full_window=True)
        if result.decoded_s - last_end > TAIL_S and text:
            tail_text, _ = self._transcribe(audio[int(last_end * RATE) :], result)
            if tail_text:
                result.guards.append("tail")
                text += tail_text
        if find_loop(text):
            result.guards.append("loop")
            text, _ = self._transcribe(audio, result, avoid_repeats=True)
            if find_loop(text):
                result.guards.append("collapsed")
                text = collapse_loops(text)
        result.text = self.finish_text(text)
        result.compute_s = time.perf_counter() - started
        return result

    def decode_many(self, items: Sequence[tuple[bytes, int]], gap_s: float) -> list[Decoded]:
        """Several finished utterances (PCM, rate) in one window, each one's text split
        back by the words' timestamps (packing.py); when the split cannot vouch for
        every word's utterance, or a piece loops, each is decoded alone instead."""
        if len(items) == 1:
            return [self.decode(*items[0])]
        started = time.perf_counter()
        audio = [self._audio(pcm, rate) for pcm, rate in items]
        packed, spans = pack(audio, RATE, gap_s)
        guards: list[str] = []
        segments = self._segments(packed, guards, word_timestamps=True)
        words = [TimedWord(w.word, w.start, w.end) for seg in segments for w in seg.words or ()]
        texts = split_words(words, spans)
        if texts is None or any(find_loop(t) for t in texts):
            results = [self.decode(pcm, rate) for pcm, rate in items]
            for r in results:
                r.guards.append("unpacked")
            return results
        share = (time.perf_counter() - started) / len(items)
        return [
            Decoded(
                self.finish_text(text),
                len(pcm) / 2 / rate,
                share,
                decoded_s=len(a) / RATE,
                guards=["packed", *guards],
            )
            for text, a, (pcm, rate) in zip(texts, audio, items, strict=True)
        ]

    def decode_batch(self, items: Sequence[tuple[bytes, int]]) -> list[Decoded]:
        """Several finished utterances decoded side by side: those that take the same
        encoder window go through the encoder in one call and through the beam search
        in one call, each in its own row, so no text can move from one to another and
        each gets the text it would get alone, for less (CTranslate2 multiplies
        matrices for several rows at about the cost of one). An utterance whose row the
        batch cannot vouch for (no text, a loop, text too repetitive, taken for
        silence or credits, speech left after its last timestamp) is decoded alone by
        `decode`, with every guard."""
        if len(items) == 1:
            return [self.decode(*items[0])]
        started = time.perf_counter()
        audio = [self._audio(pcm, rate) for pcm, rate in items]
        by_window: dict[int, list[int]] = {}
        for i, a in enumerate(audio):
            if len(a) >= MIN_TAIL_S * RATE:
                frames = window_frames(len(a) / RATE, self.settings.min_window_s)
                by_window.setdefault(frames, []).append(i)
        heard: dict[int, str] = {}
        tried: list[int] = []
        for frames, rows in by_window.items():
            if len(rows) > 1:
                tried += rows
                texts = self._side_by_side([audio[i] for i in rows], frames)
                heard.update((i, t) for i, t in zip(rows, texts, strict=True) if t is not None)
        share = (time.perf_counter() - started) / max(1, len(tried))
        results: list[Decoded] = []
        for i, (pcm, rate) in enumerate(items):
            if i in heard:
                decoded = Decoded(
                    self.finish_text(heard[i]),
                    len(pcm) / 2 / rate,
                    share,
                    decoded_s=len(audio[i]) / RATE,
                    guards=["batched"],
                )
            else:
                decoded = self.decode(pcm, rate)
                if i in tried:
                    decoded.guards.append("unbatched")
                    decoded.compute_s += share
            results.append(decoded)
        return results

    def _side_by_side(self, audio: Sequence[np.ndarray], frames: int) -> list[str | None]:
        """The text of each of `audio` (one window size), or None where it has to be
        decoded alone."""
        import ctranslate2
        from faster_whisper.audio import pad_or_trim

        s, model, tokenizer = self.settings, self.model, self._tokenizer
        # The features `transcribe` gives the encoder: the audio's, padded, then cut.
        rows = []
        for a in audio:
            features = model.feature_extractor(a)
            rows.append(pad_or_trim(features[:, : features.shape[-1] - 1])[:, :frames])
        batch = ctranslate2.StorageView.from_array(np.ascontiguousarray(np.stack(rows)))
        encoded = model.model.encode(batch, to_cpu=False)
        results = model.model.generate(
            encoded,
            [list(self._prompt) for _ in audio],
            beam_size=s.beam_size,
            max_length=model.max_length,
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=self._suppressed,
            max_initial_timestamp_index=50,  # transcribe's: the first word within 1 s
        )
        texts: list[str | None] = []
        for a, result in zip(audio, results, strict=True):
            tokens = result.sequences_ids[0]
            words = [t for t in tokens if t < tokenizer.eot]
            text = tokenizer.decode(words).strip()
            # Where the last segment ends: its closing timestamp, else the audio's end.
            ends = tokens[-1] >= tokenizer.timestamp_begin if tokens else False
            last_end = (tokens[-1] - tokenizer.timestamp_begin) * 0.02 if ends else len(a) / RATE
            avg_logprob = result.scores[0] * len(tokens) / (len(tokens) + 1)
            silent = result.no_speech_prob > s.no_speech_threshold
            doubtful = (
                not text
                or _compression_ratio(text) > s.compression_ratio_threshold
                or (silent and avg_logprob < s.log_prob_threshold)
                or CREDITS.search(text) is not None
                or find_loop(text) is not None
                or len(a) / RATE - last_end > TAIL_S
            )
            texts.append(None if doubtful else text)
        return texts

    @cached_property
    def _tokenizer(self) -> Any:
        from faster_whisper.tokenizer import Tokenizer

        return Tokenizer(
            self.model.hf_tokenizer,
            self.model.model.is_multilingual,
            task="transcribe",
            language=self.settings.language,
        )

    @cached_property
    def _prompt(self) -> list[int]:
        """What `transcribe` starts each window's decoding with, for these settings."""
        s, tokenizer = self.settings, self._tokenizer
        previous = tokenizer.encode(" " + s.prompt.strip()) if s.prompt else []
        prompt: list[int] = self.model.get_prompt(
            tokenizer, previous, without_timestamps=False, hotwords=s.hotwords or None
        )
        return prompt

    @cached_property
    def _suppressed(self) -> list[int]:
        from faster_whisper.transcribe import get_suppressed_tokens

        return list(get_suppressed_tokens(self._tokenizer, [-1]))

    def _audio(self, pcm: bytes, rate: int) -> np.ndarray:
        """What is decoded of an utterance: Whisper's float audio, its quiet ends left out."""
        return pcm_to_float(trim_quiet(pcm, rate) if self.settings.trim_quiet else pcm, rate)

    def _transcribe(
        self,
        audio: np.ndarray,
        result: Decoded,
        avoid_repeats: bool = False,
        full_window: bool = False,
    ) -> tuple[str, float]:
        """The text of `audio`, and where its last kept segment ends (seconds)."""
        segments = self._segments(audio, result.guards, avoid_repeats, full_window=full_window)
        text = "".join(seg.text.strip() for seg in segments)
        return text, max((float(seg.end) for seg in segments), default=0.0)

    def _segments(
        self,
        audio: np.ndarray,
        guards: list[str],
        avoid_repeats: bool = False,
        word_timestamps: bool = False,
        full_window: bool = False,
    ) -> list[Any]:
        """The decoder's segments of `audio`, less those over silence and the credits."""
        if len(audio) < MIN_TAIL_S * RATE:
            return []
        s = self.settings
        shortest = 0.0 if full_window else s.min_window_s
        self.model.window_frames = window_frames(len(audio) / RATE, shortest)
        extra: dict[str, Any] = {}
        if avoid_repeats:
            extra = {"repetition_penalty": 1.3, "no_repeat_ngram_size": 3}
        segments, _info = self.model.transcribe(
            audio,
            language=s.language,
            beam_size=s.beam_size,
            temperature=list(FALLBACK_TEMPERATURES[1:] if avoid_repeats else FALLBACK_TEMPERATURES),
            compression_ratio_threshold=s.compression_ratio_threshold,
            log_prob_threshold=None,  # fallback on loops only; silence is judged below
            no_speech_threshold=None,
            condition_on_previous_text=False,  # a loop must not feed the next window
            initial_prompt=s.prompt or None,
            hotwords=s.hotwords or None,
            vad_filter=False,  # lawline's own voice-activity decision cut the utterance
            word_timestamps=word_timestamps,
            **extra,
        )
        kept: list[Any] = []
        for seg in segments:
            silent = seg.no_speech_prob > s.no_speech_threshold
            if silent and seg.avg_logprob < s.log_prob_threshold:
                guards.append("no-speech")
                continue
            if CREDITS.search(seg.text):
                guards.append("credits")
                continue
            kept.append(seg)
        return kept

    def finish_text(self, text: str) -> str:
        """The decoded text as the ledger keeps it: simplified, legal terms and the
        law's short words heard right, numbers as configured."""
        if self.settings.script == "simplified":
            text = self._to_simplified.convert(text)
            if self.settings.correct_legal_terms:  # its lexicon is in simplified
                from lawline.transcripts.legal_terms import shipped_corrector

                text = shipped_corrector(self.settings.legal_terms).correct(tidy(text))
            if self.settings.correct_legal_words:
                from lawline.transcripts.legal_words import shipped_word_corrector

                text = shipped_word_corrector(self.settings.legal_terms).correct(text)
        if self.settings.numbers == "digits":
            import cn2an

            text = cn2an.transform(text, "cn2an")
        return tidy(text)
