"""Several utterances in one Whisper window: which ones go together, where each lies,
and the text split back so that no word ever lands in another utterance (the pure
logic; tests/test_whisper_packing.py decodes real speech)."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from lawline.transcripts.packing import (
    SLACK_S,
    PackLimits,
    Span,
    TimedWord,
    pack,
    split_words,
    take,
)

RATE = 16_000


def test_the_oldest_utterances_go_together_within_the_count_and_the_window() -> None:
    limits = PackLimits(utterances=3, seconds=10.0, gap_s=0.5)
    assert take([], limits) == 0
    assert take([2.0, 2.0, 2.0, 2.0], limits) == 3  # the count
    assert take([4.0, 4.0, 4.0], limits) == 2  # 4 + 0.5 + 4 fits, one more does not
    assert take([12.0, 1.0], limits) == 1  # too long for the window: alone, never dropped
    assert take([3.0], PackLimits(utterances=1)) == 1


def test_packed_audio_has_each_utterance_where_its_span_says_with_silence_between() -> None:
    a = np.full(RATE, 0.5, np.float32)
    b = np.full(RATE // 2, -0.5, np.float32)
    packed, spans = pack([a, b], RATE, gap_s=0.6)
    assert spans == [Span(0.0, 1.0), Span(1.6, 2.1)]
    assert len(packed) == int(2.1 * RATE)
    assert np.all(packed[:RATE] == 0.5)
    assert np.all(packed[RATE : int(1.6 * RATE)] == 0.0)
    assert np.all(packed[int(1.6 * RATE) :] == -0.5)


SPANS = [Span(0.0, 2.0), Span(2.6, 5.0), Span(5.6, 6.0)]


def words(*timed: tuple[str, float, float]) -> list[TimedWord]:
    return [TimedWord(t, s, e) for t, s, e in timed]


def test_words_go_to_the_utterance_they_were_said_in() -> None:
    heard = words(("我想", 0.1, 0.5), ("咨询", 0.5, 1.9), ("老板", 2.7, 3.2), ("跑了", 3.2, 4.8))
    assert split_words(heard, SPANS[:2]) == ["我想咨询", "老板跑了"]


def test_a_word_straddling_a_gap_makes_the_split_refuse() -> None:
    heard = words(("我想", 0.1, 1.5), ("咨询", 1.6, 2.9), ("老板", 3.0, 4.8))
    assert split_words(heard, SPANS[:2]) is None


def test_a_word_in_the_middle_of_the_silence_makes_the_split_refuse() -> None:
    heard = words(("我想", 0.1, 1.9), ("嗯", 2.25, 2.35), ("老板", 2.7, 4.8))
    assert split_words(heard, SPANS[:2]) is None


def test_an_utterance_of_real_length_heard_as_nothing_makes_the_split_refuse() -> None:
    heard = words(("我想咨询", 0.1, 1.9), ("谢谢", 5.6, 5.9))
    assert split_words(heard, SPANS) is None  # the 2.4 s in the middle got no word
    assert split_words(words(("我想咨询", 0.1, 1.9), ("好的", 2.7, 4.9)), SPANS) == [
        "我想咨询",
        "好的",
        "",  # 0.4 s: a cough or a breath may well be nothing
    ]


def test_speech_going_on_long_after_an_utterances_last_word_makes_the_split_refuse() -> None:
    long = [Span(0.0, 6.0), Span(6.6, 8.0)]
    heard = words(("我想", 0.1, 1.0), ("好的", 6.7, 7.9))  # 5 s of speech with no word
    assert split_words(heard, long) is None


@st.composite
def packed_words(draw: st.DrawFn) -> tuple[list[Span], list[TimedWord]]:
    lengths = draw(st.lists(st.floats(0.3, 8.0), min_size=1, max_size=6))
    gap = draw(st.floats(0.2, 1.5))
    spans, at = [], 0.0
    for length in lengths:
        spans.append(Span(at, at + length))
        at += length + gap
    timed = []
    for _ in range(draw(st.integers(0, 25))):
        start = draw(st.floats(-0.5, at + 0.5))
        timed.append(
            TimedWord(
                draw(st.sampled_from("我你他法律援助工资")),
                start,
                start + draw(st.floats(0.0, 1.2)),
            )
        )
    return spans, sorted(timed, key=lambda w: w.start)


@given(packed_words())
def test_no_word_is_ever_given_to_an_utterance_it_was_not_said_in(
    case: tuple[list[Span], list[TimedWord]],
) -> None:
    spans, heard = case
    texts = split_words(heard, spans)
    if texts is None:
        return  # refused: each is then decoded alone
    assert sum(len(t) for t in texts) == len(heard)
    taken = [0] * len(spans)
    for word in heard:  # each word went to the one utterance whose span (with slack) holds it
        fits = [
            i for i, s in enumerate(spans)
            if s.start - SLACK_S <= word.start and word.end <= s.end + SLACK_S
        ]  # fmt: skip
        assert len(fits) == 1
        assert texts[fits[0]][taken[fits[0]]] == word.text
        taken[fits[0]] += 1
