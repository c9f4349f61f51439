"""`lawline decoder`: the utterance engine's process, Whisper behind vosk-server's protocol.

It speaks the same websocket protocol as the transcribers (`protocol.py`), so a
bridge's utterance reaches it the same way and fails over the same way: audio
frames are taken while the speaker talks (each answered with an empty partial:
Whisper has nothing to say before the end), and {"eof" : 1} puts the utterance in
this process's queue. One thread decodes, one utterance at a time, with all the
threads CTranslate2 is given; `lawline serve` runs one process per core. The final
text comes back as {"text": ..., "result": []} (no word times: the utterance's
own times stand).
"""

from __future__ import annotations

import asyncio
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode

from lawline.transcripts.protocol import is_eof
from lawline.transcripts.server import MAX_CHUNK_BYTES, parse_config, serve_until_signalled
from lawline.transcripts.whisper import DecodeSettings, WhisperDecoder

log = logging.getLogger(__name__)

MAX_UTTERANCE_S = 60  # audio kept for one utterance at most (the bridge cuts at 20 s)
EMPTY_PARTIAL = '{"partial" : ""}'


class DecoderService:
    """One model, a queue of finished utterances, one decoding thread.

    At most `max_streams` connections at once (a connection lasts the utterance,
    most of it spent listening); past that 1013, and the bridge tries another."""

    def __init__(self, decoder: WhisperDecoder, max_streams: int = 16) -> None:
        self.decoder = decoder
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="whisper")
        self.max_streams = max_streams
        self.streams = 0
        self.queued = 0  # utterances finished and waiting for (or in) the decoder

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
                    text = await self._decode(bytes(audio), rate)
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

    async def _decode(self, pcm: bytes, rate: int) -> str:
        if not pcm:
            return ""
        self.queued += 1
        try:
            loop = asyncio.get_running_loop()
            result = await loop.run_in_executor(self.pool, self.decoder.decode, pcm, rate)
        finally:
            self.queued -= 1
        log.info(
            "utterance decoded",
            extra={
                "audio_s": round(result.audio_s, 2),
                "compute_s": round(result.compute_s, 2),
                "guards": ",".join(result.guards),
                "queued": self.queued,
            },
        )
        return result.text


async def run_decoder(
    model_path: Path,
    host: str,
    port: int,
    threads: int = 1,
    max_streams: int = 16,
    settings: DecodeSettings | None = None,
    compute_type: str = "int8",
) -> None:
    """Serve until SIGTERM or SIGINT."""
    decoder = WhisperDecoder(model_path, threads, compute_type, settings)
    service = DecoderService(decoder, max_streams)
    await serve_until_signalled(service.handle, service.pool, host, port, "decoder", model_path)
