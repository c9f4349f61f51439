"""The audio bridge between a caller's SIP call and the duty lawyer's browser.

    caller ─G.711─ pjsua conference (16 kHz) ─ BridgePort ─► CallerTrack ─Opus─► browser
                                                         ◄─ resampled ◄─Opus 48 kHz─

pjsua's media clock thread calls the port every 20 ms: `onFrameReceived` with
the caller's audio, `onFrameRequested` for the lawyer's. There it only moves
bytes in and out of deques (atomic under the GIL) and wakes the asyncio loop
with `call_soon_threadsafe`; everything else runs on the worker's loop, which
is also the pjsua thread.

Buffering, lawyer to caller: play once 2 frames (40 ms) wait, fill an
underrun with silence (then gather 40 ms again), and when more than 5 frames
(100 ms) wait, drop the oldest down to 2. Caller to lawyer: frames go out as
the conference clock makes them; more than 5 waiting (the loop fell behind)
are cut to 2. `BridgeStats` gives the mean audio waiting each way: the delay
the bridge itself adds. aiortc's jitter buffer and the codecs add theirs.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import fractions
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass

import av
import pjsua2 as pj
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from lawline.transcripts.live import LiveTranscript
from lawline.transcripts.segments import Leg
from lawline.video.settings import WebRTCSettings
from lawline.video.webrtc import create_peer_connection

log = logging.getLogger(__name__)

# pjsua's conference clock: create_endpoint keeps EpConfig's defaults (16 kHz, 20 ms).
CLOCK_RATE = 16_000
FRAME_MS = 20
SAMPLES = CLOCK_RATE * FRAME_MS // 1000
FRAME_BYTES = SAMPLES * 2
SILENCE = bytes(FRAME_BYTES)
PREFILL = 2  # frames gathered before playing to the caller: the jitter allowance
MAX_WAITING = 5  # more waiting than this: drop the oldest down to PREFILL
CLOSE_TIMEOUT_S = 5.0
TRANSCRIBE_EVERY_S = 0.1  # the caller's audio goes to the transcript in 100 ms batches
TAP_FRAMES = 100  # caller audio kept for the transcript if the loop falls behind (2 s)


def _vector_bytes_fast(v: pj.ByteVector) -> bytes:
    # A libstdc++ std::vector starts with its begin and end pointers.
    begin, end = (ctypes.c_size_t * 2).from_address(int(v.this))
    return ctypes.string_at(begin, end - begin)


def _vector_reader() -> Callable[[pj.ByteVector], bytes]:
    """How to copy a frame out of pjsua2: SWIG's element iterator takes ~0.5 ms for one
    640-byte frame (50 a second per call); reading the vector's memory takes 2 us. The
    fast way is used only if it reads a known vector right."""
    probe = bytes(range(256))
    with contextlib.suppress(Exception):
        if _vector_bytes_fast(pj.ByteVector(probe)) == probe:
            return _vector_bytes_fast
    return bytes


_read_vector = _vector_reader()


@dataclass(frozen=True, slots=True)
class BridgeStats:
    to_caller_ms: float  # mean lawyer audio waiting in the bridge
    to_lawyer_ms: float  # mean caller audio waiting in the bridge
    underruns: int  # times the caller got silence because the lawyer's audio ran dry
    dropped: int  # 20 ms frames dropped because too much waited (either way)
    frames_to_caller: int
    frames_to_lawyer: int


class BridgePort(pj.AudioMediaPort):
    """A conference port whose two sides are deques shared with the asyncio loop.

    Each counter has one writer thread. It holds nothing of the call, so it can
    outlive it in MediaGrace."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.loop = loop
        self.ready = asyncio.Event()  # caller audio waiting for the lawyer
        self.to_caller: deque[bytes] = deque()
        self.to_lawyer: deque[bytes] = deque(maxlen=4 * MAX_WAITING)
        # The caller's audio for the live transcript, every frame (the browser's copy
        # may be cut when it falls behind).
        self.to_transcript: deque[bytes] = deque(maxlen=TAP_FRAMES)
        self.open = False  # connected to the call: the lawyer's audio is kept only then
        self.starved = True
        self.broken = False
        # Media clock thread's counters.
        self.played = self.waited_to_caller = self.underruns = self.overflow = 0
        # Loop's counters.
        self.sent = self.waited_to_lawyer = self.dropped = 0

    def create(self, name: str) -> None:
        fmt = pj.MediaFormatAudio()
        fmt.init(pj.PJMEDIA_FORMAT_PCM, CLOCK_RATE, 1, FRAME_MS * 1000, 16)
        self.createPort(name, fmt)

    # ----- media clock thread: hand over only ------------------------------------------

    # An exception must not reach pjsua: SWIG prints it, and the port is broken after
    # (its removal then trips an assertion in pjmedia's conference).

    def onFrameReceived(self, frame: pj.MediaFrame) -> None:
        try:
            pcm = _read_vector(frame.buf) if frame.type == pj.PJMEDIA_FRAME_TYPE_AUDIO else b""
            if len(self.to_lawyer) == self.to_lawyer.maxlen:
                self.overflow += 1
            pcm = pcm if len(pcm) == FRAME_BYTES else SILENCE
            self.to_lawyer.append(pcm)
            self.to_transcript.append(pcm)
            self.loop.call_soon_threadsafe(self.ready.set)
        except RuntimeError:
            pass  # the loop has closed: the worker is stopping
        except Exception:
            self._failed()

    def onFrameRequested(self, frame: pj.MediaFrame) -> None:
        try:
            frame.type = pj.PJMEDIA_FRAME_TYPE_AUDIO
            frame.buf = pj.ByteVector(self._next_to_caller())
            frame.size = FRAME_BYTES
        except Exception:
            self._failed()

    def _failed(self) -> None:
        if not self.broken:  # once: this runs 50 times a second
            self.broken = True
            log.exception("bridge port failed")

    def _next_to_caller(self) -> bytes:
        q = self.to_caller
        if self.starved and len(q) < PREFILL:
            return SILENCE
        try:
            pcm = q.popleft()
        except IndexError:
            self.starved = True
            self.underruns += 1
            return SILENCE
        self.starved = False
        self.played += 1
        self.waited_to_caller += len(q)
        return pcm

    # ----- the loop ----------------------------------------------------------------

    def push_to_caller(self, pcm: bytes) -> None:
        if not self.open:
            return
        q = self.to_caller
        q.append(pcm)
        if len(q) > MAX_WAITING:
            while len(q) > PREFILL:
                with contextlib.suppress(IndexError):  # the clock thread took it first
                    q.popleft()
                    self.dropped += 1

    def pop_to_lawyer(self) -> bytes | None:
        q = self.to_lawyer
        if len(q) > MAX_WAITING:
            while len(q) > PREFILL:
                q.popleft()
                self.dropped += 1
        if not q:
            return None
        self.sent += 1
        pcm = q.popleft()
        self.waited_to_lawyer += len(q)
        return pcm

    def stats(self) -> BridgeStats:
        return BridgeStats(
            to_caller_ms=FRAME_MS * self.waited_to_caller / max(1, self.played),
            to_lawyer_ms=FRAME_MS * self.waited_to_lawyer / max(1, self.sent),
            underruns=self.underruns,
            dropped=self.dropped + self.overflow,
            frames_to_caller=self.played,
            frames_to_lawyer=self.sent,
        )


class CallerTrack(MediaStreamTrack):
    """The caller's audio for the browser, each frame as the conference clock makes it."""

    kind = "audio"

    def __init__(self, port: BridgePort) -> None:
        super().__init__()
        self._port = port
        self._pts = 0

    async def recv(self) -> av.AudioFrame:
        port = self._port
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            pcm = port.pop_to_lawyer()
            if pcm is not None:
                break
            port.ready.clear()
            if not port.to_lawyer:
                await port.ready.wait()
        frame = av.AudioFrame(format="s16", layout="mono", samples=SAMPLES)
        frame.planes[0].update(pcm)
        frame.sample_rate = CLOCK_RATE
        frame.time_base = fractions.Fraction(1, CLOCK_RATE)
        frame.pts = self._pts
        self._pts += SAMPLES
        return frame

    def stop(self) -> None:
        super().stop()
        self._port.ready.set()  # wake a waiting recv so it ends


class Bridge:
    """One lawyer's browser bridged to one call: a peer connection and a conference port.

    Made and used on the worker's loop (the pjsua thread). The session connects it
    to the call's audio; the worker closes it (`close`, after `disconnect`)."""

    def __init__(self, settings: WebRTCSettings, name: str) -> None:
        self.name = name
        self.port = BridgePort(asyncio.get_running_loop())
        self.port.create(name)
        self.track = CallerTrack(self.port)
        self.pc: RTCPeerConnection = create_peer_connection(settings)
        self.pc.on("track", self._on_track)
        self.pc.on("connectionstatechange", self._on_connection_state)
        # Told when the browser's side fails or closes; the session sets it.
        self.on_end: Callable[[Bridge], None] | None = None
        self._from_lawyer: asyncio.Task[None] | None = None
        # The conversation's live transcript: both voices go to it while connected.
        self.transcript: LiveTranscript | None = None
        self._to_transcript = asyncio.get_running_loop().create_task(self._transcribe_caller())

    async def answer(self, offer_sdp: str) -> str:
        """The browser's offer in (complete, no trickle), the answer out (likewise)."""
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        self.pc.addTrack(self.track)
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        return self.pc.localDescription.sdp

    def connect(self, call_audio: pj.AudioMedia) -> None:
        if not self.port.open:
            self.port.to_caller.clear()
            self.port.starved = True
            self.port.open = True
        self.port.startTransmit(call_audio)
        call_audio.startTransmit(self.port)

    def disconnect(self, call_audio: pj.AudioMedia | None) -> None:
        self.port.open = False
        self.port.to_caller.clear()
        if call_audio is not None:
            for a, b in ((self.port, call_audio), (call_audio, self.port)):
                with contextlib.suppress(pj.Error):
                    a.stopTransmit(b)

    async def close(self) -> BridgeStats:
        """Stop the peer connection; the port must be disconnected (and retired) already."""
        self.on_end = None
        self.transcript = None
        self.track.stop()
        self._to_transcript.cancel()
        await asyncio.gather(self._to_transcript, return_exceptions=True)
        if self._from_lawyer is not None:
            self._from_lawyer.cancel()
            await asyncio.gather(self._from_lawyer, return_exceptions=True)
            self._from_lawyer = None
        try:
            await asyncio.wait_for(self.pc.close(), CLOSE_TIMEOUT_S)
        except Exception:
            log.exception("peer connection did not close cleanly", extra={"bridge": self.name})
        stats = self.port.stats()
        log.info("bridge closed", extra={"bridge": self.name, **asdict(stats)})
        return stats

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio" and self._from_lawyer is None:
            self._from_lawyer = asyncio.get_running_loop().create_task(self._pump(track))

    def _on_connection_state(self) -> None:
        if self.pc.connectionState in ("failed", "closed") and self.on_end is not None:
            self.on_end(self)

    async def _pump(self, track: MediaStreamTrack) -> None:
        """The lawyer's audio (aiortc decodes Opus to 48 kHz stereo) into 20 ms frames."""
        resampler = av.AudioResampler(format="s16", layout="mono", rate=CLOCK_RATE)
        pending = bytearray()
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            for out in resampler.resample(frame):
                pending += bytes(out.planes[0])[: out.samples * 2]
            n = len(pending) - len(pending) % FRAME_BYTES
            if n and self.port.open and self.transcript is not None:
                self.transcript.feed(Leg.LAWYER, bytes(pending[:n]), CLOCK_RATE, time.time())
            while len(pending) >= FRAME_BYTES:
                self.port.push_to_caller(bytes(pending[:FRAME_BYTES]))
                del pending[:FRAME_BYTES]

    async def _transcribe_caller(self) -> None:
        """The caller's audio, as the conference clock made it, to the live transcript."""
        tap = self.port.to_transcript
        while True:
            await asyncio.sleep(TRANSCRIBE_EVERY_S)
            frames = [tap.popleft() for _ in range(len(tap))]
            if frames and self.port.open and self.transcript is not None:
                self.transcript.feed(Leg.CITIZEN, b"".join(frames), CLOCK_RATE, time.time())
