"""Utterances decoded side by side with the real model: each gets exactly the text it
gets alone, whatever its neighbours and their order; a row in doubt is decoded alone;
and the decoder's queue hands its waiting utterances over together.

The speech is the neural voice of tests/asr_eval (a set only measured on), at 16 kHz
and as 8 kHz telephone audio, in 5 s and 10 s encoder windows."""

from __future__ import annotations

import asyncio

import pytest

import lawline.transcripts.whisper as whisper
from lawline.transcripts.decoder import DecoderService
from lawline.transcripts.evaluate import read_audio, read_refs
from lawline.transcripts.whisper import RATE, WhisperDecoder, window_frames
from tests.speech import HELD_OUT_16K, WHISPER_MODEL

HELD_OUT_8K = HELD_OUT_16K.parent / "8k"


@pytest.fixture(scope="module")
def decoder() -> WhisperDecoder:
    return WhisperDecoder(WHISPER_MODEL, threads=1)


@pytest.fixture(scope="module")
def utterances(decoder: WhisperDecoder) -> list[tuple[bytes, int]]:
    """Six callers' utterances (PCM, rate): four at 16 kHz, two by telephone; the
    longest held-out sentence is among them, so two window sizes are in play."""
    wide = read_refs(HELD_OUT_16K)
    longest = max(wide, key=lambda ref: len(ref[1]))
    chosen = [read_audio(path) for _, _, path in (*wide[:3], longest)]
    chosen += [read_audio(path) for _, _, path in read_refs(HELD_OUT_8K)[3:5]]
    windows = [window_of(decoder, pcm, rate) for pcm, rate in chosen]
    assert len(set(windows)) == 2, windows  # the longest sentences need the 10 s window
    return chosen


def window_of(decoder: WhisperDecoder, pcm: bytes, rate: int) -> int:
    return window_frames(len(decoder._audio(pcm, rate)) / RATE, decoder.settings.min_window_s)


@pytest.fixture(scope="module")
def alone(decoder: WhisperDecoder, utterances: list[tuple[bytes, int]]) -> list[str]:
    return [decoder.decode(pcm, rate).text for pcm, rate in utterances]


def test_utterances_side_by_side_get_the_text_each_gets_alone(
    decoder: WhisperDecoder, utterances: list[tuple[bytes, int]], alone: list[str]
) -> None:
    results = decoder.decode_batch(utterances)
    assert [r.text for r in results] == alone
    assert all(r.text for r in results)
    assert all(r.guards == ["batched"] for r in results), [r.guards for r in results]
    # Another order, other neighbours: still each one's own text, nothing moved.
    backwards = decoder.decode_batch(utterances[::-1])
    assert [r.text for r in backwards] == alone[::-1]
    pairs = decoder.decode_batch(utterances[1:3])
    assert [r.text for r in pairs] == alone[1:3]


def test_a_row_the_batch_cannot_vouch_for_is_decoded_alone(
    decoder: WhisperDecoder,
    utterances: list[tuple[bytes, int]],
    alone: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One row, its text taken for a loop (the real decoder does not loop on this
    voice, so the check is made to say so once, for that row), is decoded again on
    its own, with every guard; the others keep their batched text."""
    windows = [window_of(decoder, pcm, rate) for pcm, rate in utterances]
    commonest = max(windows, key=windows.count)
    same_window = [i for i, w in enumerate(windows) if w == commonest][:3]
    assert len(same_window) == 3, windows
    chosen = [utterances[i] for i in same_window]
    doubted = alone[same_window[1]]
    real = whisper.find_loop
    flagged: list[str] = []

    def doubt_once(text: str, *args: int) -> str | None:
        if not flagged and decoder.finish_text(text) == doubted:
            flagged.append(text)
            return text[:1]
        return real(text, *args)

    monkeypatch.setattr(whisper, "find_loop", doubt_once)
    results = decoder.decode_batch(chosen)
    assert flagged
    assert [r.text for r in results] == [alone[i] for i in same_window]
    assert [r.guards for r in results] == [["batched"], ["unbatched"], ["batched"]]


async def test_utterances_waiting_together_are_decoded_side_by_side(
    decoder: WhisperDecoder,
    utterances: list[tuple[bytes, int]],
    alone: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Six legs finish an utterance at the same moment: the queue hands the decoding
    thread four, then the other two, and each leg's connection gets its own text."""
    service = DecoderService(decoder)
    batches: list[int] = []
    real = decoder.decode_batch

    def counted(items: list[tuple[bytes, int]]) -> list[whisper.Decoded]:
        batches.append(len(items))
        return real(items)

    monkeypatch.setattr(decoder, "decode_batch", counted)
    texts = await asyncio.gather(*(service.decode(pcm, rate) for pcm, rate in utterances))
    assert batches == [4, 2]
    assert list(texts) == alone


async def test_an_utterance_that_cannot_be_decoded_fails_alone(
    decoder: WhisperDecoder,
    utterances: list[tuple[bytes, int]],
    alone: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One utterance's audio makes decoding fail (here, made to): its batch is decoded
    again one by one, its neighbours get their text and only its connection an error."""
    bad = utterances[1][0]
    real = decoder._audio

    def failing(pcm: bytes, rate: int) -> object:
        if pcm is bad:
            raise ValueError("unreadable audio")
        return real(pcm, rate)

    monkeypatch.setattr(decoder, "_audio", failing)
    service = DecoderService(decoder)
    texts = await asyncio.gather(
        *(service.decode(pcm, rate) for pcm, rate in utterances[:3]), return_exceptions=True
    )
    assert texts[0] == alone[0] and texts[2] == alone[2]
    assert isinstance(texts[1], ValueError)
    assert not service.waiting
