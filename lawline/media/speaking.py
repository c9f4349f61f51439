"""Whether someone on a line is speaking: what a phone party's seat shows the room
(their face is not there to show it).

A plain state machine with time passed in: `SpeakingDetector.heard` takes the levels of
the frames that arrived since the last call (dBFS, one per 20 ms frame) and says when
the state changes. Speaking starts once half the frames of a stretch of at least
START_S are above the threshold (a cough or a click is not speech), and ends after
HANGOVER_S with no such stretch (the pauses between words are not silence).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

THRESHOLD_DB = -40.0  # speech on a phone line is -30 to -15 dBFS; its noise below -55
START_S = 0.2
HANGOVER_S = 0.8
FRAME_S = 0.02


def level_db(pcm: bytes) -> float:
    """A frame of 16-bit PCM's level in dBFS (-100 for digital silence)."""
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    if not samples.size:
        return -100.0
    rms = float(np.sqrt(np.mean(samples * samples)))
    return -100.0 if rms < 1 else 20 * float(np.log10(rms / 32768))


@dataclass
class SpeakingDetector:
    speaking: bool = False
    _loud_since: float | None = None
    _last_loud: float = float("-inf")

    def heard(self, levels: list[float], now: float) -> bool | None:
        """The frames since the last call (dBFS); the new state when it changed, else None."""
        loud = bool(levels) and sum(lv > THRESHOLD_DB for lv in levels) * 2 >= len(levels)
        if not loud:
            self._loud_since = None
        else:
            if self._loud_since is None:
                self._loud_since = now - len(levels) * FRAME_S
            self._last_loud = now
            if not self.speaking and now - self._loud_since >= START_S:
                self.speaking = True
                return True
        if self.speaking and now - self._last_loud >= HANGOVER_S:
            self.speaking = False
            return False
        return None
