"""Utterances packed into one Whisper window with the real model: each comes back with
its own words, whether packed by hand or queued at the decoder by several callers at
once, and a split in doubt falls back to decoding each alone.

The speech is the neural voice of tests/asr_eval (a set only measured on)."""

from __future__ import annotations

import asyncio

import pytest

from lawline.transcripts.decoder import DecoderService
from lawline.transcripts.evaluate import edit_distance, normalise
from lawline.transcripts.packing import PackLimits
from lawline.transcripts.whisper import DecodeSettings, WhisperDecoder
from tests.speech import RATE, WHISPER_MODEL, held_out


@pytest.fixture(scope="module")
def decoder() -> WhisperDecoder:
    return WhisperDecoder(WHISPER_MODEL, threads=1, settings=DecodeSettings(beam_size=1))


@pytest.fixture(scope="module")
def sentences() -> list[tuple[str, bytes, int]]:
    """Four different sentences: (reference, PCM, rate)."""
    return [(ref, pcm, RATE) for ref, pcm in held_out(0, 4)]


def closest(text: str, references: list[str]) -> int:
    return min(
        range(len(references)),
        key=lambda i: edit_distance(normalise(references[i]), normalise(text)),
    )


def assert_each_has_its_own_words(texts: list[str], references: list[str]) -> None:
    for i, text in enumerate(texts):
        assert closest(text, references) == i, (i, texts)
        ref = normalise(references[i])
        # Nothing of a neighbour's came along, nothing of its own went: about its length.
        assert abs(len(normalise(text)) - len(ref)) <= max(3, len(ref) // 4), (text, ref)


def test_utterances_decoded_in_one_window_each_get_their_own_text(
    decoder: WhisperDecoder, sentences: list[tuple[str, bytes, int]]
) -> None:
    results = decoder.decode_many([(pcm, rate) for _, pcm, rate in sentences], gap_s=0.6)
    assert all("packed" in r.guards for r in results), [r.guards for r in results]
    assert_each_has_its_own_words([r.text for r in results], [ref for ref, _, _ in sentences])


def test_a_split_in_doubt_decodes_each_alone(
    decoder: WhisperDecoder,
    sentences: list[tuple[str, bytes, int]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The split refusing, as it does whenever a word's utterance is in doubt (when it
    # does is tests/test_packing.py's business).
    import lawline.transcripts.whisper as whisper

    monkeypatch.setattr(whisper, "split_words", lambda words, spans: None)
    results = decoder.decode_many([(pcm, rate) for _, pcm, rate in sentences[:2]], gap_s=0.6)
    assert all("unpacked" in r.guards for r in results)
    assert_each_has_its_own_words([r.text for r in results], [ref for ref, _, _ in sentences[:2]])


async def test_callers_whose_utterances_queue_together_each_get_their_own_text(
    decoder: WhisperDecoder,
    sentences: list[tuple[str, bytes, int]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Four legs finish an utterance at the same moment: one decode takes them all
    (the queue holds them while the decoding thread is busy) and each leg's
    connection gets its own sentence back."""
    service = DecoderService(decoder, limits=PackLimits(utterances=4, seconds=25))
    decodes: list[int] = []
    real = decoder.decode_many

    def counted(items: list[tuple[bytes, int]], gap_s: float) -> list[object]:
        decodes.append(len(items))
        return real(items, gap_s)

    monkeypatch.setattr(decoder, "decode_many", counted)
    texts = await asyncio.gather(*(service.decode(pcm, rate) for _, pcm, rate in sentences))
    assert decodes == [4]
    assert_each_has_its_own_words(list(texts), [ref for ref, _, _ in sentences])
