"""lawline's transcriber process: a vosk-server compatible websocket server.

`lawline transcriber` loads the Vosk model once and serves any number of
streams from it, one KaldiRecognizer per connection, decoding in a small
thread pool (Vosk's C code releases the GIL, so one process per core is the
right size; `lawline serve` starts that many). The protocol is vosk-server's
(`protocol.py`), so lawline's bridges can use these or a farm of vosk-server
machines alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode

from lawline.transcripts.protocol import is_eof

log = logging.getLogger(__name__)

MAX_CHUNK_BYTES = 1 << 20  # 32 s of 16 kHz audio in one frame: a client gone wrong
MAX_RATE = 48_000


class ModelMissing(FileNotFoundError):
    pass


def check_model(path: Path) -> None:
    """A Vosk model directory has at least an acoustic model and a model config."""
    if not path.is_dir():
        raise ModelMissing(f"no Vosk model at {path}")
    for part in ("am/final.mdl", "conf/model.conf"):
        if not (path / part).is_file():
            raise ModelMissing(f"{path} is not a Vosk model (no {part})")


class Transcriber:
    """One loaded model, shared by every connection of this process."""

    def __init__(self, model_path: Path, threads: int = 1, max_streams: int = 64) -> None:
        import vosk  # here, so that importing lawline never needs the native library

        check_model(model_path)
        vosk.SetLogLevel(-1)
        self._vosk = vosk
        self.model = vosk.Model(str(model_path))
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="vosk")
        self.max_streams = max_streams
        self.streams = 0
        self.default_rate = 16_000

    async def handle(self, ws: ServerConnection) -> None:
        if self.streams >= self.max_streams:
            await ws.close(CloseCode.TRY_AGAIN_LATER, "transcriber full")
            return
        self.streams += 1
        try:
            await self._recognise(ws)
        except ConnectionClosed:
            pass
        finally:
            self.streams -= 1

    async def _recognise(self, ws: ServerConnection) -> None:
        loop = asyncio.get_running_loop()
        rec: Any = None
        rate, words = self.default_rate, True
        async for message in ws:
            if isinstance(message, str):
                if is_eof(message):
                    final = "" if rec is None else await loop.run_in_executor(
                        self.pool, rec.FinalResult
                    )
                    await ws.send(final or '{"text" : ""}')
                    await ws.close()
                    return
                try:
                    rate, words = _configure(message, rate, words, rec is not None)
                except ValueError as exc:
                    await ws.close(CloseCode.INVALID_DATA, str(exc)[:120])
                    return
                continue
            if len(message) > MAX_CHUNK_BYTES or len(message) % 2:
                await ws.close(CloseCode.INVALID_DATA, "audio is 16-bit PCM in frames under 1 MB")
                return
            if rec is None:
                rec = self._vosk.KaldiRecognizer(self.model, rate)
                rec.SetWords(words)
            reply = await loop.run_in_executor(self.pool, _accept, rec, message)
            await ws.send(reply)


def _accept(rec: Any, pcm: bytes) -> str:
    return rec.Result() if rec.AcceptWaveform(pcm) else rec.PartialResult()


def _configure(message: str, rate: int, words: bool, started: bool) -> tuple[int, bool]:
    try:
        obj = json.loads(message)
    except json.JSONDecodeError as exc:
        raise ValueError("a text frame is JSON: config or eof") from exc
    config = obj.get("config") if isinstance(obj, dict) else None
    if not isinstance(config, dict):
        raise ValueError("a text frame is {'config': {...}} or {'eof': 1}")
    if started:
        raise ValueError("config must come before the audio")
    if "sample_rate" in config:
        rate = int(float(config["sample_rate"]))
        if not 8000 <= rate <= MAX_RATE:
            raise ValueError(f"sample_rate {rate} is out of range")
    if "words" in config:
        words = bool(config["words"])
    return rate, words


async def run_transcriber(model_path: Path, host: str, port: int, threads: int = 1) -> None:
    """Serve until SIGTERM or SIGINT."""
    transcriber = Transcriber(model_path, threads)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with serve(transcriber.handle, host, port, max_size=MAX_CHUNK_BYTES + 1024):
        log.info("transcriber listening", extra={
            "url": f"ws://{host}:{port}", "model": str(model_path), "pid": os.getpid(),
        })  # fmt: skip
        print(f"transcriber listening on ws://{host}:{port}", flush=True)
        await stop.wait()
    with contextlib.suppress(Exception):
        transcriber.pool.shutdown(wait=False, cancel_futures=True)
