"""A phone party's speaking indicator: on for speech, not for a click; off after a
pause longer than the pauses between words."""

from __future__ import annotations

import numpy as np

from lawline.media.speaking import SpeakingDetector, level_db

SPEECH, NOISE = -22.0, -62.0


def every_100ms(detector: SpeakingDetector, levels: list[float], start: float) -> list[tuple]:
    """Feed five frames each 100 ms; the changes, with when they came."""
    changes = []
    for i in range(0, len(levels), 5):
        now = start + (i + 5) * 0.02
        change = detector.heard(levels[i : i + 5], now)
        if change is not None:
            changes.append((round(now, 2), change))
    return changes


def test_speech_turns_it_on_and_a_long_pause_off_but_not_the_pauses_between_words() -> None:
    words = [SPEECH] * 25 + [NOISE] * 15 + [SPEECH] * 25  # 0.5 s, a 0.3 s pause, 0.5 s
    levels = words + [NOISE] * 60
    changes = every_100ms(SpeakingDetector(), levels, 0.0)
    assert [c for _, c in changes] == [True, False]
    on, off = changes[0][0], changes[1][0]
    assert on <= 0.3  # within a fifth of a second or so of the first word
    assert 1.3 + 0.8 <= off <= 1.3 + 1.0  # the hangover after the last word


def test_a_click_or_line_noise_never_turns_it_on() -> None:
    levels = [NOISE] * 20 + [SPEECH] * 3 + [NOISE] * 50
    assert every_100ms(SpeakingDetector(), levels, 0.0) == []


def test_levels_of_real_frames() -> None:
    t = np.arange(160) / 8000
    tone = (0.1 * 32767 * np.sin(2 * np.pi * 440 * t)).astype("<i2").tobytes()
    assert -24 < level_db(tone) < -22  # a sine at -20 dBFS peak is -23 dBFS RMS
    assert level_db(bytes(320)) == -100.0
    assert level_db(b"") == -100.0
