"""Every contact into the ledger, from the event stream, exactly once in effect.

The ledger reads `P:events` as the consumer group `ledger`: each web process is
one consumer. A batch is applied in one database transaction and acknowledged
(XACK) only after it committed, so a process killed mid-batch leaves its events
pending; the next consumer to start (or any other, after `claim_idle_s`) claims
them and applies them again. Applying is idempotent: a timeline row is keyed by
the event's stream id, a transcript line by its own stream id, and a contact row
changes only for an event newer than the last one applied to it.

One bad event never halts the ledger. Every event is checked before anything is
written (a caller must be a number, every text fits its column); one that fails,
or that the database still refuses when the batch is retried event by event, is
set aside on the dead-letter stream `P:events:dead` (its id, the reason and its
raw fields), counted, logged by id and reason only, and acknowledged with the
rest. A database that is unreachable or locked is not the event's fault: the
batch stays pending and is tried again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError
from sqlalchemy import select
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from lawline.cases.models import ContactEvent, ContactSearch, LedgerContact, TranscriptLine
from lawline.cases.search import search_body
from lawline.phone_numbers import normalise_number
from lawline.queue.keys import LEDGER_GROUP, QueueKeys
from lawline.transcripts.segments import Hold, Kind, Leg, Segment, TranscriptStatus
from lawline.transcripts.store import TranscriptStore

log = logging.getLogger(__name__)

BATCH = 200
BLOCK_MS = 1000
RETRY_S = 1.0
DEAD_MAXLEN = 100_000  # the dead-letter stream is bounded too (approximately)

Entry = tuple[str, Mapping[str, str]]
# Transcript lines to store with a `transcript.closed` event: (stream id, segment).
Lines = Sequence[tuple[str, Segment]]


@dataclass(frozen=True)
class TranscriptCopy:
    """What a `transcript.closed` event brings from Redis into the ledger."""

    lines: Lines = ()
    recordings: Sequence[str] = ()


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def _stream_key(event_id: str) -> tuple[int, int]:
    ms, _, seq = event_id.partition("-")
    return int(ms), int(seq or 0)


def _when(value: str | float | None) -> datetime | None:
    if value in (None, ""):
        return None
    return datetime.fromtimestamp(float(value), UTC)  # type: ignore[arg-type]


@dataclass(frozen=True)
class _Event:
    """One stream entry, checked and decoded before anything is written."""

    id: str
    key: tuple[int, int]
    type: str
    at: datetime
    reason: str
    cid: str
    lawyer: str | None
    state: str
    values: dict[str, Any]  # the contact's columns as this event saw them
    voicemail: str


class Poison(ValueError):
    """An event the ledger cannot take; the message names the field, never its value."""


# The longest text each contact column holds (lawline/cases/models.py).
_WIDTHS = {
    "id": 64, "channel": 16, "service": 32, "domain": 32, "language": 8, "green": 32,
    "state": 16, "lawyer": 64,
}  # fmt: skip


def _text(c: Mapping[str, Any], name: str, default: str | None = None) -> str:
    value = c[name] if default is None else c.get(name, default)
    if not isinstance(value, str):
        raise Poison(f"{name} is not text")
    if len(value) > _WIDTHS[name]:
        raise Poison(f"{name} is longer than {_WIDTHS[name]} characters")
    return value


def _caller(c: Mapping[str, Any]) -> str:
    raw = c.get("caller", "")
    if not isinstance(raw, str):
        raise Poison("caller is not text")
    try:
        return normalise_number(raw)
    except ValueError as exc:  # its message never repeats the value
        raise Poison(f"caller: {exc}") from None


def _parse(event_id: str, fields: Mapping[str, str]) -> _Event | None:
    """None for an event without a contact; Poison (or KeyError, ValueError...) if it is
    malformed or does not fit the ledger."""
    raw = fields.get("contact")
    if not raw:
        return None
    if len(event_id) > 32:
        raise Poison("the event id is longer than 32 characters")
    if len(fields["type"]) > 40:
        raise Poison("type is longer than 40 characters")
    c: dict[str, Any] = json.loads(raw)
    if not isinstance(c, dict):
        raise Poison("the contact is not an object")
    attrs = json.loads(c.get("attrs") or "{}")
    if not isinstance(attrs, dict):
        raise Poison("the contact's attrs are not an object")
    values = {
        "channel": _text(c, "channel"),
        "service": _text(c, "service"),
        "domain": _text(c, "domain", ""),
        "language": _text(c, "language"),
        "caller": _caller(c),
        "green": _text(c, "green", ""),
        "callback": c.get("callback") == "1",
        "state": _text(c, "state"),
        "entered_at": _when(c["entered_at"]),
        "answered_at": _when(c.get("answered_at")),
        "ended_at": _when(c.get("ended_at")),
        "lawyer": _text(c, "lawyer", "") or None,
        "rating": int(c["rating"]) if c.get("rating") else None,
        "menu_path": str(attrs.get("menu", ""))[:64],
        "origin": _origin(attrs),
        "case_form": json.loads(c["case"]) if c.get("case") else None,
    }
    if fields["type"] in ("contact.ended", "contact.abandoned"):
        values["end_reason"] = fields.get("reason", "")[:100]
    at = _when(fields["at"])
    if at is None or values["entered_at"] is None:
        raise ValueError("an event and its contact need times")
    return _Event(
        id=event_id,
        key=_stream_key(event_id),
        type=fields["type"],
        at=at,
        reason=fields.get("reason", "")[:200],
        cid=_text(c, "id"),
        lawyer=values["lawyer"],
        state=values["state"],
        values=values,
        voicemail=str(attrs.get("voicemail", "")),
    )


def _origin(attrs: Mapping[str, Any]) -> str:
    """The village and township of a contact from a village terminal, else empty."""
    parts = [str(attrs.get(k, "")).strip() for k in ("village", "township")]
    return ", ".join(p for p in parts if p)[:210]


def reject_reason(exc: Exception) -> str:
    """Why an event was set aside, safe to log: our own messages name the field, never
    its value; anything else (a decoder's or the database's message may quote the
    value) is named by its kind only."""
    if isinstance(exc, Poison):
        return str(exc)
    if isinstance(exc, KeyError):
        return f"malformed: no {exc.args[0] if exc.args else 'field'}"[:200]
    return f"malformed ({type(exc).__name__})"


def decode(entries: Sequence[Entry]) -> tuple[list[_Event], list[tuple[str, str]]]:
    """The events to apply, oldest first, and the rejected ones as (event id, reason)."""
    events, rejected = [], []
    for event_id, fields in entries:
        try:
            e = _parse(event_id, fields)
        except Exception as exc:  # decoding is pure: whatever fails is this event's fault
            rejected.append((event_id, reject_reason(exc)))
            continue
        if e is not None:
            events.append(e)
    events.sort(key=lambda e: e.key)
    return events, rejected


def apply_batch(
    session: Session,
    entries: Sequence[Entry],
    copies: Mapping[str, TranscriptCopy] | None = None,
) -> int:
    """Fold stream entries into the ledger in one go (a few queries per batch, not per
    event); returns how many carried a contact. Malformed entries are skipped here: the
    ingester sets them aside before it calls this."""
    return apply_events(session, decode(entries)[0], copies)


def apply_events(
    session: Session,
    events: Sequence[_Event],
    copies: Mapping[str, TranscriptCopy] | None = None,
) -> int:
    """Fold decoded events (oldest first) into the ledger; returns how many."""
    if not events:
        return 0
    ids = {e.cid for e in events}
    known = session.scalars(select(LedgerContact).where(LedgerContact.id.in_(ids)))
    rows = {r.id: r for r in known}
    have = set(
        session.scalars(
            select(ContactEvent.event_id).where(ContactEvent.event_id.in_([e.id for e in events]))
        )
    )
    for e in events:  # the contacts first: the timelines refer to them
        row = rows.get(e.cid)
        if row is None:
            row = rows[e.cid] = LedgerContact(id=e.cid, recordings=[], last_event_id="0-0")
            session.add(row)
        if e.key > _stream_key(row.last_event_id):
            for name, value in e.values.items():
                setattr(row, name, value)
            row.last_event_id = e.id
        if e.voicemail and e.voicemail not in row.recordings:
            row.recordings = [*row.recordings, e.voicemail]  # an after-hours message
        if e.type == "contact.answered" and (
            row.first_answer_event is None or e.key < _stream_key(row.first_answer_event)
        ):
            # First-contact accountability: the lawyer of the earliest answer, whatever
            # order the events arrive in.
            row.first_lawyer, row.first_answer_event = e.lawyer, e.id
    session.flush()  # these tables relate by foreign key only: no ordering by the ORM
    for e in events:
        if e.id not in have:
            have.add(e.id)
            session.add(
                ContactEvent(
                    event_id=e.id,
                    contact_id=e.cid,
                    at=e.at,
                    type=e.type,
                    lawyer=e.lawyer,
                    state=e.state,
                    reason=e.reason,
                )
            )
        copy = (copies or {}).get(e.cid)
        if e.type == "transcript.closed" and copy is not None:
            row = rows[e.cid]
            _store_lines(session, e.cid, copy.lines)
            new = [p for p in copy.recordings if p not in row.recordings]
            if new:
                row.recordings = [*row.recordings, *new]
    return len(events)


def apply_event(
    session: Session,
    event_id: str,
    fields: Mapping[str, str],
    transcript: TranscriptCopy | None = None,
) -> bool:
    """Fold one event into the ledger; False if it carries no contact (nothing to do)."""
    events, _ = decode([(event_id, fields)])
    copies = {e.cid: transcript for e in events} if transcript else None
    return apply_events(session, events, copies) == 1


def _holds(lines: Lines) -> list[tuple[str, Segment]]:
    """The lawyer's holds, and a hold still on when its part of the conversation ended
    (the caller hung up on the music, or the lawyer handed them on) ended there: as the
    `ended` status's entry, in time order whatever order the two processes wrote in."""
    marks = []
    for entry_id, seg in lines:
        if not math.isfinite(seg.start):
            continue
        if seg.kind == Kind.HOLD and seg.text in (Hold.ON, Hold.OFF) and seg.start >= 0:
            marks.append((seg.start, 0, entry_id, seg))
        elif seg.kind == Kind.STATUS and seg.text == TranscriptStatus.ENDED and seg.start > 0:
            marks.append((seg.start, 1, entry_id, seg))  # an older record's has no time
    held, on = [], False
    for t, is_end, entry_id, seg in sorted(marks, key=lambda m: m[:2]):
        if is_end:
            if on:
                held.append((entry_id, Segment(Kind.HOLD, Leg.LAWYER, Hold.OFF, t, t)))
            on = False
        else:
            held.append((entry_id, seg))
            on = seg.text == Hold.ON
    return held


def _store_lines(session: Session, cid: str, lines: Lines) -> None:
    have = set(
        session.scalars(select(TranscriptLine.entry_id).where(TranscriptLine.contact_id == cid))
    )
    spoken = [(i, s) for i, s in lines if s.kind in (Kind.FINAL, Kind.GAP)]
    for entry_id, seg in [*spoken, *_holds(lines)]:
        if entry_id in have:
            continue
        session.add(
            TranscriptLine(
                contact_id=cid,
                entry_id=entry_id,
                kind=seg.kind.value,
                leg=seg.leg.value if seg.leg else "",
                start=seg.start,
                end=seg.end,
                text=seg.text,
            )
        )
    session.flush()
    finals = session.scalars(
        select(TranscriptLine.text)
        .where(TranscriptLine.contact_id == cid, TranscriptLine.kind == Kind.FINAL.value)
        .order_by(TranscriptLine.start)
    )
    body = search_body(finals)
    # The contact's time beside its search text: PostgreSQL's RUM index orders by it.
    contact = session.get(LedgerContact, cid)  # in the session already: no query
    entered_at = contact.entered_at if contact is not None else None
    row = session.get(ContactSearch, cid)
    if row is None:
        session.add(ContactSearch(contact_id=cid, body=body, entered_at=entered_at))
    else:
        if row.body != body:
            row.body = body
        if row.entered_at != entered_at:
            row.entered_at = entered_at


class LedgerIngest:
    """One consumer of the ledger group; `run` until cancelled."""

    def __init__(
        self,
        redis: Redis,
        keys: QueueKeys,
        sessions: sessionmaker[Session],
        transcripts: TranscriptStore,
        consumer: str | None = None,
        claim_idle_s: float = 30.0,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.sessions = sessions
        self.transcripts = transcripts
        self.consumer = consumer or consumer_name()
        self.claim_idle_ms = int(claim_idle_s * 1000)
        self.applied = 0
        self.set_aside = 0
        self._stopping = False

    async def ensure_group(self) -> None:
        try:
            # From the stream's beginning: the ledger takes in what happened before it.
            await self.redis.xgroup_create(self.keys.events, LEDGER_GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def stop(self) -> None:
        """Finish the batch in hand and return from `run` (within BLOCK_MS). Cancelling
        alone is not enough: redis-py can lose a cancel that lands in a blocking read."""
        self._stopping = True

    async def run(self) -> None:
        while not self._stopping:
            try:
                await self.ensure_group()
                await self._consume()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("ledger ingest failed; retrying")
                await asyncio.sleep(RETRY_S)

    async def _consume(self) -> None:
        # Our own pending entries first (a restart under the same name), then new ones;
        # now and then, entries a dead consumer left pending.
        await self._drain_own_pending()
        while not self._stopping:
            await self._claim_abandoned()
            got = await self.redis.xreadgroup(
                LEDGER_GROUP, self.consumer, {self.keys.events: ">"}, count=BATCH, block=BLOCK_MS
            )
            for _, entries in got or []:
                await self.apply(entries)

    async def _drain_own_pending(self) -> None:
        while True:
            got = await self.redis.xreadgroup(
                LEDGER_GROUP, self.consumer, {self.keys.events: "0"}, count=BATCH
            )
            entries = [e for _, es in got or [] for e in es if e[1]]
            if not entries:
                return
            await self.apply(entries)

    async def _claim_abandoned(self) -> None:
        start = "0-0"
        while True:
            nxt, entries, *_ = await self.redis.xautoclaim(
                self.keys.events,
                LEDGER_GROUP,
                self.consumer,
                self.claim_idle_ms,
                start,
                count=BATCH,
            )
            live = [e for e in entries if e[1]]
            if live:
                log.warning(
                    "ledger: taking over events another process left",
                    extra={
                        "count": len(live),
                    },
                )
                await self.apply(live)
            if nxt in ("0-0", b"0-0") or not entries:
                return
            start = nxt

    async def apply(self, entries: Sequence[Entry]) -> None:
        """Apply a batch in one transaction (event by event if the database refuses the
        batch), set aside what cannot be applied, then acknowledge them all."""
        events, rejected = decode(entries)
        copies: dict[str, TranscriptCopy] = {}
        for e in events:
            if e.type == "transcript.closed" and e.cid not in copies:
                meta, _ = await self.transcripts.read(e.cid)
                copies[e.cid] = TranscriptCopy(
                    await self.transcripts.read_entries(e.cid), meta.get("recordings", [])
                )
        rejected += await asyncio.to_thread(self._apply_sync, events, copies)
        if rejected:
            await self._set_aside(entries, rejected)
        await self.redis.xack(self.keys.events, LEDGER_GROUP, *[i for i, _ in entries])
        self.applied += len(entries)

    def _apply_sync(
        self, events: Sequence[_Event], copies: Mapping[str, TranscriptCopy]
    ) -> list[tuple[str, str]]:
        """Apply the batch; if the database refuses it, each event on its own. Returns
        the events it refused for good, with why. A database that cannot be reached or
        is locked refuses nothing for good: that error propagates, the batch stays
        pending and is tried again."""
        try:
            with self.sessions() as session, session.begin():
                apply_events(session, events, copies)
            return []
        except (OperationalError, InterfaceError):
            raise
        except SQLAlchemyError:
            log.warning(
                "ledger: the database refused a batch; applying it event by event",
                extra={"count": len(events)},
            )
        refused = []
        for e in events:
            try:
                with self.sessions() as session, session.begin():
                    apply_events(session, [e], copies)
            except (OperationalError, InterfaceError):
                raise
            except SQLAlchemyError as exc:
                refused.append((e.id, f"the database refused it ({type(exc).__name__})"))
        return refused

    async def _set_aside(
        self, entries: Sequence[Entry], rejected: Sequence[tuple[str, str]]
    ) -> None:
        """Each rejected event to the dead-letter stream, counted, logged without its
        content (it may hold a number or a name)."""
        raw = dict(entries)
        async with self.redis.pipeline(transaction=True) as pipe:
            for event_id, reason in rejected:
                pipe.xadd(
                    self.keys.dead_events,
                    {
                        "event_id": event_id,
                        "reason": reason,
                        "fields": json.dumps(dict(raw[event_id]), ensure_ascii=False),
                    },
                    maxlen=DEAD_MAXLEN,
                    approximate=True,
                )
            pipe.incrby(self.keys.dead_events_count, len(rejected))
            await pipe.execute()
        for event_id, reason in rejected:
            log.warning("ledger: event set aside", extra={"event": event_id, "reason": reason})
        self.set_aside += len(rejected)


async def dead_letter_total(redis: Redis, keys: QueueKeys) -> int:
    """For /metrics: events set aside by the ledger, all processes, since the start."""
    return int(await redis.get(keys.dead_events_count) or 0)
