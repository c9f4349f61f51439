"""An utterance's pause, as its decoder hears it: when to guess its text early, and
whether the guess still holds.

The bridge's voice-activity decision ends an utterance after 0.6 s of silence. A
decoder that hears the audio end in 0.3 s of quiet may start on it then; if nothing
louder than quiet comes before the end, that decode is the utterance's text, ready
0.3 s sooner. Plain state over the frames as they come: no clock, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from lawline.media.speaking import THRESHOLD_DB, level_db

GUESS_AFTER_S = 0.3  # quiet at the end of what was said before a guess is worth it


@dataclass
class Pause:
    rate: int = 16_000
    voiced_end: int = 0  # bytes: where the last frame louder than quiet ends
    length: int = 0  # bytes heard
    guessed_at: int | None = None  # `voiced_end` when the standing guess was made

    def heard(self, frame: bytes) -> bool:
        """Take a frame; True if it made the standing guess wrong (the speaker went on)."""
        self.length += len(frame)
        if level_db(frame) >= THRESHOLD_DB:
            self.voiced_end = self.length
        if self.guessed_at is not None and self.guessed_at != self.voiced_end:
            self.guessed_at = None
            return True
        return False

    @property
    def quiet_s(self) -> float:
        return (self.length - self.voiced_end) / 2 / self.rate

    def time_to_guess(self) -> bool:
        """Something was said, it has been quiet long enough, and no guess stands."""
        return self.guessed_at is None and self.voiced_end > 0 and self.quiet_s >= GUESS_AFTER_S

    def guess(self) -> None:
        self.guessed_at = self.voiced_end

    @property
    def guess_holds(self) -> bool:
        return self.guessed_at is not None
