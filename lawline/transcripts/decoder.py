"""`lawline decoder`: the utterance engine's process, Whisper behind vosk-server's protocol.

It speaks the same websocket protocol as the transcribers (`protocol.py`), so a
bridge's utterance reaches it the same way and fails over the same way: audio
frames are taken while the speaker talks (each answered with an empty partial:
Whisper has nothing to say before the end), and {"eof" : 1} puts the utterance in
this process's queue. One thread decodes with all the threads CTranslate2 is
given; `lawline serve` runs one process per core. When the thread comes free and
several utterances are waiting (several calls, both legs of each), the oldest are
decoded side by side, up to `batch` of them (`WhisperDecoder.decode_batch`: each
in its own row of one encoder call and one beam search, about a third cheaper
each at four); or, where packing is configured, laid into one window together
(`packing.py`), within the pack limits. The final text comes back as
{"text": ..., "result": []} (no word times: the utterance's own times stand).

A decoder with nothing to do does not wait for the end: once an utterance's audio
has ended in 0.3 s of quiet (`pause.py`; the bridge's voice-activity decision waits
0.6 s before it says the utterance is over), it decodes what it has; if nothing
louder than quiet came after, that text is the final at `eof`, ready 0.3 s sooner.
If the speaker went on, the early text is dropped and the whole utterance decoded as
usual. Only an idle
decoder guesses (at most two guesses in the decoding thread at once: a dropped one
may still be running), so guessing never delays another speaker's final by more
than two decodes; and only one whose thread was busy less than `early_below_load` of
the last 10 s (`busy.py`): most guesses are dropped (speakers pause within
sentences), which is worth it for one call's final, not for a decoder the calls keep
busy.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode

from lawline.transcripts.busy import BusyShare
from lawline.transcripts.packing import PackLimits, take
from lawline.transcripts.pause import Pause
from lawline.transcripts.protocol import is_eof
from lawline.transcripts.server import MAX_CHUNK_BYTES, parse_config, serve_until_signalled
from lawline.transcripts.whisper import Decoded, DecodeSettings, WhisperDecoder

log = logging.getLogger(__name__)

MAX_UTTERANCE_S = 60  # audio kept for one utterance at most (the bridge cuts at 20 s)
MAX_EARLY = 2  # early decodes in the decoding thread at once
EARLY_BELOW_LOAD = 0.3  # guesses only while the thread was busy less than this lately
EMPTY_PARTIAL = '{"partial" : ""}'
BATCH = 4  # waiting utterances decoded side by side at most


@dataclass
class Waiting:
    """A finished utterance in the queue, and who is waiting for its text."""

    pcm: bytes
    rate: int
    text: asyncio.Future[str]
    alone: bool = False  # its batch failed: decoded by itself, so it fails by itself

    @property
    def seconds(self) -> float:
        return len(self.pcm) / 2 / self.rate


class DecoderService:
    """One model, a queue of finished utterances, one decoding thread.

    At most `max_streams` connections at once (a connection lasts the utterance,
    most of it spent listening); past that 1013, and the bridge tries another."""

    def __init__(
        self,
        decoder: WhisperDecoder,
        max_streams: int = 16,
        limits: PackLimits | None = None,
        early: bool = True,
        early_below_load: float = EARLY_BELOW_LOAD,
        batch: int = BATCH,
    ) -> None:
        self.decoder = decoder
        self.batch = batch
        self.early = early
        self.early_below_load = early_below_load
        # The decoding thread's recent share of the time.
        self.busy = BusyShare(since=time.monotonic())
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="whisper")
        self.max_streams = max_streams
        self.limits = limits or PackLimits()
        self.streams = 0
        self.waiting: deque[Waiting] = deque()  # finished, not yet in the decoder
        self._worker: asyncio.Task[None] | None = None
        self.decoding = 0  # decodes in (or handed to) the decoding thread
        self.early_decoding = 0  # of which early ones
        self.early_used = 0  # finals that were ready at eof
        self.early_dropped = 0  # early decodes the speaker talked past

    @property
    def idle(self) -> bool:
        """Nothing waits for the decoder but early decodes, and not two of them: a
        speaker's guess dropped when they went on may still be running."""
        only_early = self.decoding == self.early_decoding < MAX_EARLY
        return not self.waiting and only_early

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
        pause = Pause()
        early: asyncio.Future[str | None] | None = None  # the standing guess's text
        async for message in ws:
            if isinstance(message, str):
                if is_eof(message):
                    text = None
                    if early is not None:
                        text = await asyncio.shield(early)
                        self.early_used += text is not None
                    if text is None:
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
            pause.rate = rate
            if len(audio) < MAX_UTTERANCE_S * rate * 2:
                audio += message
                if pause.heard(message):
                    self.early_dropped += 1  # the speaker went on: decoded whole at the end
                    early = None
            if self.early and pause.time_to_guess() and self.idle and self._spare():
                pause.guess()
                early = self._decode_early(bytes(audio), rate)
            await ws.send(EMPTY_PARTIAL)

    def _spare(self) -> bool:
        return self.busy.share(time.monotonic()) < self.early_below_load

    def _decode_early(self, pcm: bytes, rate: int) -> asyncio.Future[str | None]:
        """Decode now, on the decoding thread, outside the queue."""
        loop = asyncio.get_running_loop()
        self.decoding += 1
        self.early_decoding += 1
        started = time.monotonic()
        work = loop.run_in_executor(self.pool, self.decoder.decode, pcm, rate)

        def done(_f: object) -> None:
            self.decoding -= 1
            self.early_decoding -= 1
            self.busy.add(started, time.monotonic())

        work.add_done_callback(done)
        return asyncio.ensure_future(self._text_of(work))

    @staticmethod
    async def _text_of(work: asyncio.Future[Decoded]) -> str | None:
        try:
            decoded = await work
        except Exception:
            log.exception("early decoding failed")
            return None
        # Its cost, used or not: a guess the speaker talked past is CPU spent for nothing.
        log.info(
            "utterance decoded early",
            extra={
                "audio_s": round(decoded.audio_s, 2),
                "decoded_s": round(decoded.decoded_s, 2),
                "compute_s": round(decoded.compute_s, 2),
            },
        )
        return decoded.text

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
        """Decode until the queue is empty, the oldest first: packed as the limits
        allow where packing is on, else side by side."""
        loop = asyncio.get_running_loop()
        while self.waiting:
            packing = self.limits.utterances > 1
            if self.waiting[0].alone:
                n = 1
            elif packing:
                n = take([w.seconds for w in self.waiting], self.limits)
            else:
                n = min(self.batch, len(self.waiting))
            batch = [self.waiting.popleft() for _ in range(n)]
            items = [(w.pcm, w.rate) for w in batch]
            self.decoding += 1
            started = time.monotonic()
            try:
                if packing:
                    work = partial(self.decoder.decode_many, items, self.limits.gap_s)
                else:
                    work = partial(self.decoder.decode_batch, items)
                results = await loop.run_in_executor(self.pool, work)
            except Exception as exc:  # one bad decode must not strand the queue behind it
                log.exception("decoding failed", extra={"utterances": n})
                if n > 1:  # nor take its neighbours' text with it: each again, alone
                    for w in reversed(batch):
                        w.alone = True
                        self.waiting.appendleft(w)
                    continue
                for w in batch:
                    if not w.text.done():
                        w.text.set_exception(exc)
                continue
            finally:
                self.decoding -= 1
                self.busy.add(started, time.monotonic())
            for w, result in zip(batch, results, strict=True):
                if not w.text.done():
                    w.text.set_result(result.text)
            log.info(
                "utterances decoded",
                extra={
                    "utterances": n,
                    "audio_s": round(sum(r.audio_s for r in results), 2),
                    "decoded_s": round(sum(r.decoded_s for r in results), 2),
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
    early: bool = True,
    early_below_load: float = EARLY_BELOW_LOAD,
    batch: int = BATCH,
) -> None:
    """Serve until SIGTERM or SIGINT."""
    decoder = WhisperDecoder(model_path, threads, compute_type, settings)
    service = DecoderService(decoder, max_streams, limits, early, early_below_load, batch)
    await serve_until_signalled(service.handle, service.pool, host, port, "decoder", model_path)
