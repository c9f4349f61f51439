"""Run the real lawline app on uvicorn, on a free loopback port, inside a test."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
import websockets
from fastapi import FastAPI
from redis import Redis as SyncRedis

from lawline.accounts.roles import SERVICE_ROLES
from lawline.accounts.sessions import SessionStore, new_session
from lawline.config import Settings
from lawline.web.app import create_app
from lawline.web.auth import COOKIE_NAME, Principal, Role, issue_token
from tests.ports import free_tcp_port


@dataclass
class Running:
    app: FastAPI
    base: str
    redis_url: str

    def token(self, subject: str, role: Role) -> str:
        """A service token (gateway, worker, scraper): people have sessions instead."""
        return issue_token(Principal(subject, role), self.app.state.secret, ttl_s=3600)

    def session(self, username: str, role: Role) -> str:
        """A sign-in session for a person, as if they had signed in (no user row needed)."""
        store: SessionStore = self.app.state.sessions
        session_id, value = new_session(username, role)
        with SyncRedis.from_url(self.redis_url, decode_responses=True) as redis:
            redis.set(store.keys.session(session_id), value, px=store.ttl_ms)
            redis.sadd(store.keys.user_sessions(username), session_id)
        return session_id

    def credentials(self, subject: str, role: Role) -> dict[str, str]:
        """The headers a request of this principal carries: a token or a session cookie."""
        if role in SERVICE_ROLES:
            return {"Authorization": f"Bearer {self.token(subject, role)}"}
        return {"Cookie": f"{COOKIE_NAME}={self.session(subject, role)}"}

    def client(self, subject: str, role: Role) -> httpx.AsyncClient:
        headers = self.credentials(subject, role)
        return httpx.AsyncClient(base_url=self.base, headers=headers, timeout=10)

    def websocket(self, path: str, subject: str, role: Role) -> Any:
        ws_base = self.base.replace("http://", "ws://")
        # Credentials in headers, never the URL (access logs keep URLs); a cookie is
        # honoured only with the page's own Origin, as a browser sends it.
        headers = self.credentials(subject, role) | {"Origin": self.base}
        return websockets.connect(f"{ws_base}{path}", additional_headers=headers, open_timeout=10)

    async def enter_call(self, **fields: Any) -> dict[str, Any]:
        """A caller enters the queue as a telephony gateway reports them: a voice call
        about labour from 13800138000 unless `fields` say otherwise. The contact."""
        body = {
            "channel": "voice",
            "service": "consultation",
            "domain": "labour",
            "caller": "13800138000",
        } | fields
        async with self.client("worker-1", Role.GATEWAY) as http:
            r = await http.post("/api/contacts", json=body)
            assert r.status_code == 201, r.text
            return r.json()

    def console(self, lawyer_id: str, role: Role = Role.LAWYER) -> Any:
        return self.websocket("/api/console/ws", lawyer_id, role)


@asynccontextmanager
async def signed_in_lawline(
    tmp: Path, redis_url: str, users: dict[str, tuple[str, str]], **settings: Any
) -> AsyncIterator[Running]:
    """lawline for browsers that sign in on its login page: these users (name: role,
    password) added as an admin would, its session cookie Secure (browsers keep it over
    plain http for localhost only), and any other settings given."""
    from lawline.accounts.settings import AccountSettings
    from tests.browser import add_user

    for name, (role, password) in users.items():
        add_user(tmp, name, role, password)
    full = Settings(
        data_dir=tmp,
        secret_key="test-secret",
        accounts=AccountSettings(cookie_secure=True),
        **settings,
    )
    async with running_lawline(full, redis_url) as running:
        yield running


@asynccontextmanager
async def running_lawline(settings: Settings, redis_url: str) -> AsyncIterator[Running]:
    app = create_app(settings, redis_url)
    port = free_tcp_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # raises what stopped it
        await asyncio.sleep(0.02)
    try:
        yield Running(app, f"http://127.0.0.1:{port}", redis_url)
    finally:
        server.should_exit = True
        await task


async def next_frame(ws: Any, kind: str, timeout: float = 10) -> dict[str, Any]:
    """Read console frames until one of this type arrives (others are skipped)."""

    async def read() -> dict[str, Any]:
        while True:
            frame = json.loads(await ws.recv())
            if frame["type"] == kind:
                return frame

    return await asyncio.wait_for(read(), timeout)


async def next_frames(ws: Any, kinds: set[str], timeout: float = 10) -> dict[str, dict[str, Any]]:
    """The first frame of each of these types, in whatever order they come."""

    async def read() -> dict[str, dict[str, Any]]:
        got: dict[str, dict[str, Any]] = {}
        while got.keys() != kinds:
            frame = json.loads(await ws.recv())
            if frame["type"] in kinds:
                got.setdefault(frame["type"], frame)
        return got

    return await asyncio.wait_for(read(), timeout)
