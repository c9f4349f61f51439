"""A supervisor listens in on, coaches the lawyer of, and joins a live phone call
(media/monitoring.py), against real peers: the lawline app on uvicorn, the run's Janus,
a pjsua2 telephony worker, a pjsua2 caller saying one tone, and aiortc peers in place
of the lawyer's console and the supervisor's page, each saying a tone of its own and
offering over its websocket as the browsers do. Audio is told apart by frequency."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from aiortc import RTCSessionDescription
from sqlalchemy import select
from websockets.exceptions import InvalidStatus

from lawline.cases.models import AuditEntry
from lawline.config import Settings
from lawline.media.access import media_access
from lawline.media.janus_client import AudioBridge
from lawline.queue.model import Lawyer
from lawline.queue.settings import RoutingSettings
from lawline.queue.skills import Domain, Presence, Service
from lawline.web.auth import Role
from tests.lawline_server import next_frame, running_lawline
from tests.sip_helpers import Worker
from tests.test_bridge import (
    CALLER_HZ,
    LAWYER_HZ,
    Browser,
    Caller,
    Tone,
    clean_tone,
    from_onset,
    make_tone,
    rms,
    share,
    tone_in,
)

pytestmark = [
    pytest.mark.skipif(shutil.which("sox") is None, reason="sox is installed by scripts/setup.sh"),
    pytest.mark.usefixtures("realtime"),  # tones judged in 100 ms windows (conftest.py)
]

SUPERVISOR_HZ = 2000  # what the supervisor says (below G.711's 4 kHz)


def hears(w: Sequence[int], rate: int, hz: float) -> bool:
    """The window is loud and carries a fair share of `hz` (in a mix of two or three)."""
    return rms(w) > 300 and share(w, rate, hz) > 0.15


def quiet_of(x: Sequence[int], rate: int, hz: float) -> bool:
    """No 100 ms window with more than a trace of `hz`."""
    n = rate // 10
    return all(share(x[i : i + n], rate, hz) < 0.05 for i in range(0, len(x) - n + 1, n))


async def offer(ws: Any, browser: Browser, kind: str, answer: str, **fields: Any) -> None:
    """The peer's complete offer over the socket, the media server's answer back."""
    await browser.pc.setLocalDescription(await browser.pc.createOffer())
    await ws.send(_json({"type": kind, "sdp": browser.pc.localDescription.sdp, **fields}))
    frame = await next_frame(ws, answer, timeout=15)
    await browser.pc.setRemoteDescription(RTCSessionDescription(frame["sdp"], "answer"))


async def ok(ws: Any, kind: str, **fields: Any) -> None:
    await ws.send(_json({"type": kind, **fields}))
    result = await next_frame(ws, "result")
    assert result["request"] == kind and result["ok"], result


def _json(frame: dict[str, Any]) -> str:
    return json.dumps(frame)


async def until_heard(browser: Browser, check: Any, what: str) -> float:
    await browser.until_hearing(check, what, timeout_s=10)
    return time.monotonic()


async def janus_clean(contact_id: str) -> None:
    """Until Janus has no room of the call and no handle left in any session."""
    access = media_access(Settings())
    client = access.client
    deadline = time.monotonic() + 10
    while True:
        async with await client.session() as session:
            bridge = await AudioBridge.attach(session, access.admin_key)
            rooms = {r["room"] for r in await bridge.list_rooms()}
            await bridge.detach()
        handles = 0
        for sid in await client.list_sessions():
            handles += len(await client.list_handles(sid))
        ours = {contact_id, f"{contact_id}:coach"} & rooms
        # Our own listing session is gone by now; every other handle is a leftover.
        if not ours and handles == 0:
            return
        assert time.monotonic() < deadline, f"left on Janus: rooms {ours}, {handles} handles"
        await asyncio.sleep(0.2)


@pytest.mark.usefixtures("media")
async def test_supervisor_listens_barges_and_whispers(
    tmp_path: Path, bridge_worker: Worker, clean_redis_url: str
) -> None:
    settings = Settings(
        data_dir=tmp_path, secret_key="test-secret", routing=RoutingSettings(wrapup_s=0)
    )
    sup_tone = make_tone(tmp_path / "supervisor.wav", SUPERVISOR_HZ, 48000)
    lawyer_tone = make_tone(tmp_path / "lawyer.wav", LAWYER_HZ, 48000)
    async with running_lawline(settings, clean_redis_url) as app:
        queue = app.app.state.queue
        await queue.create_lawyer(
            Lawyer(id="wang", services={Service.CONSULTATION: 4}, domains={Domain.LABOUR: 5})
        )
        await queue.set_presence("wang", Presence.AVAILABLE)
        lawyer = Browser(lawyer_tone)
        coached = Browser(lawyer_tone)  # the console's second connection (muted there)
        sup = Browser(sup_tone)
        sup_coach = Browser(sup_tone)
        caller = Caller(tmp_path, bridge_worker, make_tone(tmp_path / "c.wav", CALLER_HZ, 16000))
        try:
            async with (
                app.console("wang") as console,
                app.websocket("/api/supervisor/ws", "boss", Role.SUPERVISOR) as desk,
            ):
                await asyncio.to_thread(caller.wait_media)
                cid = (await next_frame(console, "offer", timeout=30))["contact"]["id"]
                await console.send(_json({"type": "accept", "contact_id": cid}))
                await next_frame(console, "connected")
                await offer(console, lawyer, "webrtc_offer", "webrtc_answer", contact_id=cid)
                await lawyer.until_hearing(lambda w: tone_in(w, 48000, CALLER_HZ) > 0.9, "caller")

                # Listen: the supervisor hears both sides; nobody hears the supervisor.
                await offer(desk, sup, "monitor_offer", "monitor_answer", contact_id=cid,
                            mode="listen")  # fmt: skip
                assert (await next_frame(console, "monitored"))["mode"] == "listen"
                l0 = await until_heard(
                    sup,
                    lambda w: hears(w, 48000, CALLER_HZ) and hears(w, 48000, LAWYER_HZ),
                    "caller and lawyer",
                )
                await asyncio.sleep(2)  # the caller hears this state a while
                l1 = time.monotonic()

                # Barge: caller and lawyer both hear the supervisor.
                await ok(desk, "monitor_mode", contact_id=cid, mode="barge")
                assert (await next_frame(console, "monitored"))["mode"] == "barge"
                b0 = time.monotonic()
                await until_heard(lawyer, lambda w: hears(w, 48000, SUPERVISOR_HZ), "barge")
                await asyncio.sleep(2.5)
                b1 = time.monotonic()

                # Whisper: the coach room; the lawyer alone hears the supervisor.
                await offer(desk, sup_coach, "coach_offer", "coach_answer", contact_id=cid)
                await next_frame(console, "coach_start")
                await offer(console, coached, "coach_offer", "coach_answer", contact_id=cid)
                await ok(desk, "monitor_mode", contact_id=cid, mode="whisper")
                assert (await next_frame(console, "monitored"))["mode"] == "whisper"
                w0 = time.monotonic()
                await until_heard(
                    lawyer, lambda w: tone_in(w, 48000, CALLER_HZ) > 0.9, "the caller alone"
                )
                await until_heard(coached, lambda w: hears(w, 48000, SUPERVISOR_HZ), "whisper")
                w_heard = time.monotonic()
                await asyncio.sleep(2.5)
                w1 = time.monotonic()

                await ok(desk, "monitor_stop", contact_id=cid)
                assert (await next_frame(console, "coach_stop"))["contact_id"] == cid
                assert (await next_frame(console, "monitored"))["mode"] is None
                await console.send(_json({"type": "end", "contact_id": cid}))
                await next_frame(console, "ended")
        finally:
            for peer in (lawyer, coached, sup, sup_coach):
                await peer.close()
            await asyncio.to_thread(caller.hang_up)

        # What each heard.
        to_sup = sup.heard(l0, l1)
        assert sum(hears(w, 48000, CALLER_HZ) for w in _windows(to_sup)) > 0.8 * len(
            _windows(to_sup)
        ), "listening, the supervisor does not hear the caller"
        assert sum(hears(w, 48000, LAWYER_HZ) for w in _windows(to_sup)) > 0.8 * len(
            _windows(to_sup)
        ), "listening, the supervisor does not hear the lawyer"
        assert clean_tone(lawyer.heard(l0, l1), 48000, CALLER_HZ)
        assert quiet_of(lawyer.heard(l0, l1), 48000, SUPERVISOR_HZ), "lawyer hears a listener"
        listened, rate = caller.heard(l0, l1)
        assert clean_tone(listened, rate, LAWYER_HZ)
        assert quiet_of(listened, rate, SUPERVISOR_HZ), "the caller hears a listener"

        barged = from_onset(
            caller.heard(b0, b1)[0], rate, lambda w: hears(w, rate, SUPERVISOR_HZ), within=2
        )
        assert Tone.of(hears(w, rate, SUPERVISOR_HZ) for w in _windows(barged, rate))
        assert Tone.of(hears(w, rate, LAWYER_HZ) for w in _windows(barged, rate))

        whispered = coached.heard(w_heard, w1)
        # 80 %, as for listening: the peers are aiortc (Python), and a loaded run can cost
        # them a few 100 ms windows; what must never happen is checked strictly below.
        assert tone_in(whispered, 48000, SUPERVISOR_HZ) > 0.8, "the lawyer hears no coaching"
        assert quiet_of(lawyer.heard(w_heard, w1), 48000, SUPERVISOR_HZ)
        # The caller, from when the supervisor left the call's mix (w0 + at most 2 s).
        after, _ = caller.heard(w0 + 2, w1)
        assert clean_tone(after, rate, LAWYER_HZ)
        assert quiet_of(after, rate, SUPERVISOR_HZ), "the caller hears the whisper"

        with app.app.state.db() as s:
            rows = s.scalars(
                select(AuditEntry).where(AuditEntry.action.like("call.monitor%"))
                .order_by(AuditEntry.id)
            ).all()  # fmt: skip
        assert [(r.actor, r.action, r.detail) for r in rows] == [
            ("boss", "call.monitor", f"contact {cid} mode listen"),
            ("boss", "call.monitor.mode", f"contact {cid} mode barge"),
            ("boss", "call.monitor.mode", f"contact {cid} mode whisper"),
            ("boss", "call.monitor.stop", f"contact {cid} mode whisper"),
        ]
        assert "13800" not in " ".join(r.detail for r in rows)
        await janus_clean(cid)


def _windows(x: Sequence[int], rate: int = 48000) -> list[Sequence[int]]:
    n = rate // 10
    return [x[i : i + n] for i in range(0, len(x) - n + 1, n)]


async def test_only_supervisors_monitor_and_only_live_phone_calls(
    tmp_path: Path, clean_redis_url: str
) -> None:
    settings = Settings(data_dir=tmp_path, secret_key="test-secret")
    async with running_lawline(settings, clean_redis_url) as app:
        with pytest.raises(InvalidStatus, match="403"):
            async with app.websocket("/api/supervisor/ws", "wang", Role.LAWYER):
                pass
        contact = await app.enter_call()  # waiting, not connected
        async with app.websocket("/api/supervisor/ws", "boss", Role.SUPERVISOR) as desk:
            await desk.send(
                _json({"type": "monitor_offer", "contact_id": contact["id"], "mode": "listen",
                       "sdp": "v=0\r\n"})
            )  # fmt: skip
            result = await next_frame(desk, "result")
            assert result["request"] == "monitor_offer" and not result["ok"]
            await desk.send(_json({"type": "monitor_mode", "contact_id": "x", "mode": "spy"}))
            assert "mode" in (await next_frame(desk, "error"))["message"]
            await desk.send(_json({"type": "monitor_mode", "contact_id": "x", "mode": "barge"}))
            assert not (await next_frame(desk, "result"))["ok"]
