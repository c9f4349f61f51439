"""The quiet around what was said is left out before Whisper's window is chosen: the
voice-activity decision's lead-in and its 0.6 s or more of silence at the end would
put a sentence of 3.7-3.9 s said in a 10 s window. The trimming's rules on generated
audio, then the real model on the neural voice of tests/asr_eval."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lawline.transcripts.pause import KEEP_AFTER_S, KEEP_BEFORE_S, trim_quiet
from lawline.transcripts.whisper import DecodeSettings, WhisperDecoder
from tests.speech import RATE, WHISPER_MODEL, held_out

FRAME_S = 0.02


def quiet(seconds: float, rate: int = RATE, level: float = 0.0) -> bytes:
    """Silence, or line noise `level` of full scale (0.001: -60 dBFS, under the meter's
    -40 dBFS threshold)."""
    noise = np.random.default_rng(7).normal(0, level * 32767, round(seconds * rate))
    return noise.astype(np.int16).tobytes()


def tone(seconds: float, rate: int = RATE) -> bytes:
    """As loud as speech (-13 dBFS)."""
    t = np.arange(round(seconds * rate)) / rate
    return (0.3 * 32767 * np.sin(2 * np.pi * 300 * t)).astype(np.int16).tobytes()


@pytest.mark.parametrize("rate", [16_000, 8_000])
def test_quiet_ends_are_cut_to_what_is_kept_and_pauses_inside_stay(rate: int) -> None:
    said = tone(1.0, rate) + quiet(0.8, rate) + tone(0.6, rate)
    pcm = quiet(1.5, rate, 0.001) + said + quiet(1.5, rate, 0.001)
    before, after = (round(s * rate) * 2 for s in (KEEP_BEFORE_S, KEEP_AFTER_S))
    start = len(quiet(1.5, rate)) - before
    assert trim_quiet(pcm, rate) == pcm[start : start + before + len(said) + after]


def test_an_utterance_of_nothing_louder_than_quiet_is_left_whole() -> None:
    """The voice-activity decision heard something there: a soft voice on a weak line
    is still for Whisper to judge."""
    for pcm in (quiet(2.0), quiet(2.0, level=0.001), b""):
        assert trim_quiet(pcm, RATE) == pcm


def test_speech_to_the_very_edges_is_left_as_it_is() -> None:
    assert trim_quiet(tone(2.0), RATE) == tone(2.0)
    # Less quiet either side than is kept: nothing to leave out.
    pcm = quiet(KEEP_BEFORE_S - 0.1) + tone(2.0) + quiet(KEEP_AFTER_S - 0.06)
    assert trim_quiet(pcm, RATE) == pcm


@given(
    lead=st.integers(0, 100),
    said=st.integers(1, 100),
    tail=st.integers(0, 100),
    before=st.integers(0, 20),
    after=st.integers(0, 30),
)
def test_only_the_quiet_beyond_what_is_kept_goes(
    lead: int, said: int, tail: int, before: int, after: int
) -> None:
    """In 20 ms frames: `lead` quiet, `said` loud, `tail` quiet; kept, the loud ones,
    at most `before` quiet ones before them and `after` after."""
    pcm = quiet(lead * FRAME_S) + tone(said * FRAME_S) + quiet(tail * FRAME_S)
    frame = round(RATE * FRAME_S) * 2
    trimmed = trim_quiet(pcm, RATE, before * FRAME_S, after * FRAME_S)
    start = max(0, lead - before) * frame
    assert trimmed == pcm[start : (lead + said + min(tail, after)) * frame]


# ----- the real model ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def decoders() -> tuple[WhisperDecoder, WhisperDecoder]:
    """As configured, and the same with the quiet kept (as decoded before)."""
    trimmed = WhisperDecoder(WHISPER_MODEL, threads=1)
    whole = WhisperDecoder(WHISPER_MODEL, threads=1, settings=DecodeSettings(trim_quiet=False))
    return trimmed, whole


def encoder_frames(decoder: WhisperDecoder, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The mel frames each of the decoder's encoder calls is given, as they happen."""
    seen: list[int] = []
    encode = decoder.model.encode

    def counting(features: Any) -> Any:
        seen.append(decoder.model.window_frames)
        return encode(features)

    monkeypatch.setattr(decoder.model, "encode", counting)
    return seen


def test_speech_with_long_quiet_around_it_is_decoded_in_the_5_s_window_to_the_same_text(
    decoders: tuple[WhisperDecoder, WhisperDecoder], monkeypatch: pytest.MonkeyPatch
) -> None:
    trimmed, whole = decoders
    ((reference, speech),) = held_out(19, 1)  # about 2.9 s said, 0.3 s of quiet each side
    pcm = quiet(1.2) + speech + quiet(1.2)  # 1.5 s of quiet either side
    assert 5.5 < len(pcm) / 2 / RATE < 6.0
    windows = encoder_frames(trimmed, monkeypatch)
    result = trimmed.decode(pcm, RATE)
    assert windows == [500]  # once, in the 5 s window
    # Nothing taken for dropped speech: its times are the trimmed audio's, not the
    # utterance's (the 1.5 s left out before it would look like 1.5 s of lost tail).
    assert result.guards == []
    assert result.audio_s == len(pcm) / 2 / RATE
    assert result.decoded_s == len(trim_quiet(pcm, RATE)) / 2 / RATE < 4.0
    windows_before = encoder_frames(whole, monkeypatch)
    before = whole.decode(pcm, RATE)
    assert windows_before == [1000] and before.decoded_s == before.audio_s
    assert result.text == before.text and result.text, (result.text, before.text, reference)
