"""The mediation room's sockets: the mediator's and each party's (the work is
mediation/live.py's).

The mediator's, /api/mediation/ws (mediators and staff, signed in; the mediation must
be theirs, or they staff):
  room_open {case_id}         -> room {case_id, dial_in, links: [{who, name, role, reach,
                                 token, pin}]}  (dial_in and pin: what a party enters
                                 after dialling 12348 and pressing 0)
  offer {case_id, sdp}        -> answer {case_id, sdp}   (the mediator's own audio)
  publish {case_id, sdp}      -> published {case_id, sdp}  (the mediator's camera)
  watching {case_id, sdp}     (the answer to a `watch` offer)
  dial {case_id, who}         (ring a party's phone: they press 1 to come in; how it
                              goes is each seat's `dial` in `participants`),
  ring {case_id, who}         (invite a party at their village terminal: its screen
                              shows the invitation; the seat's `dial` is `invited`),
  mute {case_id, who, muted}, remove {case_id, who}, lock {case_id, locked},
  consent {case_id}           (the recording-consent announcement, played to everyone;
                              each side is recorded from then on),
  captions {case_id, on}      (the transcript's lines on the parties' screens too),
  hint_pin {case_id, law, article}  (a hint kept as the agreement's legal basis, 调解依据)
                              -> hint_pinned {case_id, citation}, result
  caucus {case_id, who: [seat...]}  (背靠背: the mediator and these parties apart),
  caucus_end {case_id}, room_close {case_id}  -> result {request, ok, message}
A party's, /api/mediation/party/ws: first frame `hello {token}` (from the party's
link, within sockets.auth_timeout_s) -> joined {case_id, who, name, role}; then
  offer {sdp}                 -> answer {sdp}
  publish {sdp}               -> published {sdp}   (the party's camera)
  watching {sdp}              (the answer to a `watch` offer)
To both: watch {case_id, sdp, streams: [{mid, who, name}]}, the media server's offer of
the videos of those the seat hears (answer it with `watching`; a new one follows each
change); participants {case_id, locked, caucus, captions, participants: [...]} on every
change; speaking {case_id, who, on} when a phone party starts or stops speaking;
transcript {case_id, kind: final|partial|listening|status, side, speaker, text, start,
end} as the room's words are recognised (to a party only with captions on);
reoffer {case_id} when the room was made again after the media server restarted (offer
again); to a party: removed, closed or replaced, and then its socket closes.
Opening, closing and removing are written to the case's audit trail.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, WebSocket, WebSocketDisconnect
from redis.asyncio import Redis
from sqlalchemy.orm import Session, sessionmaker

from lawline.accounts.models import User
from lawline.cases.access import Actor
from lawline.cases.service import CaseError, audit_change
from lawline.hints import records as hint_records
from lawline.media.legs import LegRefused
from lawline.mediation.links import BadLink, PartySeat, party_token, read_party_token
from lawline.mediation.live import MEDIATOR, LiveRooms, RoomRefused, SeatOf, party_seat
from lawline.mediation.models import MediationParty
from lawline.mediation.service import MediationState, get_mediation, record_consent
from lawline.terminals.models import Terminal
from lawline.video import relay
from lawline.video.relay import MEDIATION_INVITE
from lawline.video.settings import WebRTCSettings
from lawline.video.turn import browser_rtc_config
from lawline.web.auth import STAFF_ROLES, Principal, Role
from lawline.web.console_hints import MAX_ARTICLE, MAX_LAW
from lawline.web.db import in_transaction
from lawline.web.deps import DbDep, HubDep, SecretDep, SettingsDep, Staff
from lawline.web.hub import Ticket, TooManySockets
from lawline.web.socket_loop import (
    BadFrame,
    Frame,
    offer_sdp,
    run_until_ended,
    send_frame,
    serve_frames,
)
from lawline.web.ws_access import admitted, client_address, credential_of, origin_allowed

router = APIRouter()
LINK_TTL_S = 2 * 24 * 3600  # a party's link opens their seat for two days
ENDS_PARTY = frozenset({"removed", "closed", "replaced"})


def live_rooms(ws: WebSocket) -> LiveRooms:
    return ws.app.state.mediation_rooms  # type: ignore[no-any-return]


def case_id_of(frame: Frame) -> str:
    cid = frame.get("case_id")
    if not isinstance(cid, str) or not cid or len(cid) > 32:
        raise BadFrame(f"'{frame['type']}' needs a 'case_id' string")
    return cid


def _who(frame: Frame) -> str:
    who = frame.get("who")
    if not isinstance(who, str) or not who or len(who) > 16:
        raise BadFrame(f"'{frame['type']}' needs a 'who' string (a seat)")
    return who


def _flag(frame: Frame, name: str) -> bool:
    value = frame.get(name)
    if not isinstance(value, bool):
        raise BadFrame(f"'{frame['type']}' needs '{name}': true or false")
    return value


class MediatorDesk:
    """One mediator socket: the rooms it opened and controls."""

    def __init__(
        self,
        ws: WebSocket,
        principal: Principal,
        rooms: LiveRooms,
        db: sessionmaker[Session],
        secret: str,
        redis: Redis,
        prefix: str,
    ) -> None:
        self.ws = ws
        self.redis = redis  # the terminals' signalling channels
        self.prefix = prefix
        self.actor = Actor(principal.subject, staff=principal.role in STAFF_ROLES)
        self.rooms = rooms
        self.db = db
        self.secret = secret
        self.mine: set[str] = set()  # rooms this socket opened or took the mediator's seat in
        self.handlers = {
            "room_open": self._open,
            "offer": self._offer,
            "publish": self._publish,
            "watching": self._watching,
            "dial": self._dial,
            "ring": self._ring,
            "mute": self._mute,
            "remove": self._remove,
            "lock": self._lock,
            "captions": self._captions,
            "hint_pin": self._hint_pin,
            "consent": self._consent,
            "caucus": self._caucus,
            "caucus_end": self._caucus_end,
            "room_close": self._close,
        }

    async def _tell(self, frame: dict[str, Any]) -> None:
        await self.ws.send_text(json.dumps(frame, ensure_ascii=False))

    async def _db(self, work: Any) -> Any:
        return await in_transaction(self.db, work, {})

    async def _audit(self, case_id: str, action: str) -> None:
        now, actor = datetime.now(UTC), self.actor
        await self._db(lambda s: audit_change(s, actor, "update", case_id, now, action))

    async def _mediation(self, case_id: str) -> tuple[str, list[SeatOf], str, str]:
        """The mediator's name, the parties of a mediation of theirs still open, the
        mediator's id and the dispute's domain."""
        now, actor = datetime.now(UTC), self.actor

        def work(s: Session) -> tuple[str, list[SeatOf], str, str]:
            record = get_mediation(s, case_id, actor, now, audit=False)
            if record.mediation.state == MediationState.CLOSED.value:
                raise CaseError("这件调解已经结案")
            user = s.get(User, record.case.owner)
            name = (user.display_name if user else "") or record.case.owner
            seats = [SeatOf(p.id, p.name, p.role, p.reach) for p in record.parties]
            return name, seats, record.case.owner, record.case.domain

        try:
            result: tuple[str, list[SeatOf], str, str] = await self._db(work)
        except CaseError as exc:
            raise RoomRefused(str(exc)) from exc
        return result

    async def _open(self, frame: Frame) -> None:
        cid = case_id_of(frame)
        try:
            mediator, parties, mediator_id, domain = await self._mediation(cid)
            await self.rooms.open(cid, mediator, parties, mediator_id=mediator_id, domain=domain)
            await self._audit(cid, "mediation room open")
            await self.rooms.take_seat(cid, MEDIATOR, id(self), self._tell)
        except (RoomRefused, LegRefused) as exc:
            await self._result("room_open", False, str(exc))
            return
        self.mine.add(cid)
        live = self.rooms.get(cid)
        seats = live.seats if live is not None else {}
        expires = time.time() + LINK_TTL_S
        links = [
            {
                "who": party_seat(p.party_id),
                "name": p.name,
                "role": p.role,
                "reach": p.reach,
                "token": party_token(self.secret, PartySeat(cid, p.party_id), expires),
                "pin": seat.pin if (seat := seats.get(party_seat(p.party_id))) else "",
            }
            for p in parties
        ]
        dial_in = live.dial_in if live is not None else ""
        await send_frame(self.ws, "room", case_id=cid, links=links, dial_in=dial_in)

    def _controls(self, cid: str) -> None:
        if cid not in self.mine:
            raise RoomRefused("请先开启调解室")

    async def _offer(self, frame: Frame) -> None:
        cid, sdp = case_id_of(frame), offer_sdp(frame)
        try:
            self._controls(cid)
            answer = await self.rooms.offer(cid, MEDIATOR, id(self), sdp)
        except (RoomRefused, LegRefused) as exc:
            await self._result("offer", False, str(exc))
            return
        await send_frame(self.ws, "answer", case_id=cid, sdp=answer)

    async def _publish(self, frame: Frame) -> None:
        cid, sdp = case_id_of(frame), offer_sdp(frame)
        try:
            self._controls(cid)
            answer = await self.rooms.publish(cid, MEDIATOR, id(self), sdp)
        except (RoomRefused, LegRefused) as exc:
            await self._result("publish", False, str(exc))
            return
        await send_frame(self.ws, "published", case_id=cid, sdp=answer)

    async def _watching(self, frame: Frame) -> None:
        cid, sdp = case_id_of(frame), offer_sdp(frame)
        await self._do("watching", cid, lambda: self.rooms.watching(cid, MEDIATOR, id(self), sdp))

    async def _dial(self, frame: Frame) -> None:
        """Ring a party's phone: they press 1 to come in (lawline/mediation/live.py)."""
        cid, who = case_id_of(frame), _who(frame)
        actor, now = self.actor, datetime.now(UTC)

        def number_of(s: Session) -> str:
            record = get_mediation(s, cid, actor, now, audit=False)
            party = next((p for p in record.parties if party_seat(p.id) == who), None)
            return party.phone if party is not None else ""

        async def dial() -> None:
            try:
                number = await self._db(number_of)
            except CaseError as exc:
                raise RoomRefused(str(exc)) from exc
            await self.rooms.dial(cid, who, number)
            await self._audit(cid, f"mediation dial {who}")

        await self._do("dial", cid, dial)

    async def _ring(self, frame: Frame) -> None:
        """Invite a party at a village terminal: its screen shows the invitation with one
        big button, which opens their seat (the party's link, made for it now)."""
        cid, who = case_id_of(frame), _who(frame)
        actor, now = self.actor, datetime.now(UTC)

        def terminal_of(s: Session) -> tuple[str, MediationParty | None]:
            record = get_mediation(s, cid, actor, now, audit=False)
            party = next((p for p in record.parties if party_seat(p.id) == who), None)
            terminal = s.get(Terminal, party.terminal_id) if party and party.terminal_id else None
            if terminal is None or terminal.revoked_at is not None:
                return "", party
            return terminal.id, party

        async def ring() -> None:
            try:
                terminal_id, party = await self._db(terminal_of)
            except CaseError as exc:
                raise RoomRefused(str(exc)) from exc
            if party is None or not terminal_id:
                raise RoomRefused("这位当事人没有登记在用的村终端")
            self.rooms.invited(cid, who)  # RoomRefused if the room is not open
            token = party_token(self.secret, PartySeat(cid, party.id), time.time() + LINK_TTL_S)
            invite = {"kind": MEDIATION_INVITE, "case_id": cid, "name": party.name,
                      "role": party.role, "token": token}  # fmt: skip
            await relay.publish(self.redis, self.prefix, "terminal", terminal_id, invite)
            await self.rooms.tell_all(cid)
            await self._audit(cid, f"mediation ring {who}")

        await self._do("ring", cid, ring)

    async def _mute(self, frame: Frame) -> None:
        cid, who, muted = case_id_of(frame), _who(frame), _flag(frame, "muted")
        await self._do("mute", cid, lambda: self.rooms.mute(cid, who, muted))

    async def _remove(self, frame: Frame) -> None:
        cid, who = case_id_of(frame), _who(frame)

        async def remove() -> None:
            await self.rooms.remove(cid, who)
            await self._audit(cid, f"mediation room remove {who}")

        await self._do("remove", cid, remove)

    async def _lock(self, frame: Frame) -> None:
        cid, locked = case_id_of(frame), _flag(frame, "locked")
        await self._do("lock", cid, lambda: self.rooms.set_locked(cid, locked))

    async def _captions(self, frame: Frame) -> None:
        cid, on = case_id_of(frame), _flag(frame, "on")
        await self._do("captions", cid, lambda: self.rooms.set_captions(cid, on))

    async def _hint_pin(self, frame: Frame) -> None:
        """A hint the mediator keeps as the agreement's legal basis (调解依据)."""
        cid = case_id_of(frame)
        law, article = frame.get("law"), frame.get("article")
        if not isinstance(law, str) or not isinstance(article, str):
            raise BadFrame("'hint_pin' needs 'law' and 'article' strings")
        if not 0 < len(law) <= MAX_LAW or not 0 < len(article) <= MAX_ARTICLE:
            raise BadFrame("'hint_pin': no such article")
        mediator, now = self.actor.id, datetime.now(UTC)

        def work(s: Session) -> bool:
            if hint_records.find_article(s, law, article) is None:
                return False
            hint_records.record(s, cid, mediator, "pinned", [(law, article, 0.0)], now)
            return True

        async def pin() -> None:
            if not await self._db(work):
                raise RoomRefused("法规库中没有这一条")
            await send_frame(self.ws, "hint_pinned", case_id=cid, citation=f"《{law}》{article}")

        await self._do("hint_pin", cid, pin)

    async def _consent(self, frame: Frame) -> None:
        cid = case_id_of(frame)
        now, actor = datetime.now(UTC), self.actor

        async def consent() -> None:
            await self.rooms.announce_consent(cid)
            try:
                await self._db(lambda s: record_consent(s, cid, actor, now))
            except CaseError as exc:
                raise RoomRefused(str(exc)) from exc

        await self._do("consent", cid, consent)

    async def _caucus(self, frame: Frame) -> None:
        cid, who = case_id_of(frame), frame.get("who")
        if (
            not isinstance(who, list)
            or not 0 < len(who) <= 8
            or not all(isinstance(w, str) and 0 < len(w) <= 16 for w in who)
        ):
            raise BadFrame("'caucus' needs 'who': the seats to take apart")

        async def caucus() -> None:
            await self.rooms.caucus(cid, who)
            await self._audit(cid, f"mediation caucus {' '.join(who)}")

        await self._do("caucus", cid, caucus)

    async def _caucus_end(self, frame: Frame) -> None:
        cid = case_id_of(frame)
        await self._do("caucus_end", cid, lambda: self.rooms.end_caucus(cid))

    async def _close(self, frame: Frame) -> None:
        cid = case_id_of(frame)

        async def close() -> None:
            await self.rooms.close(cid)
            self.mine.discard(cid)
            await self._audit(cid, "mediation room close")

        await self._do("room_close", cid, close)

    async def _do(self, request: str, cid: str, action: Any) -> None:
        try:
            self._controls(cid)
            await action()
        except (RoomRefused, LegRefused) as exc:
            await self._result(request, False, str(exc))
            return
        await self._result(request, True)

    async def _result(self, request: str, ok: bool, message: str = "") -> None:
        await send_frame(self.ws, "result", request=request, ok=ok, message=message)

    async def close(self) -> None:
        """The mediator's socket is gone: their seat empties; the room stays for a
        reload (the mediator closes it, or it goes when this process stops)."""
        await self.rooms.left(id(self))


@router.get("/api/mediation/rooms")
async def open_rooms(request: Request, _: Staff) -> list[dict[str, Any]]:
    """The mediation rooms open on this web process: who is in, since when (supervisors)."""
    rooms: LiveRooms = request.app.state.mediation_rooms
    return rooms.live_rooms()


@router.websocket("/api/mediation/ws")
async def mediator_ws(
    ws: WebSocket, settings: SettingsDep, hub: HubDep, db: DbDep, secret: SecretDep
) -> None:
    roles = (Role.MEDIATOR, Role.SUPERVISOR, Role.ADMIN)
    principal = await admitted(ws, settings.sockets.allowed_origins, roles, "mediators")
    if principal is None:
        return
    await ws.accept()
    ticket = Ticket("mediator", principal.subject, credential_of(ws), client_address(ws))
    redis = ws.app.state.queue.store.redis
    desk = MediatorDesk(ws, principal, live_rooms(ws), db, secret, redis, settings.redis_prefix)
    try:
        async with hub.open(ticket):
            with contextlib.suppress(WebSocketDisconnect):
                await run_until_ended(ticket, serve_frames(ws, desk.handlers))
            if ticket.ended.is_set():
                await ws.close(code=ticket.code, reason=ticket.reason)
    except TooManySockets as exc:
        await ws.close(code=exc.code, reason=exc.reason)
    finally:
        await asyncio.shield(desk.close())


# ----- a party's page ----------------------------------------------------------------------


async def _hello(ws: WebSocket, timeout_s: float) -> str:
    """The token of the first frame, `hello {token}`; "" if none came in time."""
    try:
        async with asyncio.timeout(timeout_s):
            frame = json.loads(await ws.receive_text())
    except (TimeoutError, ValueError, KeyError):
        return ""
    token = frame.get("token") if isinstance(frame, dict) else None
    return token if frame.get("type") == "hello" and isinstance(token, str) else ""


@router.websocket("/api/mediation/party/ws")
async def party_ws(
    ws: WebSocket, settings: SettingsDep, hub: HubDep, db: DbDep, secret: SecretDep
) -> None:
    # The link's token is explicit (sent in the first frame, never in the URL).
    if not origin_allowed(ws, settings.sockets.allowed_origins, explicit_credential=True):
        await ws.close(code=4403, reason="not from this site's pages")
        return
    await ws.accept()
    with contextlib.suppress(WebSocketDisconnect):
        token = await _hello(ws, settings.sockets.auth_timeout_s)
        try:
            seat = read_party_token(secret, token, time.time())
        except (BadLink, ValueError, KeyError) as exc:
            await ws.close(code=4401, reason=str(exc) if isinstance(exc, BadLink) else "bad link")
            return
        party = await in_transaction(db, lambda s: s.get(MediationParty, seat.party_id), {})
        rooms = live_rooms(ws)
        if party is None or party.case_id != seat.case_id:
            await ws.close(code=4404, reason="这个链接已失效，请联系调解员")
            return
        if rooms.get(seat.case_id) is None:
            await ws.close(code=4409, reason="调解尚未开始，请稍后再试")
            return
        ref = hashlib.sha256(token.encode()).hexdigest()[:16]
        ticket = Ticket("party", None, f"link:{ref}", client_address(ws))
        try:
            async with hub.open(ticket):
                await _party(ws, rooms, seat, party, ticket, settings.webrtc)
        except TooManySockets as exc:
            await ws.close(code=exc.code, reason=exc.reason)


async def _party(
    ws: WebSocket,
    rooms: LiveRooms,
    seat: PartySeat,
    party: MediationParty,
    ticket: Ticket,
    webrtc: WebRTCSettings,
) -> None:
    who, owner, over = party_seat(seat.party_id), object(), asyncio.Event()
    ending = ""

    async def tell(frame: dict[str, Any]) -> None:
        nonlocal ending
        await ws.send_text(json.dumps(frame, ensure_ascii=False))
        if frame["type"] in ENDS_PARTY:
            ending = frame["type"]
            over.set()

    async def offer(frame: Frame) -> None:
        try:
            answer = await rooms.offer(seat.case_id, who, owner, offer_sdp(frame))
        except (RoomRefused, LegRefused) as exc:
            await send_frame(ws, "result", request="offer", ok=False, message=str(exc))
            return
        await send_frame(ws, "answer", sdp=answer)

    async def publish(frame: Frame) -> None:
        try:
            answer = await rooms.publish(seat.case_id, who, owner, offer_sdp(frame))
        except (RoomRefused, LegRefused) as exc:
            await send_frame(ws, "result", request="publish", ok=False, message=str(exc))
            return
        await send_frame(ws, "published", sdp=answer)

    async def watching(frame: Frame) -> None:
        try:
            await rooms.watching(seat.case_id, who, owner, offer_sdp(frame))
        except (RoomRefused, LegRefused) as exc:
            await send_frame(ws, "result", request="watching", ok=False, message=str(exc))

    try:
        await rooms.take_seat(seat.case_id, who, owner, tell)
    except (RoomRefused, LegRefused) as exc:
        await ws.close(code=4409, reason=str(exc))
        return
    try:
        rtc = browser_rtc_config(webrtc, f"party-{seat.party_id}", time.time())
        await send_frame(
            ws, "joined", case_id=seat.case_id, who=who, name=party.name, role=party.role, rtc=rtc
        )
        await run_until_ended(
            ticket,
            serve_frames(ws, {"offer": offer, "publish": publish, "watching": watching}),
            over.wait(),
        )
        if ending:
            await ws.close(code=4000, reason=ending)
        elif ticket.ended.is_set():
            await ws.close(code=ticket.code, reason=ticket.reason)
    finally:
        if not ending:
            await asyncio.shield(rooms.left(owner))
