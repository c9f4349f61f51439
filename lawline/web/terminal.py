"""A village video terminal's websocket: one button's worth of queue, and signalling.

The terminal signs in with its device token in its first frame, `auth {token}`
(never in the URL, which access logs keep); a revoked or unknown token is refused
(close 4403 / 4401 with the reason), as is a socket that says nothing in
`sockets.auth_timeout_s`. Revoking the terminal later closes its open socket (4403).

Protocol (JSON text frames). From lawline:
  hello    {terminal, services, rtc, media, call|null}  on connect; rtc is the
           RTCConfiguration (TURN credentials issued now), media the camera's frame rate
           and the timeouts; call the contact in hand after a reconnect
  waiting  {contact_id, position|null, estimated_wait_s|null, lawyers_on_duty, hotline_open,
           duty_hours, callback, handed_on?}  the place in the queue, repeated.
           lawyers_on_duty 0 (Router.staffed, which leaves the phone menu's estimate
           unknown): nobody can answer now, the page says so and offers a callback, and
           hotline_open (the roster, as the phone menu's closed message) picks the words;
           duty_hours the shifts of the lawyers serving this queue (roster.duty_hours);
           callback: one is registered; handed_on: the lawyer handed the resident on
  connected {contact_id, lawyer: {id, name}, callback}   a lawyer accepted: start video
           (callback: ringing the terminal back)
  signal   {contact_id, kind, ...}                       from the lawyer's browser
           (lawline/video/relay.py lists the kinds)
  ended    {contact_id, reason}                          the talk is over (or never began)
  mediation_invite {case_id, name, role, token}          a mediator invites the resident
           into a mediation room: the page offers one big button, which opens the
           party's page with this token (/mediation/join?from=terminal#TOKEN)
  result   {request, ok, message}                        the answer to call, rate, hangup
  error    {message} | pong {}
From the terminal:
  auth {token}          first, and only first: the device token
  call {service} | cancel {} | hangup {} | rate {score: 1-5}
  callback {}           while waiting: keep the place, ring this terminal when a lawyer
                        accepts (the phone's 预约回电, same daily cap per terminal)
  signal {kind, ...}    to the lawyer talking to this terminal | ping {}
Closing the socket while waiting gives the place up, unless a callback is registered;
during a talk it goes on (the page reconnects and gets the call back in `hello`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.concurrency import run_in_threadpool
from redis.exceptions import RedisError
from sqlalchemy.orm import Session, sessionmaker

from lawline.config import Settings
from lawline.queue.intake import Origin, Skills, new_contact
from lawline.queue.service import QueueService
from lawline.queue.skills import Channel, ContactState, Service
from lawline.queue.store import Event
from lawline.terminals.keys import TerminalKeys
from lawline.terminals.models import Terminal
from lawline.terminals.registry import TerminalRefused, check_token
from lawline.video import relay
from lawline.video.relay import MEDIATION_INVITE
from lawline.video.turn import browser_rtc_config
from lawline.web.deps import DbDep, HubDep, QueueDep, SettingsDep
from lawline.web.hub import SocketHub, Ticket, TooManySockets
from lawline.web.socket_loop import (
    BadFrame,
    Frame,
    Handler,
    close_as_ended,
    run_until_ended,
    send_frame,
    serve_frames,
)
from lawline.web.ws_access import client_address, origin_allowed

log = logging.getLogger(__name__)
router = APIRouter()

CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
MAX_TOKEN = 200  # `{id}.{secret}`: an id of up to 64 and 43 characters of secret
# Kept a day: a reconnecting terminal finds the contact it was in.
CONTACT_KEY_TTL_S = 86400


class TerminalSession:
    """One open websocket of one terminal."""

    def __init__(
        self,
        ws: WebSocket,
        queue: QueueService,
        hub: SocketHub,
        settings: Settings,
        terminal: Terminal,
        ticket: Ticket,
    ) -> None:
        self.ws = ws
        self.queue = queue
        self.terminal = terminal
        self.ticket = ticket  # its place in the hub: relayed signals, a revocation
        self.settings = settings
        self.prefix: str = self.settings.redis_prefix
        self.hub = hub
        self.last_contact_id: str | None = None  # the one a rating belongs to
        self.handlers: dict[str, Handler] = {
            "ping": self._ping,
            "call": self._call,
            "cancel": self._hang_up,
            "callback": self._callback,
            "hangup": self._hang_up,
            "signal": self._signal,
            "rate": self._rate,
        }

    @property
    def contact_id(self) -> str | None:
        """The contact in hand: the queue events of this one reach this socket."""
        return self.ticket.contact

    @contact_id.setter
    def contact_id(self, contact_id: str | None) -> None:
        self.hub.follow_contact(self.ticket, contact_id)

    @property
    def _contact_key(self) -> str:
        return TerminalKeys(self.prefix).contact(self.terminal.id)

    async def run(self) -> None:
        await self._hello()
        await run_until_ended(
            self.ticket,
            serve_frames(self.ws, self.handlers),
            self._forward(self.ticket.events),
            self._forward_signals(self.ticket.signals),
            self._tell_waiting(),
        )
        await self._gone()

    async def _hello(self) -> None:
        call = None
        held = await self.queue.store.redis.get(self._contact_key)
        self.contact_id = held  # following it first: no event falls between
        contact = await self.queue.store.get_contact(held) if held else None
        if contact is None or contact.state not in (
            ContactState.WAITING,
            ContactState.OFFERED,
            ContactState.CONNECTED,
        ):
            self.contact_id = None
        else:
            self.last_contact_id = contact.id
            call = {"contact_id": contact.id, "state": contact.state, "callback": contact.callback}
            if contact.state == ContactState.CONNECTED:
                call["lawyer"] = await self._lawyer_json(contact.lawyer)
        t, s = self.terminal, self.settings
        await self._send(
            "hello",
            terminal={
                "id": t.id,
                "village": t.village,
                "township": t.township,
                "language": t.language,
            },
            services=[str(x) for x in Service],
            rtc=browser_rtc_config(s.webrtc, f"terminal-{t.id}", time.time()),
            media={
                "frame_rate": s.terminals.frame_rate,
                "ice_timeout_s": s.terminals.ice_timeout_s,
                "video_stall_s": s.terminals.video_stall_s,
            },
            call=call,
        )

    async def _lawyer_json(self, lawyer_id: str | None) -> dict[str, str]:
        lawyer = await self.queue.store.get_lawyer(lawyer_id) if lawyer_id else None
        if lawyer is None:
            return {"id": lawyer_id or "", "name": ""}
        return {"id": lawyer.id, "name": lawyer.name}

    async def _send(self, frame_type: str, **fields: Any) -> None:
        await send_frame(self.ws, frame_type, **fields)

    async def _result(self, request: str, ok: bool, message: str = "") -> None:
        await self._send("result", request=request, ok=ok, message=message)

    # ----- the queue -----------------------------------------------------------------

    async def _forward(self, events: asyncio.Queue[Event]) -> None:
        while True:
            ev = await events.get()
            c = ev.contact
            if c is None or c.id != self.contact_id:
                continue
            if ev.type == "contact.answered":
                await self._send(
                    "connected",
                    contact_id=c.id,
                    lawyer=await self._lawyer_json(c.lawyer),
                    callback=c.callback,
                )
            elif ev.type in ("contact.ended", "contact.abandoned", "contact.transferred"):
                if ev.type == "contact.transferred" and c.state != ContactState.ENDED:
                    # Handed on to a colleague or back to a queue: wait again.
                    await self._send(
                        "waiting",
                        contact_id=c.id,
                        position=None,
                        estimated_wait_s=None,
                        handed_on=True,
                    )
                    continue
                self.contact_id = None
                await self.queue.store.redis.delete(self._contact_key)
                await self._send("ended", contact_id=c.id, reason=ev.reason or ev.type)

    async def _tell_waiting(self) -> None:
        """The place and the estimated wait, in large characters on the waiting screen."""
        while True:
            await asyncio.sleep(self.settings.terminals.waiting_update_s)
            if self.contact_id is not None:
                await self._send_place(self.contact_id)

    async def _send_place(self, contact_id: str) -> None:
        w = await self.queue.position_of(contact_id)
        position: int | None
        wait_s: float | None
        if w is not None:
            contact, staffed = w.contact, w.staffed
            position, wait_s = w.position, w.estimated_wait_s
        else:
            # Not among the router's waiting contacts: entered a moment ago (the stream not
            # read yet: no place known), or being offered to a lawyer now (next, no wait).
            got = await self.queue.store.get_contact(contact_id)
            if got is None or got.state not in (ContactState.WAITING, ContactState.OFFERED):
                return
            contact, staffed = got, self.queue.staffed_for(got)
            position, wait_s = (1, 0.0) if got.state == ContactState.OFFERED else (None, None)
            if got.state == ContactState.OFFERED:
                staffed = max(1, staffed)  # the lawyer it is offered to is there
        await self._send(
            "waiting",
            contact_id=contact_id,
            position=position,
            estimated_wait_s=wait_s,
            lawyers_on_duty=staffed,
            hotline_open=self.queue.hotline_open(),
            duty_hours=self.queue.duty_hours(contact),
            callback=contact.callback,
        )

    # ----- signalling ----------------------------------------------------------------

    async def _forward_signals(self, signals: asyncio.Queue[dict[str, Any]]) -> None:
        while True:
            message = await signals.get()
            if message.get("kind") == MEDIATION_INVITE:
                invite = {k: v for k, v in message.items() if k != "kind"}
                await self._send(MEDIATION_INVITE, **invite)
            elif message.get("contact_id") == self.contact_id:
                await self._send("signal", **message)

    # ----- frames from the terminal --------------------------------------------------

    async def _ping(self, frame: Frame) -> None:
        await self._send("pong")
        await self.seen()

    async def seen(self) -> None:
        """When this terminal was last connected (the admins' list shows it)."""
        keys = TerminalKeys(self.prefix)
        with contextlib.suppress(RedisError):
            await self.queue.store.redis.hset(keys.seen, self.terminal.id, repr(time.time()))

    async def _rate(self, frame: Frame) -> None:
        score = frame.get("score")
        if not isinstance(score, int) or not 1 <= score <= 5:
            raise BadFrame("a rating is a whole number from 1 to 5")
        if self.last_contact_id is None:
            await self._result("rate", False, "nothing to rate")
            return
        done = await self.queue.store.rate(self.last_contact_id, score, self.queue.clock())
        messages = {0: "already rated", -1: "the talk never began"}
        await self._result("rate", done == 1, messages.get(done, ""))

    async def _call(self, frame: Frame) -> None:
        service = Service(frame.get("service", Service.CONSULTATION))
        if self.contact_id is not None:
            await self._result("call", False, "already waiting or talking")
            return
        t = self.terminal
        contact = new_contact(
            Skills(service, language=t.language),
            Origin(
                Channel.VIDEO,
                attrs={"terminal": t.id, "village": t.village, "township": t.township},
            ),
            contact_id=uuid.uuid4().hex,
            entered_at=self.queue.clock(),
        )
        self.contact_id = self.last_contact_id = contact.id
        await self.queue.store.redis.set(self._contact_key, contact.id, ex=CONTACT_KEY_TTL_S)
        await self.queue.add_contact(contact)
        await self._result("call", True)
        await self._send_place(contact.id)

    async def _callback(self, frame: Frame) -> None:
        """Ring this terminal back: the contact keeps its place as a callback, as a phone
        caller's does (key 1), under the same daily cap, counted per terminal."""
        cid = self.contact_id
        done = (
            -1
            if cid is None
            else await self.queue.request_callback(cid, f"terminal:{self.terminal.id}")
        )
        messages = {-1: "not waiting", -3: "callbacks for today are used up"}
        await self._result("callback", done in (0, 1), messages.get(done, ""))
        if cid is not None and done in (0, 1):
            await self._send_place(cid)

    async def _hang_up(self, frame: Frame) -> None:
        request = frame["type"]  # cancel (while waiting) or hangup
        cid = self.contact_id
        if cid is None:
            await self._result(request, False, "no talk in progress")
            return
        await self.queue.line_gone(cid, "resident left the terminal", ended_by="caller")
        await self._result(request, True)

    async def _signal(self, frame: Frame) -> None:
        cid = self.contact_id
        contact = await self.queue.store.get_contact(cid) if cid else None
        if contact is None or contact.state != ContactState.CONNECTED or not contact.lawyer:
            raise BadFrame("no lawyer is talking to this terminal")
        message = {**relay.clean_signal(frame), "contact_id": contact.id, "from": "terminal"}
        await relay.publish(self.queue.store.redis, self.prefix, "lawyer", contact.lawyer, message)

    async def _gone(self) -> None:
        """The socket closed: a resident still waiting gives the place up; a talk, or a
        callback to this terminal, goes on."""
        cid = self.contact_id
        contact = await self.queue.store.get_contact(cid) if cid else None
        waiting = (ContactState.WAITING, ContactState.OFFERED)
        if contact is not None and contact.state in waiting and not contact.callback:
            await self.queue.abandon(contact.id, "terminal went away")
            await self.queue.store.redis.delete(self._contact_key)


async def _check(db: sessionmaker[Session], token: str) -> Terminal:
    def run() -> Terminal:
        with db() as session:
            terminal = check_token(session, token)
            session.expunge(terminal)
            return terminal

    return await run_in_threadpool(run)


async def _device_token(ws: WebSocket, timeout_s: float) -> str:
    """The token of the first frame, `auth {token}`; "" if none came in time."""
    try:
        async with asyncio.timeout(timeout_s):
            frame = json.loads(await ws.receive_text())
    except (TimeoutError, ValueError, KeyError):  # KeyError: a binary frame
        return ""
    if not isinstance(frame, dict) or frame.get("type") != "auth":
        return ""
    token = frame.get("token")
    return token if isinstance(token, str) and len(token) <= MAX_TOKEN else ""


@router.websocket("/api/terminal/ws")
async def terminal_ws(
    ws: WebSocket, settings: SettingsDep, db: DbDep, queue: QueueDep, hub: HubDep
) -> None:
    # The device token is explicit (not a cookie): a terminal need not be a browser.
    if not origin_allowed(ws, settings.sockets.allowed_origins, explicit_credential=True):
        await ws.close(code=CLOSE_FORBIDDEN, reason="not from this site's pages")
        return
    # Accepted first, then closed with the reason: a browser sees a close code and reason
    # only on an accepted websocket (a refused handshake is just "1006" to the page).
    await ws.accept()
    with contextlib.suppress(WebSocketDisconnect):
        token = await _device_token(ws, settings.sockets.auth_timeout_s)
        if not token:
            await ws.close(code=CLOSE_UNAUTHORIZED, reason="this terminal has no device token")
            return
        try:
            terminal = await _check(db, token)
        except TerminalRefused as exc:
            revoked = "revoked" in str(exc)
            code = CLOSE_FORBIDDEN if revoked else CLOSE_UNAUTHORIZED
            await ws.close(code=code, reason=str(exc))
            log.info("terminal refused", extra={"reason": str(exc)})
            return
        ticket = Ticket(
            "terminal",
            None,
            f"terminal:{terminal.id}",
            client_address(ws),
            terminal=terminal.id,
            channel=hub.signal_channel("terminal", terminal.id),
        )
        try:
            async with hub.open(ticket):
                # Checked again now that a revocation would reach it: one announced
                # between the first check and here is not missed.
                await _check(db, token)
                log.info("terminal connected", extra={"terminal": terminal.id})
                session = TerminalSession(ws, queue, hub, settings, terminal, ticket)
                await session.seen()
                try:
                    await session.run()
                finally:
                    await asyncio.shield(session.seen())
                await close_as_ended(ws, ticket)
        except TooManySockets as exc:
            await ws.close(code=exc.code, reason=exc.reason)
        except TerminalRefused as exc:
            await ws.close(code=CLOSE_FORBIDDEN, reason=str(exc))
