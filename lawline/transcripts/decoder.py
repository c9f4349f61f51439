"""`lawline decoder`: the utterance engine's process, Whisper behind vosk-server's protocol.

It speaks the same websocket protocol as the transcribers (`protocol.py`), so a
bridge's utterance reaches it the same way and fails over the same way: audio
frames are taken while the speaker talks (each answered with an empty partial:
Whisper has nothing to say before the end), and {"eof" : 1} puts the utterance in
this process's queue. One thread decodes with all the threads CTranslate2 is
given; `lawline serve` runs one process per core. When the thread comes free and
several utterances are waiting (several calls, both legs of each), the oldest go
into one window together (`packing.py`: Whisper's encoder costs the same for 3 s as
for 25 s), within the pack limits; alone otherwise. The final text comes back as
{"text": ..., "result": []} (no word times: the utterance's own times stand).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode

from lawline.transcripts.packing import PackLimits, take
from lawline.transcripts.protocol import is_eof
from lawline.transcripts.server import MAX_CHUNK_BYTES, parse_config, serve_until_signalled
from lawline.transcripts.whisper import DecodeSettings, WhisperDecoder

log = logging.getLogger(__name__)

MAX_UTTERANCE_S = 60  # audio kept for one utterance at most (the bridge cuts at 20 s)
EMPTY_PARTIAL = '{"partial" : ""}'


@dataclass
class Waiting:
    """A finished utterance in the queue, and who is waiting for its text."""

    pcm: bytes
    rate: int
    text: asyncio.Future[str]

    @property
    def seconds(self) -> float:
        return len(self.pcm) / 2 / self.rate


class DecoderService:
    """One model, a queue of finished utterances, one decoding thread.

    At most `max_streams` connections at once (a connection lasts the utterance,
    most of it spent listening); past that 1013, and the bridge tries another."""

    def __init__(
        self, decoder: WhisperDecoder, max_streams: int = 16, limits: PackLimits | None = None
    ) -> None:
        self.decoder = decoder
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="whisper")
        self.max_streams = max_streams
        self.limits = limits or PackLimits()
        self.streams = 0
        self.waiting: deque[Waiting] = deque()  # finished, not yet in the decoder
        self._worker: asyncio.Task[None] | None = None

    @property
    def queued(self) -> int:
        return len(self.waiting)

    async def handle(self, ws: ServerConnection) -> None:
        if self.streams >= self.max_streams:
            await ws.close(CloseCode.TRY_AGAIN_LATER, "decoder full")
            return
        self.streams += 1
        try:
            await self._utterance(ws)
        except ConnectionClosed:
            pass
        finally:
            self.streams -= 1

    async def _utterance(self, ws: ServerConnection) -> None:
        rate, words, started = 16_000, True, False
        audio = bytearray()
        async for message in ws:
            if isinstance(message, str):
                if is_eof(message):
                    text = await self.decode(bytes(audio), rate)
                    await ws.send(json.dumps({"text": text, "result": []}, ensure_ascii=False))
                    await ws.close()
                    return
                try:
                    rate, words = parse_config(message, rate, words, started)
                except ValueError as exc:
                    await ws.close(CloseCode.INVALID_DATA, str(exc)[:120])
                    return
                continue
            if len(message) > MAX_CHUNK_BYTES or len(message) % 2:
                await ws.close(CloseCode.INVALID_DATA, "audio is 16-bit PCM in frames under 1 MB")
                return
            started = True
            if len(audio) < MAX_UTTERANCE_S * rate * 2:
                audio += message
            await ws.send(EMPTY_PARTIAL)

    async def decode(self, pcm: bytes, rate: int) -> str:
        """The utterance's text, once the decoding thread has reached it."""
        if not pcm:
            return ""
        waiting = Waiting(pcm, rate, asyncio.get_running_loop().create_future())
        self.waiting.append(waiting)
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain(), name="whisper-queue")
        # The text is owed to the queue even when this connection goes: shield it.
        return await asyncio.shield(waiting.text)

    async def _drain(self) -> None:
        """Decode until the queue is empty, the oldest first, packed as the limits allow."""
        loop = asyncio.get_running_loop()
        while self.waiting:
            n = take([w.seconds for w in self.waiting], self.limits)
            batch = [self.waiting.popleft() for _ in range(n)]
            items = [(w.pcm, w.rate) for w in batch]
            try:
                results = await loop.run_in_executor(
                    self.pool, self.decoder.decode_many, items, self.limits.gap_s
                )
            except Exception as exc:  # one bad decode must not strand the queue behind it
                log.exception("decoding failed", extra={"utterances": n})
                for w in batch:
                    if not w.text.done():
                        w.text.set_exception(exc)
                continue
            for w, result in zip(batch, results, strict=True):
                if not w.text.done():
                    w.text.set_result(result.text)
            log.info(
                "utterances decoded",
                extra={
                    "utterances": n,
                    "audio_s": round(sum(r.audio_s for r in results), 2),
                    "compute_s": round(sum(r.compute_s for r in results), 2),
                    "guards": ",".join(sorted({g for r in results for g in r.guards})),
                    "queued": self.queued,
                },
            )


async def run_decoder(
    model_path: Path,
    host: str,
    port: int,
    threads: int = 1,
    max_streams: int = 16,
    settings: DecodeSettings | None = None,
    compute_type: str = "int8",
    limits: PackLimits | None = None,
) -> None:
    """Serve until SIGTERM or SIGINT."""
    decoder = WhisperDecoder(model_path, threads, compute_type, settings)
    service = DecoderService(decoder, max_streams, limits)
    await serve_until_signalled(service.handle, service.pool, host, port, "decoder", model_path)
