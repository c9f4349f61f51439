"""A mediation party by phone: the mediator rings them from the room, a real telephony
worker dials out through the trunk to a pjsua2 softphone, the party hears the invitation
and presses 1, and from then they and the mediator (an aiortc peer in the mediator's
seat, joined over the room's socket as the page joins) hear each other and not
themselves. The mediator mutes and removes the party as a browser party; a party who
hangs up leaves an empty seat and the room goes on. Tones tell who hears whom."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from lawline.config import Settings
from lawline.telephony.keys import TelephonyKeys
from lawline.web.auth import Role
from tests.lawline_server import Running, next_frame, running_lawline
from tests.phone_party import PhoneParty
from tests.ports import free_sip_port
from tests.sip_helpers import Worker, telephony_worker
from tests.test_bridge import clean_tone, make_tone, share
from tests.test_mediation_room import Peer, janus_rooms, new_mediation

pytestmark = pytest.mark.usefixtures("media")

MEDIATOR_HZ, PHONE_HZ, LINK_HZ = 440, 1800, 1200
NUMBER = "13900139000"
PARTIES = [
    {"name": "李桂兰", "role": "applicant", "reach": "link"},
    {"name": "张建国", "role": "respondent", "reach": "phone", "phone": NUMBER},
]


@pytest.fixture
async def lawline(clean_redis_url: str, tmp_path: Path) -> AsyncIterator[Running]:
    settings = Settings(data_dir=tmp_path, secret_key="test-secret")
    async with running_lawline(settings, clean_redis_url) as running:
        yield running


async def seat_until(
    desk: Any, who: str, check: Callable[[dict[str, Any]], bool], timeout_s: float = 30
) -> dict[str, Any]:
    """Read `participants` frames until the seat passes `check`; that seat."""
    deadline = time.monotonic() + timeout_s
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"seat {who} never got there"
        frame = await next_frame(desk, "participants", timeout=left)
        seat = next(p for p in frame["participants"] if p["who"] == who)
        if check(seat):
            return seat


async def send(desk: Any, **frame: Any) -> dict[str, Any]:
    """A request to the room; its `result`, with the seats as the last `participants`
    before it showed them (`seats`, by seat)."""
    await desk.send(json.dumps(frame))
    seats: dict[str, Any] = {}
    while True:
        got = json.loads(await asyncio.wait_for(desk.recv(), 10))
        if got["type"] == "participants":
            seats = {p["who"]: p for p in got["participants"]}
        elif got["type"] == "result":
            return {**got, "seats": seats}


@dataclass
class PhoneRoom:
    desk: Any  # the mediator's socket
    cid: str
    seats: dict[str, str]  # party name -> seat
    mediator: Peer  # in the room, saying MEDIATOR_HZ
    worker: Worker
    dial_in: str  # the room's number, for parties dialling in
    pins: dict[str, str]  # party name -> PIN
    tokens: dict[str, str]  # party name -> their link's token


@asynccontextmanager
async def phone_room(
    lawline: Running,
    tmp: Path,
    redis_url: str,
    prompts_dir: Path,
    phone: PhoneParty | None,
    mediator_says: Path | None = None,
) -> AsyncIterator[PhoneRoom]:
    """A mediation of PARTIES with its room open and the mediator in it (saying
    MEDIATOR_HZ, or `mediator_says`), and a telephony worker whose trunk reaches `phone`."""
    mediator = Peer(mediator_says or make_tone(tmp / "mediator.wav", MEDIATOR_HZ, 48000))
    cid = await new_mediation(lawline, PARTIES)
    trunk = {"LAWLINE_TELEPHONY__TRUNK": f"127.0.0.1:{phone.port}"} if phone else {}
    try:
        with telephony_worker(tmp, redis_url, prompts_dir, **trunk) as w:
            async with lawline.websocket("/api/mediation/ws", "liu", Role.MEDIATOR) as desk:
                await desk.send(json.dumps({"type": "room_open", "case_id": cid}))
                room = await next_frame(desk, "room")
                seats = {x["name"]: x["who"] for x in room["links"]}
                pins = {x["name"]: x["pin"] for x in room["links"]}
                tokens = {x["name"]: x["token"] for x in room["links"]}
                await mediator.join(desk, case_id=cid)
                yield PhoneRoom(desk, cid, seats, mediator, w, room["dial_in"], pins, tokens)
    finally:
        await mediator.close()
        if phone is not None and phone.proc.poll() is None:
            phone.proc.kill()


async def test_a_party_dialled_out_presses_1_and_talks_with_the_room_until_removed(
    lawline: Running, tmp_path: Path, clean_redis_url: str, prompts_dir: Path
) -> None:
    phone = PhoneParty(tmp_path, make_tone(tmp_path / "phone.wav", PHONE_HZ, 16000))
    async with phone_room(lawline, tmp_path, clean_redis_url, prompts_dir, phone) as room:
        desk, cid, mediator = room.desk, room.cid, room.mediator
        seat, link_seat = room.seats["张建国"], room.seats["李桂兰"]
        # A party with no number cannot be rung.
        refused = await send(desk, type="dial", case_id=cid, who=link_seat)
        assert not refused["ok"] and "电话" in refused["message"]

        assert (await send(desk, type="dial", case_id=cid, who=seat))["ok"]
        # The mediator sees the phone ring, then the party in the room.
        await seat_until(desk, seat, lambda s: s["dial"] in ("ringing", "answered"))
        joined = await seat_until(desk, seat, lambda s: s["dial"] == "in_room")
        assert joined["joined"] and joined["present"]
        await mediator.until(hears={PHONE_HZ}, not_hears={MEDIATOR_HZ})
        # Their seat shows them speaking (their voice, a tone here, is loud on the line).
        speaking = await next_frame(desk, "speaking", timeout=10)
        assert (speaking["who"], speaking["on"]) == (seat, True)
        t0 = time.monotonic()
        await asyncio.sleep(2.5)  # a stretch to judge what the phone heard, after
        t1 = time.monotonic()

        # Muted, the party is heard by no one; unmuted, again.
        muted = await send(desk, type="mute", case_id=cid, who=seat, muted=True)
        assert muted["ok"]
        await mediator.until(hears=set(), not_hears={PHONE_HZ, MEDIATOR_HZ})
        await send(desk, type="mute", case_id=cid, who=seat, muted=False)
        await mediator.until(hears={PHONE_HZ}, not_hears={MEDIATOR_HZ})

        # Removed: lawline says goodbye and hangs up; the seat is empty.
        removed = await send(desk, type="remove", case_id=cid, who=seat)
        assert removed["ok"]
        gone = removed["seats"][seat]
        assert not gone["present"] and not gone["joined"] and gone["dial"] == "ended"
        assert not gone["speaking"]
        await mediator.until(hears=set(), not_hears={PHONE_HZ, MEDIATOR_HZ})
        out = await asyncio.to_thread(phone.finish)
        assert phone.proc.returncode == 0, out

        assert (await send(desk, type="room_close", case_id=cid))["ok"]
        assert f"m-{cid}" not in await janus_rooms()
    heard, rate = phone.heard(t0, t1)
    assert clean_tone(heard, rate, MEDIATOR_HZ), "the phone party did not hear the mediator"
    assert share(heard, rate, PHONE_HZ) < 0.02, "the phone party heard itself"
    # The number is the party's: never in the worker's log.
    log = room.worker.output()
    assert NUMBER not in log and NUMBER[-8:] not in log


async def test_a_phone_party_who_hangs_up_leaves_an_empty_seat_and_the_room_goes_on(
    lawline: Running, tmp_path: Path, clean_redis_url: str, prompts_dir: Path
) -> None:
    # The party says something for 2 s, is silent for 2 s (and again), and hangs up 8 s
    # after pressing 1.
    say = tmp_path / "phone.wav"
    subprocess.run(
        ["sox", "-n", "-r", "16000", "-c", "1", "-b", "16", str(say),
         "synth", "2", "sine", str(PHONE_HZ), "vol", "0.5", "pad", "0", "2"],
        check=True,
    )  # fmt: skip
    phone = PhoneParty(tmp_path, say, "--hang-up-after", "8")
    async with phone_room(lawline, tmp_path, clean_redis_url, prompts_dir, phone) as room:
        desk, cid, mediator, seat = room.desk, room.cid, room.mediator, room.seats["张建国"]
        assert (await send(desk, type="dial", case_id=cid, who=seat))["ok"]
        await seat_until(desk, seat, lambda s: s["dial"] == "in_room")
        # Speaking, then silent: the seat shows it, then not.
        changes = [await next_frame(desk, "speaking", timeout=10) for _ in range(2)]
        assert [(c["who"], c["on"]) for c in changes] == [(seat, True), (seat, False)]
        await mediator.until(hears={PHONE_HZ}, not_hears={MEDIATOR_HZ})

        gone = await seat_until(desk, seat, lambda s: not s["present"])
        assert (gone["dial"], gone["joined"], gone["speaking"]) == ("ended", False, False)
        assert await asyncio.to_thread(phone.finish) is not None
        # The room goes on: the mediator is still in it, and may ring the party again.
        await mediator.until(hears=set(), not_hears={PHONE_HZ, MEDIATOR_HZ})
        assert f"m-{cid}" in await janus_rooms()
        again = await send(desk, type="dial", case_id=cid, who=seat)
        assert again["ok"] and again["seats"][seat]["dial"] == "calling"
        assert (await send(desk, type="room_close", case_id=cid))["ok"]


async def test_a_party_dials_12348_enters_the_room_number_and_pin_and_takes_their_seat(
    lawline: Running, tmp_path: Path, clean_redis_url: str, prompts_dir: Path
) -> None:
    async with phone_room(lawline, tmp_path, clean_redis_url, prompts_dir, None) as room:
        desk, mediator, seat = room.desk, room.mediator, room.seats["张建国"]
        assert len(room.dial_in) == len(room.pins["张建国"]) == 6
        assert room.pins["张建国"] != room.pins["李桂兰"]
        # The party calls 12348, presses 0 at the menu, then the number and their PIN.
        keys = "0" + room.dial_in + room.pins["张建国"]
        caller = subprocess.Popen(
            [sys.executable, str(Path(__file__).parent / "pjsua_caller.py"),
             f"sip:12348@127.0.0.1:{room.worker.sip_port}", str(tmp_path / "heard.wav"), "60",
             str(free_sip_port()), "--play", str(make_tone(tmp_path / "p.wav", PHONE_HZ, 16000)),
             "--keys", keys],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        try:
            joined = await seat_until(desk, seat, lambda s: s["dial"] == "in_room", 60)
            assert joined["present"] and joined["joined"]
            await mediator.until(hears={PHONE_HZ}, not_hears={MEDIATOR_HZ})
            # The party hangs up: the seat is empty, the room goes on.
            caller.send_signal(signal.SIGTERM)
            gone = await seat_until(desk, seat, lambda s: not s["present"])
            assert gone["dial"] == "ended"
            await mediator.until(hears=set(), not_hears={PHONE_HZ})
        finally:
            if caller.poll() is None:
                caller.kill()
            caller.communicate(timeout=30)
        assert (await send(desk, type="room_close", case_id=room.cid))["ok"]
    # Closed, the room's number opens nothing.
    keys_of = TelephonyKeys(Settings().redis_prefix)
    async with Redis.from_url(clean_redis_url) as redis:
        assert not await redis.exists(keys_of.party_room(room.dial_in))
