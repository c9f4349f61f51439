"""The queue's HTTP API under /api: thin routes over QueueService."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request, status

from lawline import centre_time
from lawline.cases.audit import RosterChange, record_roster_change
from lawline.queue.model import MAX_EXCEPTIONS, Contact
from lawline.queue.service import QueueService
from lawline.queue.skills import ContactState, Service
from lawline.web.auth import Principal, Role, mask_number, require_self_or_staff
from lawline.web.db import in_transaction
from lawline.web.deps import Anyone, DbDep, Gateway, QueueDep, Staff, StaffOrGateway
from lawline.web.schemas.queue import (
    CallbackIn,
    ColleagueOut,
    ContactIn,
    ContactOut,
    LawyerIn,
    LawyerOut,
    LawyerPatch,
    Outcome,
    PresenceIn,
    RosterExceptionIn,
)
from lawline.web.wallboard import Wallboard

router = APIRouter(prefix="/api")


def _not_found(what: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"no such {what}")


def _conflict(message: str) -> HTTPException:
    return HTTPException(status.HTTP_409_CONFLICT, message)


def _contact_out(contact: Contact, principal: Principal) -> ContactOut:
    caller = contact.caller if principal.sees_all() else mask_number(contact.caller)
    return ContactOut.of(contact, caller)


@router.get("/health")
async def health(queue: QueueDep, request: Request) -> dict[str, object]:
    """Up (Redis answers); `hints_ready`: the statute hints' index is built, so the
    process has finished its start-up work."""
    await queue.store.redis.ping()
    return {
        "status": "ok",
        "hotline_open": queue.hotline_open(),
        "hints_ready": request.app.state.hints.ready,
    }


# ----- contacts ---------------------------------------------------------------------


@router.post("/contacts", status_code=status.HTTP_201_CREATED)
async def add_contact(body: ContactIn, queue: QueueDep, principal: Gateway) -> ContactOut:
    """A call or video session enters the queue. Retrying with the same id is harmless."""
    if body.language not in queue.settings.languages:
        raise HTTPException(
            422,
            f"language {body.language!r} is not served here "
            f"(configured: {', '.join(queue.settings.languages)})",
        )
    contact = body.to_contact(entered_at=queue.clock())
    await queue.add_contact(contact)
    stored = await queue.store.get_contact(contact.id)
    assert stored is not None
    return _contact_out(stored, principal)


@router.get("/contacts/waiting")
async def waiting_contacts(queue: QueueDep, principal: StaffOrGateway) -> list[ContactOut]:
    """Every waiting contact, most urgent first in each queue, with place and wait."""
    out = []
    for w in await queue.waiting():
        item = _contact_out(w.contact, principal)
        item.position, item.waited_s = w.position, w.waited_s
        item.estimated_wait_s = w.estimated_wait_s
        out.append(item)
    return out


@router.get("/contacts/{contact_id}")
async def get_contact(contact_id: str, queue: QueueDep, principal: Anyone) -> ContactOut:
    contact = await queue.store.get_contact(contact_id)
    if contact is None:
        raise _not_found("contact")
    if not principal.may_read_call(contact):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this contact is not yours")
    out = _contact_out(contact, principal)
    out.waited_s = (contact.answered_at or contact.ended_at or time.time()) - contact.entered_at
    if contact.state == ContactState.WAITING:
        w = await queue.position_of(contact_id)
        if w is not None:
            out.position, out.estimated_wait_s = w.position, w.estimated_wait_s
    return out


@router.post("/contacts/{contact_id}/callback")
async def request_callback(
    contact_id: str, body: CallbackIn, queue: QueueDep, _: Gateway
) -> Outcome:
    """The caller hangs up but keeps their place; a lawyer will call them back."""
    result = await queue.request_callback(contact_id, body.number)
    if result == -3:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "this number has had as many callbacks today as the hotline gives one number",
        )
    if result < 0:
        raise _conflict("the contact is no longer waiting")
    return Outcome(ok=True, message="already a callback" if result == 0 else "")


@router.post("/contacts/{contact_id}/abandon")
async def abandon_contact(contact_id: str, queue: QueueDep, _: Gateway) -> Outcome:
    """The caller left before a lawyer answered."""
    result = await queue.abandon(contact_id)
    if result == -2:
        raise _not_found("contact")
    if result == -1:
        raise _conflict("the contact is connected to a lawyer: end it instead")
    return Outcome(ok=True, message="already over" if result == 0 else "")


@router.post("/contacts/{contact_id}/end")
async def end_contact(contact_id: str, queue: QueueDep, principal: Anyone) -> Outcome:
    """The conversation is over; the lawyer goes to wrap-up."""
    contact = await queue.store.get_contact(contact_id)
    if contact is None:
        raise _not_found("contact")
    if principal.role not in (Role.GATEWAY, Role.ADMIN, Role.SUPERVISOR):
        require_self_or_staff(principal, contact.lawyer or "")
    result = await queue.end(contact_id, "lawyer" if principal.role == Role.LAWYER else "caller")
    if result < 0:
        raise _conflict("the contact is not connected")
    return Outcome(ok=True, message="already ended" if result == 0 else "")


# ----- queues -----------------------------------------------------------------------


@router.get("/queues")
async def queue_figures(
    queue: QueueDep, request: Request, _: Anyone, period: Literal["all", "today"] = "all"
) -> dict[Service, dict[str, float | None]]:
    """Per service queue: waiting, longest wait, answered, abandoned, service level...
    since the queue's counters began (`all`, what /metrics counts) or for the centre's
    day so far (`today`, the wallboard's own figures, by the same definitions)."""
    if period == "all":
        return await queue.queue_figures()
    board: Wallboard = request.app.state.wallboard
    return {
        Service(row["service"]): {k: v for k, v in row.items() if k not in ("service", "colour")}
        for row in (await board.board())["services"]
    }


@router.get("/wallboard")
async def wallboard(request: Request, _: Staff) -> dict[str, Any]:
    """What the supervisors' wallboard shows now (web/wallboard.py): per service queue,
    waiting and today's figures with each tile's colour; lawyers; waiting contacts;
    today by half hour."""
    board: Wallboard = request.app.state.wallboard
    return await board.board()


@router.get("/hotline")
async def hotline(queue: QueueDep) -> dict[str, bool]:
    """Whether any duty lawyer's shift covers now (outside them the hotline is closed)."""
    return {"open": queue.hotline_open()}


# ----- lawyers ----------------------------------------------------------------------


@router.get("/lawyers")
async def list_lawyers(queue: QueueDep, _: Staff) -> list[LawyerOut]:
    lawyers = sorted(queue.router.lawyers.values(), key=lambda lw: lw.id)
    return [LawyerOut.of(lw) for lw in lawyers]


@router.get("/colleagues")
async def list_colleagues(queue: QueueDep, _: Anyone) -> list[ColleagueOut]:
    """Who a lawyer can transfer a call or hand a case to: names and whether they are on
    duty, nothing of their skills or figures."""
    lawyers = sorted(queue.router.lawyers.values(), key=lambda lw: lw.id)
    return [ColleagueOut(id=lw.id, name=lw.name, state=lw.state) for lw in lawyers]


@router.post("/lawyers", status_code=status.HTTP_201_CREATED)
async def create_lawyer(body: LawyerIn, queue: QueueDep, _: Staff) -> LawyerOut:
    _check_languages(queue, body.languages)
    if not await queue.create_lawyer(body.to_lawyer()):
        raise _conflict(f"lawyer {body.id} exists: change them with PATCH")
    return await _lawyer_out(queue, body.id)


@router.get("/lawyers/{lawyer_id}")
async def get_lawyer(lawyer_id: str, queue: QueueDep, principal: Anyone) -> LawyerOut:
    require_self_or_staff(principal, lawyer_id)
    return await _lawyer_out(queue, lawyer_id)


@router.patch("/lawyers/{lawyer_id}")
async def update_lawyer(lawyer_id: str, body: LawyerPatch, queue: QueueDep, _: Staff) -> LawyerOut:
    current = await queue.store.get_lawyer(lawyer_id)
    if current is None:
        raise _not_found("lawyer")
    merged = body.applied_to(current)
    _check_languages(queue, merged.languages)
    if not await queue.update_lawyer(lawyer_id, body.profile_changes(merged)):
        raise _not_found("lawyer")
    return await _lawyer_out(queue, lawyer_id)


@router.put("/lawyers/{lawyer_id}/state")
async def set_lawyer_state(
    lawyer_id: str, body: PresenceIn, queue: QueueDep, principal: Anyone
) -> LawyerOut:
    """On duty (available), on break (with a reason) or off duty (offline)."""
    require_self_or_staff(principal, lawyer_id)
    if await queue.set_presence(lawyer_id, body.state, body.reason) < 0:
        raise _not_found("lawyer")
    return await _lawyer_out(queue, lawyer_id)


@router.post("/lawyers/{lawyer_id}/ready")
async def end_wrapup(lawyer_id: str, queue: QueueDep, principal: Anyone) -> Outcome:
    """The lawyer has finished wrap-up before its time ran out."""
    require_self_or_staff(principal, lawyer_id)
    return Outcome(ok=await queue.ready(lawyer_id))


@router.get("/lawyers/{lawyer_id}/figures")
async def lawyer_figures(
    lawyer_id: str, queue: QueueDep, principal: Anyone
) -> dict[str, float | str]:
    """Seconds in each state and contacts handled (in all), and today's handled and talk time."""
    require_self_or_staff(principal, lawyer_id)
    figures = await queue.lawyer_figures(lawyer_id)
    if figures is None:
        raise _not_found("lawyer")
    return figures | await queue.lawyer_today(lawyer_id)


@router.post("/lawyers/{lawyer_id}/roster-exceptions", status_code=status.HTTP_201_CREATED)
async def add_roster_exception(
    lawyer_id: str, body: RosterExceptionIn, queue: QueueDep, db: DbDep, staff: Staff
) -> LawyerOut:
    """Leave (请假) or extra duty (加班) for a lawyer; audited. A lawyer on leave today
    is offered no contacts; extra duty keeps the hotline open (Lawyer.on_roster)."""
    entry = body.to_exception()
    result = await queue.add_roster_exception(lawyer_id, entry)
    if result == -1:
        raise _not_found("lawyer")
    if result == -2:
        raise _conflict(f"a lawyer has at most {MAX_EXCEPTIONS} leave and extra duty entries")
    if result < 0:
        raise _conflict("try again")  # an id taken: one in 2**48
    await _audit_roster(db, staff, RosterChange.ADD, lawyer_id, entry.summary())
    return await _lawyer_out(queue, lawyer_id)


@router.delete("/lawyers/{lawyer_id}/roster-exceptions/{exception_id}")
async def remove_roster_exception(
    lawyer_id: str, exception_id: str, queue: QueueDep, db: DbDep, staff: Staff
) -> LawyerOut:
    """Take a leave or extra duty entry off a lawyer's roster; audited."""
    current = await queue.store.get_lawyer(lawyer_id)
    if current is None:
        raise _not_found("lawyer")
    entry = next((e for e in current.exceptions if e.id == exception_id), None)
    if entry is None or await queue.remove_roster_exception(lawyer_id, exception_id) != 1:
        raise _not_found("leave or extra duty entry")
    await _audit_roster(db, staff, RosterChange.REMOVE, lawyer_id, entry.summary())
    return await _lawyer_out(queue, lawyer_id)


@router.get("/roster-calendar")
async def roster_calendar(queue: QueueDep, _: Staff) -> dict[str, Any]:
    """The centre's today and its holidays (法定节假日, the week's shifts do not apply),
    for drawing a week of the roster on the centre's calendar, whatever the browser's."""
    return {
        "today": centre_time.today(queue.clock(), queue.tz).isoformat(),
        "holidays": sorted(d.isoformat() for d in queue.settings.holidays),
    }


async def _audit_roster(
    db: Any, staff: Principal, action: RosterChange, lawyer_id: str, entry: str
) -> None:
    now = datetime.now(UTC)
    await in_transaction(
        db, lambda s: record_roster_change(s, staff.subject, action, now, lawyer_id, entry), {}
    )


async def _lawyer_out(queue: QueueService, lawyer_id: str) -> LawyerOut:
    lawyer = await queue.store.get_lawyer(lawyer_id)
    if lawyer is None:
        raise _not_found("lawyer")
    return LawyerOut.of(lawyer)


def _check_languages(queue: QueueService, languages: list[str]) -> None:
    unknown = sorted(set(languages) - set(queue.settings.languages))
    if unknown:
        raise HTTPException(
            422,
            f"languages not served here: {', '.join(unknown)} "
            f"(configured: {', '.join(queue.settings.languages)})",
        )
