"""A mediation room's live transcript, per side, and the record (调解笔录) it becomes.

Each side's voices, the room's forwarding group (mediation/live.py: the mediator, the
applicants, the respondents, third parties; a phone party's audio is in its side's
group like a browser's), come from Janus as the group's forwarder (`rtp_forward`,
G.711 u-law, 20 ms) to a UDP socket of this process, and go to that side's leg of one
LiveTranscript: so a line is labelled with who said it, never guessed from a mix. Its
finals, with the speaker's name and role and their times, are the record's lines: told
as they come (the mediator's page shows them live) and kept; when the room closes they
are written to the mediation (mediation/service.py `keep_record`). What is said in a
side room (背靠背) is not forwarded: a caucus stays out of the record.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lawline.media.rtp import PCMU, forwarded_payload, ulaw_decode
from lawline.transcripts.recording import LegRecorder
from lawline.transcripts.runtime import Transcription
from lawline.transcripts.segments import MEDIATION_LEGS, Kind, Leg, Segment
from lawline.transcripts.text import AlertMatch

log = logging.getLogger(__name__)
RATE, SAMPLES = 8000, 160  # a forwarder's G.711 frame
Forward = Callable[[str, str, int], Awaitable[None]]  # group, host, port
Tell = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class RecordLine:
    side: str  # the leg: mediator, applicant, respondent, third_party
    speaker: str  # as the record names them: 李桂兰（申请人）, or 申请人方 for several
    text: str
    start: float  # seconds into the room's transcript
    end: float
    at: str  # when the room opened (ISO): a room opened again starts its times anew

    def json(self) -> dict[str, Any]:
        return asdict(self)


class _Sink:
    """Where the room's LiveTranscript writes (its TranscriptSink): to the room."""

    def __init__(self, on_segment: Callable[[Segment], Awaitable[None]]) -> None:
        self.on_segment = on_segment

    async def started(self, contact_id: str, started_at: float, **meta: str) -> float:
        return started_at

    async def segment(self, contact_id: str, seg: Segment) -> None:
        await self.on_segment(seg)

    async def alert(self, contact_id: str, seg: Segment, match: AlertMatch) -> bool:
        return False  # a mediation's words raise no hotline alerts

    async def closed(self, contact_id: str) -> None:
        pass


class _Forwarded(asyncio.DatagramProtocol):
    """One side's forwarded mix into its leg of the transcript."""

    def __init__(self, room: RoomTranscript, leg: Leg) -> None:
        self.room, self.leg = room, leg
        self.refused = 0
        # Where the forwarder sends from, learnt from its first frame (after each time it
        # is made): another local process's datagrams never enter the side's record.
        self.source: tuple[str, int] | None = None

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        payload = forwarded_payload(data, PCMU, SAMPLES)
        if payload is None or self.source not in (None, addr):
            self.refused += 1  # not the forwarder's frame: set aside
            return
        self.source = addr
        pcm = ulaw_decode(payload)
        self.room.transcript.feed(self.leg, pcm, RATE, time.time())
        recorder = self.room.recorders.get(self.leg)
        if recorder is not None:
            try:
                recorder.write(pcm)
            except Exception:
                self.room.recorders.pop(self.leg, None)
                log.exception("a side's recording stopped", extra={"case": self.room.case_id})


class RoomTranscript:
    def __init__(
        self,
        transcription: Transcription,
        case_id: str,
        host: str,
        speaker_of: Callable[[Leg], str],
        tell: Tell,
        on_segment: Callable[[Segment], None] | None = None,
    ) -> None:
        self.case_id = case_id
        self.host = host  # where the forwarders send (media.rtp_host)
        self.speaker_of = speaker_of
        self.tell = tell
        self.on_segment = on_segment  # the room's statute hints follow its finals
        self.opened = datetime.now(UTC).isoformat(timespec="seconds")
        self.lines: list[RecordLine] = []
        self.transcript = transcription.start(
            f"m-{case_id}", legs=MEDIATION_LEGS, sink=_Sink(self._segment)
        )
        self._sockets: dict[Leg, tuple[asyncio.DatagramTransport, _Forwarded]] = {}
        # Each side's audio, once the recording consent was announced (start_recording).
        self.recorders: dict[Leg, LegRecorder] = {}

    async def start(self, forward: Forward) -> None:
        """A socket per side, and the room's forwarder of each side's group to it."""
        loop = asyncio.get_running_loop()
        for leg in MEDIATION_LEGS:
            transport, protocol = await loop.create_datagram_endpoint(
                lambda leg=leg: _Forwarded(self, leg),  # type: ignore[misc]
                local_addr=(self.host, 0),
            )
            self._sockets[leg] = (transport, protocol)
        await self.forward(forward)

    async def forward(self, forward: Forward) -> None:
        """The forwarders (again, after the media server made the room anew)."""
        for leg, (transport, protocol) in self._sockets.items():
            protocol.source = None  # a forwarder made anew sends from a port of its own
            await forward(leg.value, self.host, transport.get_extra_info("sockname")[1])

    def start_recording(self, root: Path, sides: set[str]) -> None:
        """Record each of these sides from now (Ogg Opus under `root`); a side already
        recorded goes on in its file."""
        stamp = int(time.time())
        for leg in MEDIATION_LEGS:
            if leg.value in sides and leg not in self.recorders:
                path = root / f"m-{self.case_id}-{stamp}-{leg.value}.ogg"
                self.recorders[leg] = LegRecorder(path, RATE)

    async def _segment(self, seg: Segment) -> None:
        if seg.leg is None:
            if seg.kind == Kind.STATUS:
                await self._tell({"kind": "status", "text": seg.text})
            return
        if self.on_segment is not None:
            self.on_segment(seg)
        speaker = self.speaker_of(seg.leg)
        if seg.kind == Kind.FINAL and seg.text:
            line = RecordLine(
                seg.leg.value, speaker, seg.text, round(seg.start, 2), round(seg.end, 2),
                self.opened,
            )  # fmt: skip
            self.lines.append(line)
            await self._tell({"kind": "final", **line.json()})
        elif seg.kind in (Kind.PARTIAL, Kind.LISTENING):
            frame = {"kind": seg.kind.value, "side": seg.leg.value, "speaker": speaker}
            await self._tell({**frame, "text": seg.text})

    async def _tell(self, frame: dict[str, Any]) -> None:
        try:
            await self.tell({"type": "transcript", "case_id": self.case_id, **frame})
        except Exception:
            log.info("a transcript line could not be shown", extra={"case": self.case_id})

    async def close(self) -> tuple[list[dict[str, Any]], list[str]]:
        """Finals for whatever was being said; the record's lines, and the recordings."""
        for transport, protocol in self._sockets.values():
            transport.close()
            if protocol.refused:
                log.warning(
                    "datagrams set aside", extra={"case": self.case_id, "count": protocol.refused}
                )
        self._sockets.clear()
        recordings = []
        for recorder in self.recorders.values():
            recorder.close()
            if recorder.seconds > 0:
                recordings.append(str(recorder.path))
            else:
                recorder.path.unlink(missing_ok=True)  # a side nobody spoke in
        self.recorders.clear()
        await self.transcript.close()
        return [line.json() for line in self.lines], recordings
