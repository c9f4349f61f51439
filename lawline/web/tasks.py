"""A websocket session's concurrent loops, run until the first one ends."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any

from fastapi import WebSocketDisconnect


async def until_first_ends(*loops: Coroutine[Any, Any, Any]) -> None:
    """Run these together; when one ends (the socket closed, a loop failed), cancel the
    rest and wait for them, so nothing of the session outlives it."""
    tasks = [asyncio.create_task(loop) for loop in loops]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
                await t
