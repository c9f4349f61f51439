"""A duty lawyer's connection parked between calls (lawline/media/standby.py): moved into
each accepted call's room and back, on the run's Janus, with real calls from a pjsua2
caller through a telephony worker; an aiortc peer stands in for the console's browser."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiortc import RTCSessionDescription
from redis.asyncio import Redis

from lawline.config import Settings
from lawline.media.access import destroy_room, media_access
from lawline.media.janus_client import AudioBridge
from lawline.media.legs import BrowserLegs
from lawline.media.rooms import LAWYER_GROUP
from lawline.media.standby import StandbyLegs
from lawline.queue.model import Lawyer
from lawline.queue.service import QueueService
from lawline.queue.settings import RoutingSettings
from lawline.queue.skills import Domain, Presence, Service
from lawline.queue.store import QueueStore
from tests.sip_helpers import telephony_worker
from tests.test_bridge import (  # what each side heard
    CALLER_HZ,
    LAWYER_HZ,
    Browser,
    Caller,
    clean_tone,
    make_tone,
    next_event,
    settle,
    tone_in,
)

pytestmark = pytest.mark.usefixtures("realtime", "media")
LAWYER = "l0"


@pytest.fixture
async def queue(redis: Redis) -> AsyncIterator[QueueService]:
    # No console here: the lawyer stays on duty without one for the test's length.
    routing = RoutingSettings(wrapup_s=0, console_timeout_s=600)
    service = QueueService(QueueStore(redis), Settings(routing=routing))
    await service.create_lawyer(
        Lawyer(id=LAWYER, services={Service.CONSULTATION: 4}, domains={Domain.LABOUR: 5})
    )
    yield service
    await service.stop()


@pytest.fixture
async def standby() -> AsyncIterator[StandbyLegs]:
    legs = BrowserLegs(media_access(Settings()))
    standby = StandbyLegs(legs)
    yield standby
    await standby.stop()
    await legs.stop()


async def parked_browser(standby: StandbyLegs, tone: Path) -> Browser:
    """The console going on duty: its offer parked, the connection up."""
    browser = Browser(tone)
    await browser.pc.setLocalDescription(await browser.pc.createOffer())
    answer = await standby.park(LAWYER, browser.pc.localDescription.sdp, display="wang")
    await browser.pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    deadline = time.monotonic() + 20
    while browser.pc.connectionState != "connected":
        assert time.monotonic() < deadline, f"not connected: {browser.pc.connectionState}"
        await asyncio.sleep(0.05)
    return browser


async def janus_rooms(standby: StandbyLegs) -> list[str]:
    client = standby.legs.access.client
    reply = await client.plugin_request(
        "janus.plugin.audiobridge", {"request": "list", "admin_key": standby.legs.access.admin_key}
    )
    return [str(r["room"]) for r in reply.get("list", [])]


async def parked_muted(standby: StandbyLegs) -> list[bool]:
    """Whether each participant of this process's standby rooms is muted, as Janus
    lists them."""
    session = await standby.legs.session()
    handle = await AudioBridge.attach(session, standby.legs.access.admin_key)
    try:
        return [
            bool(p["muted"])
            for room in await standby_rooms(standby)
            for p in await handle.list_participants(room)
        ]
    finally:
        await handle.detach()


async def standby_rooms(standby: StandbyLegs) -> list[str]:
    """This process's standby rooms on Janus."""
    return [r for r in await janus_rooms(standby) if standby.owns(r)]


async def until_no_standby_room(standby: StandbyLegs, timeout_s: float = 15) -> None:
    deadline = time.monotonic() + timeout_s
    while left := await standby_rooms(standby):
        assert time.monotonic() < deadline, f"standby rooms left on Janus: {left}"
        await asyncio.sleep(0.2)


async def test_a_parked_connection_takes_two_calls_in_turn_and_hears_nobody_between_them(
    tmp_path: Path, clean_redis_url: str, prompts_dir: Path, queue: QueueService,
    standby: StandbyLegs,
) -> None:  # fmt: skip
    lawyer_tone = make_tone(tmp_path / "lawyer.wav", LAWYER_HZ, 48000)
    caller_tone = make_tone(tmp_path / "caller.wav", CALLER_HZ, 16000)
    browser = await parked_browser(standby, lawyer_tone)
    try:
        assert await parked_muted(standby) == [True]
        with telephony_worker(tmp_path, clean_redis_url, prompts_dir) as worker:
            await queue.set_presence(LAWYER, Presence.AVAILABLE)
            await queue.start()
            for n in range(2):
                (tmp_path / f"c{n}").mkdir()
                caller = Caller(tmp_path / f"c{n}", worker, caller_tone)
                try:
                    async with queue.subscribe() as evs:
                        await asyncio.to_thread(caller.wait_media)
                        contact = (await next_event(evs, "contact.offered")).contact
                        assert contact is not None and await queue.accept(contact.id, LAWYER)
                    # The web process at accept: the parked leg into the call's room.
                    assert await standby.into_call(
                        LAWYER, contact.id, display="wang", group=LAWYER_GROUP
                    )
                    # The same connection hears the caller: nothing was negotiated anew.
                    await browser.until_hearing(
                        lambda w: tone_in(w, 48000, CALLER_HZ) > 0.9, f"caller {n}", 10
                    )
                    t0, t1 = await settle()
                    # The lawyer hangs up: as the console does, the leg goes back first
                    # (the worker destroys the call's room as soon as the call ends).
                    assert await standby.back(LAWYER, contact.id, display="wang")
                    assert await queue.end(contact.id, "lawyer") == 1
                    assert await parked_muted(standby) == [True]
                    # Parked again: the browser hears nobody.
                    await browser.until_hearing(
                        lambda w: tone_in(w, 48000, CALLER_HZ) == 0, "silence", 10
                    )
                finally:
                    await asyncio.to_thread(caller.hang_up)
                heard, rate = caller.heard(t0, t1)
                assert clean_tone(heard, rate, LAWYER_HZ), f"caller {n} did not hear the lawyer"
                await queue.ready(LAWYER)
    finally:
        await browser.close()
    # The console closes: its standby room goes with it.
    await standby.leave(LAWYER)
    await until_no_standby_room(standby)


async def test_a_call_room_destroyed_first_lets_the_leg_go_and_a_new_one_parks(
    tmp_path: Path, standby: StandbyLegs
) -> None:
    """The worker destroys the call's room before the web process moved the leg back
    (Janus hangs the connection up): `back` says so and lets go of the leg; the
    console's next offer parks as before."""
    lawyer_tone = make_tone(tmp_path / "lawyer.wav", LAWYER_HZ, 48000)
    legs = standby.legs
    browser = await parked_browser(standby, lawyer_tone)
    try:
        await legs.open_room("call-1")
        assert await standby.into_call(LAWYER, "call-1", display="wang", group="")
        assert not standby.parked(LAWYER) and standby.in_call(LAWYER) == "call-1"
        # The worker's own handle destroys the room.
        session = await legs.session()
        worker_handle = await AudioBridge.attach(session, legs.access.admin_key)
        await destroy_room(worker_handle, "call-1")
        await worker_handle.detach()
        assert not await standby.back(LAWYER, "call-1", display="wang")
        assert not legs.joined(LAWYER, "call-1") and not standby.parked(LAWYER)
        # Its rooms go too: the one it left at accept a few seconds on (CLOSE_AFTER_S).
        await until_no_standby_room(standby)
    finally:
        await browser.close()
    again = await parked_browser(standby, lawyer_tone)
    try:
        assert standby.parked(LAWYER) and await parked_muted(standby) == [True]
        # A room that never comes: the leg is let go and the console joins as before.
        assert not await standby.into_call(LAWYER, "no-such-call", display="wang", group="")
        assert not standby.parked(LAWYER) and await standby_rooms(standby) == []
    finally:
        await again.close()
