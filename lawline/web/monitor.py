"""The supervisor socket's monitoring frames (the work is media/monitoring.py's).

From the supervisor's page (supervisors and admins only; the socket checks):
  monitor_offer {contact_id, mode: listen|barge|whisper, sdp}  join a connected phone
                        call's room with a complete offer -> monitor_answer {contact_id, sdp}
  coach_offer {contact_id, sdp}  a second connection, to the call's coach room (whisper)
                        -> coach_answer {contact_id, sdp}
  monitor_mode {contact_id, mode}   -> result
  monitor_stop {contact_id?}        -> result
  room_listen {case_id, sdp}  listen in on a mediation room (heard by no one)
                        -> room_listen_answer {case_id, sdp}
  room_listen_stop {case_id?}       -> result
  lawyer_on_duty {lawyer_id}  from the wallboard: a lawyer on a break back on duty
                        (audited)  -> result
  assign {contact_id, lawyer_id}  from the wallboard: a waiting caller held for this
                        lawyer (routing.preferred_lawyer_s; audited)  -> result
To it: result {request, ok, message}; monitor_ended {contact_id} when the call ends
(or is handed on) while monitored; room_listen_lost {case_id} when the media server
restarted and the room was made anew: offer again (room_listen) to go on listening.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from fastapi import WebSocket
from sqlalchemy.orm import Session, sessionmaker

from lawline.cases.access import Actor
from lawline.cases.audit import Monitor, record_assignment, record_monitoring, record_on_duty
from lawline.cases.service import audit_change
from lawline.media.legs import BrowserLegs, LegRefused
from lawline.media.monitoring import Mode, Monitoring, MonitorRefused
from lawline.mediation.live import LiveRooms, RoomRefused
from lawline.queue.service import QueueService
from lawline.queue.skills import Channel, ContactState, LawyerState, Presence
from lawline.queue.store import Event
from lawline.video import relay
from lawline.web.db import in_transaction
from lawline.web.mediation_room import case_id_of
from lawline.web.socket_loop import BadFrame, Frame, Handler, offer_sdp, send_frame

log = logging.getLogger(__name__)

AUDIT_ACTIONS = {"start": Monitor.START, "mode": Monitor.MODE, "stop": Monitor.STOP}
OVER = frozenset({"contact.ended", "contact.transferred", "contact.abandoned"})


class MonitorDesk:
    """One supervisor socket's monitoring."""

    def __init__(
        self,
        ws: WebSocket,
        supervisor: str,
        queue: QueueService,
        legs: BrowserLegs,
        db: sessionmaker[Session],
        announce: bool,
        rooms: LiveRooms,
    ) -> None:
        self.ws = ws
        self.rooms = rooms
        self.supervisor = supervisor
        self.queue = queue
        self.db = db
        self.monitoring = Monitoring(legs, self, self._tell, self._audit, announce)
        self.handlers: dict[str, Handler] = {
            "monitor_offer": self._offer,
            "coach_offer": self._coach,
            "monitor_mode": self._mode,
            "monitor_stop": self._stop,
            "room_listen": self._room_listen,
            "room_listen_stop": self._room_listen_stop,
            "lawyer_on_duty": self._on_duty,
            "assign": self._assign,
        }

    async def on_event(self, ev: Event) -> None:
        """The monitored call is over: monitoring stops (the coach room goes)."""
        c = ev.contact
        if ev.type in OVER and c is not None and await self.monitoring.stop(c.id):
            await send_frame(self.ws, "monitor_ended", contact_id=c.id)

    async def close(self) -> None:
        await self.monitoring.stop()
        for case_id in await self.rooms.stop_listening(id(self)):
            await self._audit_room(case_id, "stop")

    async def _room_listen(self, frame: Frame) -> None:
        cid, sdp = case_id_of(frame), offer_sdp(frame)
        try:
            answer = await self.rooms.listen(cid, id(self), sdp, tell=self._tell_room)
        except (LegRefused, RoomRefused) as exc:
            await self._result("room_listen", False, str(exc))
            return
        await self._audit_room(cid, "start")
        await send_frame(self.ws, "room_listen_answer", case_id=cid, sdp=answer)

    async def _tell_room(self, frame: dict[str, Any]) -> None:
        await self.ws.send_text(json.dumps(frame, ensure_ascii=False))

    async def _room_listen_stop(self, frame: Frame) -> None:
        cid = frame.get("case_id")
        left = await self.rooms.stop_listening(id(self), cid if isinstance(cid, str) else None)
        for case_id in left:
            await self._audit_room(case_id, "stop")
        await self._result("room_listen_stop", bool(left), "" if left else "未在旁听调解")

    async def _audit_room(self, case_id: str, action: str) -> None:
        now, actor = datetime.now(UTC), Actor(self.supervisor, staff=True)
        detail = f"mediation listen {action}"
        await in_transaction(
            self.db, lambda s: audit_change(s, actor, "read", case_id, now, detail), {}
        )
        log.info("mediation monitoring", extra={"case": case_id, "action": action})

    async def _offer(self, frame: Frame) -> None:
        cid, mode, sdp = _contact_id(frame), _mode(frame), offer_sdp(frame)
        contact = await self.queue.store.get_contact(cid)
        if (
            contact is None
            or contact.state != ContactState.CONNECTED
            or contact.channel != Channel.VOICE
            or not contact.lawyer
        ):
            await self._result("monitor_offer", False, "这不是一通正在进行的电话")
            return
        try:
            answer = await self.monitoring.start(cid, contact.lawyer, mode, sdp)
        except (LegRefused, MonitorRefused) as exc:
            await self._result("monitor_offer", False, str(exc))
            return
        await send_frame(self.ws, "monitor_answer", contact_id=cid, sdp=answer)

    async def _coach(self, frame: Frame) -> None:
        cid, sdp = _contact_id(frame), offer_sdp(frame)
        try:
            answer = await self.monitoring.coach(cid, sdp)
        except (LegRefused, MonitorRefused) as exc:
            await self._result("coach_offer", False, str(exc))
            return
        await send_frame(self.ws, "coach_answer", contact_id=cid, sdp=answer)

    async def _mode(self, frame: Frame) -> None:
        try:
            await self.monitoring.set_mode(_contact_id(frame), _mode(frame))
        except (LegRefused, MonitorRefused) as exc:
            await self._result("monitor_mode", False, str(exc))
            return
        await self._result("monitor_mode", True)

    async def _stop(self, frame: Frame) -> None:
        cid = frame.get("contact_id")
        stopped = await self.monitoring.stop(cid if isinstance(cid, str) else None)
        await self._result("monitor_stop", stopped, "" if stopped else "未在监听这通电话")

    async def _result(self, request: str, ok: bool, message: str = "") -> None:
        await send_frame(self.ws, "result", request=request, ok=ok, message=message)

    async def _tell(self, lawyer_id: str, message: dict[str, object]) -> None:
        store = self.queue.store
        await relay.publish(
            store.redis, store.prefix, "lawyer", lawyer_id, {**message, "from": "supervisor"}
        )

    async def _on_duty(self, frame: Frame) -> None:
        """From the wallboard: a lawyer on a break back on duty (calls are offered to them
        at once); written to the audit trail."""
        lawyer_id = frame.get("lawyer_id")
        if not isinstance(lawyer_id, str) or not 0 < len(lawyer_id) <= 64:
            raise BadFrame("'lawyer_on_duty' needs a 'lawyer_id' string")
        lawyer = self.queue.router.lawyers.get(lawyer_id)
        if lawyer is None or lawyer.state != LawyerState.BREAK:
            await send_frame(self.ws, "result", request="lawyer_on_duty", ok=False,
                             message="这位律师不在小休中")  # fmt: skip
            return
        await self.queue.set_presence(lawyer_id, Presence.AVAILABLE)
        now, actor = datetime.now(UTC), self.supervisor
        await in_transaction(self.db, lambda s: record_on_duty(s, actor, now, lawyer_id), {})
        log.info("lawyer put on duty by a supervisor", extra={"lawyer": lawyer_id})
        await send_frame(self.ws, "result", request="lawyer_on_duty", ok=True, message="")

    async def _assign(self, frame: Frame) -> None:
        """From the wallboard: a waiting caller held for a named lawyer; audited."""
        contact_id, lawyer_id = _contact_id(frame), frame.get("lawyer_id")
        if not isinstance(lawyer_id, str) or not 0 < len(lawyer_id) <= 64:
            raise BadFrame("'assign' needs a 'lawyer_id' string")
        result = await self.queue.assign(contact_id, lawyer_id)
        if result < 0:
            why = "该来电已在振铃或已接通" if result == -1 else "没有这位律师"
            await send_frame(self.ws, "result", request="assign", ok=False, message=why)
            return
        now, actor = datetime.now(UTC), self.supervisor
        await in_transaction(
            self.db, lambda s: record_assignment(s, actor, now, contact_id, lawyer_id), {}
        )
        log.info("caller assigned by a supervisor", extra={"contact": contact_id})
        await send_frame(self.ws, "result", request="assign", ok=True, message="")

    async def _audit(self, action: str, contact_id: str, mode: Mode | None) -> None:
        now, actor = datetime.now(UTC), self.supervisor
        kind, how = AUDIT_ACTIONS[action], str(mode or "")
        await in_transaction(
            self.db, lambda s: record_monitoring(s, actor, kind, now, contact_id, how), {}
        )
        log.info("call monitoring", extra={"contact": contact_id, "action": action, "mode": how})


def _contact_id(frame: Frame) -> str:
    cid = frame.get("contact_id")
    if not isinstance(cid, str) or not cid:
        raise BadFrame(f"'{frame['type']}' needs a 'contact_id' string")
    return cid


def _mode(frame: Frame) -> Mode:
    try:
        return Mode(frame.get("mode"))
    except ValueError:
        raise BadFrame("'mode' is listen, barge or whisper") from None
