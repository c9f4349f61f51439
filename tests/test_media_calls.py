"""Calls on the media server under faults and at volume: Janus killed mid-call (the
room comes back with the call's audio, both ways), and nothing left on Janus after
twenty calls. Real peers as in tests/test_bridge.py: a pjsua2 worker process, pjsua2
callers saying a tone, the real queue, aiortc peers in place of the lawyers' browsers
joined as the web process joins them."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiortc import RTCSessionDescription
from redis.asyncio import Redis

from lawline.config import Settings
from lawline.media.access import media_access
from lawline.media.legs import BrowserLegs
from lawline.queue.model import Lawyer
from lawline.queue.service import QueueService
from lawline.queue.settings import RoutingSettings
from lawline.queue.skills import Domain, Presence, Service
from lawline.queue.store import QueueStore
from lawline.web.auth import Role
from tests.media_server import own_janus
from tests.sip_helpers import telephony_worker
from tests.test_bridge import (
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
AUDIOBRIDGE = "janus.plugin.audiobridge"
AT_ONCE, BATCHES = 2, 10  # twenty calls; a worker holds four at most


async def _until(check: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        got = check()  # type: ignore[operator]
        if asyncio.iscoroutine(got):
            got = await got
        if got:
            return
        assert time.monotonic() < deadline, f"never: {what}"
        await asyncio.sleep(0.05)


def caller_heard(heard: list[int]) -> bool:
    return tone_in(heard, 48000, CALLER_HZ) > 0.9


async def _room_exists(legs: BrowserLegs, room: str) -> bool:
    reply = await legs.access.client.plugin_request(
        AUDIOBRIDGE, {"request": "exists", "room": room}
    )
    return bool(reply.get("exists"))


async def _rooms(legs: BrowserLegs) -> list[str]:
    reply = await legs.access.client.plugin_request(
        AUDIOBRIDGE, {"request": "list", "admin_key": legs.access.admin_key}
    )
    return [str(r["room"]) for r in reply.get("list", [])]


async def _handles(legs: BrowserLegs) -> int:
    client = legs.access.client
    return sum([len(await client.list_handles(s)) for s in await client.list_sessions()])


@pytest.fixture
async def queue(redis: Redis) -> AsyncIterator[QueueService]:
    # No consoles here: the lawyers stay on duty without one for the test's length.
    routing = RoutingSettings(wrapup_s=0, console_timeout_s=600)
    service = QueueService(QueueStore(redis), Settings(routing=routing))
    for n in range(4):
        await service.create_lawyer(
            Lawyer(id=f"l{n}", services={Service.CONSULTATION: 4}, domains={Domain.LABOUR: 5})
        )
    yield service
    await service.stop()


async def test_janus_killed_mid_call_comes_back_with_the_call_audio(
    tmp_path: Path, clean_redis_url: str, prompts_dir: Path, queue: QueueService
) -> None:
    env, settings, media = own_janus(tmp_path)
    await media.start()
    legs = BrowserLegs(media_access(settings))
    lost: asyncio.Queue[str] = asyncio.Queue()
    browsers: list[Browser] = []
    try:
        with telephony_worker(tmp_path, clean_redis_url, prompts_dir, **env) as worker:
            caller = Caller(tmp_path, worker, make_tone(tmp_path / "caller.wav", CALLER_HZ, 16000))
            try:
                await queue.set_presence("l0", Presence.AVAILABLE)
                await queue.start()
                async with queue.subscribe() as evs:
                    await asyncio.to_thread(caller.wait_media)
                    contact = (await next_event(evs, "contact.offered")).contact
                    assert contact is not None and await queue.accept(contact.id, "l0")
                room = contact.id
                lawyer_tone = make_tone(tmp_path / "lawyer.wav", LAWYER_HZ, 48000)
                # The console's join, told when its leg is lost.
                browsers.append(Browser(lawyer_tone))
                await browsers[0].pc.setLocalDescription(await browsers[0].pc.createOffer())
                answer = await legs.join(
                    "console", room, browsers[0].pc.localDescription.sdp,
                    display="l0", on_lost=lost.put_nowait,
                )  # fmt: skip
                await browsers[0].pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
                await browsers[0].until_hearing(caller_heard, "caller", 30)
                a0, a1 = await settle()

                # Janus dies mid-call; the supervisor starts it again.
                assert media.pid is not None
                os.kill(media.pid, signal.SIGKILL)
                await _until(lambda: media.starts == 2 and media.ready.is_set(), 30, "restart")
                # The worker remakes the room with the caller's leg in it; the web side is
                # told its leg is gone, and the console offers again (as call.js does).
                assert await asyncio.wait_for(lost.get(), 30) == room
                await _until(lambda: _room_exists(legs, room), 30, "the room back")
                browsers.append(Browser(lawyer_tone))
                await browsers[1].connect(legs, room)
                # Judged once the new leg is up (ICE and DTLS take longer on a busy machine).
                try:
                    await browsers[1].until_hearing(caller_heard, "caller again", 30)
                except AssertionError as exc:  # what happened meanwhile, for the reader
                    raise AssertionError(
                        f"{exc}; Janus started {media.starts} times, {lost.qsize()} more"
                        f" legs lost; the worker said: {worker.output()[-1500:]}"
                    ) from None
                b0, b1 = await settle()
                assert (await queue.store.get_contact(room)).state == "connected"  # type: ignore[union-attr]
            finally:
                for b in browsers:
                    await b.close()
                await asyncio.to_thread(caller.hang_up)
            assert "room not restored" not in worker.output()
        closed = [ln for ln in worker.output().splitlines() if "bridge closed" in ln]
        before, rate = caller.heard(a0, a1)
        after, _ = caller.heard(b0, b1)
        assert clean_tone(before, rate, LAWYER_HZ)
        assert clean_tone(after, rate, LAWYER_HZ), f"the caller lost the lawyer: {closed}"
        assert clean_tone(browsers[1].heard(b0, b1), 48000, CALLER_HZ)
    finally:
        await legs.stop()
        await media.stop()


async def test_nothing_is_left_on_the_media_server_after_twenty_calls(
    tmp_path: Path, clean_redis_url: str, prompts_dir: Path, queue: QueueService, redis: Redis
) -> None:
    """Twenty calls, two at a time on one worker, each answered by a lawyer whose
    browser joins; half of the browsers vanish without a word (their console's
    socket closing lets go of their legs, as console.py does)."""
    legs = BrowserLegs(media_access(Settings()))
    lawyer_tone = make_tone(tmp_path / "lawyer.wav", LAWYER_HZ, 48000)
    caller_tone = make_tone(tmp_path / "caller.wav", CALLER_HZ, 16000)
    heard = 0
    try:
        with telephony_worker(tmp_path, clean_redis_url, prompts_dir) as worker:
            await queue.start()
            for batch in range(BATCHES):
                callers = []
                for n in range(AT_ONCE):
                    (tmp_path / f"c{batch}-{n}").mkdir()
                    callers.append(Caller(tmp_path / f"c{batch}-{n}", worker, caller_tone))
                browsers: list[Browser] = []
                try:
                    async with queue.subscribe() as evs:
                        for n in range(AT_ONCE):
                            await queue.ready(f"l{n}")  # out of wrap-up, if in it
                            await queue.set_presence(f"l{n}", Presence.AVAILABLE)
                        offered: list[tuple[str, str]] = []
                        while len(offered) < AT_ONCE:  # each lawyer accepts at once
                            ev = await next_event(evs, "contact.offered")
                            assert ev.contact is not None and ev.contact.lawyer
                            assert await queue.accept(ev.contact.id, ev.contact.lawyer)
                            offered.append((ev.contact.id, ev.contact.lawyer))
                    for room, lawyer in offered:
                        browser = Browser(lawyer_tone)
                        browsers.append(browser)
                        await browser.connect(legs, room, owner=lawyer)
                    for browser in browsers:
                        await browser.until_hearing(
                            lambda w: tone_in(w, 48000, CALLER_HZ) > 0.9, "caller", 20
                        )
                        heard += 1
                    for n, (room, lawyer) in enumerate(offered):
                        if n % 2:
                            await browsers[n].pc.close()  # vanished: no goodbye
                        assert await queue.end(room, "lawyer") == 1
                        await legs.leave(lawyer)  # its console's socket closes
                finally:
                    for b in browsers:
                        await b.close()
                    for c in callers:
                        await asyncio.to_thread(c.hang_up)
                await _until(lambda: _no_rooms(legs), 20, "every room destroyed")
                # The worker's lines free again before the next callers ring.
                await _until(lambda: _no_lines(redis), 20, f"batch {batch}'s lines let go")
            # Only the two long-lived sessions (the worker's, this process's), no handle.
            assert len(await legs.access.client.list_sessions()) <= 2
            await _until(lambda: _no_handles(legs), 20, "no handle left")
            # Twenty relay ports came and went under the media clock; none was called half-gone.
            assert "relay port failed" not in worker.output()
        # The worker gone too: its session with it.
        await legs.stop()
        await _until(lambda: _no_sessions(legs), 20, "no session left")
    finally:
        await legs.stop()
    assert heard == 20


async def _no_rooms(legs: BrowserLegs) -> bool:
    return not await _rooms(legs)


async def _no_handles(legs: BrowserLegs) -> bool:
    return await _handles(legs) == 0


async def _no_sessions(legs: BrowserLegs) -> bool:
    return not await legs.access.client.list_sessions()


async def _no_lines(redis: Redis) -> bool:
    return not [k async for k in redis.scan_iter("ll:line:*")]


async def test_only_the_connected_lawyer_joins_a_call_room(
    tmp_path: Path, clean_redis_url: str
) -> None:
    """The console's offer is joined to a call's room only for that lawyer's connected
    phone call: a waiting caller is not listened to, nor is a colleague's call."""
    from tests.browser import lawline_with_wang
    from tests.lawline_server import next_frame

    async def offered(ws: Any, contact_id: str) -> dict[str, Any]:
        await ws.send(json.dumps({"type": "webrtc_offer", "contact_id": contact_id, "sdp": "v=0"}))
        while (result := await next_frame(ws, "result"))["request"] != "webrtc_offer":
            pass  # an earlier request's answer
        return result

    async with lawline_with_wang(tmp_path, clean_redis_url, RoutingSettings()) as lawline:
        async with lawline.client("boss", Role.SUPERVISOR) as http:
            li = {"id": "li", "services": {"consultation": 4}, "domains": {"labour": 5}}
            assert (await http.post("/api/lawyers", json=li)).status_code == 201
        async with lawline.console("wang") as wang, lawline.console("li") as li:
            await next_frame(wang, "hello")
            contact = await lawline.enter_call()  # nobody on duty: the caller waits
            refused = await offered(wang, contact["id"])
            assert not refused["ok"] and refused["message"] == "this contact is not your phone call"
            await wang.send(json.dumps({"type": "state", "state": "available"}))
            offer = await next_frame(wang, "offer")
            await wang.send(json.dumps({"type": "accept", "contact_id": offer["contact"]["id"]}))
            await next_frame(wang, "connected")
            # A colleague's console, even with a lawyer's role, is refused.
            refused = await offered(li, contact["id"])
            assert not refused["ok"] and refused["message"] == "this contact is not your phone call"
            # Wang's own: no worker holds this entered call, so it is refused for that.
            refused = await offered(wang, contact["id"])
            assert not refused["ok"] and "no telephony worker" in refused["message"]
