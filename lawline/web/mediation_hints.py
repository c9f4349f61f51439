"""Statute hints in the mediator's room: drawn from every party's finals as the room's
transcript recognises them (mediation/record.py), debounced as in the console, sent to
the mediator's seat as `hints`, each new one recorded with the mediation (table
`contact_hints`, the case number in place of a contact, the mediator as who was shown).

The mediator's own words are left out: the hints follow what the parties say the
dispute is, as the console's follow the caller.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from lawline.hints.conversation import Conversation
from lawline.hints.service import StatuteHints
from lawline.queue.skills import Domain
from lawline.transcripts.segments import Leg, Segment
from lawline.web.console_hints import hint_json, hints_after_pause

log = logging.getLogger(__name__)
PARTIES = (Leg.APPLICANT, Leg.RESPONDENT, Leg.THIRD_PARTY)
Tell = Callable[[dict[str, Any]], Awaitable[None]]


class RoomHints:
    def __init__(self, hints: StatuteHints, db: sessionmaker[Session]) -> None:
        self._hints = hints
        self._db = db
        self._rooms: dict[str, Conversation] = {}
        self._pending: dict[str, asyncio.Task[None]] = {}

    def heard(self, case_id: str, mediator: str, domain: str, seg: Segment, tell: Tell) -> None:
        """A segment of the room's transcript; a party's final searches again, after a
        pause (a run of sentences makes one search)."""
        c = self._rooms.setdefault(case_id, Conversation(case_id, PARTIES))
        if not c.heard(seg):
            return
        pending = self._pending.get(case_id)
        if pending is not None:
            pending.cancel()
        area = Domain(domain) if domain in {d.value for d in Domain} else None
        task = asyncio.get_running_loop().create_task(self._after_pause(c, mediator, area, tell))
        self._pending[case_id] = task

    def forget(self, case_id: str) -> None:
        """The room closed."""
        self._rooms.pop(case_id, None)
        pending = self._pending.pop(case_id, None)
        if pending is not None:
            pending.cancel()

    async def _after_pause(
        self, c: Conversation, mediator: str, domain: Domain | None, tell: Tell
    ) -> None:
        found = await hints_after_pause(self._hints, self._db, c, mediator, domain)
        if found is None:
            return
        frame = {"type": "hints", "case_id": c.contact_id, "hints": [hint_json(h) for h in found]}
        try:
            await tell(frame)
        except Exception:
            log.info("hints could not be shown", extra={"case": c.contact_id})
