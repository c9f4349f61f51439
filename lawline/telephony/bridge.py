"""A call's leg in its conversation room on the media server (Janus AudioBridge).

    caller ─G.711─ pjsua conference ─ RelayPort ─RTP G.711─► room ◄─WebRTC─ lawyer's browser
                                               ◄─ the room's mix ─┘        (and supervisors)

The worker keeps the trunk call (prompts, hold music, keys, the survey); while a
lawyer talks to the caller, `RelayPort` carries the call's audio to the room and the
room's mix (everyone but the caller) back, as plain RTP on a UDP socket of its own.
pjsua's media clock thread calls the port every 20 ms; it encodes and sends, and
receives and decodes, right there (a few microseconds, no asyncio hop), so nothing
per packet waits for the loop. The loop only batches both voices for the live
transcript every 100 ms.

Buffering, room to caller: play once 2 frames (40 ms: the two 20 ms clocks drift)
wait, fill an underrun with silence (then gather 40 ms again), and when more than 5
frames wait, drop the oldest down to 2. `BridgeStats` gives the mean audio waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import random
import socket
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass

import pjsua2 as pj

from lawline.media.janus_client import RtpJoin
from lawline.media.rooms import ConversationRooms
from lawline.media.rtp import PCMU, RtpSender, parse_rtp, ulaw_decode, ulaw_encode
from lawline.transcripts.live import LiveTranscript
from lawline.transcripts.segments import Leg

log = logging.getLogger(__name__)

CLOCK_RATE = 8_000  # G.711's; pjsua's conference resamples to and from its own 16 kHz
FRAME_MS = 20
SAMPLES = CLOCK_RATE * FRAME_MS // 1000
FRAME_BYTES = SAMPLES * 2
SILENCE = bytes(FRAME_BYTES)
PREFILL = 2  # frames gathered before playing to the caller: the jitter allowance
MAX_WAITING = 5  # more waiting than this: drop the oldest down to PREFILL
TRANSCRIBE_EVERY_S = 0.1  # both voices go to the transcript in 100 ms batches
TAP_FRAMES = 100  # audio kept for the transcript if the loop falls behind (2 s)
MAX_READS = 16  # datagrams read per clock tick at most (a burst after a stall)


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
    to_caller_ms: float  # mean room audio waiting in the bridge
    underruns: int  # times the caller got silence because the room's audio ran dry
    dropped: int  # 20 ms frames dropped because too much waited
    frames_to_caller: int
    frames_to_room: int
    refused: int  # datagrams not from the media server, or not u-law RTP


class RelayPort(pj.AudioMediaPort):
    """A conference port whose other side is a UDP socket to the media server.

    Every counter has one writer: the media clock thread. It holds nothing of the
    call, so it can outlive it in MediaGrace."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self.sock = sock
        # Where the media server takes this leg's RTP (None until the room is made);
        # swapped whole by the loop when Janus restarts.
        self.peer: tuple[str, int] | None = None
        self.sender = RtpSender(
            random.getrandbits(32), random.getrandbits(16), random.getrandbits(32)
        )
        self.to_caller: deque[bytes] = deque()
        # Both voices for the live transcript, every frame while connected.
        self.caller_tap: deque[bytes] = deque(maxlen=TAP_FRAMES)
        self.room_tap: deque[bytes] = deque(maxlen=TAP_FRAMES)
        self.open = False  # connected to the call: audio flows and is transcribed only then
        self.starved = True
        self.broken = False
        self.played = self.waited = self.underruns = self.dropped = 0
        self.sent = self.refused = 0

    def create(self, name: str) -> None:
        fmt = pj.MediaFormatAudio()
        fmt.init(pj.PJMEDIA_FORMAT_PCM, CLOCK_RATE, 1, FRAME_MS * 1000, 16)
        self.createPort(name, fmt)

    # ----- media clock thread ------------------------------------------------------------

    # An exception must not reach pjsua: SWIG prints it, and the port is broken after
    # (its removal then trips an assertion in pjmedia's conference).

    def onFrameReceived(self, frame: pj.MediaFrame) -> None:
        try:
            peer = self.peer
            if peer is None or not self.open:
                return
            pcm = _read_vector(frame.buf) if frame.type == pj.PJMEDIA_FRAME_TYPE_AUDIO else b""
            pcm = pcm if len(pcm) == FRAME_BYTES else SILENCE
            self.caller_tap.append(pcm)
            with contextlib.suppress(BlockingIOError, InterruptedError):
                self.sock.sendto(self.sender.packet(ulaw_encode(pcm), SAMPLES), peer)
                self.sent += 1
        except OSError:
            pass  # the media server is away (restarting): packets are simply lost
        except Exception:
            self._failed()

    def onFrameRequested(self, frame: pj.MediaFrame) -> None:
        try:
            self._receive()
            frame.type = pj.PJMEDIA_FRAME_TYPE_AUDIO
            frame.buf = pj.ByteVector(self._next_to_caller())
            frame.size = FRAME_BYTES
        except Exception:
            self._failed()

    def _failed(self) -> None:
        if not self.broken:  # once: this runs 50 times a second
            self.broken = True
            log.exception("relay port failed")

    def _receive(self) -> None:
        """What the media server sent since the last tick, into the jitter queue."""
        peer = self.peer
        for _ in range(MAX_READS):
            try:
                data, source = self.sock.recvfrom(2048)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            packet = parse_rtp(data)
            if (
                peer is None
                or source[:2] != peer
                or packet is None
                or packet.payload_type != PCMU
                or len(packet.payload) != SAMPLES
            ):
                self.refused += 1
                continue
            if not self.open:
                continue
            pcm = ulaw_decode(packet.payload)
            self.room_tap.append(pcm)
            q = self.to_caller
            q.append(pcm)
            if len(q) > MAX_WAITING:
                while len(q) > PREFILL:
                    q.popleft()
                    self.dropped += 1

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
        self.waited += len(q)
        return pcm

    def stats(self) -> BridgeStats:
        return BridgeStats(
            to_caller_ms=FRAME_MS * self.waited / max(1, self.played),
            underruns=self.underruns,
            dropped=self.dropped,
            frames_to_caller=self.played,
            frames_to_room=self.sent,
            refused=self.refused,
        )


class Bridge:
    """One call's leg in its conversation room: the relay port and the room it feeds.

    Made on the worker's loop (the pjsua thread) by the call's session when a lawyer is
    offered the call; the room exists from then until the lawyer's part ends, so the
    browser joins at once on accept. The session connects it to the call's audio
    (`connect`) while the lawyer talks, off hold; the worker closes it."""

    def __init__(self, rooms: ConversationRooms, room: str, rtp_host: str) -> None:
        self.rooms = rooms
        self.room = room
        self.sock = socket.socket(
            socket.AF_INET6 if ":" in rtp_host else socket.AF_INET, socket.SOCK_DGRAM
        )
        self.sock.setblocking(False)
        self.sock.bind((rtp_host, 0))
        self.port = RelayPort(self.sock)
        self.port.create(f"room-{room[:12]}")
        # The conversation's live transcript: both voices go to it while connected.
        self.transcript: LiveTranscript | None = None
        self.ready = asyncio.Event()  # the room exists and takes this leg's RTP
        self.failed = ""
        loop = asyncio.get_running_loop()
        self._opening = loop.create_task(self._open())
        self._to_transcript = loop.create_task(self._transcribe())

    async def _open(self) -> None:
        ip, port = self.sock.getsockname()[:2]
        try:
            joined = await self.rooms.open(self.room, ip, port, self._moved)
        except Exception as exc:
            self.failed = str(exc)
            log.error("conversation room not made", extra={"room": self.room, "error": str(exc)})
            return
        self._moved(joined)
        self.ready.set()

    def _moved(self, joined: RtpJoin) -> None:
        self.port.peer = (joined.ip, joined.port)

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
        """Destroy the room and stop; the port must be disconnected (and retired) already."""
        self.transcript = None
        self._opening.cancel()
        self._to_transcript.cancel()
        await asyncio.gather(self._opening, self._to_transcript, return_exceptions=True)
        try:
            await self.rooms.close(self.room)
        except Exception:
            log.exception("conversation room not closed cleanly", extra={"room": self.room})
        self.port.peer = None
        # The port may still be in pjsua's conference (MediaGrace): it tolerates a closed socket.
        self.sock.close()
        stats = self.port.stats()
        log.info("bridge closed", extra={"room": self.room, **asdict(stats)})
        return stats

    async def _transcribe(self) -> None:
        """Both voices, as the clock thread passed them, to the live transcript."""
        port = self.port
        while True:
            await asyncio.sleep(TRANSCRIBE_EVERY_S)
            now = time.time()
            for tap, leg in ((port.caller_tap, Leg.CITIZEN), (port.room_tap, Leg.LAWYER)):
                frames = [tap.popleft() for _ in range(len(tap))]
                if frames and port.open and self.transcript is not None:
                    self.transcript.feed(leg, b"".join(frames), CLOCK_RATE, now)
