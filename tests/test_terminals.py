"""Village terminals without a browser: enrolment (CLI and REST, admins only), the
device token, revocation refused at connect, the terminal's queue protocol against
a lawyer's console, signalling relayed both ways, the rating, where the contact came
from in the ledger, and TURN credentials. Real server, real Redis, real SQLite."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from lawline.config import Settings
from lawline.queue.settings import RoutingSettings
from lawline.terminals.registry import sip_ha1
from lawline.video.settings import WebRTCSettings
from lawline.video.turn import turn_credential
from lawline.web.auth import Role
from tests.lawline_server import Running, next_frame, running_lawline

VIDEO_LAWYER = {
    "id": "li",
    "name": "李律师",
    "services": {"consultation": 4},
    "domains": {"land_homestead": 5},
    "languages": ["zh"],
    "capacity": {"voice": 1, "video": 1},
}
VOICE_ONLY_LAWYER = {**VIDEO_LAWYER, "id": "zhao", "name": "赵律师", "capacity": {"voice": 1}}
TERMINAL = {"id": "dalai-1", "village": "大赖村", "township": "大赖镇", "language": "zh"}


@pytest.fixture
async def lawline(clean_redis_url: str, tmp_path: Path) -> AsyncIterator[Running]:
    settings = Settings(
        data_dir=tmp_path,
        secret_key="test-secret",
        routing=RoutingSettings(offer_timeout_s=30, wrapup_s=0, console_timeout_s=60),
        webrtc=WebRTCSettings(
            turn_urls=["turn:127.0.0.1:3478?transport=udp"], turn_secret="relay-secret"
        ),
    )
    async with running_lawline(settings, clean_redis_url) as running:
        yield running


async def enrol(lawline: Running, body: dict[str, str] = TERMINAL) -> str:
    async with lawline.client("root", Role.ADMIN) as http:
        r = await http.post("/api/terminals", json=body)
        assert r.status_code == 201, r.text
        return str(r.json()["token"])


@asynccontextmanager
async def terminal_ws(lawline: Running, token: str) -> AsyncIterator[Any]:
    """A terminal's socket, signed in as the page does: the device token in the first
    frame, never in the URL."""
    ws_base = lawline.base.replace("http://", "ws://")
    async with websockets.connect(f"{ws_base}/api/terminal/ws", open_timeout=10) as ws:
        await ws.send(json.dumps({"type": "auth", "token": token}))
        yield ws


async def send(ws: Any, frame_type: str, **fields: Any) -> None:
    await ws.send(json.dumps({"type": frame_type, **fields}))


async def test_only_admins_enrol_and_the_token_is_stored_as_a_hash(
    lawline: Running, tmp_path: Path
) -> None:
    async with lawline.client("boss", Role.SUPERVISOR) as http:
        r = await http.post("/api/terminals", json=TERMINAL)
        assert r.status_code == 403
    token = await enrol(lawline)
    assert token.startswith("dalai-1.") and len(token) > 40
    async with lawline.client("root", Role.ADMIN) as http:
        again = await http.post("/api/terminals", json=TERMINAL)
        assert again.status_code == 409
        bad = await http.post("/api/terminals", json={**TERMINAL, "id": "x", "language": "fr"})
        assert bad.status_code == 422
        listed = (await http.get("/api/terminals")).json()
    assert [(t["id"], t["village"], t["revoked_at"]) for t in listed] == [
        ("dalai-1", "大赖村", None)
    ]
    assert "token" not in listed[0]
    with sqlite3.connect(tmp_path / "lawline.db") as db:
        stored = db.execute("SELECT token_hash FROM terminals").fetchall()
    assert stored == [(hashlib.sha256(token.encode()).hexdigest(),)]


async def test_an_admin_gives_a_sip_phone_its_credentials_once_and_only_ha1_is_kept(
    lawline: Running, tmp_path: Path
) -> None:
    async with lawline.client("root", Role.ADMIN) as http:
        r = await http.post("/api/terminals", json={**TERMINAL, "sip": True})
        assert r.status_code == 201 and r.json()["sip"] is True
        first = r.json()["sip_password"]
        renewed = (await http.post("/api/terminals/dalai-1/sip-password")).json()
        assert renewed["realm"] == "lawline" and renewed["sip_password"] != first
        listed = (await http.get("/api/terminals")).json()
        assert listed[0]["sip"] is True and "sip_password" not in listed[0]
        await http.post("/api/terminals/dalai-1/revoke")
        again = await http.post("/api/terminals/dalai-1/sip-password")
        assert again.status_code == 422 and "revoked" in again.text
        missing = await http.post("/api/terminals/nope/sip-password")
        assert missing.status_code == 404
    with sqlite3.connect(tmp_path / "lawline.db") as db:
        [(realm, ha1)] = db.execute("SELECT sip_realm, sip_ha1 FROM terminals").fetchall()
    # The digest HA1 of the renewed password, never the password itself.
    assert realm == "lawline" and ha1 == sip_ha1("dalai-1", "lawline", renewed["sip_password"])


async def test_a_revoked_or_unknown_token_is_refused_at_connect(lawline: Running) -> None:
    token = await enrol(lawline)
    async with lawline.client("root", Role.ADMIN) as http:
        [never] = (await http.get("/api/terminals")).json()
    assert never["last_seen"] is None
    before = time.time()
    async with terminal_ws(lawline, token) as ws:
        hello = await next_frame(ws, "hello")
        assert hello["terminal"]["village"] == "大赖村"
    async with lawline.client("root", Role.ADMIN) as http:
        [seen] = (await http.get("/api/terminals")).json()
        assert seen["last_seen"] >= before  # the admins' list says when it was last on
        r = await http.post("/api/terminals/dalai-1/revoke")
        assert r.status_code == 200 and r.json()["revoked_at"]
        assert (await http.post("/api/terminals/nope/revoke")).status_code == 404
    for bad, code, words in [
        (token, 4403, "revoked"),
        (token[:-3] + "abc", 4401, "unknown"),
        ("", 4401, "no device token"),
    ]:
        async with terminal_ws(lawline, bad) as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == code
        assert words in closed.value.rcvd.reason


def test_cli_enrols_lists_and_revokes(tmp_path: Path) -> None:
    env = {**os.environ, "LAWLINE_DATA_DIR": str(tmp_path)}

    def lawline(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "lawline", "terminal", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    added = lawline("add", "xin-2", "--village", "新民村", "--township", "兴安镇")
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip().splitlines()[-1]
    assert token.startswith("xin-2.")
    assert lawline("add", "xin-2", "--village", "a", "--township", "b").returncode == 1
    listed = lawline("list")
    assert "xin-2\t新民村\t兴安镇\tzh\t" in listed.stdout
    assert "revoked" not in listed.stdout
    assert lawline("revoke", "xin-2").returncode == 0
    assert "revoked" in lawline("list").stdout
    missing = lawline("revoke", "nope")
    assert missing.returncode == 1 and "no terminal nope" in missing.stderr


async def test_a_video_contact_reaches_only_a_lawyer_with_video_capacity(
    lawline: Running,
) -> None:
    token = await enrol(lawline)
    async with lawline.client("boss", Role.SUPERVISOR) as http:
        for body in (VOICE_ONLY_LAWYER, VIDEO_LAWYER):
            assert (await http.post("/api/lawyers", json=body)).status_code == 201
    async with (
        lawline.console("zhao") as zhao,
        terminal_ws(lawline, token) as terminal,
    ):
        await next_frame(zhao, "hello")
        await send(zhao, "state", state="available")
        await next_frame(terminal, "hello")
        await send(terminal, "call", service="consultation")
        assert (await next_frame(terminal, "result"))["ok"]
        waiting = await next_frame(terminal, "waiting")
        assert waiting["position"] == 1
        with pytest.raises(TimeoutError):
            await next_frame(zhao, "offer", timeout=3)  # no video capacity: no offer
        async with lawline.console("li") as li:
            await next_frame(li, "hello")
            await send(li, "state", state="available")
            offer = await next_frame(li, "offer")
            contact = offer["contact"]
            assert contact["channel"] == "video"
            assert contact["attrs"] == {
                "terminal": "dalai-1",
                "village": "大赖村",
                "township": "大赖镇",
            }
            await send(li, "accept", contact_id=contact["id"])
            connected = await next_frame(terminal, "connected")
            assert connected["lawyer"] == {"id": "li", "name": "李律师"}
            await next_frame(li, "connected")

            # Signalling relayed both ways, untouched.
            await send(li, "video_signal", contact_id=contact["id"], kind="ready")
            assert (await next_frame(terminal, "signal"))["kind"] == "ready"
            sdp = {"type": "offer", "sdp": "v=0\r\n(an offer)\r\n"}
            await send(terminal, "signal", kind="description", description=sdp)
            relayed = await next_frame(li, "video_signal")
            assert relayed["description"] == sdp and relayed["contact_id"] == contact["id"]
            cand = {"candidate": "candidate:1 1 udp 1 127.0.0.1 5000 typ host", "sdpMid": "0"}
            await send(
                li, "video_signal", contact_id=contact["id"], kind="candidate", candidate=cand
            )
            assert (await next_frame(terminal, "signal"))["candidate"] == cand
            await send(terminal, "signal", kind="bogus")
            assert "kind" in (await next_frame(terminal, "error"))["message"]

            await send(terminal, "hangup")
            ended = await next_frame(terminal, "ended")
            assert ended["contact_id"] == contact["id"]
            await next_frame(li, "ended")
            await send(terminal, "rate", score=5)
            assert (await next_frame(terminal, "result"))["ok"]
            await send(terminal, "rate", score=9)
            assert "1 to 5" in (await next_frame(terminal, "error"))["message"]

    # The ledger shows where it came from, and the rating.
    async with lawline.client("boss", Role.SUPERVISOR) as http:
        for _ in range(100):
            r = await http.get(f"/api/ledger/contacts/{contact['id']}")
            if r.status_code == 200 and r.json().get("rating") == 5:
                break
            await asyncio.sleep(0.1)
        recorded = r.json()
    assert recorded["origin"] == "大赖村, 大赖镇"
    assert recorded["channel"] == "video" and recorded["rating"] == 5


async def test_leaving_while_waiting_gives_the_place_up(lawline: Running) -> None:
    token = await enrol(lawline)
    async with terminal_ws(lawline, token) as terminal:
        await next_frame(terminal, "hello")
        await send(terminal, "call", service="legal_aid")
        contact_id = (await next_frame(terminal, "waiting"))["contact_id"]
    async with lawline.client("boss", Role.SUPERVISOR) as http:
        for _ in range(100):
            state = (await http.get(f"/api/contacts/{contact_id}")).json()["state"]
            if state == "abandoned":
                break
            await asyncio.sleep(0.1)
    assert state == "abandoned"


async def test_with_nobody_on_duty_the_terminal_says_so_and_is_rung_back(
    lawline: Running,
) -> None:
    """Outside every shift the terminal hears what the phone menu would tell a caller:
    closed, nobody to answer, the duty hours; it books a callback, may go away (the place
    is kept), and when a lawyer accepts, the terminal is rung: `connected` with callback."""
    not_today = (datetime.now(ZoneInfo("Asia/Shanghai")).weekday() + 3) % 7
    shift = {"weekdays": [not_today], "start": "09:00", "end": "17:00"}
    token = await enrol(lawline)
    async with lawline.client("boss", Role.SUPERVISOR) as http:
        body = {**VIDEO_LAWYER, "roster": [shift]}
        assert (await http.post("/api/lawyers", json=body)).status_code == 201
    async with terminal_ws(lawline, token) as terminal:
        await next_frame(terminal, "hello")
        await send(terminal, "call", service="consultation")
        waiting = await next_frame(terminal, "waiting")
        assert waiting["lawyers_on_duty"] == 0 and waiting["estimated_wait_s"] is None
        assert waiting["hotline_open"] is False and waiting["callback"] is False
        assert waiting["duty_hours"] == [shift]
        contact_id = waiting["contact_id"]
        await send(terminal, "callback")
        assert (await next_frame(terminal, "result"))["ok"]
        assert (await next_frame(terminal, "waiting"))["callback"] is True
    # The resident went home: the place is kept as a callback.
    async with lawline.client("boss", Role.SUPERVISOR) as http:
        contact = (await http.get(f"/api/contacts/{contact_id}")).json()
    assert contact["state"] == "waiting" and contact["callback"] is True
    async with terminal_ws(lawline, token) as terminal:
        hello = await next_frame(terminal, "hello")
        assert hello["call"] == {"contact_id": contact_id, "state": "waiting", "callback": True}
        async with lawline.console("li") as li:
            await next_frame(li, "hello")
            await send(li, "state", state="available")
            offer = await next_frame(li, "offer")
            assert offer["contact"]["id"] == contact_id and offer["contact"]["callback"]
            await send(li, "accept", contact_id=contact_id)
            connected = await next_frame(terminal, "connected")
            assert connected["callback"] is True and connected["lawyer"]["name"] == "李律师"


async def test_a_terminal_s_callbacks_have_the_phone_s_daily_cap(lawline: Running) -> None:
    token = await enrol(lawline)
    async with terminal_ws(lawline, token) as terminal:
        await next_frame(terminal, "hello")
        for _ in range(3):  # RoutingSettings.callbacks_per_number_per_day
            await send(terminal, "call", service="consultation")
            assert (await next_frame(terminal, "result"))["ok"]
            await send(terminal, "callback")
            assert (await next_frame(terminal, "result"))["ok"]
            await send(terminal, "cancel")
            assert (await next_frame(terminal, "result"))["ok"]
            await next_frame(terminal, "ended")
        await send(terminal, "call", service="consultation")
        assert (await next_frame(terminal, "result"))["ok"]
        await send(terminal, "callback")
        refused = await next_frame(terminal, "result")
        assert refused["request"] == "callback" and not refused["ok"]


async def test_turn_credentials_are_short_lived_and_signed(lawline: Running) -> None:
    token = await enrol(lawline)
    async with terminal_ws(lawline, token) as ws:
        rtc = (await next_frame(ws, "hello"))["rtc"]
    (turn,) = rtc["iceServers"]
    assert turn["urls"] == ["turn:127.0.0.1:3478?transport=udp"]
    expiry, who = turn["username"].split(":")
    assert who == "terminal-dalai-1"
    assert 0 < int(expiry) - __import__("time").time() <= 3600
    expected = hmac.new(b"relay-secret", turn["username"].encode(), hashlib.sha1).digest()
    assert turn["credential"] == base64.b64encode(expected).decode()
    assert "relay-secret" not in json.dumps(rtc)
    async with lawline.client("li", Role.LAWYER) as http:
        console_rtc = (await http.get("/api/webrtc/config")).json()
    assert console_rtc["iceServers"][0]["username"].endswith(":li")
    # The scheme coturn's use-auth-secret checks (RFC-less TURN REST draft).
    user, password = turn_credential("s", "x", now=1000, ttl_s=60)
    assert user == "1060:x"
    assert password == base64.b64encode(hmac.new(b"s", b"1060:x", hashlib.sha1).digest()).decode()
