"""Hearing a tone in 8 kHz audio, 20 ms at a time: when it was first heard, where each
run of it began, and which 100 ms windows had it. numpy only, so both the WebRTC peers
(webrtc_peers.py, Debian's python3) and the benches (the venv) use it.

Each 20 ms frame is tested at the tone's frequency (a single-bin DFT, as Goertzel): the
tone holds at least half the frame's energy, above a level floor. A run starts after 2
such frames and ends after 3 without; a window has the tone when most of its frames do.
Times are the callers' (time.monotonic() at arrival).
"""

from __future__ import annotations

from typing import Any

import numpy as np

RATE = 8000  # decoded audio is tested at 8 kHz: cheaper, and the tones are far below 4 kHz
FRAME = RATE // 50  # 20 ms
WINDOW_S = 0.1
TONE_SHARE = 0.5  # of a frame's energy at the tone's frequency
LEVEL_FLOOR = 100.0  # RMS (16-bit) below which a frame is silence
RUN_ON, RUN_OFF = 2, 3  # frames to start / end a run of the tone


class Ear:
    """The far tone in 20 ms frames: first heard, runs (onsets), 100 ms windows."""

    def __init__(self, hz: float) -> None:
        n = np.arange(FRAME)
        self.cos = np.cos(2 * np.pi * hz * n / RATE)
        self.sin = np.sin(2 * np.pi * hz * n / RATE)
        self.pending = np.zeros(0, dtype=np.float64)
        self.t0: float | None = None  # windows count from here (the answer)
        self.windows: list[list[int]] = []  # [frames, tone frames] per window
        self.frames = 0
        self.first_heard: float | None = None
        self.onsets: list[float] = []
        self.on = False
        self.streak = 0  # frames in a row agreeing with "not self.on"
        self.streak_t = 0.0

    def feed(self, samples: np.ndarray, now: float) -> bool:
        """Decoded samples arrived at `now`; True when the tone is heard the first time."""
        self.pending = np.concatenate((self.pending, samples))
        first = False
        while len(self.pending) >= FRAME:
            frame, self.pending = self.pending[:FRAME], self.pending[FRAME:]
            first |= self._frame(frame, now)
        return first

    def _frame(self, x: np.ndarray, now: float) -> bool:
        self.frames += 1
        energy = float(np.dot(x, x))
        re, im = float(np.dot(x, self.cos)), float(np.dot(x, self.sin))
        # 2|X|^2 / (N * sum x^2) is 1 for a pure tone at the bin, ~0 without it.
        tone = (
            energy > FRAME * LEVEL_FLOOR**2
            and 2 * (re * re + im * im) / (FRAME * energy) >= TONE_SHARE
        )
        if self.t0 is not None:
            k = int((now - self.t0) / WINDOW_S)
            while len(self.windows) <= k:
                self.windows.append([0, 0])
            self.windows[k][0] += 1
            self.windows[k][1] += tone
        first = False
        if tone != self.on:
            if self.streak == 0:
                self.streak_t = now
            self.streak += 1
            if self.streak >= (RUN_ON if tone else RUN_OFF):
                self.on, self.streak = tone, 0
                if tone:
                    self.onsets.append(self.streak_t)
                    if self.first_heard is None:
                        self.first_heard, first = self.streak_t, True
        else:
            self.streak = 0
        return first

    def summary(self) -> dict[str, Any]:
        marks = "".join(
            "." if frames == 0 else "1" if 2 * tone > frames else "0"
            for frames, tone in self.windows[:-1]  # the last one is still filling
        )
        share = None
        if self.first_heard is not None and self.t0 is not None:
            after = marks[int((self.first_heard - self.t0) / WINDOW_S) + 1 :]
            share = after.count("1") / len(after) if after else None
        return {
            "first_heard_t": self.first_heard,
            "heard_onsets": list(self.onsets),
            "frames": self.frames,
            "windows": marks,
            "heard_share": share,
        }


def ulaw_table() -> np.ndarray:
    """G.711 u-law byte -> 16-bit sample."""
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    magnitude = (((u & 0x0F) << 3) + 0x84) << ((u >> 4) & 0x07)
    return np.where(u & 0x80, 0x84 - magnitude, magnitude - 0x84).astype(np.float64)


def ulaw_encode(samples: np.ndarray) -> bytes:
    """16-bit samples -> G.711 u-law bytes."""
    x = np.clip(samples.astype(np.int32), -32635, 32635)
    sign = np.where(x < 0, 0x80, 0)
    magnitude = np.abs(x) + 0x84
    exponent = np.floor(np.log2(magnitude)).astype(np.int32) - 7
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8).tobytes()


def share_in(
    marks: str, t0: float, periods: list[tuple[float, float]], window_s: float = WINDOW_S
) -> float | None:
    """The share of "1" among the windows (of `marks`, from t0) wholly inside `periods`."""
    hits = total = 0
    for start, end in periods:
        first = int(np.ceil((start - t0) / window_s - 1e-9))
        last = int(np.floor((end - t0) / window_s + 1e-9))  # exclusive
        for k in range(max(first, 0), min(last, len(marks))):
            total += 1
            hits += marks[k] == "1"
    return hits / total if total else None
