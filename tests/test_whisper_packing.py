"""Utterances packed into one Whisper window with the real model: each comes back with
its own words, whether packed by hand or queued at the decoder by several callers at
once, and a split in doubt falls back to decoding each alone.

The speech is the neural voice of tests/asr_eval (a set only measured on)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from lawline.transcripts.decoder import DecoderService
from lawline.transcripts.evaluate import edit_distance, normalise, read_audio, read_refs
from lawline.transcripts.packing import PackLimits
from lawline.transcripts.whisper import DecodeSettings, WhisperDecoder
from tests.speech import WHISPER_MODEL

EVAL_SET = Path(__file__).resolve().parent / "asr_eval" / "16k"


@pytest.fixture(scope="module")
def decoder() -> WhisperDecoder:
    return WhisperDecoder(WHISPER_MODEL, threads=1, settings=DecodeSettings(beam_size=1))


@pytest.fixture(scope="module")
def sentences() -> list[tuple[str, bytes, int]]:
    """Four different sentences: (reference, PCM, rate)."""
    refs = read_refs(EVAL_SET)[:4]
    return [(ref, *read_audio(path)) for _, ref, path in refs]


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
    # Utterances run together with no silence between them: word timing cannot tell
    # where one ends, as when the decoder's timestamps drift.
    import lawline.transcripts.whisper as whisper

    monkeypatch.setattr(whisper, "split_words", lambda words, spans: None)
    results = decoder.decode_many([(pcm, rate) for _, pcm, rate in sentences[:2]], gap_s=0.6)
    assert all("unpacked" in r.guards for r in results)
    assert_each_has_its_own_words([r.text for r in results], [ref for ref, _, _ in sentences[:2]])


async def test_callers_whose_utterances_queue_together_each_get_their_own_text(
    decoder: WhisperDecoder, sentences: list[tuple[str, bytes, int]]
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

    decoder.decode_many = counted  # type: ignore[method-assign]
    try:
        texts = await asyncio.gather(*(service.decode(pcm, rate) for _, pcm, rate in sentences))
    finally:
        del decoder.decode_many
    assert decodes == [4]
    assert_each_has_its_own_words(list(texts), [ref for ref, _, _ in sentences])
