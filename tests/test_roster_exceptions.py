"""Leave (请假), extra duty (加班) and the centre's holidays on the duty roster: the model
with time passed in, the router (a lawyer on leave is offered nothing), the Redis
scripts, and the admins' API with its audit trail."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from lawline.cases.models import AuditEntry
from lawline.config import Settings
from lawline.queue.model import (
    MAX_EXCEPTIONS,
    ExceptionKind,
    Lawyer,
    RosterError,
    RosterException,
    Shift,
)
from lawline.queue.roster import hotline_open
from lawline.queue.routing import Offer, Router
from lawline.queue.settings import RoutingSettings
from lawline.queue.skills import LawyerState, Presence
from lawline.web.auth import Role
from tests.lawline_server import Running, running_lawline
from tests.queue_helpers import FakeClock, contact, harness, lawyer

TZ = ZoneInfo("Asia/Shanghai")
WEEKDAYS = Shift(frozenset(range(5)), time(8, 30), time(17, 30))
LEAVE, EXTRA = ExceptionKind.LEAVE, ExceptionKind.EXTRA


def at(text: str) -> float:
    """A Beijing local time, as the epoch seconds lawline passes around."""
    return datetime.fromisoformat(text).replace(tzinfo=TZ).timestamp()


def entry(
    kind: ExceptionKind,
    first: str,
    last: str | None = None,
    start: str | None = None,
    end: str | None = None,
    entry_id: str = "e1",
) -> RosterException:
    return RosterException(
        id=entry_id,
        kind=kind,
        first=date.fromisoformat(first),
        last=date.fromisoformat(last or first),
        start=time.fromisoformat(start) if start else None,
        end=time.fromisoformat(end) if end else None,
    )


# ----- the model ----------------------------------------------------------------------

# 2026-11-23 is a Monday.


def test_leave_on_a_day_with_a_weekly_shift_is_off_duty() -> None:
    lw = Lawyer(id="a", roster=(WEEKDAYS,), exceptions=(entry(LEAVE, "2026-11-24"),))
    assert lw.on_roster(at("2026-11-23T10:00"), TZ)
    assert not lw.on_roster(at("2026-11-24T10:00"), TZ)  # the leave day
    assert lw.on_roster(at("2026-11-25T10:00"), TZ)
    assert lw.on_leave(date(2026, 11, 24)) and not lw.on_leave(date(2026, 11, 25))


def test_a_leave_range_covers_every_day_from_first_to_last() -> None:
    lw = Lawyer(id="a", roster=(WEEKDAYS,), exceptions=(entry(LEAVE, "2026-11-24", "2026-11-26"),))
    assert [lw.on_roster(at(f"2026-11-{d}T09:00"), TZ) for d in range(23, 28)] == [
        True,
        False,
        False,
        False,
        True,
    ]
    # Whole days on the centre's calendar: just after midnight is already leave.
    assert not lw.on_leave(date(2026, 11, 23))
    assert lw.on_leave(datetime.fromtimestamp(at("2026-11-24T00:00"), TZ).date())


def test_extra_duty_outside_the_shifts_is_on_duty() -> None:
    evening = entry(EXTRA, "2026-11-23", start="18:00", end="21:00")
    saturday = entry(EXTRA, "2026-11-28", entry_id="e2")  # all day
    lw = Lawyer(id="a", roster=(WEEKDAYS,), exceptions=(evening, saturday))
    assert not lw.on_roster(at("2026-11-23T17:45"), TZ)
    assert lw.on_roster(at("2026-11-23T18:00"), TZ)
    assert lw.on_roster(at("2026-11-23T20:59"), TZ)
    assert not lw.on_roster(at("2026-11-23T21:00"), TZ)
    assert not lw.on_roster(at("2026-11-24T19:00"), TZ)  # only on its day
    assert lw.on_roster(at("2026-11-28T03:00"), TZ)
    assert not lw.on_roster(at("2026-11-29T03:00"), TZ)


def test_leave_wins_over_extra_duty_on_the_same_day() -> None:
    lw = Lawyer(
        id="a", exceptions=(entry(EXTRA, "2026-11-28"), entry(LEAVE, "2026-11-28", entry_id="e2"))
    )
    assert not lw.on_roster(at("2026-11-28T10:00"), TZ)


def test_on_a_holiday_only_extra_duty_counts() -> None:
    national_day = frozenset({date(2026, 10, 1), date(2026, 10, 2)})  # Thursday, Friday
    rostered = Lawyer(id="a", roster=(WEEKDAYS,))
    on_holiday_duty = Lawyer(
        id="b", roster=(WEEKDAYS,), exceptions=(entry(EXTRA, "2026-10-01", "2026-10-02"),)
    )
    assert rostered.on_roster(at("2026-10-01T10:00"), TZ)
    assert not rostered.on_roster(at("2026-10-01T10:00"), TZ, national_day)
    assert on_holiday_duty.on_roster(at("2026-10-01T10:00"), TZ, national_day)
    lawyers = [rostered, on_holiday_duty]
    assert hotline_open(lawyers, at("2026-10-02T10:00"), TZ, False, national_day)
    assert not hotline_open([rostered], at("2026-10-02T10:00"), TZ, False, national_day)
    assert hotline_open([rostered], at("2026-10-05T10:00"), TZ, False, national_day)  # Monday


def test_a_centre_with_only_extra_duty_entered_has_a_roster() -> None:
    only_extra = Lawyer(id="a", exceptions=(entry(EXTRA, "2026-11-28"),))
    assert only_extra.rostered and not Lawyer(id="b").rostered
    assert not hotline_open([only_extra], at("2026-11-27T10:00"), TZ, open_without_roster=True)
    assert hotline_open([only_extra], at("2026-11-28T10:00"), TZ, open_without_roster=True)


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"first": "2026-11-25", "last": "2026-11-24"}, "before the first"),
        ({"first": "2026-01-01", "last": "2026-12-31"}, "at most 92 days"),
        ({"first": "1999-12-31"}, "dates must be between"),
        ({"kind": LEAVE, "start": "09:00", "end": "12:00"}, "whole days"),
        ({"start": "21:00", "end": "18:00"}, "end after it starts"),
        ({"start": "18:00", "end": "18:00"}, "end after it starts"),
        ({"start": "18:00"}, "both start and end"),
    ],
)
def test_bad_entries_are_refused_saying_why(kwargs: dict[str, object], says: str) -> None:
    args: dict[str, object] = {"kind": EXTRA, "first": "2026-11-24"} | kwargs
    with pytest.raises(RosterError, match=says):
        entry(**args)  # type: ignore[arg-type]


def test_exceptions_round_trip_through_the_lawyers_hash() -> None:
    leave = RosterException("e1", LEAVE, date(2026, 11, 24), date(2026, 11, 26), reason="病假")
    lw = Lawyer(
        id="a",
        roster=(WEEKDAYS,),
        exceptions=(leave, entry(EXTRA, "2026-11-28", start="08:00", end="12:00", entry_id="e2")),
    )
    back = Lawyer.from_hash(lw.to_hash())
    assert back.exceptions == lw.exceptions
    assert "病假" in lw.to_hash()["exceptions"]
    # Written by Lua's cjson, an emptied list may read as an object; older hashes lack it.
    assert Lawyer.from_hash({"id": "a", "exceptions": "{}"}).exceptions == ()
    assert Lawyer.from_hash({"id": "a"}).exceptions == ()
    assert "病假" not in leave.summary() and "2026-11-24..2026-11-26" in leave.summary()


# ----- the router ---------------------------------------------------------------------


def _on_duty(lw: Lawyer, *exceptions: RosterException) -> Lawyer:
    return lw.with_changes(
        presence=Presence.AVAILABLE, state=LawyerState.AVAILABLE, exceptions=exceptions
    )


def test_a_lawyer_on_leave_today_is_offered_nothing_until_the_leave_is_over() -> None:
    router = Router(RoutingSettings(), TZ)
    now = at("2026-11-24T23:59")
    router.advance(now)
    router.upsert_lawyer(_on_duty(lawyer("a"), entry(LEAVE, "2026-11-24")))
    router.upsert_contact(contact("c1", now - 5))
    assert router.plan(now) == []
    assert router.staffed(("voice", "zh", "consultation")) == 0  # type: ignore[arg-type]
    assert router.best_contact_for(router.lawyers["a"], now) is None
    assert not router.eligible(router.lawyers["a"], router.contacts["c1"], now)
    # Midnight on the centre's calendar: the leave is over without any event.
    assert router.plan(at("2026-11-25T00:00")) == [Offer("c1", "a")]


def test_leave_starting_at_midnight_takes_a_free_lawyer_out_of_routing() -> None:
    router = Router(RoutingSettings(), TZ)
    router.advance(at("2026-11-23T23:00"))
    router.upsert_lawyer(_on_duty(lawyer("a"), entry(LEAVE, "2026-11-24")))
    router.upsert_lawyer(_on_duty(lawyer("b")))
    router.upsert_contact(contact("c1", at("2026-11-24T00:10")))
    assert router.plan(at("2026-11-24T00:10")) == [Offer("c1", "b")]


# ----- the store: one entry at a time, atomic, in every process at once ---------------


async def test_entries_are_added_and_removed_and_the_router_follows(
    clean_redis_url: str,
) -> None:
    clock = FakeClock(at("2026-11-24T10:00"))
    async with harness(clean_redis_url, clock=clock) as h:
        service = h.service
        assert await service.create_lawyer(lawyer("a"))
        leave = entry(LEAVE, "2026-11-24", entry_id="today")
        assert await service.add_roster_exception("a", leave) == 1
        assert await service.add_roster_exception("a", leave) == -3  # the id is taken
        assert await service.add_roster_exception("nobody", leave) == -1
        await service.resync()  # as a process starting now would see it
        assert service.router.lawyers["a"].exceptions == (leave,)
        assert await service.set_presence("a", Presence.AVAILABLE) == 1
        assert await service.add_contact(contact("c1", clock()))
        await service.resync()
        assert await service.route_once() == []  # on leave: not offered

        assert await service.remove_roster_exception("a", "today") == 1
        assert await service.remove_roster_exception("a", "today") == 0
        assert await service.remove_roster_exception("nobody", "today") == -1
        stored = await service.store.get_lawyer_hash("a")
        assert stored["exceptions"] == "[]"
        await service.resync()
        assert await service.route_once() == [Offer("c1", "a")]


async def test_at_most_so_many_entries_and_old_ones_make_room(clean_redis_url: str) -> None:
    clock = FakeClock(at("2026-11-24T10:00"))
    async with harness(clean_redis_url, clock=clock) as h:
        service = h.service
        assert await service.create_lawyer(lawyer("a"))
        for n in range(MAX_EXCEPTIONS):
            day = "2026-09-01" if n == 0 else "2026-12-01"  # one long past
            assert await service.add_roster_exception("a", entry(EXTRA, day, entry_id=f"e{n}")) == 1
        extra = entry(EXTRA, "2026-12-02", entry_id="more")
        # The one from September ended more than a month ago: it goes, the new one fits.
        assert await service.add_roster_exception("a", extra) == 1
        assert (
            await service.add_roster_exception("a", entry(EXTRA, "2026-12-03", entry_id="x")) == -2
        )
        got = await service.store.get_lawyer("a")
        assert got is not None and len(got.exceptions) == MAX_EXCEPTIONS
        assert "e0" not in {e.id for e in got.exceptions}


# ----- the admins' API ----------------------------------------------------------------


@pytest.fixture
async def lawline(clean_redis_url: str, tmp_path: Path) -> AsyncIterator[Running]:
    settings = Settings(data_dir=tmp_path, secret_key="test-secret", holidays=[date(2026, 10, 1)])
    async with running_lawline(settings, clean_redis_url) as running:
        yield running


async def test_staff_add_and_remove_leave_through_the_api_audited(lawline: Running) -> None:
    body = {"id": "wang", "name": "王律师", "services": {"consultation": 3}}
    async with lawline.client("boss", Role.SUPERVISOR) as http:
        assert (await http.post("/api/lawyers", json=body)).status_code == 201
        url = "/api/lawyers/wang/roster-exceptions"
        leave = {"kind": "leave", "first": "2026-11-24", "last": "2026-11-25", "reason": "病假"}
        r = await http.post(url, json=leave)
        assert r.status_code == 201, r.text
        [added] = r.json()["exceptions"]
        assert added["kind"] == "leave" and added["last"] == "2026-11-25"
        extra = {"kind": "extra", "first": "2026-11-28", "start": "18:00", "end": "21:00"}
        r = await http.post(url, json=extra)
        assert r.status_code == 201 and len(r.json()["exceptions"]) == 2

        # Refused, saying why.
        bad = {"kind": "extra", "first": "2026-11-28", "start": "21:00", "end": "18:00"}
        r = await http.post(url, json=bad)
        assert r.status_code == 422 and "end after it starts" in r.text
        r = await http.post(
            url, json={"kind": "leave", "first": "2026-11-28", "last": "2026-11-27"}
        )
        assert r.status_code == 422 and "before the first" in r.text
        assert (
            await http.post("/api/lawyers/nobody/roster-exceptions", json=leave)
        ).status_code == 404

        r = await http.delete(f"{url}/{added['id']}")
        assert r.status_code == 200 and [e["kind"] for e in r.json()["exceptions"]] == ["extra"]
        assert (await http.delete(f"{url}/{added['id']}")).status_code == 404

        calendar = (await http.get("/api/roster-calendar")).json()
        assert calendar["holidays"] == ["2026-10-01"]
        assert date.fromisoformat(calendar["today"])

    # A lawyer cannot enter their own leave.
    async with lawline.client("wang", Role.LAWYER) as http:
        assert (await http.post(url, json=leave)).status_code == 403
        assert (await http.delete(f"{url}/x")).status_code == 403

    with lawline.app.state.db() as session:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.action.like("roster.%")).order_by(AuditEntry.id)
        ).all()
    assert [(r.actor, r.action) for r in rows] == [
        ("boss", "roster.exception.add"),
        ("boss", "roster.exception.add"),
        ("boss", "roster.exception.remove"),
    ]
    assert rows[0].detail == f"lawyer wang leave 2026-11-24..2026-11-25 ({added['id']})"
    assert all("病假" not in r.detail and "王" not in r.detail for r in rows)


# ----- the command line ---------------------------------------------------------------


def test_the_command_line_adds_lists_and_removes_entries(
    clean_redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from redis.asyncio import Redis
    from typer.testing import CliRunner

    from lawline.cli import app
    from lawline.queue.store import QueueStore

    async def create() -> None:
        redis = Redis.from_url(clean_redis_url, decode_responses=True)
        assert await QueueStore(redis).create_lawyer(lawyer("a"), 0.0)
        await redis.aclose()

    asyncio.run(create())
    monkeypatch.setenv("LAWLINE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LAWLINE_REDIS_URL", clean_redis_url)
    cli = CliRunner()
    done = cli.invoke(app, ["roster", "leave", "a", "2026-11-24", "2026-11-25", "--reason", "事假"])
    assert done.exit_code == 0, done.output
    done = cli.invoke(
        app, ["roster", "extra", "a", "2026-11-28", "--start", "18:00", "--end", "21:00"]
    )
    assert done.exit_code == 0, done.output
    bad = cli.invoke(
        app, ["roster", "extra", "a", "2026-11-28", "--start", "21:00", "--end", "18:00"]
    )
    assert bad.exit_code == 1 and "end after it starts" in bad.output
    assert cli.invoke(app, ["roster", "leave", "nobody", "2026-11-24"]).exit_code == 1

    listed = cli.invoke(app, ["roster", "list", "a"])
    lines = [line.split("\t") for line in listed.output.splitlines()]
    assert [(k, first, last, times) for _, k, first, last, times, _ in lines] == [
        ("leave", "2026-11-24", "2026-11-25", "all day"),
        ("extra", "2026-11-28", "2026-11-28", "18:00-21:00"),
    ]
    done = cli.invoke(app, ["roster", "remove", "a", lines[0][0]])
    assert done.exit_code == 0, done.output
    assert len(cli.invoke(app, ["roster", "list", "a"]).output.splitlines()) == 1
    assert cli.invoke(app, ["roster", "remove", "a", lines[0][0]]).exit_code == 1
