"""A call's leg in its conversation room with the caller's media steered there (design B).

    caller ─G.711 RTP (steered by the front)─► room's caller leg ◄─WebRTC─ lawyer's browser
              room's forwarders, one per group ─► worker: the live transcript, per speaker

While the lawyer talks to the caller, the SIP front points the caller's RTP straight at
the room's plain-RTP leg for the caller (telephony/steering.py moves it, one change at
a time); nothing of the call's audio passes through Python per packet. The room has two
forwarding groups, the caller's leg and everyone else; Janus forwards each group's own
mix to a socket of the worker's, read every 100 ms for the transcript.

Anything the worker plays to the caller (hold music, a transfer's wait, the survey)
needs the media back at the worker: the steering takes the caller's leg out of the room
first (so the caller never hears the room and latches onto it), then steers back.

A steer the front or the caller refuses falls back to design A for the rest of the
call (`relay`): the caller's leg in the room is then the worker's relay socket, and the
session connects the relay port to the call as `Bridge` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Callable

from lawline.media.janus_client import JanusError, RtpJoin
from lawline.media.rooms import CALLER_GROUP, LAWYER_GROUP, ConversationRooms, Forward
from lawline.media.rtp import PCMU, forwarded_payload, ulaw_decode
from lawline.telephony.bridge import (
    CLOCK_RATE,
    SAMPLES,
    TRANSCRIBE_EVERY_S,
    Bridge,
    BridgeStats,
)
from lawline.telephony.steer import RtpAddress
from lawline.transcripts.segments import Leg

log = logging.getLogger(__name__)

GROUP_OF = {Leg.CITIZEN: CALLER_GROUP, Leg.LAWYER: LAWYER_GROUP}
MAX_TAP_READS = 64  # datagrams read per leg per batch (5 are due every 100 ms)
RELEASE_WAIT_S = 10.0  # how long closing waits for the call to be steered away
ROOM_WAIT_S = 10.0  # how long the caller's leg waits for its room to be made


class SteeredBridge(Bridge):
    """Made like Bridge by the call's session when a lawyer is offered the call; the
    session's steering joins the caller's leg (`join_caller`) and steers the call."""

    def __init__(self, rooms: ConversationRooms, room: str, rtp_host: str) -> None:
        family = socket.AF_INET6 if ":" in rtp_host else socket.AF_INET
        self.taps: dict[Leg, socket.socket] = {}
        for leg in GROUP_OF:
            tap = socket.socket(family, socket.SOCK_DGRAM)
            tap.setblocking(False)
            tap.bind((rtp_host, 0))
            self.taps[leg] = tap
        self.rtp_host = rtp_host
        # Where Janus takes the caller's RTP now (None while the caller's leg is out).
        self.joined: RtpJoin | None = None
        self.relaying = False  # the steer was refused: design A's relay for this call
        # The transcript hears the call only while the lawyer talks to the caller.
        self.listening = False
        # Set while the call is not steered to this room: closing waits for it.
        self.released = asyncio.Event()
        self.released.set()
        # Called when Janus remade the room with the caller's leg (a new port): the
        # steering steers the call there.
        self.moved_to: Callable[[], None] | None = None
        self.refused_datagrams = 0
        self._relay_join: asyncio.Task[None] | None = None
        super().__init__(rooms, room, rtp_host)

    async def _open(self) -> None:
        forwards = [
            Forward(GROUP_OF[leg], self.rtp_host, tap.getsockname()[1])
            for leg, tap in self.taps.items()
        ]
        try:
            await self.rooms.open_steered(self.room, forwards, self._moved)
        except Exception as exc:
            self.failed = str(exc)
            log.error("conversation room not made", extra={"room": self.room, "error": str(exc)})
            return
        self.ready.set()

    def _moved(self, joined: RtpJoin) -> None:
        """Janus remade the room with the caller's leg: a new port to steer to (or, when
        relaying, to send to)."""
        self.joined = joined
        if self.relaying:
            self.port.peer = (joined.ip, joined.port)
        elif self.moved_to is not None:
            self.moved_to()

    # ----- the caller's leg --------------------------------------------------------------

    async def join_caller(self, caller: RtpAddress, codec: str) -> None:
        """The room's caller leg at the caller's own RTP address, in the call's codec
        (pcma or pcmu); `joined` says where Janus takes its RTP. JanusError."""
        await self._room_made()
        self.joined = await self.rooms.join_caller(self.room, caller.host, caller.port, codec)

    async def _room_made(self) -> None:
        try:
            async with asyncio.timeout(ROOM_WAIT_S):
                await self.ready.wait()
        except TimeoutError:
            raise JanusError(f"the room was not made: {self.failed or 'no answer'}") from None

    async def leave_caller(self) -> None:
        """Janus sends the caller nothing more from this room (done when this returns)."""
        self.joined = None
        await self.rooms.leave_caller(self.room)

    def relay(self) -> None:
        """For the rest of the call: the caller's leg is the worker's relay (design A)."""
        if not self.relaying:
            self.relaying = True
            loop = asyncio.get_running_loop()
            self._relay_join = loop.create_task(self._join_relay())

    async def _join_relay(self) -> None:
        ip, port = self.sock.getsockname()[:2]
        try:
            await self._room_made()
            joined = await self.rooms.join_caller(self.room, ip, port)
        except JanusError as exc:  # Janus away: the restore joins it (_moved)
            log.warning("relay leg not joined", extra={"room": self.room, "error": str(exc)})
            return
        self.port.peer = (joined.ip, joined.port)

    # ----- closing and the transcript ----------------------------------------------------

    async def close(self) -> BridgeStats:
        # The steering takes the caller's leg out and steers the call back first.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(RELEASE_WAIT_S):
                await self.released.wait()
        if self._relay_join is not None:
            self._relay_join.cancel()
        stats = await super().close()
        for tap in self.taps.values():
            tap.close()
        log.info(
            "steered bridge closed",
            extra={
                "room": self.room,
                "relayed": self.relaying,
                "refused_datagrams": self.refused_datagrams,
            },
        )
        return stats

    async def _transcribe(self) -> None:
        """Each group's forwarded mix, read in 100 ms batches, to its leg's transcript."""
        while True:
            await asyncio.sleep(TRANSCRIBE_EVERY_S)
            now = time.time()
            for leg, tap in self.taps.items():
                pcm = self._drain(tap)
                if pcm and self.listening and self.transcript is not None:
                    self.transcript.feed(leg, pcm, CLOCK_RATE, now)

    def _drain(self, tap: socket.socket) -> bytes:
        frames: list[bytes] = []
        for _ in range(MAX_TAP_READS):
            try:
                data, source = tap.recvfrom(2048)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                break
            payload = forwarded_payload(data, PCMU, SAMPLES)
            # Janus's forwarders send from the media address (a new port each time one
            # is made); anything else is not the room's audio.
            if payload is None or source[0] != self.rtp_host:
                self.refused_datagrams += 1
                continue
            frames.append(payload)
        return ulaw_decode(b"".join(frames)) if frames else b""
