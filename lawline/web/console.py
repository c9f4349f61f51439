"""The lawyer console's websocket: offers out, accept/reject in.

Protocol (JSON text frames). From lawline:
  hello           {lawyer, offer|null}           on connect: the state to show
  offer           {contact, deadline, waited_s}  a contact offered to this lawyer
  offer_withdrawn {contact_id, reason}           timed out, caller hung up, went elsewhere
  connected       {contact}                      the accepted contact is now talking
  ended           {contact}                      the conversation is over (wrap-up starts)
  state           {lawyer}                       the lawyer's state changed
  result          {request, ok, message}         the answer to each request below
  error           {message}                      a frame lawline could not understand
  pong            {}
From the console:
  accept {contact_id} | reject {contact_id} | end {contact_id}
  state {state: available|break|offline, reason} | ready {} | ping {}
Every frame from the console counts as a sign of life; the console pings every
few seconds, and one silent for `console_timeout_s` is taken offline. Closing
the socket takes the lawyer offline at once and returns their offer to the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import Counter
from typing import Any

from fastapi import APIRouter, HTTPException, WebSocket, WebSocketDisconnect

from lawline.queue.model import Contact
from lawline.queue.service import QueueService
from lawline.queue.skills import Presence
from lawline.queue.store import Event
from lawline.web.auth import Role, authenticate, mask_number
from lawline.web.schemas import ContactOut, LawyerOut

log = logging.getLogger(__name__)
router = APIRouter()

# Websocket close codes in the application range: 4000 + the HTTP status it stands for.
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404


class BadFrame(ValueError):
    pass


def _contact_json(contact: Contact) -> dict[str, Any]:
    return ContactOut.of(contact, mask_number(contact.caller)).model_dump(mode="json") | {
        "attrs": dict(contact.attrs)
    }


class ConsoleSession:
    """One open console of one lawyer."""

    def __init__(self, ws: WebSocket, queue: QueueService, lawyer_id: str) -> None:
        self.ws = ws
        self.queue = queue
        self.lawyer_id = lawyer_id
        self.offer_id: str | None = None

    async def run(self) -> None:
        async with self.queue.subscribe() as events:
            await self._hello()
            tasks = [
                asyncio.create_task(self._read()),
                asyncio.create_task(self._forward(events)),
            ]
            try:
                await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for t in tasks:
                    t.cancel()
                for t in tasks:
                    with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
                        await t

    async def _hello(self) -> None:
        await self.queue.console_seen(self.lawyer_id)
        lawyer = await self.queue.store.get_lawyer(self.lawyer_id)
        assert lawyer is not None
        offer = None
        if lawyer.offer:
            contact = await self.queue.store.get_contact(lawyer.offer)
            if contact is not None:
                self.offer_id = contact.id
                offer = self._offer_json(contact)
        await self._send("hello", lawyer=LawyerOut.of(lawyer).model_dump(mode="json"), offer=offer)

    def _offer_json(self, contact: Contact) -> dict[str, Any]:
        return {
            "contact": _contact_json(contact),
            "deadline": contact.offer_deadline,
            "waited_s": self.queue.clock() - contact.entered_at,
        }

    async def _send(self, kind: str, **fields: Any) -> None:
        await self.ws.send_text(json.dumps({"type": kind, **fields}, ensure_ascii=False))

    async def _forward(self, events: asyncio.Queue[Event]) -> None:
        while True:
            await self._forward_one(await events.get())

    async def _forward_one(self, ev: Event) -> None:
        c = ev.contact
        mine = c is not None and c.lawyer == self.lawyer_id
        if ev.type == "contact.offered" and c is not None and mine:
            self.offer_id = c.id
            await self._send("offer", **self._offer_json(c))
        elif c is not None and c.id == self.offer_id and ev.type != "contact.offered":
            if ev.type in ("contact.requeued", "contact.abandoned"):
                await self._send("offer_withdrawn", contact_id=c.id, reason=ev.reason)
            self.offer_id = None
        if ev.type == "contact.answered" and c is not None and mine:
            await self._send("connected", contact=_contact_json(c))
        elif ev.type == "contact.ended" and c is not None and mine:
            await self._send("ended", contact=_contact_json(c))
        if ev.lawyer is not None and ev.lawyer.id == self.lawyer_id:
            await self._send("state", lawyer=LawyerOut.of(ev.lawyer).model_dump(mode="json"))

    async def _read(self) -> None:
        while True:
            text = await self.ws.receive_text()
            await self.queue.console_seen(self.lawyer_id)
            try:
                frame = json.loads(text)
                if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
                    raise BadFrame("a frame is a JSON object with a string 'type'")
                await self._handle(frame)
            except (ValueError, KeyError, TypeError) as exc:
                await self._send("error", message=_explain(exc))

    async def _handle(self, frame: dict[str, Any]) -> None:
        kind = frame["type"]
        q, me = self.queue, self.lawyer_id
        if kind == "ping":
            await self._send("pong")
        elif kind == "accept":
            ok = await q.accept(_contact_id(frame), me)
            await self._result(kind, ok, "" if ok else "this offer is no longer yours")
        elif kind == "reject":
            ok = await q.reject(_contact_id(frame), me)
            await self._result(kind, ok, "" if ok else "this offer is no longer yours")
        elif kind == "end":
            cid = _contact_id(frame)
            contact = await q.store.get_contact(cid)
            if contact is None or contact.lawyer != me:
                await self._result(kind, False, "this contact is not yours")
                return
            ok = await q.end(cid, "lawyer") >= 0
            await self._result(kind, ok, "" if ok else "the contact is not connected")
        elif kind == "state":
            presence = Presence(frame.get("state"))
            await q.set_presence(me, presence, str(frame.get("reason", ""))[:200])
            await self._result(kind, True)
        elif kind == "ready":
            await self._result(kind, await q.ready(me))
        else:
            raise BadFrame(f"unknown frame type {kind!r}")

    async def _result(self, request: str, ok: bool, message: str = "") -> None:
        await self._send("result", request=request, ok=ok, message=message)


def _contact_id(frame: dict[str, Any]) -> str:
    cid = frame.get("contact_id")
    if not isinstance(cid, str) or not cid:
        raise BadFrame(f"'{frame['type']}' needs a 'contact_id' string")
    return cid


def _explain(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return "not JSON"
    return str(exc)


@router.websocket("/api/console/ws")
async def console_ws(ws: WebSocket) -> None:
    try:
        principal = authenticate(ws)
    except HTTPException as exc:
        await ws.close(code=CLOSE_UNAUTHORIZED, reason=str(exc.detail))
        return
    if principal.role != Role.LAWYER:
        await ws.close(code=CLOSE_FORBIDDEN, reason="the console is for duty lawyers")
        return
    queue: QueueService = ws.app.state.queue
    lawyer_id = principal.subject
    if await queue.store.get_lawyer(lawyer_id) is None:
        await ws.close(code=CLOSE_NOT_FOUND, reason="no such lawyer")
        return
    await ws.accept()
    open_consoles: Counter[str] = ws.app.state.open_consoles
    open_consoles[lawyer_id] += 1
    try:
        await ConsoleSession(ws, queue, lawyer_id).run()
    except WebSocketDisconnect:
        pass
    finally:
        open_consoles[lawyer_id] -= 1
        if open_consoles[lawyer_id] <= 0:
            del open_consoles[lawyer_id]
            # The console vanished: whatever was offered goes back to the queue now.
            await queue.set_presence(lawyer_id, Presence.OFFLINE, "console closed")
            log.info("console closed, lawyer taken offline", extra={"lawyer": lawyer_id})
