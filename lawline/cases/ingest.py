"""Every contact into the ledger, from the event stream, exactly once in effect.

The ledger reads `P:events` as the consumer group `ledger`: each web process is
one consumer. A batch is applied in one database transaction and acknowledged
(XACK) only after it committed, so a process killed mid-batch leaves its events
pending; the next consumer to start (or any other, after `claim_idle_s`) claims
them and applies them again. Applying is idempotent: a timeline row is keyed by
the event's stream id, a transcript line by its own stream id, and a contact row
changes only for an event newer than the last one applied to it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lawline.cases.models import ContactEvent, ContactSearch, LedgerContact, TranscriptLine
from lawline.cases.search import search_body
from lawline.transcripts.model import Kind, Segment
from lawline.transcripts.store import TranscriptStore

log = logging.getLogger(__name__)

GROUP = "ledger"
BATCH = 200
BLOCK_MS = 1000
RETRY_S = 1.0

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


def _parse(event_id: str, fields: Mapping[str, str]) -> _Event | None:
    """None for an event without a contact; KeyError/ValueError/TypeError if malformed."""
    raw = fields.get("contact")
    if not raw:
        return None
    c: dict[str, Any] = json.loads(raw)
    attrs = json.loads(c.get("attrs") or "{}")
    values = {
        "channel": str(c["channel"]), "service": str(c["service"]),
        "domain": c.get("domain", ""), "language": str(c["language"]),
        "caller": c.get("caller", ""), "green": c.get("green", ""),
        "callback": c.get("callback") == "1", "state": str(c["state"]),
        "entered_at": _when(c["entered_at"]), "answered_at": _when(c.get("answered_at")),
        "ended_at": _when(c.get("ended_at")), "lawyer": c.get("lawyer") or None,
        "rating": int(c["rating"]) if c.get("rating") else None,
        "menu_path": str(attrs.get("menu", ""))[:64],
        "origin": _origin(attrs),
        "case_form": json.loads(c["case"]) if c.get("case") else None,
    }  # fmt: skip
    if fields["type"] in ("contact.ended", "contact.abandoned"):
        values["end_reason"] = fields.get("reason", "")[:100]
    at = _when(fields["at"])
    if at is None or values["entered_at"] is None:
        raise ValueError("an event and its contact need times")
    return _Event(
        id=event_id, key=_stream_key(event_id), type=fields["type"], at=at,
        reason=fields.get("reason", "")[:200], cid=str(c["id"]), lawyer=values["lawyer"],
        state=values["state"], values=values, voicemail=str(attrs.get("voicemail", "")),
    )  # fmt: skip


def _origin(attrs: Mapping[str, Any]) -> str:
    """The village and township of a contact from a village terminal, else empty."""
    parts = [str(attrs.get(k, "")).strip() for k in ("village", "township")]
    return ", ".join(p for p in parts if p)[:210]


def apply_batch(
    session: Session, entries: Sequence[Entry],
    copies: Mapping[str, TranscriptCopy] | None = None,
) -> int:  # fmt: skip
    """Fold stream entries into the ledger in one go (a few queries per batch, not per
    event); returns how many carried a contact. Malformed entries are logged and skipped."""
    events = []
    for event_id, fields in entries:
        try:
            e = _parse(event_id, fields)
        except (KeyError, ValueError, TypeError):
            # One malformed event must not stop the ledger: skip it, say so.
            log.exception("ledger: event skipped", extra={"event": event_id})
            continue
        if e is not None:
            events.append(e)
    if not events:
        return 0
    events.sort(key=lambda e: e.key)
    ids = {e.cid for e in events}
    known = session.scalars(select(LedgerContact).where(LedgerContact.id.in_(ids)))
    rows = {r.id: r for r in known}
    have = set(session.scalars(
        select(ContactEvent.event_id).where(ContactEvent.event_id.in_([e.id for e in events]))
    ))  # fmt: skip
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
            session.add(ContactEvent(
                event_id=e.id, contact_id=e.cid, at=e.at, type=e.type, lawyer=e.lawyer,
                state=e.state, reason=e.reason,
            ))  # fmt: skip
        copy = (copies or {}).get(e.cid)
        if e.type == "transcript.closed" and copy is not None:
            row = rows[e.cid]
            _store_lines(session, e.cid, copy.lines)
            new = [p for p in copy.recordings if p not in row.recordings]
            if new:
                row.recordings = [*row.recordings, *new]
    return len(events)


def apply_event(
    session: Session, event_id: str, fields: Mapping[str, str],
    transcript: TranscriptCopy | None = None,
) -> bool:  # fmt: skip
    """Fold one event into the ledger; False if it carries no contact (nothing to do)."""
    copies = {json.loads(fields["contact"])["id"]: transcript} if transcript else None
    return apply_batch(session, [(event_id, fields)], copies) == 1


def _store_lines(session: Session, cid: str, lines: Lines) -> None:
    have = set(
        session.scalars(select(TranscriptLine.entry_id).where(TranscriptLine.contact_id == cid))
    )
    for entry_id, seg in lines:
        if entry_id in have or seg.kind not in (Kind.FINAL, Kind.GAP):
            continue
        session.add(TranscriptLine(
            contact_id=cid, entry_id=entry_id, kind=seg.kind.value,
            leg=seg.leg.value if seg.leg else "", start=seg.start, end=seg.end, text=seg.text,
        ))  # fmt: skip
    session.flush()
    finals = session.scalars(
        select(TranscriptLine.text)
        .where(TranscriptLine.contact_id == cid, TranscriptLine.kind == Kind.FINAL.value)
        .order_by(TranscriptLine.start)
    )
    body = search_body(finals)
    row = session.get(ContactSearch, cid)
    if row is None:
        session.add(ContactSearch(contact_id=cid, body=body))
    elif row.body != body:
        row.body = body


class LedgerIngest:
    """One consumer of the ledger group; `run` until cancelled."""

    def __init__(
        self, redis: Redis, events_key: str, sessions: sessionmaker[Session],
        transcripts: TranscriptStore, consumer: str | None = None, claim_idle_s: float = 30.0,
    ) -> None:  # fmt: skip
        self.redis = redis
        self.events_key = events_key
        self.sessions = sessions
        self.transcripts = transcripts
        self.consumer = consumer or consumer_name()
        self.claim_idle_ms = int(claim_idle_s * 1000)
        self.applied = 0
        self._stopping = False

    async def ensure_group(self) -> None:
        try:
            # From the stream's beginning: the ledger takes in what happened before it.
            await self.redis.xgroup_create(self.events_key, GROUP, id="0", mkstream=True)
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
                GROUP, self.consumer, {self.events_key: ">"}, count=BATCH, block=BLOCK_MS
            )
            for _, entries in got or []:
                await self.apply(entries)

    async def _drain_own_pending(self) -> None:
        while True:
            got = await self.redis.xreadgroup(
                GROUP, self.consumer, {self.events_key: "0"}, count=BATCH
            )
            entries = [e for _, es in got or [] for e in es if e[1]]
            if not entries:
                return
            await self.apply(entries)

    async def _claim_abandoned(self) -> None:
        start = "0-0"
        while True:
            nxt, entries, *_ = await self.redis.xautoclaim(
                self.events_key, GROUP, self.consumer, self.claim_idle_ms, start, count=BATCH
            )
            live = [e for e in entries if e[1]]
            if live:
                log.warning("ledger: taking over events another process left", extra={
                    "count": len(live),
                })  # fmt: skip
                await self.apply(live)
            if nxt in ("0-0", b"0-0") or not entries:
                return
            start = nxt

    async def apply(self, entries: Sequence[Entry]) -> None:
        """Apply a batch in one transaction, then acknowledge it."""
        copies: dict[str, TranscriptCopy] = {}
        for _, f in entries:
            if f.get("type") == "transcript.closed" and f.get("contact"):
                cid = json.loads(f["contact"])["id"]
                meta, _ = await self.transcripts.read(cid)
                copies[cid] = TranscriptCopy(
                    await self.transcripts.read_entries(cid), meta.get("recordings", [])
                )
        await asyncio.to_thread(self._apply_sync, entries, copies)
        await self.redis.xack(self.events_key, GROUP, *[i for i, _ in entries])
        self.applied += len(entries)

    def _apply_sync(
        self, entries: Sequence[Entry], copies: Mapping[str, TranscriptCopy]
    ) -> None:
        with self.sessions() as session, session.begin():
            apply_batch(session, entries, copies)
