"""Signalling between a village terminal and a lawyer's browser, relayed by lawline.

The media goes peer to peer; lawline only carries the messages, over Redis
pub/sub so the terminal and the lawyer may be on different web processes:
  P:signal:terminal:{terminal_id}   what the lawyer's console sends the terminal
  P:signal:lawyer:{lawyer_id}       what the terminal sends the lawyer's console
Each websocket subscribes to its own channel for as long as it is open, so nothing
sent during a session is lost between the two. A message is a JSON object
{"contact_id", "from", ...} with one of:
  ready {}                   the lawyer's browser is set up: the terminal makes an offer
  description {type, sdp}    an SDP offer or answer (ICE restarts included)
  candidate {candidate,...}  a trickled ICE candidate (null: gathering done)
  restart {}                 the lawyer's side lost the path: the terminal restarts ICE
  notice {kind, message}     audio_only (video cannot flow), failed (no path at all)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub

SIGNAL_KINDS = frozenset({"ready", "description", "candidate", "restart", "notice"})
MAX_SIGNAL_BYTES = 64_000  # an SDP with many candidates is a few kB


def channel(prefix: str, side: str, who: str) -> str:
    return f"{prefix}:signal:{side}:{who}"


def clean_signal(frame: dict[str, Any]) -> dict[str, Any]:
    """The parts of a browser's `signal` frame worth relaying; ValueError if malformed."""
    kind = frame.get("kind")
    if kind not in SIGNAL_KINDS:
        raise ValueError(f"a signal's kind is one of {', '.join(sorted(SIGNAL_KINDS))}")
    out = {k: frame[k] for k in ("kind", "description", "candidate", "notice") if k in frame}
    if len(json.dumps(out)) > MAX_SIGNAL_BYTES:
        raise ValueError("signal too large")
    return out


async def publish(redis: Redis, prefix: str, side: str, who: str, message: dict[str, Any]) -> None:
    await redis.publish(channel(prefix, side, who), json.dumps(message, ensure_ascii=False))


@contextlib.asynccontextmanager
async def listen(
    redis: Redis, prefix: str, side: str, who: str
) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
    """Messages to this terminal or lawyer, from now until the block exits."""
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(channel(prefix, side, who))
    q: asyncio.Queue[dict[str, Any]] = asyncio.Queue(1000)

    async def pump() -> None:
        me = asyncio.current_task()
        while True:
            m = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            # redis-py can swallow a cancellation landing in its read (see
            # signalling.blpop_one): look for one after every read.
            if me is not None and me.cancelling():
                raise asyncio.CancelledError
            if m is not None and m.get("type") == "message":
                data = m["data"]
                q.put_nowait(json.loads(data.decode() if isinstance(data, bytes) else data))

    task = asyncio.create_task(pump())
    try:
        yield q
    finally:
        task.cancel()
        # Unsubscribing takes a round trip: done in the background, so a closing
        # websocket's own clean-up (a console going away) is not held up by it.
        closing = asyncio.create_task(_close(task, pubsub))
        _closing.add(closing)
        closing.add_done_callback(_closing.discard)


_closing: set[asyncio.Task[None]] = set()  # held until done (tasks are weakly referenced)


async def _close(pump: asyncio.Task[None], pubsub: PubSub) -> None:
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await asyncio.wait_for(pump, 5)
    with contextlib.suppress(Exception):
        await pubsub.aclose()
