"""A web process's websockets against a busy county and a hostile client: idle village
boxes beyond the Redis pool, caps per credential and address, revocation reaching
open sockets, Origin, and a console that falls behind. Real server, real Redis."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from redis.asyncio import Redis
from websockets.exceptions import ConnectionClosed, InvalidStatus

from lawline import revocation
from lawline.accounts.sessions import session_ref
from lawline.config import Settings
from lawline.queue.settings import RoutingSettings
from lawline.terminals.registry import enrol
from lawline.web.auth import COOKIE_NAME, Role
from lawline.web.settings import SocketSettings
from tests.lawline_server import Running, next_frame, running_lawline
from tests.test_accounts import PASSWORD, add_user, set_cookie
from tests.test_terminals import terminal_ws

LAWYER = {
    "id": "wang",
    "name": "王律师",
    "services": {"consultation": 4},
    "languages": ["zh"],
}
CALL = {"channel": "voice", "service": "consultation", "caller": "13800138000"}
REDIS_POOL = 64  # lawline/redis_client.py


def _settings(tmp_path: Path, **sockets: Any) -> Settings:
    return Settings(
        data_dir=tmp_path,
        secret_key="test-secret",
        routing=RoutingSettings(offer_timeout_s=30, wrapup_s=0, console_timeout_s=60),
        sockets=SocketSettings(**sockets),
    )


@pytest.fixture
async def lawline(clean_redis_url: str, tmp_path: Path) -> AsyncIterator[Running]:
    async with running_lawline(_settings(tmp_path), clean_redis_url) as running:
        yield running


def enrol_many(lawline: Running, count: int) -> list[str]:
    """Device tokens of `count` new terminals, enrolled in one transaction."""
    with lawline.app.state.db() as session, session.begin():
        now = datetime.now(UTC)
        return [
            enrol(session, f"box-{i}", f"村{i}", "大赖镇", "zh", now).token for i in range(count)
        ]


async def add_lawyer(lawline: Running) -> None:
    async with lawline.client("boss", Role.SUPERVISOR) as http:
        r = await http.post("/api/lawyers", json=LAWYER)
        assert r.status_code == 201, r.text


async def closed_with(ws: Any, timeout: float = 10) -> tuple[int, str]:
    """Read until the server closes the socket; its close code and reason."""

    async def drain() -> tuple[int, str]:
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await ws.recv()
        assert closed.value.rcvd is not None, "closed without a close frame"
        return closed.value.rcvd.code, closed.value.rcvd.reason

    return await asyncio.wait_for(drain(), timeout)


async def sign_in_cookie(lawline: Running, username: str) -> str:
    async with httpx.AsyncClient(base_url=lawline.base, timeout=5) as http:
        r = await http.post("/api/session", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return set_cookie(r).split(";")[0].split("=", 1)[1]


def cookie_console(lawline: Running, session_id: str, origin: str | None) -> Any:
    ws_base = lawline.base.replace("http://", "ws://")
    headers = {"Cookie": f"{COOKIE_NAME}={session_id}"}
    return websockets.connect(
        f"{ws_base}/api/console/ws",
        additional_headers=headers,
        origin=origin,  # type: ignore[arg-type]
        open_timeout=10,
    )


async def test_idle_terminals_beyond_the_redis_pool_leave_sign_in_and_offers_working(
    clean_redis_url: str, tmp_path: Path
) -> None:
    # Each idle socket held a pub/sub connection of its own: past the pool's 64, sign-in,
    # routing and the ledger waited 10 s for a connection and failed.
    settings = _settings(tmp_path)
    add_user(settings, "wang", "lawyer")
    async with running_lawline(settings, clean_redis_url) as lawline, AsyncExitStack() as stack:
        await add_lawyer(lawline)
        tokens = await asyncio.to_thread(enrol_many, lawline, REDIS_POOL + 16)
        boxes = [await stack.enter_async_context(terminal_ws(lawline, t)) for t in tokens]
        for box in boxes:
            await next_frame(box, "hello")
        # The lawyer signs in with a password and takes a call, all while the boxes idle.
        cookie = await sign_in_cookie(lawline, "wang")
        async with cookie_console(lawline, cookie, lawline.base) as console:
            await next_frame(console, "hello")
            await console.send(json.dumps({"type": "state", "state": "available"}))
            assert (await next_frame(console, "result", timeout=5))["ok"]
            async with lawline.client("worker-1", Role.GATEWAY) as http:
                http.timeout = httpx.Timeout(5)
                r = await http.post("/api/contacts", json=CALL)
                assert r.status_code == 201, r.text
            offer = await next_frame(console, "offer", timeout=5)
            assert offer["contact"]["id"] == r.json()["id"]
        # And every box is still connected.
        for box in boxes[:: len(boxes) // 8]:
            await box.send(json.dumps({"type": "ping"}))
            await next_frame(box, "pong", timeout=5)


async def test_one_credential_or_address_cannot_hold_more_than_its_share(
    clean_redis_url: str, tmp_path: Path
) -> None:
    settings = _settings(tmp_path, per_credential=2, per_address=5)
    async with running_lawline(settings, clean_redis_url) as lawline, AsyncExitStack() as stack:
        await add_lawyer(lawline)
        # A stolen session opening socket after socket: the third is refused, with why.
        stolen = lawline.session("wang", Role.LAWYER)
        for _ in range(2):
            ws = await stack.enter_async_context(cookie_console(lawline, stolen, lawline.base))
            await next_frame(ws, "hello")
        async with cookie_console(lawline, stolen, lawline.base) as extra:
            code, reason = await closed_with(extra)
        assert (code, reason) == (4429, "too many open sockets for this credential")
        # From one address, every socket counts, whatever its credential.
        tokens = await asyncio.to_thread(enrol_many, lawline, 4)
        for token in tokens[:3]:
            box = await stack.enter_async_context(terminal_ws(lawline, token))
            await next_frame(box, "hello")
        async with terminal_ws(lawline, tokens[3]) as extra:
            code, reason = await closed_with(extra)
        assert (code, reason) == (4429, "too many open sockets for this address")


async def test_revoking_a_terminal_closes_its_open_socket(lawline: Running) -> None:
    [token, other] = await asyncio.to_thread(enrol_many, lawline, 2)
    async with terminal_ws(lawline, token) as box, terminal_ws(lawline, other) as neighbour:
        await next_frame(box, "hello")
        await next_frame(neighbour, "hello")
        async with lawline.client("root", Role.ADMIN) as http:
            assert (await http.post("/api/terminals/box-0/revoke")).status_code == 200
        code, reason = await closed_with(box, timeout=5)
        assert code == 4403 and "revoked" in reason
        await neighbour.send(json.dumps({"type": "ping"}))
        await next_frame(neighbour, "pong")


async def test_revoked_users_and_sessions_lose_their_open_consoles(
    clean_redis_url: str, tmp_path: Path
) -> None:
    settings = _settings(tmp_path)
    add_user(settings, "wang", "lawyer")
    redis = Redis.from_url(clean_redis_url, decode_responses=True)
    async with running_lawline(settings, clean_redis_url) as lawline:
        await add_lawyer(lawline)
        # A service-token console: every socket of the user goes when the user is revoked.
        async with lawline.console("wang") as console:
            await next_frame(console, "hello")
            await revocation.announce(redis, "ll", "user", "wang")
            code, _ = await closed_with(console, timeout=5)
            assert code == 4401
        # Two sign-ins: ending one closes its console only.
        first, second = [await sign_in_cookie(lawline, "wang") for _ in range(2)]
        async with (
            cookie_console(lawline, first, lawline.base) as ended,
            cookie_console(lawline, second, lawline.base) as kept,
        ):
            await next_frame(ended, "hello")
            await next_frame(kept, "hello")
            ref = session_ref(first)
            await revocation.announce(redis, "ll", "session", ref)
            code, _ = await closed_with(ended, timeout=5)
            assert code == 4401
            await kept.send(json.dumps({"type": "ping"}))
            await next_frame(kept, "pong")
    await redis.aclose()


async def test_another_sites_page_cannot_open_a_signed_in_console(
    clean_redis_url: str, tmp_path: Path
) -> None:
    settings = _settings(tmp_path, allowed_origins=["https://console.county.example"])
    add_user(settings, "wang", "lawyer")
    async with running_lawline(settings, clean_redis_url) as lawline:
        await add_lawyer(lawline)
        cookie = await sign_in_cookie(lawline, "wang")
        # The browser sends the cookie whichever page opens the socket.
        for origin in ("http://evil.example", None):
            with pytest.raises(InvalidStatus) as refused:
                async with cookie_console(lawline, cookie, origin):
                    pass
            assert refused.value.response.status_code == 403
        for origin in (lawline.base, "https://console.county.example"):
            async with cookie_console(lawline, cookie, origin) as ws:
                await next_frame(ws, "hello")


async def test_a_console_that_falls_behind_is_closed_to_resync(
    clean_redis_url: str, tmp_path: Path
) -> None:
    settings = _settings(tmp_path, console_queue=10)
    redis = Redis.from_url(clean_redis_url, decode_responses=True)
    async with running_lawline(settings, clean_redis_url) as lawline:
        await add_lawyer(lawline)
        async with lawline.console("wang") as console:
            await next_frame(console, "hello")
            await console.send(json.dumps({"type": "state", "state": "available"}))
            assert (await next_frame(console, "result"))["ok"]
            # More events at once than the console's queue holds (a burst it cannot drain
            # in time): it would miss offers and stay "available".
            events_key = lawline.app.state.queue.store.keys.events
            [(_, fields)] = await redis.xrevrange(events_key, count=1)
            async with redis.pipeline(transaction=True) as pipe:
                for _ in range(50):
                    pipe.xadd(events_key, fields)
                await pipe.execute()
            code, _ = await closed_with(console, timeout=5)
            assert code == 1013
        assert lawline.app.state.hub.closed_behind["console"] == 1
        # It comes back (the console page reconnects on any other code) and is told the state.
        async with lawline.console("wang") as console:
            hello = await next_frame(console, "hello")
            assert hello["lawyer"]["id"] == "wang"
    await redis.aclose()


async def test_signing_out_or_being_disabled_closes_the_supervisors_feed(
    clean_redis_url: str, tmp_path: Path
) -> None:
    settings = _settings(tmp_path)
    add_user(settings, "boss", "supervisor")
    async with running_lawline(settings, clean_redis_url) as lawline:
        ws_base = lawline.base.replace("http://", "ws://")

        def feed(session_id: str) -> Any:
            headers = {"Cookie": f"{COOKIE_NAME}={session_id}", "Origin": lawline.base}
            return websockets.connect(f"{ws_base}/api/supervisor/ws", additional_headers=headers)

        first, second = [await sign_in_cookie(lawline, "boss") for _ in range(2)]
        async with feed(first) as signed_out, feed(second) as disabled:
            # The feed says nothing on connect: wait for the process to hold both.
            hub = lawline.app.state.hub
            async with asyncio.timeout(5):
                while hub.open_count("supervisor") < 2:
                    await asyncio.sleep(0.01)
            async with httpx.AsyncClient(base_url=lawline.base, timeout=5) as http:
                http.cookies.set(COOKIE_NAME, first)
                out = await http.delete("/api/session")
                assert out.status_code == 204, out.text
            code, _ = await closed_with(signed_out, timeout=5)
            assert code == 4401
            async with lawline.client("root", Role.ADMIN) as admin:
                r = await admin.patch("/api/users/boss", json={"disabled": True})
                assert r.status_code == 200, r.text
            code, _ = await closed_with(disabled, timeout=5)
            assert code == 4401
