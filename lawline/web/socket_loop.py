"""The frame loop of the websockets that take requests: the console and the terminal.

Each socket keeps only its handlers, one per frame `type`; this loop reads text
frames until the socket closes, parses each as a JSON object with a string `type`,
and hands it to its handler. A frame that is not JSON, not such an object, of an
unknown type, or that its handler finds wrong (`BadFrame`, or a `ValueError` such as
pydantic's `ValidationError` when a body does not validate) is answered
`error {message}` and the loop goes on: a bad frame never closes the socket.
A socket ends when it closes, when one of its loops ends, or when the hub ends its
ticket (a revoked credential, a socket that fell behind): `run_until_ended`, then
`close_as_ended` with the hub's code and reason.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any

from fastapi import WebSocket

from lawline.web.hub import Ticket
from lawline.web.tasks import until_first_ends

Frame = dict[str, Any]
Handler = Callable[[Frame], Awaitable[None]]


class BadFrame(ValueError):
    """A frame lawline cannot act on; the message (sent back as `error`) says why."""


MAX_SDP = 64_000  # a browser's complete offer is a few kB


def offer_sdp(frame: Frame) -> str:
    """A browser's complete WebRTC offer (ICE gathered, no trickle), bounded where it
    enters."""
    sdp = frame.get("sdp")
    if not isinstance(sdp, str) or not sdp:
        raise BadFrame(f"'{frame['type']}' needs an 'sdp' string (a complete offer)")
    if len(sdp) > MAX_SDP:
        raise BadFrame("the offer is too large")
    return sdp


async def send_frame(ws: WebSocket, frame_type: str, **fields: Any) -> None:
    await ws.send_text(json.dumps({"type": frame_type, **fields}, ensure_ascii=False))


def parse_frame(text: str) -> Frame:
    frame = json.loads(text)
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        raise BadFrame("a frame is a JSON object with a string 'type'")
    return frame


def explain(exc: Exception) -> str:
    """The `error` message for a frame that failed (never the frame itself)."""
    return "not JSON" if isinstance(exc, json.JSONDecodeError) else str(exc)


async def serve_frames(
    ws: WebSocket,
    handlers: Mapping[str, Handler],
    on_frame: Callable[[], Awaitable[object]] | None = None,
) -> None:
    """Read, parse and dispatch frames until the socket closes (WebSocketDisconnect).
    `on_frame` runs for every frame received, good or bad (a console's sign of life)."""
    while True:
        text = await ws.receive_text()
        if on_frame is not None:
            await on_frame()
        try:
            frame = parse_frame(text)
            handler = handlers.get(frame["type"])
            if handler is None:
                raise BadFrame(f"unknown frame type {frame['type']!r}")
            await handler(frame)
        except (ValueError, KeyError, TypeError) as exc:
            await send_frame(ws, "error", message=explain(exc))


async def run_until_ended(ticket: Ticket, *loops: Coroutine[Any, Any, Any]) -> None:
    """Run a socket's loops until the first ends or the hub ends the socket's ticket."""
    await until_first_ends(*loops, ticket.wait_ended())


async def close_as_ended(ws: WebSocket, ticket: Ticket) -> None:
    """Close with the hub's code and reason if it ended the socket (revoked: 4401/4403,
    fell behind: 1013)."""
    if ticket.ended.is_set():
        await ws.close(code=ticket.code, reason=ticket.reason)
