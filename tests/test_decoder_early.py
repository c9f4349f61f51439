"""An idle Whisper decoder starts on an utterance in its speaker's pause: the text is
ready when the bridge says the utterance ended, and a speaker who goes on after the
pause still gets every word. The pause's rules on their own, then the real model
behind a real websocket, as the bridge reaches it; the speech is the neural voice of
tests/asr_eval."""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator

import numpy as np
import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve

from lawline.transcripts.decoder import DecoderService
from lawline.transcripts.evaluate import edit_distance, normalise
from lawline.transcripts.pause import Pause
from lawline.transcripts.protocol import EOF_MESSAGE, config_message
from lawline.transcripts.whisper import WhisperDecoder
from tests.speech import RATE, WHISPER_MODEL, held_out

FRAME = RATE // 50 * 2  # 20 ms of 16-bit audio, as the bridge sends it


@pytest.fixture(scope="module")
def decoder() -> WhisperDecoder:
    return WhisperDecoder(WHISPER_MODEL, threads=1)


@pytest.fixture(scope="module")
def said() -> list[tuple[str, bytes]]:
    return held_out(4, 2)


@pytest.fixture
async def service(decoder: WhisperDecoder) -> AsyncIterator[tuple[DecoderService, str]]:
    svc = DecoderService(decoder)
    async with serve(svc.handle, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield svc, f"ws://127.0.0.1:{port}"


def quiet(seconds: float) -> bytes:
    return bytes(int(seconds * RATE) * 2)


def tone(seconds: float) -> bytes:
    """-10 dBFS, as loud as speech."""
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.3 * 32767 * np.sin(2 * np.pi * 300 * t)).astype(np.int16).tobytes()


def frames(pcm: bytes) -> list[bytes]:
    return [pcm[at : at + FRAME] for at in range(0, len(pcm), FRAME)]


def test_a_guess_is_due_after_0_3_s_of_quiet_and_stands_until_the_speaker_goes_on() -> None:
    pause = Pause()
    for f in frames(quiet(0.5)):  # quiet before anything was said: nothing to guess
        assert not pause.heard(f) and not pause.time_to_guess()
    for f in frames(tone(1.0)):
        assert not pause.heard(f) and not pause.time_to_guess()
    quiet_frames = frames(quiet(0.4))
    for i, f in enumerate(quiet_frames):
        pause.heard(f)
        assert pause.time_to_guess() == ((i + 1) * 0.02 >= 0.3 - 1e-9)
    pause.guess()
    assert pause.guess_holds and not pause.time_to_guess()
    assert not pause.heard(quiet(0.02))  # more quiet: the guess still stands
    assert pause.heard(tone(0.02))  # the speaker went on: it is wrong now
    assert not pause.guess_holds and not pause.time_to_guess()


async def final_of(url: str, pcm: bytes) -> str:
    """One utterance as the bridge sends it: frame by frame, then eof; its final."""
    async with connect(url) as ws:
        await ws.send(config_message(RATE))
        for at in range(0, len(pcm), FRAME):
            await ws.send(pcm[at : at + FRAME])
            await ws.recv()  # the empty partial
        await ws.send(EOF_MESSAGE)
        async for reply in ws:
            with contextlib.suppress(ValueError):
                message = json.loads(reply)
                if "text" in message:
                    return str(message["text"])
    raise AssertionError("no final")


def distance(a: str, b: str) -> int:
    return edit_distance(normalise(a), normalise(b))


async def test_an_utterance_ending_in_quiet_is_decoded_once_before_its_end(
    service: tuple[DecoderService, str],
    decoder: WhisperDecoder,
    said: list[tuple[str, bytes]],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="lawline.transcripts.decoder")
    svc, url = service
    calls: list[int] = []
    real = decoder.decode
    monkeypatch.setattr(
        decoder, "decode", lambda pcm, rate: calls.append(len(pcm)) or real(pcm, rate)
    )
    ref, pcm = said[0]
    text = await final_of(url, pcm + quiet(0.6))
    assert svc.early_used == 1
    # The last early decode was the final (any before it were made in pauses within
    # the sentence, and dropped): nothing decoded at the end.
    assert len(calls) == svc.early_used + svc.early_dropped
    assert calls[-1] < len(pcm + quiet(0.6))  # started before the utterance's end
    assert distance(text, ref) <= len(normalise(ref)) // 4, (text, ref)
    # Each guess's cost is logged, used or not (where a decoder's time goes); never its text.
    early = [r for r in caplog.records if r.getMessage() == "utterance decoded early"]
    assert len(early) == len(calls)
    assert all(r.compute_s > 0 and not hasattr(r, "text") for r in early)  # type: ignore[attr-defined]


async def test_a_speaker_who_goes_on_after_a_pause_gets_every_word(
    service: tuple[DecoderService, str], said: list[tuple[str, bytes]]
) -> None:
    svc, url = service
    (first, a), (second, b) = said
    text = await final_of(url, a + quiet(0.4) + b + quiet(0.6))
    assert svc.early_dropped >= 1  # the guess made in the pause was thrown away
    both = first + second
    assert distance(text, both) < min(distance(text, first), distance(text, second)), text
    assert distance(text, both) <= len(normalise(both)) // 4, (text, both)


async def test_a_decoder_kept_busy_does_not_guess(
    service: tuple[DecoderService, str], said: list[tuple[str, bytes]]
) -> None:
    """Guesses are mostly dropped (pauses within sentences): a decoder the calls keep
    busy decodes at the end only."""
    svc, url = service
    now = time.monotonic()
    svc.busy.add(now - 10, now)  # its thread decoded all of the last 10 s
    ref, pcm = said[0]
    text = await final_of(url, pcm + quiet(0.6))
    assert svc.early_used == svc.early_dropped == 0
    assert distance(text, ref) <= len(normalise(ref)) // 4, (text, ref)
