"""Each leg's audio kept with the contact, compressed: Opus in Ogg, mono, 16 kbit/s
(speech stays intelligible at about 7 MB an hour for both legs)."""

from __future__ import annotations

import contextlib
import fractions
import logging
from pathlib import Path

import av

log = logging.getLogger(__name__)

BITRATE = 16_000
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)


class LegRecorder:
    """Write 16-bit mono PCM frames as they come; `close` finishes the file."""

    def __init__(self, path: Path, rate: int) -> None:
        if rate not in OPUS_RATES:
            raise ValueError(f"Opus records at {OPUS_RATES} Hz, not {rate}")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.rate = rate
        self._out = av.open(str(path), "w", format="ogg")
        self._stream = self._out.add_stream("libopus", rate=rate, layout="mono")
        self._stream.bit_rate = BITRATE
        self._pts = 0
        self.seconds = 0.0

    def write(self, pcm: bytes) -> None:
        frame = av.AudioFrame(format="s16", layout="mono", samples=len(pcm) // 2)
        frame.planes[0].update(pcm)
        frame.sample_rate = self.rate
        frame.time_base = fractions.Fraction(1, self.rate)
        frame.pts = self._pts
        self._pts += frame.samples
        self.seconds = self._pts / self.rate
        self._out.mux(self._stream.encode(frame))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._out.mux(self._stream.encode(None))
        self._out.close()
        log.info("recording closed", extra={"path": str(self.path), "seconds": self.seconds})
