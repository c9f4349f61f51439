"""Transcripts on the web: stored ones for export, alerts to supervisors (the live
feed to consoles is `live_feed.py`'s)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Query, WebSocket, status
from fastapi.responses import PlainTextResponse, Response
from fastapi.websockets import WebSocketDisconnect

from lawline.cases.audit import Read
from lawline.queue.service import QueueService
from lawline.transcripts import export
from lawline.web.auth import Role
from lawline.web.cases_api import audit_read
from lawline.web.deps import (
    Anyone,
    DbDep,
    HubDep,
    LegsDep,
    QueueDep,
    SettingsDep,
    Staff,
    TranscriptsDep,
)
from lawline.web.hub import Ticket, TooManySockets
from lawline.web.monitor import MonitorDesk
from lawline.web.socket_loop import run_until_ended, send_frame, serve_frames
from lawline.web.wallboard import Wallboard
from lawline.web.ws_access import admitted, client_address, credential_of

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api")

MEDIA_TYPES = {
    "txt": "text/plain; charset=utf-8",
    "srt": "application/x-subrip; charset=utf-8",
    "vtt": "text/vtt; charset=utf-8",
}


@router.get("/contacts/{contact_id}/transcript", response_model=None)
async def get_transcript(
    contact_id: str,
    db: DbDep,
    settings: SettingsDep,
    queue: QueueDep,
    transcripts: TranscriptsDep,
    principal: Anyone,
    format: Annotated[Literal["json", "txt", "srt", "vtt"], Query()] = "json",
) -> dict[str, Any] | Response:
    """Who said what and when: JSON, plain text, or subtitles (SubRip, WebVTT)."""
    contact = await queue.store.get_contact(contact_id)
    if contact is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such contact")
    if not principal.may_read_call(contact):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this contact is not yours")
    meta, segments = await transcripts.read(contact_id)
    await audit_read(db, principal, Read.TRANSCRIPT, f"contact {contact_id} {format}")
    if format == "json":
        return {"contact_id": contact_id, **meta, "segments": [s.to_json() for s in segments]}
    if format == "txt":
        tz = ZoneInfo(settings.timezone)
        body = export.to_text(segments, meta.get("started_at", contact.entered_at), tz)
    else:
        body = export.to_srt(segments) if format == "srt" else export.to_vtt(segments)
    headers = {"Content-Disposition": f'attachment; filename="{contact_id}.{format}"'}
    return PlainTextResponse(body, media_type=MEDIA_TYPES[format], headers=headers)


@router.get("/alerts")
async def recent_alerts(
    queue: QueueDep, _: Staff, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[dict[str, Any]]:
    """Public-opinion alerts raised from what was said, newest first."""
    return await queue.store.recent_alerts(limit)


@router.websocket("/supervisor/ws")
async def supervisor_ws(
    ws: WebSocket,
    settings: SettingsDep,
    queue: QueueDep,
    hub: HubDep,
    legs: LegsDep,
    db: DbDep,
) -> None:
    """Supervisors' live feed: {type: "alert", alert, contact} the moment one is raised;
    {type: "wallboard", board} as the wallboard changes (web/wallboard.py); and
    listening in on calls (web/monitor.py's frames)."""
    roles = (Role.SUPERVISOR, Role.ADMIN)
    principal = await admitted(ws, settings.sockets.allowed_origins, roles, "supervisors")
    if principal is None:
        return
    await ws.accept()
    ticket = Ticket("supervisor", principal.subject, credential_of(ws), client_address(ws))
    desk = MonitorDesk(
        ws,
        principal.subject,
        queue,
        legs,
        db,
        settings.media.announce_monitoring,
        ws.app.state.mediation_rooms,
    )
    try:
        async with hub.open(ticket):
            await _alerts(ws, queue, ticket, desk)
            if ticket.ended.is_set():
                await ws.close(code=ticket.code, reason=ticket.reason)
    except TooManySockets as exc:
        await ws.close(code=exc.code, reason=exc.reason)
    finally:
        # A supervisor who leaves stops listening: nothing of theirs stays on Janus.
        await asyncio.shield(desk.close())


async def _alerts(ws: WebSocket, queue: QueueService, ticket: Ticket, desk: MonitorDesk) -> None:
    async def feed() -> None:
        async with queue.subscribe() as events:
            while True:
                ev = await events.get()
                await desk.on_event(ev)
                if ev.type == "transcript.alert" and ev.contact is not None:
                    await send_frame(
                        ws,
                        "alert",
                        alert=json.loads(ev.raw.get("alert", "{}")),
                        contact={
                            "id": ev.contact.id,
                            "lawyer": ev.contact.lawyer,
                            "service": ev.contact.service,
                        },
                    )

    async def board() -> None:
        wallboard: Wallboard = ws.app.state.wallboard
        async with wallboard.watch() as boards:
            while True:
                await ws.send_text(await boards.get())

    with contextlib.suppress(WebSocketDisconnect):
        await run_until_ended(ticket, serve_frames(ws, desk.handlers), feed(), board())
