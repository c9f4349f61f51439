"""Several finished utterances in one Whisper window, and the text split back.

Whisper's encoder reads a 30 s window whatever the utterance's length, so decoding
one 3 s utterance costs nearly what 25 s of speech would. When utterances queue up
(several calls, both legs of each), they are laid end to end with a stretch of
silence between them and decoded at once; the decoder's word timestamps say which
utterance each word came from.

Text must never move from one utterance (one speaker, one call) to another, so the
split refuses rather than guesses: a word that straddles the middle of a gap, a
word heard inside the silence, an utterance of real length that got no word, or
one whose speech goes on well past its last word (the decoder stopped early) makes
`split_words` answer None, and the caller decodes those utterances one by one.
Pure functions over times in seconds: no model here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

WINDOW_S = 30.0  # Whisper's window: a pack must fit in it, with room to spare
# A word's timestamps are cross-attention estimates, good to about a tenth of a second
# on clear speech: a word may reach this far into the silence either side of its own
# utterance and still be taken as its own.
SLACK_S = 0.25
# An utterance at least this long that got no word was heard as part of another.
SILENT_OK_S = 0.8
# Speech this long after an utterance's last word: the decoder dropped it.
DROPPED_S = 1.5


@dataclass(frozen=True)
class Span:
    """Where one utterance lies in the packed audio (seconds)."""

    start: float
    end: float

    @property
    def length(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class TimedWord:
    text: str
    start: float
    end: float


@dataclass(frozen=True)
class PackLimits:
    """How much one decode may take: `utterances` at most (1: never pack) and
    `seconds` of packed audio (gaps included, under Whisper's window)."""

    utterances: int = 1
    seconds: float = 18.0
    gap_s: float = 0.6


def take(lengths: Sequence[float], limits: PackLimits) -> int:
    """How many of the queued utterances (oldest first, lengths in seconds) go in the
    next decode: at least one, then while the count and the window allow."""
    total, n = 0.0, 0
    for length in lengths:
        added = length if n == 0 else limits.gap_s + length
        if n and (n >= limits.utterances or total + added > limits.seconds):
            break
        total += added
        n += 1
    return max(n, 1) if lengths else 0


def pack(audio: Sequence[np.ndarray], rate: int, gap_s: float) -> tuple[np.ndarray, list[Span]]:
    """The utterances end to end with `gap_s` of silence between them, and each one's span."""
    gap = np.zeros(int(gap_s * rate), dtype=np.float32)
    parts: list[np.ndarray] = []
    spans: list[Span] = []
    at = 0
    for i, a in enumerate(audio):
        if i:
            parts.append(gap)
            at += len(gap)
        parts.append(a.astype(np.float32, copy=False))
        spans.append(Span(at / rate, (at + len(a)) / rate))
        at += len(a)
    return (np.concatenate(parts) if parts else np.zeros(0, np.float32)), spans


def owner(word: TimedWord, spans: Sequence[Span], slack_s: float = SLACK_S) -> int | None:
    """The utterance a word was said in, or None when its timing cannot tell: it
    straddles a gap, lies in the silence beyond any utterance's slack, or (with a
    gap narrower than twice the slack) could belong to either side."""
    fits = [
        i
        for i, span in enumerate(spans)
        if word.start >= span.start - slack_s and word.end <= span.end + slack_s
    ]
    return fits[0] if len(fits) == 1 else None


def split_words(words: Sequence[TimedWord], spans: Sequence[Span]) -> list[str] | None:
    """Each utterance's text from the packed decode's words, or None where any word's
    utterance is in doubt or an utterance's text looks lost (decode them alone)."""
    texts = ["" for _ in spans]
    last_end = [span.start for span in spans]
    heard = [False for _ in spans]
    for word in words:
        if not word.text.strip():
            continue
        i = owner(word, spans)
        if i is None:
            return None
        texts[i] += word.text
        heard[i] = True
        last_end[i] = max(last_end[i], word.end)
    for i, span in enumerate(spans):
        if not heard[i] and span.length >= SILENT_OK_S:
            return None
        if heard[i] and span.end - last_end[i] > DROPPED_S:
            return None
    return texts
