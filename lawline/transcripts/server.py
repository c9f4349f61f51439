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
from collections.abc import Awaitable, Callable
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


class Recognizer:
    """A KaldiRecognizer kept for the next connection: building one costs about 75 ms of
    CPU on a small model, and lawline opens a connection per utterance. Vosk's word
    times run on across Reset(), so each use's times are moved back to its own start."""

    def __init__(self, rec: Any, rate: int) -> None:
        self.rec = rec
        self.rate = rate
        self.fed = 0  # samples taken over the recogniser's whole life
        self.base = 0.0  # seconds: where this connection's audio began

    def begin(self) -> None:
        self.base = self.fed / self.rate

    def accept(self, pcm: bytes) -> str:
        self.fed += len(pcm) // 2
        rec = self.rec
        return self._own_times(rec.Result() if rec.AcceptWaveform(pcm) else rec.PartialResult())

    def final(self) -> str:
        return self._own_times(self.rec.FinalResult())

    def reset(self) -> None:
        self.rec.Reset()

    def _own_times(self, reply: str) -> str:
        if not self.base or '"result"' not in reply:
            return reply
        obj = json.loads(reply)
        for w in obj.get("result") or []:
            w["start"] = round(w["start"] - self.base, 6)
            w["end"] = round(w["end"] - self.base, 6)
        return json.dumps(obj, ensure_ascii=False)


class Transcriber:
    """One loaded model, shared by every connection of this process.

    At most `max_streams` connections at once: past that a connection is closed with
    1013 (try again later) at once, so a bridge tries another transcriber, rather than
    every stream of an overloaded one falling behind together."""

    def __init__(self, model_path: Path, threads: int = 1, max_streams: int = 3) -> None:
        import vosk  # here, so that importing lawline never needs the native library

        check_model(model_path)
        vosk.SetLogLevel(-1)
        self._vosk = vosk
        self.model = vosk.Model(str(model_path))
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="vosk")
        self.max_streams = max_streams
        self.streams = 0
        self.default_rate = 16_000
        self._idle: dict[tuple[int, bool], list[Recognizer]] = {}

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

    async def _recognizer(self, rate: int, words: bool) -> Recognizer:
        idle = self._idle.get((rate, words))
        if idle:
            r = idle.pop()
        else:
            loop = asyncio.get_running_loop()
            make = self._vosk.KaldiRecognizer
            rec = await loop.run_in_executor(self.pool, make, self.model, rate)
            rec.SetWords(words)
            r = Recognizer(rec, rate)
        r.begin()
        return r

    def _keep(self, r: Recognizer, words: bool) -> None:
        idle = self._idle.setdefault((r.rate, words), [])
        if len(idle) < self.max_streams:
            r.reset()
            idle.append(r)

    async def _recognise(self, ws: ServerConnection) -> None:
        loop = asyncio.get_running_loop()
        rec: Recognizer | None = None
        rate, words = self.default_rate, True
        try:
            async for message in ws:
                if isinstance(message, str):
                    if is_eof(message):
                        final = (
                            "" if rec is None else await loop.run_in_executor(self.pool, rec.final)
                        )
                        await ws.send(final or '{"text" : ""}')
                        await ws.close()
                        return
                    try:
                        rate, words = parse_config(message, rate, words, rec is not None)
                    except ValueError as exc:
                        await ws.close(CloseCode.INVALID_DATA, str(exc)[:120])
                        return
                    continue
                if len(message) > MAX_CHUNK_BYTES or len(message) % 2:
                    why = "audio is 16-bit PCM in frames under 1 MB"
                    await ws.close(CloseCode.INVALID_DATA, why)
                    return
                if rec is None:
                    rec = await self._recognizer(rate, words)
                try:
                    reply = await loop.run_in_executor(self.pool, rec.accept, message)
                except asyncio.CancelledError:
                    rec = None  # its thread may still be decoding: not to be reused
                    raise
                await ws.send(reply)
        finally:
            if rec is not None:
                self._keep(rec, words)


def parse_config(message: str, rate: int, words: bool, started: bool) -> tuple[int, bool]:
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


async def run_transcriber(
    model_path: Path, host: str, port: int, threads: int = 1, max_streams: int = 3
) -> None:
    """Serve until SIGTERM or SIGINT."""
    transcriber = Transcriber(model_path, threads, max_streams)
    await serve_until_signalled(
        transcriber.handle, transcriber.pool, host, port, "transcriber", model_path
    )


async def serve_until_signalled(
    handle: Callable[[ServerConnection], Awaitable[None]],
    pool: ThreadPoolExecutor,
    host: str,
    port: int,
    name: str,
    model_path: Path,
) -> None:
    """A speech service on the vosk-server protocol, until SIGTERM or SIGINT; the
    process supervising it reads the "listening" line to know it is up."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with serve(handle, host, port, max_size=MAX_CHUNK_BYTES + 1024):
        log.info(
            "%s listening",
            name,
            extra={
                "url": f"ws://{host}:{port}",
                "model": str(model_path),
                "pid": os.getpid(),
            },
        )
        print(f"{name} listening on ws://{host}:{port}", flush=True)
        await stop.wait()
    with contextlib.suppress(Exception):
        pool.shutdown(wait=False, cancel_futures=True)
