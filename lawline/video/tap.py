"""The transcript of a video call: both voices from the lawyer's browser, into lawline.

The picture goes peer to peer and never reaches lawline. For the transcript the
lawyer's browser, which has both voices anyway (its microphone and the resident's
audio as received), sends them to the web process holding its console in one
audio-only aiortc connection: one transceiver per voice, the offer naming which
mid is which speaker. So, as for a phone call, one process holds the call's one
`LiveTranscript`, per-speaker legs, and the console's own live feed shows it.
A reload sends a new offer, which replaces the connection and keeps the transcript;
the call's end closes both (the transcript is then copied into the ledger).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import av
from aiortc import MediaStreamTrack, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from lawline.queue.service import QueueService
from lawline.transcripts.live import LiveTranscript
from lawline.transcripts.runtime import Transcription
from lawline.transcripts.segments import Leg
from lawline.video.settings import WebRTCSettings
from lawline.video.webrtc import create_peer_connection

log = logging.getLogger(__name__)

RATE = 16_000  # resampled here; the transcript takes any rate, this keeps batches small
CLOSE_TIMEOUT_S = 5.0


class TapRefused(ValueError):
    pass


class AudioTap:
    """One aiortc connection bringing a video call's two voices in."""

    def __init__(self, settings: WebRTCSettings, transcript: LiveTranscript) -> None:
        self.pc = create_peer_connection(settings)
        self.transcript = transcript
        self.pumps: list[asyncio.Task[None]] = []
        self.legs: dict[str, Leg] = {}
        self.pc.on("track", self._on_track)

    async def answer(self, offer_sdp: str, legs: dict[str, Leg]) -> str:
        """The browser's complete offer in (no trickle), the complete answer out."""
        self.legs = legs
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        return str(self.pc.localDescription.sdp)

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind != "audio":
            return
        mid = next((t.mid for t in self.pc.getTransceivers() if t.receiver.track is track), None)
        leg = self.legs.get(mid or "")
        if leg is not None:
            self.pumps.append(asyncio.get_running_loop().create_task(self._pump(track, leg)))

    async def _pump(self, track: MediaStreamTrack, leg: Leg) -> None:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            pcm = b"".join(bytes(o.planes[0])[: o.samples * 2] for o in resampler.resample(frame))
            if pcm:
                self.transcript.feed(leg, pcm, RATE, time.time())

    async def close(self) -> None:
        for p in self.pumps:
            p.cancel()
        await asyncio.gather(*self.pumps, return_exceptions=True)
        try:
            await asyncio.wait_for(self.pc.close(), CLOSE_TIMEOUT_S)
        except Exception:
            log.exception("audio tap did not close cleanly")


class VideoTranscripts:
    """The video calls whose voices this web process transcribes, closed at their end."""

    def __init__(self, queue: QueueService, webrtc: WebRTCSettings, transcription: Transcription):
        self.queue = queue
        self.webrtc = webrtc
        self.transcription = transcription
        self.taps: dict[str, AudioTap] = {}
        self.transcripts: dict[str, LiveTranscript] = {}

    async def offer(self, contact_id: str, sdp: str, legs: dict[str, Leg]) -> str:
        """A (new) tap for this call; the call's transcript is kept across taps."""
        transcript = self.transcripts.get(contact_id)
        if transcript is None:
            transcript = self.transcription.start(contact_id)
            self.transcripts[contact_id] = transcript
        old = self.taps.pop(contact_id, None)
        if old is not None:
            await old.close()
        tap = AudioTap(self.webrtc, transcript)
        self.taps[contact_id] = tap
        return await tap.answer(sdp, legs)

    async def end(self, contact_id: str) -> None:
        tap = self.taps.pop(contact_id, None)
        if tap is not None:
            await tap.close()
        transcript = self.transcripts.pop(contact_id, None)
        if transcript is not None:
            await transcript.close()

    async def run(self) -> None:
        """Close a call's tap and transcript when it ends, whoever ended it."""
        async with self.queue.subscribe() as events:
            while True:
                ev = await events.get()
                c = ev.contact
                if (
                    c is not None
                    and c.id in self.transcripts
                    and ev.type in ("contact.ended", "contact.abandoned", "contact.transferred")
                ):
                    await self.end(c.id)

    async def stop(self) -> None:
        for contact_id in list(self.transcripts):
            with contextlib.suppress(Exception):
                await self.end(contact_id)
