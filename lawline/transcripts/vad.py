"""lawline's own decision of when a speaker starts and stops talking.

WebRTC's voice-activity detector classifies each 20 ms frame; this state
machine turns the frame decisions into utterances, so lawline can end an
utterance (and get its final text) as soon as the speaker pauses, instead of
waiting for the recogniser's own, much longer, endpoint. Time is the frame
count: no clock inside.

    silent --(START_FRAMES voiced of the last START_WINDOW)--> speaking
    speaking --(silence_ms of unvoiced frames)--> silent
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import Enum

import webrtcvad

FRAME_MS = 20
START_WINDOW = 10  # frames (200 ms) looked at to decide speech has started
START_FRAMES = 6  # voiced frames among them that make it speech


class Change(Enum):
    STARTED = "started"
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class VadSettings:
    rate: int = 16_000  # 8, 16, 32 or 48 kHz
    aggressiveness: int = 2  # 0 (keeps most as speech) .. 3 (keeps least)
    silence_ms: int = 600  # a pause this long ends the utterance
    preroll_ms: int = 300  # audio kept from before the start was noticed


class VoiceActivity:
    """Feed 20 ms frames of 16-bit mono PCM; get utterance starts and ends."""

    def __init__(self, settings: VadSettings) -> None:
        self.settings = settings
        self.frame_bytes = settings.rate * FRAME_MS // 1000 * 2
        self._vad = webrtcvad.Vad(settings.aggressiveness)
        self._window: deque[bool] = deque(maxlen=START_WINDOW)
        self._silent_frames = 0
        self._end_after = max(1, settings.silence_ms // FRAME_MS)
        self.speaking = False
        self.frames = 0  # frames seen: the time, in FRAME_MS units

    def push(self, frame: bytes) -> Change | None:
        if len(frame) != self.frame_bytes:
            raise ValueError(f"a VAD frame is {self.frame_bytes} bytes, not {len(frame)}")
        voiced = self._vad.is_speech(frame, self.settings.rate)
        self.frames += 1
        if not self.speaking:
            self._window.append(voiced)
            if sum(self._window) >= START_FRAMES:
                self.speaking = True
                self._silent_frames = 0
                self._window.clear()
                return Change.STARTED
            return None
        self._silent_frames = 0 if voiced else self._silent_frames + 1
        if self._silent_frames >= self._end_after:
            self.speaking = False
            return Change.ENDED
        return None

    def force_end(self) -> bool:
        """End the utterance now (hang-up, a gap in the audio); True if one was open."""
        was, self.speaking = self.speaking, False
        self._window.clear()
        return was
