"""One conversation's live transcript: both legs, from audio to stored text.

The bridge feeds each leg's audio as it has it (`feed`, any rate, with the time it
arrived); per leg, a soxr resampler brings it to the model's rate, lawline's
voice-activity decision (`vad.py`) cuts it into utterances, and each utterance
goes to the engines the conversation's language uses (`engines.py`): a streaming
one (Vosk) for words while the speaker talks, an utterance one (Whisper) for the
final text, or Vosk for both (`client.py`). Partials, finals with times, gaps and
status changes go, in order, to a sink (Redis: `store.py`); finals are checked
against the alert phrases. The same audio can be recorded per leg.

Times are seconds from the transcript's start. A leg whose audio stops for a
while (hold) has its utterance ended and its clock moved on, so its times stay
those of the conversation.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

import numpy as np
import soxr

from lawline.transcripts.client import TranscriberPool, Utterance
from lawline.transcripts.engines import LegEngines
from lawline.transcripts.recording import LegRecorder
from lawline.transcripts.segments import CALL_LEGS, Kind, Leg, Segment, TranscriptStatus
from lawline.transcripts.text import AlertMatch, AlertRules
from lawline.transcripts.vad import FRAME_MS, Change, VadSettings, VoiceActivity

log = logging.getLogger(__name__)

GAP_S = 0.5  # audio arriving this much later than its samples account for: a gap
FINAL_TIMEOUT_S = 10.0  # at close, how long an utterance may take to give its final
MAX_GAP_FILL_S = 600.0  # silence written into a recording for a gap, at most


class TranscriptSink(Protocol):
    async def started(self, contact_id: str, started_at: float, **meta: str) -> float: ...
    async def segment(self, contact_id: str, seg: Segment) -> None: ...
    async def alert(self, contact_id: str, seg: Segment, match: AlertMatch) -> bool: ...
    async def closed(self, contact_id: str) -> None: ...


class AlertSource(Protocol):
    """The watch list in force (AlertRules, or transcripts/alert_phrases.LivePhrases)."""

    async def current(self) -> AlertRules: ...


@dataclass(frozen=True)
class LiveSettings:
    rate: int = 16_000  # the model's sample rate
    vad: VadSettings = field(default_factory=VadSettings)
    max_utterance_s: float = 20.0  # a longer stretch of speech is cut here
    alerts: AlertSource = field(default_factory=lambda: AlertRules({}))
    recordings_dir: Path | None = None  # None: audio is not kept


class LegTranscriber:
    """One speaker's audio, cut into utterances."""

    def __init__(
        self,
        leg: Leg,
        settings: LiveSettings,
        engines: LegEngines | None,
        emit: Callable[[Segment], None],
        recorder: LegRecorder | None,
    ) -> None:
        self.leg = leg
        self.settings = settings
        self.rate = settings.rate
        self.engines = engines
        self.emit = emit
        self.recorder = recorder
        self.vad = VoiceActivity(settings.vad)
        self.frame_bytes = self.vad.frame_bytes
        self.preroll: deque[bytes] = deque(maxlen=max(1, settings.vad.preroll_ms // FRAME_MS))
        self._resamplers: dict[int, soxr.ResampleStream] = {}
        self._pending = bytearray()  # model-rate audio short of a whole VAD frame
        self.origin: float | None = None  # leg time of sample 0
        self.samples = 0  # model-rate samples taken into frames
        self.utterance: Utterance | None = None  # the one that gives the final text
        self.partials: Utterance | None = None  # another engine's partials for it
        self._utterance_frames = 0
        self._closing: list[Utterance] = []
        self._seq = 0

    @property
    def now(self) -> float:
        """Leg time of the next sample."""
        return (self.origin or 0.0) + self.samples / self.rate

    def feed(self, pcm: bytes, rate: int, at: float) -> None:
        """`pcm`: 16-bit mono at `rate`; `at`: transcript time its last sample arrived."""
        audio = self._resample(pcm, rate)
        if self.origin is None:
            # A first batch late under load may hold audio from before the transcript
            # began: its times start at 0, never before.
            self.origin = max(0.0, at - len(pcm) / 2 / rate)
        else:
            late = at - (self.now + (len(self._pending) + len(audio)) / 2 / self.rate)
            if late > GAP_S:
                self._skip(late)
        self._pending += audio
        fb = self.frame_bytes
        while len(self._pending) >= fb:
            frame = bytes(self._pending[:fb])
            del self._pending[:fb]
            self._frame(frame)

    def _resample(self, pcm: bytes, rate: int) -> bytes:
        if rate == self.rate:
            return pcm
        rs = self._resamplers.get(rate)
        if rs is None:
            rs = self._resamplers[rate] = soxr.ResampleStream(rate, self.rate, 1, dtype="int16")
        return rs.resample_chunk(np.frombuffer(pcm, dtype=np.int16)).tobytes()

    def _skip(self, seconds: float) -> None:
        """The audio stopped for a while: close the utterance, move the clock on."""
        self._end_utterance()
        self.vad.force_end()
        self.preroll.clear()
        self._pending.clear()
        if self.recorder is not None:
            fill = int(min(seconds, MAX_GAP_FILL_S) * self.rate)
            for i in range(0, fill, self.rate):
                self.recorder.write(bytes(2 * min(self.rate, fill - i)))
        self.origin = (self.origin or 0.0) + seconds

    def _frame(self, frame: bytes) -> None:
        if self.recorder is not None:
            self.recorder.write(frame)
        start = self.now
        self.samples += len(frame) // 2
        change = self.vad.push(frame)
        if self.utterance is not None:
            self.utterance.send(frame)
            if self.partials is not None:
                self.partials.send(frame)
            self._utterance_frames += 1
            if change is Change.ENDED:
                self._end_utterance()
            elif self._utterance_frames * FRAME_MS >= self.settings.max_utterance_s * 1000:
                self._end_utterance()
                self._begin(self.now, [])  # still speaking: carry on in a new one
            return
        self.preroll.append(frame)
        if change is Change.STARTED:
            frames = list(self.preroll)
            self.preroll.clear()
            self._begin(start - (len(frames) - 1) * FRAME_MS / 1000, frames)

    def _begin(self, start: float, frames: list[bytes]) -> None:
        e = self.engines
        if e is None:
            return
        final = self.utterance = Utterance(
            self.leg, start, self.rate, e.finals, self.emit, self._next, e.final_timeout_s
        )
        if e.partials is not None:
            self.partials = Utterance(
                self.leg, start, self.rate, e.partials, self._partials_only(final), lambda: 0
            )
        elif e.listening:
            self.emit(Segment(Kind.LISTENING, self.leg, "", start, start))
        self._utterance_frames = len(frames)
        for f in frames:
            self.utterance.send(f)
            if self.partials is not None:
                self.partials.send(f)

    def _partials_only(self, final: Utterance) -> Callable[[Segment], None]:
        """The streaming engine's words while the speaker talks, and nothing else: its
        finals and gaps are the other engine's business, and a partial arriving after
        the final would stay on screen."""

        def emit(seg: Segment) -> None:
            if seg.kind == Kind.PARTIAL and seg.text and not final.task.done():
                self.emit(seg)

        return emit

    def _next(self) -> int:
        self._seq += 1
        return self._seq

    def _end_utterance(self) -> None:
        for u in (self.utterance, self.partials):
            if u is not None:
                u.finish()
                self._closing.append(u)
                u.task.add_done_callback(lambda _t, u=u: self._closing.remove(u))
        self.utterance = self.partials = None

    async def close(self) -> None:
        """Hang-up: force the final of what was being said, then wait for every final."""
        self._end_utterance()
        timeout = FINAL_TIMEOUT_S
        if self.engines is not None:  # an utterance engine's queue may hold it longer
            timeout = max(timeout, self.engines.final_timeout_s)
        await asyncio.gather(*(u.wait(timeout) for u in list(self._closing)))
        if self.recorder is not None:
            self.recorder.close()


class LiveTranscript:
    """Every leg of one conversation (a call's two, a mediation room's sides). Use on one
    event loop: `feed` from the bridge, `close` when the conversation ends."""

    def __init__(
        self,
        contact_id: str,
        settings: LiveSettings,
        engines: LegEngines | TranscriberPool | None,
        sink: TranscriptSink,
        started_at: float,
        off_reason: TranscriptStatus = TranscriptStatus.NO_TRANSCRIBER,
        legs: Iterable[Leg] = CALL_LEGS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if isinstance(engines, TranscriberPool):  # one streaming engine for everything
            engines = LegEngines(engines)
        self.contact_id = contact_id
        self.settings = settings
        self.sink = sink
        self.started_at = started_at
        self.clock = clock
        self.ended_at = 0.0  # transcript time of the close (a hold still on ends there)
        self.engines = engines
        self.on = engines is not None
        self.off_reason = off_reason
        self.status: TranscriptStatus | None = None  # the last one written
        self._out: asyncio.Queue[Segment | None] = asyncio.Queue()
        self.legs: dict[Leg, LegTranscriber] = {}
        self.recordings: dict[Leg, Path] = {}
        for leg in legs:
            recorder = self._recorder(leg)
            self.legs[leg] = LegTranscriber(leg, settings, engines, self._out.put_nowait, recorder)
        self._writer = asyncio.get_running_loop().create_task(self._write())
        self.closed = False

    def _recorder(self, leg: Leg) -> LegRecorder | None:
        root = self.settings.recordings_dir
        if root is None:
            return None
        # One file per part: a transferred contact has one per lawyer who took it.
        path = root / f"{self.contact_id}-{int(self.started_at)}-{leg.value}.ogg"
        try:
            rec = LegRecorder(path, self.settings.rate)
        except Exception:
            log.exception("cannot record this leg", extra={"contact": self.contact_id})
            return None
        self.recordings[leg] = path
        return rec

    def feed(self, leg: Leg, pcm: bytes, rate: int, now: float) -> None:
        if self.closed or not pcm or not (self.on or self.recordings) or leg not in self.legs:
            return
        self.legs[leg].feed(pcm, rate, now - self.started_at)

    async def _write(self) -> None:
        meta = {f"recording:{p.stem}": str(p) for p in self.recordings.values()}
        shift = 0.0
        try:
            # A contact transferred to a colleague has its transcript go on: times stay
            # those of the first part's start.
            first = await self.sink.started(self.contact_id, self.started_at, **meta)
            shift = self.started_at - first
            await self._set_status(await self._first_status())
        except Exception:
            log.exception("transcript not started in the store", extra={"contact": self.contact_id})
        while (seg := await self._out.get()) is not None:
            if shift:
                seg = replace(seg, start=seg.start + shift, end=seg.end + shift)
            try:
                await self.sink.segment(self.contact_id, seg)
                if seg.kind == Kind.FINAL:
                    rules = await self.settings.alerts.current()
                    for match in rules.match(seg.text):
                        await self.sink.alert(self.contact_id, seg, match)
                await self._follow_status(seg)
            except Exception:
                # Redis away: this segment is lost to the record, the call goes on.
                log.exception(
                    "transcript segment not stored",
                    extra={
                        "contact": self.contact_id,
                        "kind": seg.kind.value,
                    },
                )
        with contextlib.suppress(Exception):  # the record is kept without it
            await self._set_status(TranscriptStatus.ENDED, self.ended_at + shift)

    async def _first_status(self) -> TranscriptStatus:
        """On only if a transcriber answers now; else why not."""
        if self.engines is None:
            return self.off_reason
        if await self.engines.finals.reachable():
            return TranscriptStatus.ON
        log.warning("no transcriber answers", extra={"contact": self.contact_id})
        return TranscriptStatus.UNREACHABLE

    async def _follow_status(self, seg: Segment) -> None:
        """The status stays true: text coming in is on, an utterance no transcriber
        took is unreachable."""
        if seg.kind == Kind.GAP and not seg.resent and self.status == TranscriptStatus.ON:
            await self._set_status(TranscriptStatus.UNREACHABLE)
        elif seg.kind == Kind.FINAL and self.status == TranscriptStatus.UNREACHABLE:
            await self._set_status(TranscriptStatus.ON)

    async def _set_status(self, status: TranscriptStatus, at: float = 0.0) -> None:
        self.status = status
        seg = Segment(Kind.STATUS, None, status.value, at, at)
        await self.sink.segment(self.contact_id, seg)

    async def close(self) -> None:
        """Finals for whatever was being said, every segment written, recordings closed."""
        if self.closed:
            return
        self.closed = True
        # The hang-up, before the last finals take their time.
        self.ended_at = max(0.0, self.clock() - self.started_at)
        await asyncio.gather(*(leg.close() for leg in self.legs.values()))
        self._out.put_nowait(None)
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer
        try:
            await self.sink.closed(self.contact_id)
        except Exception:
            log.exception("transcript end not announced", extra={"contact": self.contact_id})
