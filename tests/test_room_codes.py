"""Dialling in to a mediation room: the room's number and a party's PIN open their seat;
a caller who keeps entering wrong codes is stopped before they could try every PIN, and
neither their number nor the codes are kept as they are. Real Redis."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from lawline.telephony.keys import TelephonyKeys
from lawline.telephony.party_wire import CodesBlocked, find_room

KEYS = TelephonyKeys("t")
CALLER, OTHER = "13812345678", "13987654321"


async def open_room(redis: Redis) -> None:
    await redis.hset(
        KEYS.party_room("654321"),
        mapping={"case_id": "20261204-aa", "inbox": "web-1", "pin:000111": "p7"},
    )


async def test_the_right_code_opens_the_seat(redis: Redis) -> None:
    await open_room(redis)
    dial = await find_room(redis, KEYS, "654321", "000111", CALLER)
    assert dial is not None and (dial.case_id, dial.who, dial.inbox) == (
        "20261204-aa",
        "p7",
        "web-1",
    )
    assert dial.number == CALLER


async def test_ten_wrong_codes_an_hour_and_even_the_right_one_is_refused(redis: Redis) -> None:
    await open_room(redis)
    for pin in range(10):
        assert await find_room(redis, KEYS, "654321", f"{pin:06d}", CALLER) is None
    with pytest.raises(CodesBlocked):
        await find_room(redis, KEYS, "654321", "000111", CALLER)
    # Another caller is not held back by this one; the count goes after the hour.
    assert await find_room(redis, KEYS, "654321", "000111", OTHER) is not None
    ttl = await redis.ttl(KEYS.room_code_fails(CALLER))
    assert 3500 < ttl <= 3600
    # What is kept names neither the caller's number nor the codes they tried.
    keys = await redis.keys("*")
    assert not any(CALLER in k or CALLER[-8:] in k for k in keys)


async def test_codes_that_are_not_digits_count_as_wrong(redis: Redis) -> None:
    await open_room(redis)
    assert await find_room(redis, KEYS, "65432*", "000111", CALLER) is None
    assert await redis.get(KEYS.room_code_fails(CALLER)) == "1"
