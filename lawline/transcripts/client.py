"""The bridge's side of the transcriber protocol: one connection per utterance.

An utterance opens a websocket to the least busy transcriber, streams its audio
and, when lawline's voice-activity decision says the speaker paused, sends
{"eof" : 1} and takes the final text. If the transcriber dies mid-utterance, the
audio since the last final is sent again to another one, and a gap is reported
either way, so the console can say that something happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException
from websockets.frames import CloseCode

from lawline.transcripts.protocol import (
    EOF_MESSAGE,
    ProtocolError,
    Reply,
    config_message,
    parse_reply,
)
from lawline.transcripts.segments import Kind, Leg, Segment
from lawline.transcripts.text import tidy

log = logging.getLogger(__name__)

REPLY_TIMEOUT_S = 10.0  # a transcriber silent this long is taken for dead
CONNECT_TIMEOUT_S = 3.0
MAX_SEND_S = 0.5  # audio sent in one frame at most (vosk-server answers each frame)
MAX_ATTEMPTS = 3  # transcribers tried for one utterance before it is given up
BUSY_RETRY_S = 1.0  # a transcriber that refused a stream as full is skipped this long
FAILURES = (OSError, TimeoutError, WebSocketException, ProtocolError)


class TranscriberPool:
    """The transcribers one process may use, with how many utterances each carries now.
    One that failed is left alone for `retry_after_s`."""

    def __init__(
        self,
        urls: list[str],
        retry_after_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.urls = list(urls)
        self.load = dict.fromkeys(self.urls, 0)
        self._down_until: dict[str, float] = {}
        self.retry_after_s = retry_after_s
        self.clock = clock

    def pick(self, avoid: str | None = None) -> str | None:
        now = self.clock()
        up = [u for u in self.urls if self._down_until.get(u, 0) <= now and u != avoid]
        return min(up, key=lambda u: self.load[u]) if up else None

    def failed(self, url: str) -> None:
        self._down_until[url] = self.clock() + self.retry_after_s
        log.warning("transcriber failed; using others", extra={"url": url})

    async def reachable(self) -> bool:
        """Whether a transcriber answers at all: opened and closed, each tried once. The
        console says 转写中 only when one does."""
        tried: set[str] = set()
        while (url := self.pick()) is not None and url not in tried:
            tried.add(url)
            try:
                async with asyncio.timeout(CONNECT_TIMEOUT_S):
                    ws = await connect(url, open_timeout=CONNECT_TIMEOUT_S)
                    await ws.close()
                return True
            except FAILURES:
                self.failed(url)
        return False

    def full(self, url: str) -> None:
        """It refused a stream (1013): busy, not dead; left alone for a moment only."""
        self._down_until[url] = self.clock() + BUSY_RETRY_S
        log.info("transcriber full; using others", extra={"url": url})


Emit = Callable[[Segment], None]


def _refused_as_full(exc: BaseException) -> bool:
    return isinstance(exc, ConnectionClosed) and (
        exc.rcvd is not None and exc.rcvd.code == CloseCode.TRY_AGAIN_LATER
    )


class Utterance:
    """One stretch of speech on one leg, from its start to its final text.

    `send` frames of audio at `rate` as they come, then `finish`; `done` is set once the
    final text (or the failure) has been emitted. Times are the leg's (seconds from the
    transcript's start): `start` is the time of the first sample sent."""

    def __init__(
        self,
        leg: Leg,
        start: float,
        rate: int,
        pool: TranscriberPool,
        emit: Emit,
        next_seq: Callable[[], int],
        final_timeout_s: float = REPLY_TIMEOUT_S,
    ) -> None:
        self.leg = leg
        self.final_timeout_s = final_timeout_s  # the reply to eof (an utterance engine queues)
        self.rate = rate
        self.pool = pool
        self.emit = emit
        self.next_seq = next_seq
        self._frames: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._unfinalised = bytearray()  # audio since the last final: re-sent on failover
        self._base = start  # leg time of _unfinalised[0]
        self._heard = start  # leg time of the end of what was sent
        self._partial = ""
        self._streamed = False  # audio sent on the current connection
        self._ended = False  # finish() has been seen
        self.task = asyncio.get_running_loop().create_task(self._run())

    def send(self, frame: bytes) -> None:
        self._frames.put_nowait(frame)

    def finish(self) -> None:
        self._frames.put_nowait(None)

    async def _run(self) -> None:
        failed: str | None = None
        lost = False  # audio went to a transcriber that then failed: a gap to report
        for _ in range(MAX_ATTEMPTS):
            url = self.pool.pick(avoid=failed)
            if url is None:
                await self._give_up()
                return
            self.pool.load[url] += 1
            try:
                if await self._stream(url, resend=lost):
                    return
            except FAILURES as exc:
                if _refused_as_full(exc):
                    self.pool.full(url)
                else:
                    log.warning(
                        "utterance lost its transcriber",
                        extra={
                            "leg": self.leg.value,
                            "url": url,
                            "error": str(exc)[:200],
                        },
                    )
                    self.pool.failed(url)
                failed = url
                lost = lost or self._streamed
            finally:
                self.pool.load[url] -= 1
        await self._give_up()

    async def _stream(self, url: str, resend: bool) -> bool:
        """Carry the utterance over one connection; True once its final is out."""
        async with asyncio.timeout(CONNECT_TIMEOUT_S):
            ws = await connect(url, open_timeout=CONNECT_TIMEOUT_S, max_size=1 << 20)
        async with ws:
            await ws.send(config_message(self.rate))
            if resend:  # reported once a transcriber took the lost audio again
                self._report_gap(resent=True)
            conn_base, sent = self._base, 0
            self._streamed = False
            backlog = bytes(self._unfinalised)
            for i in range(0, len(backlog), self._max_bytes):
                sent += await self._exchange(ws, backlog[i : i + self._max_bytes], conn_base, sent)
            while True:
                chunk = await self._next_chunk()
                if chunk is None:
                    await ws.send(EOF_MESSAGE)
                    final = await self._recv(ws, self.final_timeout_s)
                    self._on_reply(final, conn_base, final_at_eof=True)
                    return True
                self._unfinalised += chunk
                sent += await self._exchange(ws, chunk, conn_base, sent)

    @property
    def _max_bytes(self) -> int:
        return int(self.rate * MAX_SEND_S) * 2

    async def _exchange(self, ws: ClientConnection, chunk: bytes, base: float, sent: int) -> int:
        await ws.send(chunk)
        self._streamed = True
        n = len(chunk) // 2
        self._heard = base + (sent + n) / self.rate
        self._on_reply(await self._recv(ws), base)
        return n

    async def _recv(self, ws: ClientConnection, timeout_s: float = REPLY_TIMEOUT_S) -> Reply:
        async with asyncio.timeout(timeout_s):
            return parse_reply(await ws.recv())

    async def _next_chunk(self) -> bytes | None:
        """Whatever audio waits (up to MAX_SEND_S), or None when the utterance is over."""
        if self._ended:
            return None
        first = await self._frames.get()
        if first is None:
            self._ended = True  # a failover after this point goes straight to eof
            return None
        chunk = bytearray(first)
        while len(chunk) < self._max_bytes and not self._frames.empty():
            nxt = self._frames.get_nowait()
            if nxt is None:
                self._frames.put_nowait(None)  # seen again by the next call
                break
            chunk += nxt
        return bytes(chunk)

    def _on_reply(self, reply: Reply, base: float, final_at_eof: bool = False) -> None:
        if not reply.final:
            text = tidy(reply.text)
            if text != self._partial:
                self._partial = text
                self.emit(Segment(Kind.PARTIAL, self.leg, text, self._base, self._heard))
            return
        text = tidy(reply.text)
        if reply.words:
            start, end = base + reply.words[0].start, base + reply.words[-1].end
        else:
            start, end = self._base, self._heard
        if text:
            self.emit(Segment(Kind.FINAL, self.leg, text, start, end, seq=self.next_seq()))
        elif self._partial or final_at_eof:
            self.emit(Segment(Kind.PARTIAL, self.leg, "", self._base, self._heard))
        self._partial = ""
        # What the final covered is done with: a failover re-sends only what follows.
        self._unfinalised.clear()
        self._base = self._heard

    async def _give_up(self) -> None:
        """No transcriber left: report the gap, and swallow the utterance's audio."""
        self._report_gap(resent=False)
        while await self._next_chunk() is not None:
            pass

    def _report_gap(self, resent: bool) -> None:
        self.emit(Segment(Kind.GAP, self.leg, "", self._base, self._heard, resent=resent))

    async def wait(self, timeout_s: float) -> None:
        try:
            await asyncio.wait_for(asyncio.shield(self.task), timeout_s)
        except TimeoutError:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
