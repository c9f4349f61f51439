"""The console's statute hints: drawn from the caller's finals as they arrive
(debounced), sent as `hints` frames, each new one recorded with the contact; a hint
pinned into what the citizen was told (`hint_pin`) is checked against the knowledge
base and recorded too.

The text searched is lawline's own transcript of the call in hand, never text from
the browser, so what is recorded as shown is what the lawyer was shown.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session, sessionmaker

from lawline.hints import records
from lawline.hints.conversation import Conversation
from lawline.hints.service import Hint, StatuteHints
from lawline.queue.skills import Domain
from lawline.transcripts.segments import Segment
from lawline.web.db import in_transaction
from lawline.web.socket_loop import BadFrame, Frame

log = logging.getLogger(__name__)

DEBOUNCE_S = 0.8  # finals close together (a caller's run of sentences) make one search
MAX_LAW = 200  # characters: an interpretation's full title is the longest short title
MAX_ARTICLE = 40

Send = Callable[..., Awaitable[None]]


class ConsoleHints:
    """One console's hints, for the call it follows."""

    def __init__(
        self, hints: StatuteHints, db: sessionmaker[Session], lawyer_id: str, send: Send
    ) -> None:
        self._hints = hints
        self._db = db
        self._lawyer = lawyer_id
        self._send = send
        self._conversation: Conversation | None = None
        self._domain: Domain | None = None
        self._pending: asyncio.Task[None] | None = None

    def follow(self, contact_id: str, domain: Domain | None) -> None:
        """A call's transcript starts (again, after a reload: the backlog follows)."""
        if self._conversation is None or self._conversation.contact_id != contact_id:
            if self._pending is not None:
                self._pending.cancel()  # the last call's hints would come after this one's
            self._conversation = Conversation(contact_id)
        self._domain = domain

    def heard(self, contact_id: str, segment: Segment | dict[str, Any]) -> None:
        """A transcript segment of the call followed (as stored, or as published)."""
        if isinstance(segment, dict):
            try:
                segment = Segment.from_json(segment)
            except (KeyError, TypeError, ValueError):
                return
        c = self._conversation
        if c is None or c.contact_id != contact_id or not c.heard(segment):
            return
        if self._pending is not None:
            self._pending.cancel()
        self._pending = asyncio.get_running_loop().create_task(self._after_pause(c))

    async def stop(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            await asyncio.gather(self._pending, return_exceptions=True)

    async def _after_pause(self, c: Conversation) -> None:
        found = await hints_after_pause(self._hints, self._db, c, self._lawyer, self._domain)
        if found is not None:
            await self._send("hints", contact_id=c.contact_id, hints=[hint_json(h) for h in found])

    async def pin(self, frame: Frame, is_mine: Callable[[str], Awaitable[bool]]) -> None:
        """`hint_pin {contact_id, law, article}`: into what the citizen was told."""
        cid = frame.get("contact_id")
        law, article = frame.get("law"), frame.get("article")
        if not isinstance(cid, str) or not cid or len(cid) > 64:
            raise BadFrame("'hint_pin' needs a 'contact_id' string")
        if not isinstance(law, str) or not isinstance(article, str):
            raise BadFrame("'hint_pin' needs 'law' and 'article' strings")
        if not 0 < len(law) <= MAX_LAW or not 0 < len(article) <= MAX_ARTICLE:
            raise BadFrame("'hint_pin': no such article")
        if not await is_mine(cid):
            await self._send(
                "result", request="hint_pin", ok=False, message="this contact is not yours"
            )
            return

        def work(session: Session) -> tuple[str, str] | None:
            found = records.find_article(session, law, article)
            if found is not None:
                records.record(session, cid, self._lawyer, "pinned", [(law, article, 0.0)], _now())
            return found

        found = await in_transaction(self._db, work, {})
        if found is None:
            await self._send("result", request="hint_pin", ok=False, message="no such article")
            return
        title, text = found
        pinned = {
            "law": law,
            "article": article,
            "citation": f"《{law}》{article}",
            "title": title,
            "text": text,
        }
        await self._send("hint_pinned", contact_id=cid, hint=pinned)
        await self._send("result", request="hint_pin", ok=True, message="")


async def hints_after_pause(
    hints: StatuteHints,
    db: sessionmaker[Session],
    c: Conversation,
    shown_to: str,
    domain: Domain | None,
) -> list[Hint] | None:
    """After a pause in what the conversation said (a run of finals makes one search):
    its hints, the new ones kept `shown` under its id; None if the search failed. The
    console's and the mediator's room's alike."""
    await asyncio.sleep(DEBOUNCE_S)
    try:
        found = await run_in_threadpool(hints.suggest, c.said, domain)
    except Exception:
        log.exception("statute hints failed")
        return None
    fresh = c.new((h.law, h.article) for h in found)
    if fresh:
        shown = [(h.law, h.article, h.score) for h in found if (h.law, h.article) in fresh]

        def work(session: Session) -> None:
            records.record(session, c.contact_id, shown_to, "shown", shown, _now())

        try:
            await in_transaction(db, work, {})
        except Exception:
            log.exception("hints shown were not recorded")
    return found


def hint_json(h: Hint) -> dict[str, Any]:
    return {
        "law": h.law,
        "article": h.article,
        "citation": h.citation,
        "title": h.title,
        "chapter": h.chapter,
        "text": h.text,
        "spoken": h.spoken,
    }


def _now() -> datetime:
    return datetime.now(UTC)
