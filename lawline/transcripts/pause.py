"""An utterance's quiet, as its decoder hears it: when to guess its text early,
whether the guess still holds, and how much quiet around what was said to leave out.

The bridge's voice-activity decision ends an utterance after 0.6 s of silence. A
decoder that hears the audio end in 0.3 s of quiet may start on it then; if nothing
louder than quiet comes before the end, that decode is the utterance's text, ready
0.3 s sooner. Plain state over the frames as they come: no clock, no I/O.

The same voice-activity decision hands the decoder about 0.2 s from before the
speaker started and 0.6 s or more of the silence after, so a sentence of 3.8 s said
reaches it as 4.6 s or more, and Whisper's window (the audio and 0.5 s, in 5 s steps)
doubles. `trim_quiet` leaves out that quiet, but for a little either side.
"""

from __future__ import annotations

from dataclasses import dataclass

from lawline.media.speaking import FRAME_S, THRESHOLD_DB, level_db

GUESS_AFTER_S = 0.3  # quiet at the end of what was said before a guess is worth it
# Quiet kept before what was said: a word's soft onset (a breathy h, an s) is under
# the meter's threshold for a frame or two.
KEEP_BEFORE_S = 0.2
# And after it. Whisper needs room after the last word in its window (the window is
# the audio and 0.5 s): with 0.2 s kept, the decoder stopped mid-sentence ("我",
# "孩子在") on 9 of the 24 sentences of bench/asr_dev/longer.tsv at 8 kHz, with 0.3 s
# on a few; with 0.4 s it heard as well as untrimmed (README, "What a final costs").
KEEP_AFTER_S = 0.4


def trim_quiet(
    pcm: bytes, rate: int, before_s: float = KEEP_BEFORE_S, after_s: float = KEEP_AFTER_S
) -> bytes:
    """16-bit PCM at `rate` from `before_s` before its first frame louder than quiet to
    `after_s` after its last (20 ms frames, the speaking indicator's meter). All of it
    when no frame is: the voice-activity decision heard speech there, and a soft voice
    on a weak line can be quieter than the meter's threshold and still be words."""
    frame = round(rate * FRAME_S) * 2
    frames = range(0, len(pcm), frame)
    loud = [at for at in frames if level_db(pcm[at : at + frame]) >= THRESHOLD_DB]
    if not loud:
        return pcm
    start = max(0, loud[0] - round(rate * before_s) * 2)
    return pcm[start : loud[-1] + frame + round(rate * after_s) * 2]


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
