"""Transcripts on the web: live to consoles, stored ones for export, alerts to supervisors.

`LiveFeed` holds the web process's one pattern subscription to every live
transcript channel and hands each segment to the consoles watching that contact.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Query, Request, WebSocket, status
from fastapi.responses import PlainTextResponse, Response
from fastapi.websockets import WebSocketDisconnect
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from lawline.cases.audit import Read
from lawline.queue.service import QueueService
from lawline.transcripts import export
from lawline.transcripts.store import TranscriptStore
from lawline.web.auth import Principal, Role, authenticate_async, require
from lawline.web.cases_api import audit_read
from lawline.web.hub import SocketHub, Ticket, TooManySockets
from lawline.web.ws_access import bearer, client_address, credential_of, origin_allowed

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api")

LISTENER_QUEUE = 500  # segments a slow console may fall behind before it is cut off
RESUBSCRIBE_S = 1.0


class LiveFeed:
    """Segments published by the bridges, fanned out to local listeners by contact."""

    def __init__(self, store: TranscriptStore, redis: Redis) -> None:
        self.store = store
        self.redis = redis
        self._listeners: dict[str, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            # redis-py can lose a cancel inside a blocking read: do not wait forever.
            await asyncio.wait({self._task}, timeout=5.0)

    @contextlib.asynccontextmanager
    async def watch(self, contact_id: str) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
        q: asyncio.Queue[dict[str, Any]] = asyncio.Queue(LISTENER_QUEUE)
        self._listeners[contact_id].add(q)
        try:
            yield q
        finally:
            self._listeners[contact_id].discard(q)
            if not self._listeners[contact_id]:
                del self._listeners[contact_id]

    async def _run(self) -> None:
        while True:
            try:
                async with self.redis.pubsub() as pubsub:
                    await pubsub.psubscribe(self.store.keys.every_live)
                    async for message in pubsub.listen():
                        if message["type"] == "pmessage":
                            self._dispatch(message["channel"], message["data"])
            except (RedisConnectionError, OSError) as exc:
                log.warning("live transcripts: redis lost, resubscribing", extra={
                    "error": str(exc),
                })  # fmt: skip
                await asyncio.sleep(RESUBSCRIBE_S)

    def _dispatch(self, channel: str, data: str) -> None:
        listeners = self._listeners.get(channel.removeprefix(self.store.keys.live("")))
        if not listeners:
            return
        try:
            segment = json.loads(data)
        except json.JSONDecodeError:
            log.warning("undecodable live segment skipped", extra={"channel": channel})
            return
        for q in list(listeners):
            with contextlib.suppress(asyncio.QueueFull):  # a stuck console misses partials
                q.put_nowait(segment)


def get_transcripts(request: Request) -> TranscriptStore:
    return request.app.state.transcripts


Transcripts = Annotated[TranscriptStore, Depends(get_transcripts)]
Anyone = Annotated[Principal, Depends(require())]
Staff = Annotated[Principal, Depends(require(Role.SUPERVISOR, Role.ADMIN))]

MEDIA_TYPES = {
    "txt": "text/plain; charset=utf-8",
    "srt": "application/x-subrip; charset=utf-8",
    "vtt": "text/vtt; charset=utf-8",
}


@router.get("/contacts/{contact_id}/transcript", response_model=None)
async def get_transcript(
    contact_id: str,
    request: Request,
    transcripts: Transcripts,
    principal: Anyone,
    format: Annotated[Literal["json", "txt", "srt", "vtt"], Query()] = "json",
) -> dict[str, Any] | Response:
    """Who said what and when: JSON, plain text, or subtitles (SubRip, WebVTT)."""
    queue: QueueService = request.app.state.queue
    contact = await queue.store.get_contact(contact_id)
    if contact is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such contact")
    if not principal.sees_all() and contact.lawyer != principal.subject:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this contact is not yours")
    meta, segments = await transcripts.read(contact_id)
    await audit_read(request, principal, Read.TRANSCRIPT, f"contact {contact_id} {format}")
    if format == "json":
        return {"contact_id": contact_id, **meta, "segments": [s.to_json() for s in segments]}
    if format == "txt":
        tz = ZoneInfo(request.app.state.settings.timezone)
        body = export.to_text(segments, meta.get("started_at", contact.entered_at), tz)
    else:
        body = export.to_srt(segments) if format == "srt" else export.to_vtt(segments)
    headers = {"Content-Disposition": f'attachment; filename="{contact_id}.{format}"'}
    return PlainTextResponse(body, media_type=MEDIA_TYPES[format], headers=headers)


@router.get("/alerts")
async def recent_alerts(
    request: Request, _: Staff, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[dict[str, Any]]:
    """Public-opinion alerts raised from what was said, newest first."""
    queue: QueueService = request.app.state.queue
    return await queue.store.recent_alerts(limit)


@router.websocket("/supervisor/ws")
async def supervisor_ws(ws: WebSocket) -> None:
    """Supervisors' live feed: {type: "alert", alert, contact} the moment one is raised."""
    settings = ws.app.state.settings.sockets
    explicit = bool(bearer(ws) or ws.query_params.get("token"))
    if not origin_allowed(ws, settings.allowed_origins, explicit):
        await ws.close(code=4403, reason="not from this site's pages")
        return
    try:
        principal = await authenticate_async(ws)
    except HTTPException as exc:
        await ws.close(code=4401, reason=str(exc.detail))
        return
    if principal.role not in (Role.SUPERVISOR, Role.ADMIN):
        await ws.close(code=4403, reason="for supervisors")
        return
    await ws.accept()
    hub: SocketHub = ws.app.state.hub
    ticket = Ticket("supervisor", principal.subject, credential_of(ws), client_address(ws))
    try:
        async with hub.open(ticket):
            await _alerts(ws, ticket)
            if ticket.ended.is_set():
                await ws.close(code=ticket.code, reason=ticket.reason)
    except TooManySockets as exc:
        await ws.close(code=exc.code, reason=exc.reason)


async def _alerts(ws: WebSocket, ticket: Ticket) -> None:
    queue: QueueService = ws.app.state.queue
    try:
        async with queue.subscribe() as events:
            reader = asyncio.create_task(_drain(ws))
            ended = asyncio.create_task(ticket.wait_ended())
            try:
                while not reader.done():
                    getter = asyncio.create_task(events.get())
                    done, _ = await asyncio.wait(
                        {getter, reader, ended}, return_when=asyncio.FIRST_COMPLETED
                    )
                    if getter not in done:
                        getter.cancel()
                        break
                    ev = getter.result()
                    if ev.type == "transcript.alert" and ev.contact is not None:
                        await ws.send_text(json.dumps({
                            "type": "alert",
                            "alert": json.loads(ev.raw.get("alert", "{}")),
                            "contact": {"id": ev.contact.id, "lawyer": ev.contact.lawyer,
                                        "service": ev.contact.service},
                        }, ensure_ascii=False))  # fmt: skip
            finally:
                reader.cancel()
                ended.cancel()
    except WebSocketDisconnect:
        pass


async def _drain(ws: WebSocket) -> None:
    """Read (and ignore) what the supervisor's page sends, to notice it closing."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await ws.receive_text()
