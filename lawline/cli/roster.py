"""`lawline roster`: a lawyer's leave (请假) and extra duty (加班) on given days.

The same checks and the same Redis scripts as the admins' page (POST and DELETE
/api/lawyers/{id}/roster-exceptions): in force in every running process at once,
and audited (actor `cli`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import date, time
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from lawline.cli.output import fail
from lawline.cli.stores import database, redis_url

if TYPE_CHECKING:
    from lawline.config import Settings
    from lawline.queue.model import ExceptionKind
    from lawline.queue.service import QueueService

app = typer.Typer(
    help="A lawyer's leave and extra duty on given days: add, list, remove.",
    no_args_is_help=True,
)

T = TypeVar("T")
ACTOR = "cli"
LawyerId = Annotated[str, typer.Argument(help="The lawyer's id.")]
First = Annotated[str, typer.Argument(help="The first day, YYYY-MM-DD (the centre's calendar).")]
Last = Annotated[str | None, typer.Argument(help="The last day; omit for one day.")]
Reason = Annotated[str, typer.Option(help="Why (kept with the entry, not in the audit trail).")]


def _run(settings: Settings, work: Callable[[QueueService], Awaitable[T]]) -> T:
    """Run `work` against the running hotline's queue (exit 2 if Redis is unreachable)."""
    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    from lawline.queue.service import QueueService
    from lawline.queue.store import QueueStore

    url = redis_url(settings)
    if url is None:
        fail("cannot reach lawline's Redis: set LAWLINE_REDIS_URL (redis_url)", 2)

    async def go() -> T:
        redis = Redis.from_url(url, decode_responses=True)
        try:
            return await work(QueueService(QueueStore(redis, settings.redis_prefix), settings))
        finally:
            await redis.aclose()

    try:
        return asyncio.run(go())
    except RedisError as exc:
        fail(f"cannot reach lawline's Redis: {exc}", 2)


def _add(
    lawyer_id: str,
    kind: ExceptionKind,
    first: str,
    last: str | None,
    start: str | None,
    end: str | None,
    reason: str,
) -> None:
    from datetime import UTC, datetime

    from pydantic import ValidationError

    from lawline.cases.audit import RosterChange, record_roster_change
    from lawline.config import Settings
    from lawline.queue.model import MAX_EXCEPTIONS
    from lawline.web.schemas.queue import RosterExceptionIn

    try:
        body = RosterExceptionIn(
            kind=kind,
            first=date.fromisoformat(first),
            last=date.fromisoformat(last) if last else None,
            start=time.fromisoformat(start) if start else None,
            end=time.fromisoformat(end) if end else None,
            reason=reason,
        )
    except (ValueError, ValidationError) as exc:
        fail(exc)
    entry = body.to_exception()
    settings = Settings()
    result = _run(settings, lambda q: q.add_roster_exception(lawyer_id, entry))
    if result == -1:
        fail(f"no lawyer {lawyer_id}")
    if result == -2:
        fail(f"a lawyer has at most {MAX_EXCEPTIONS} entries: remove some first")
    if result < 0:
        fail("try again")
    now = datetime.now(UTC)
    with database(settings)() as session, session.begin():
        record_roster_change(session, ACTOR, RosterChange.ADD, now, lawyer_id, entry.summary())
    typer.echo(f"{lawyer_id}: {entry.summary()}")


@app.command("leave")
def add_leave(lawyer_id: LawyerId, first: First, last: Last = None, reason: Reason = "") -> None:
    """Leave (请假) on these days: not on duty and offered no contacts, whatever the
    week's shifts say."""
    from lawline.queue.model import ExceptionKind

    _add(lawyer_id, ExceptionKind.LEAVE, first, last, None, None, reason)


@app.command("extra")
def add_extra(
    lawyer_id: LawyerId,
    first: First,
    last: Last = None,
    start: Annotated[str | None, typer.Option(help="HH:MM; omit for all day.")] = None,
    end: Annotated[str | None, typer.Option(help="HH:MM, after the start.")] = None,
    reason: Reason = "",
) -> None:
    """Extra duty (加班/调班) on these days, outside the week's shifts (on a holiday,
    the holiday's duty)."""
    from lawline.queue.model import ExceptionKind

    _add(lawyer_id, ExceptionKind.EXTRA, first, last, start, end, reason)


@app.command("list")
def list_exceptions(lawyer_id: LawyerId) -> None:
    """The lawyer's leave and extra duty: id, kind, days, times, reason."""
    from lawline.config import Settings

    lawyer = _run(Settings(), lambda q: q.store.get_lawyer(lawyer_id))
    if lawyer is None:
        fail(f"no lawyer {lawyer_id}")
    for e in sorted(lawyer.exceptions, key=lambda e: (e.first, e.start or time())):
        times = f"{e.start:%H:%M}-{e.end:%H:%M}" if e.start and e.end else "all day"
        typer.echo(f"{e.id}\t{e.kind}\t{e.first}\t{e.last}\t{times}\t{e.reason}")


@app.command("remove")
def remove_exception(
    lawyer_id: LawyerId,
    entry_id: Annotated[str, typer.Argument(help="The entry's id (lawline roster list).")],
) -> None:
    """Take a leave or extra duty entry off the lawyer's roster."""
    from datetime import UTC, datetime

    from lawline.cases.audit import RosterChange, record_roster_change
    from lawline.config import Settings

    settings = Settings()

    async def remove(q: QueueService) -> str | None:
        lawyer = await q.store.get_lawyer(lawyer_id)
        entry = next((e for e in lawyer.exceptions if e.id == entry_id), None) if lawyer else None
        if entry is None or await q.remove_roster_exception(lawyer_id, entry_id) != 1:
            return None
        return entry.summary()

    summary = _run(settings, remove)
    if summary is None:
        fail(f"lawyer {lawyer_id} has no entry {entry_id}")
    with database(settings)() as session, session.begin():
        record_roster_change(
            session, ACTOR, RosterChange.REMOVE, datetime.now(UTC), lawyer_id, summary
        )
    typer.echo(f"{lawyer_id}: removed {summary}")
