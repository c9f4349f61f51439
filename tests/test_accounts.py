"""Accounts: argon2 passwords, lock-out, sign-in sessions in Redis, and who may see what.

The API tests run the real app on uvicorn with a real Redis and a real SQLite
file; `lawline user add` runs as a real subprocess.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import websockets
from alembic.script import ScriptDirectory
from argon2 import PasswordHasher
from fastapi import FastAPI, WebSocket
from redis.asyncio import Redis as AsyncRedis

from lawline import revocation
from lawline.accounts.keys import AccountKeys
from lawline.accounts.service import AccountError, Accounts, WrongPassword
from lawline.accounts.sessions import session_ref
from lawline.accounts.settings import AccountSettings
from lawline.config import Settings
from lawline.db import alembic_config, make_engine, session_factory, upgrade
from lawline.queue.settings import RoutingSettings
from lawline.web.app import create_app
from lawline.web.auth import COOKIE_NAME, Role, authenticate_async
from tests import lawline_server
from tests.lawline_server import Running, running_lawline

REPO = Path(__file__).resolve().parents[1]
PASSWORD = "correct horse battery"
NOW = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
LAWYER = {"services": {"consultation": 3}, "languages": ["zh"]}
CALL = {"channel": "voice", "service": "consultation", "caller": "13800138000"}


def _settings(tmp_path: Path, **accounts: Any) -> Settings:
    return Settings(
        data_dir=tmp_path,
        secret_key="test-secret",
        routing=RoutingSettings(offer_timeout_s=30, wrapup_s=0, console_timeout_s=60),
        accounts=AccountSettings(**({"max_failed_logins": 3, "lockout_s": 60} | accounts)),
    )


@pytest.fixture
def accounts(tmp_path: Path) -> Iterator[Accounts]:
    url = f"sqlite:///{tmp_path / 'db' / 'lawline.db'}"
    upgrade(url)
    engine = make_engine(url)
    with session_factory(engine)() as session:
        yield Accounts(session, AccountSettings(max_failed_logins=3, lockout_s=60))
    engine.dispose()


def add_user(settings: Settings, username: str, role: str, password: str = PASSWORD) -> None:
    upgrade(settings.database)
    engine = make_engine(settings.database)
    try:
        with session_factory(engine)() as session:
            Accounts(session, settings.accounts).add_user(username, role, password, NOW)
    finally:
        engine.dispose()


def set_cookie(response: httpx.Response) -> str:
    [header] = [h for h in response.headers.get_list("set-cookie") if h.startswith(COOKIE_NAME)]
    return header


async def sign_in(lawline: Running, username: str, password: str = PASSWORD) -> httpx.AsyncClient:
    """A client carrying the session cookie (sent by hand: httpx keeps Secure ones for https)."""
    async with httpx.AsyncClient(base_url=lawline.base) as http:
        r = await http.post("/api/session", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    session_id = set_cookie(r).split(";")[0].split("=", 1)[1]
    return httpx.AsyncClient(
        base_url=lawline.base, headers={"Cookie": f"{COOKIE_NAME}={session_id}"}, timeout=10
    )


# ----- the service, time passed in --------------------------------------------------


def test_only_an_argon2_hash_is_stored(accounts: Accounts) -> None:
    accounts.add_user("wang", "lawyer", PASSWORD, NOW, display_name="王律师")
    stored = accounts.session.execute(sa.text("SELECT password_hash FROM users")).scalar_one()
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    assert accounts.verify("wang", PASSWORD).display_name == "王律师"


def test_bad_names_passwords_and_roles_are_refused(accounts: Accounts) -> None:
    for name, role, password, says in [
        ("wang li", "lawyer", PASSWORD, "username"),
        ("wang", "lawyer", "short", "password"),
        ("wang", "gateway", PASSWORD, "role"),
        ("wang", "king", PASSWORD, "role"),
    ]:
        with pytest.raises(AccountError, match=says):
            accounts.add_user(name, role, password, NOW)
    accounts.add_user("wang", "lawyer", PASSWORD, NOW)
    with pytest.raises(AccountError, match="exists"):
        accounts.add_user("wang", "admin", PASSWORD, NOW)


def test_a_hash_made_with_old_parameters_is_renewed_at_sign_in(accounts: Accounts) -> None:
    old = Accounts(
        accounts.session,
        accounts.settings,
        PasswordHasher(time_cost=1, memory_cost=8, parallelism=1),
    )
    old.add_user("wang", "lawyer", PASSWORD, NOW)
    before = accounts.get("wang").password_hash  # type: ignore[union-attr]
    assert "m=8," in before
    accounts.verify("wang", PASSWORD)
    after = accounts.get("wang").password_hash  # type: ignore[union-attr]
    assert after != before and "m=65536," in after
    accounts.verify("wang", PASSWORD)
    assert accounts.get("wang").password_hash == after  # type: ignore[union-attr]


def test_unknown_and_disabled_users_cost_a_hash_like_anyone(accounts: Accounts) -> None:
    class Counting(PasswordHasher):
        checks = 0

        def verify(self, hash: str | bytes, password: str | bytes) -> bool:
            Counting.checks += 1
            return super().verify(hash, password)

    counting = Accounts(accounts.session, accounts.settings, Counting())
    counting.add_user("wang", "lawyer", PASSWORD, NOW)
    counting.update("wang", disabled=True)
    for name in ("nobody", "wang"):
        with pytest.raises(WrongPassword, match="wrong username or password"):
            counting.verify(name, PASSWORD)
    assert Counting.checks == 2


# ----- the database -----------------------------------------------------------------


def test_migrations_run_twice_cleanly(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nested' / 'lawline.db'}"
    upgrade(url)
    upgrade(url)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            # The newest revision in lawline/db/migrations, whatever its number.
            head = ScriptDirectory.from_config(alembic_config()).get_current_head()
            assert head is not None and head >= "0005"
            assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).all() == [
                (head,)
            ]
            assert conn.execute(sa.text("SELECT count(*) FROM users")).scalar() == 0
    finally:
        engine.dispose()
    # The models and the migrations describe the same schema on SQLite too.
    from alembic import command

    command.check(alembic_config(url))


def test_the_old_lockout_columns_are_dropped_and_come_back_on_downgrade(tmp_path: Path) -> None:
    from alembic import command

    url = f"sqlite:///{tmp_path / 'lawline.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            Accounts(session, AccountSettings()).add_user("wang", "lawyer", PASSWORD, NOW)
        columns = {c["name"] for c in sa.inspect(engine).get_columns("users")}
        assert not {"failed_logins", "locked_until"} & columns
        command.downgrade(alembic_config(url), "0005")
        engine.dispose()
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT username, failed_logins, locked_until FROM users"))
            assert rows.all() == [("wang", 0, None)]
        command.upgrade(alembic_config(url), "head")
        engine.dispose()
        columns = {c["name"] for c in sa.inspect(engine).get_columns("users")}
        assert {"username", "password_hash", "disabled"} <= columns
        assert not {"failed_logins", "locked_until"} & columns
    finally:
        engine.dispose()


def test_migrations_and_accounts_on_postgresql(postgres_url: str) -> None:
    upgrade(postgres_url)
    upgrade(postgres_url)
    engine = make_engine(postgres_url)
    try:
        with session_factory(engine)() as session:
            accounts = Accounts(session, AccountSettings())
            accounts.add_user("wang", "lawyer", PASSWORD, NOW)
            with pytest.raises(WrongPassword):
                accounts.verify("wang", "guess")
            assert accounts.verify("wang", PASSWORD).created_at == NOW
    finally:
        engine.dispose()
    # The models and the migrations describe the same schema.
    from alembic import command

    command.check(alembic_config(postgres_url))


# ----- signing in and out -----------------------------------------------------------


@pytest.fixture
async def lawline(clean_redis_url: str, tmp_path: Path) -> AsyncIterator[Running]:
    settings = _settings(tmp_path)
    add_user(settings, "root", "admin")
    add_user(settings, "boss", "supervisor")
    add_user(settings, "wang", "lawyer")
    add_user(settings, "li", "lawyer")
    async with running_lawline(settings, clean_redis_url) as running:
        yield running


async def test_sign_in_sets_a_secure_http_only_cookie(lawline: Running) -> None:
    async with httpx.AsyncClient(base_url=lawline.base) as http:
        r = await http.post("/api/session", json={"username": "wang", "password": PASSWORD})
    assert r.status_code == 200
    assert r.json() == {
        "username": "wang",
        "display_name": "",
        "role": "lawyer",
        "time_zone": "Asia/Shanghai",
    }
    attributes = {a.strip().lower() for a in set_cookie(r).split(";")[1:]}
    assert {"httponly", "secure", "samesite=strict", "path=/"} <= attributes
    async with await sign_in(lawline, "wang") as wang:
        assert (await wang.get("/api/session")).json()["username"] == "wang"
        assert (await wang.get("/api/queues")).status_code == 200


def from_address(lawline: Running, address: str) -> httpx.AsyncClient:
    """A client whose connections come from this loopback address (127.0.0.0/8 is all lo)."""
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(base_url=lawline.base, transport=transport, timeout=10)


async def attempt(http: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await http.post("/api/session", json={"username": username, "password": password})


async def test_a_stranger_cannot_lock_a_lawyer_out_of_their_own_desk(
    clean_redis_url: str, tmp_path: Path
) -> None:
    settings = _settings(tmp_path, max_failed_logins=3, lockout_s=60)
    add_user(settings, "wang", "lawyer")
    async with (
        running_lawline(settings, clean_redis_url) as lawline,
        from_address(lawline, "127.0.0.2") as stranger,
        from_address(lawline, "127.0.0.3") as desk,
    ):
        for _ in range(3):
            assert (await attempt(stranger, "wang", "guess")).status_code == 401
        # Locked from the stranger's address: even the right password gets a wrong
        # password's answer there...
        locked = await attempt(stranger, "wang", PASSWORD)
        assert locked.status_code == 401 and "set-cookie" not in locked.headers
        # ...while the lawyer at their own desk signs in.
        r = await attempt(desk, "wang", PASSWORD)
        assert r.status_code == 200 and set_cookie(r)

        # An unknown username is counted, locked and answered exactly like a real one.
        for _ in range(3):
            assert (await attempt(stranger, "nobody", "guess")).status_code == 401
        unknown = await attempt(stranger, "nobody", PASSWORD)
        # A name no account can have is refused as such, and counts nowhere.
        assert (await attempt(stranger, "wang:*", PASSWORD)).status_code == 422
        wrong = await attempt(desk, "wang", "guess")
        assert (locked.status_code, locked.content) == (unknown.status_code, unknown.content)
        assert (locked.status_code, locked.content) == (wrong.status_code, wrong.content)
        assert "retry-after" not in locked.headers and "retry-after" not in unknown.headers

        # An admin's new password lifts the lock.
        root_session = lawline.session("root", Role.ADMIN)
        async with httpx.AsyncClient(
            base_url=lawline.base, headers={"Cookie": f"{COOKIE_NAME}={root_session}"}
        ) as root:
            r = await root.patch("/api/users/wang", json={"password": "a new password"})
            assert r.status_code == 200, r.text
        assert (await attempt(stranger, "wang", "a new password")).status_code == 200


async def test_one_address_guessing_many_accounts_is_refused_not_the_accounts(
    clean_redis_url: str, tmp_path: Path
) -> None:
    settings = _settings(tmp_path, max_failed_logins=3, source_max_failures=4)
    add_user(settings, "wang", "lawyer")
    async with (
        running_lawline(settings, clean_redis_url) as lawline,
        from_address(lawline, "127.0.0.4") as scanner,
        from_address(lawline, "127.0.0.5") as desk,
    ):
        for name in ("wang", "li", "zhao", "qian"):
            assert (await attempt(scanner, name, "guess")).status_code == 401
        r = await attempt(scanner, "sun", "guess")
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
        assert (await attempt(scanner, "wang", PASSWORD)).status_code == 429
        assert (await attempt(desk, "wang", PASSWORD)).status_code == 200


async def test_guesses_from_many_addresses_slow_an_account_but_never_lock_it(
    clean_redis_url: str, tmp_path: Path
) -> None:
    settings = _settings(tmp_path, max_failed_logins=2, account_slow_after=4, account_delay_s=0.5)
    add_user(settings, "wang", "lawyer")
    async with running_lawline(settings, clean_redis_url) as lawline:
        for n in range(2, 5):  # three addresses, two guesses each: none locks
            async with from_address(lawline, f"127.0.1.{n}") as guesser:
                for _ in range(2):
                    assert (await attempt(guesser, "wang", "guess")).status_code == 401
        async with from_address(lawline, "127.0.1.9") as desk:
            started = time.monotonic()
            r = await attempt(desk, "wang", PASSWORD)
            assert r.status_code == 200
            assert time.monotonic() - started >= 0.5  # slowed, not refused


async def test_a_flood_of_sign_ins_is_refused_at_once_beyond_the_password_checks(
    clean_redis_url: str, tmp_path: Path
) -> None:
    settings = _settings(
        tmp_path,
        concurrent_password_checks=1,
        waiting_password_checks=1,
        max_failed_logins=100,
        source_max_failures=100,
        account_slow_after=100,
    )
    add_user(settings, "wang", "lawyer")
    async with (
        running_lawline(settings, clean_redis_url) as lawline,
        from_address(lawline, "127.0.0.6") as flood,
        from_address(lawline, "127.0.0.7") as desk,
    ):
        assert (await attempt(desk, "wang", PASSWORD)).status_code == 200  # their desk
        guesses = [attempt(flood, "wang", f"guess {n}") for n in range(20)]
        *answers, at_desk = await asyncio.gather(*guesses, attempt(desk, "wang", PASSWORD))
        codes = sorted(r.status_code for r in answers)
        assert set(codes) == {401, 503}, codes
        busy = [r for r in answers if r.status_code == 503]
        assert all(r.headers["retry-after"] == "1" for r in busy)
        # At most one check running and one waiting: most of the flood was refused...
        assert codes.count(503) >= 10, codes
        # ...while the lawyer, at the desk they signed in from before, got in.
        assert at_desk.status_code == 200
        assert (await attempt(flood, "wang", PASSWORD)).status_code == 200


async def test_sign_out_makes_the_old_cookie_useless(lawline: Running) -> None:
    wang = await sign_in(lawline, "wang")
    async with wang:
        r = await wang.delete("/api/session")
        assert r.status_code == 204
        cleared = set_cookie(r).lower()
        assert "max-age=0" in cleared and "httponly" in cleared
        # The client still sends the old cookie: Redis no longer knows it.
        r = await wang.get("/api/session")
        assert r.status_code == 401 and "session has ended" in r.text
        assert (await wang.get("/api/queues")).status_code == 401
        assert (await wang.delete("/api/session")).status_code == 204  # twice is harmless


async def test_a_session_ends_after_session_ttl_unused(
    clean_redis_url: str, tmp_path: Path
) -> None:
    ttl = 1.0
    settings = _settings(tmp_path, session_ttl_s=ttl)
    add_user(settings, "wang", "lawyer")
    redis = AsyncRedis.from_url(clean_redis_url, decode_responses=True)
    async with (
        running_lawline(settings, clean_redis_url) as lawline,
        await sign_in(lawline, "wang") as wang,
    ):
        key = f"ll:session:{wang.headers['Cookie'].split('=', 1)[1]}"
        # In use, it lives on past its time to live: time passing while the lawyer works
        # is the behaviour under test, so this sleep stays (a request every ttl/4).
        started = time.monotonic()
        while time.monotonic() - started < 2.5 * ttl:
            await asyncio.sleep(ttl / 4)
            assert (await wang.get("/api/session")).status_code == 200
        # ...and left alone, it ends: wait for Redis to drop it (EXISTS leaves the TTL be).
        deadline = time.monotonic() + 10 * ttl
        while await redis.exists(key):
            assert time.monotonic() < deadline, "the unused session never expired"
            await asyncio.sleep(0.05)
        assert (await wang.get("/api/session")).status_code == 401
    await redis.aclose()


class Heard:
    def __init__(self, pubsub: Any) -> None:
        self.pubsub = pubsub

    async def next(self, timeout: float = 5) -> tuple[str, str] | None:
        """The next announcement on the revocation channel (None: a malformed one)."""
        async with asyncio.timeout(timeout):
            while True:
                message = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
                if message is not None:
                    return revocation.parse(message["data"])


@asynccontextmanager
async def revocations(redis_url: str) -> AsyncIterator[Heard]:
    """Listen on `{prefix}:revoked` as every web process does."""
    redis = AsyncRedis.from_url(redis_url, decode_responses=True)
    pubsub = redis.pubsub()
    await pubsub.subscribe(AccountKeys("ll").revoked)
    try:
        yield Heard(pubsub)
    finally:
        await pubsub.aclose()
        await redis.aclose()


async def test_ending_a_credential_is_announced_to_every_web_process(lawline: Running) -> None:
    async with revocations(lawline.redis_url) as heard:
        wang = await sign_in(lawline, "wang")
        async with wang:
            session_id = wang.headers["Cookie"].split("=", 1)[1]
            assert (await wang.delete("/api/session")).status_code == 204
        # The session's reference, never its id (a bearer secret).
        assert await heard.next() == ("session", session_ref(session_id))
        async with await sign_in(lawline, "root") as root:
            for change in ({"disabled": True}, {"disabled": False, "password": "new pw 123"}):
                r = await root.patch("/api/users/wang", json=change)
                assert r.status_code == 200, r.text
                assert await heard.next() == ("user", "wang")
            async with await sign_in(lawline, "li") as li:
                assert (await root.patch("/api/users/li", json={"role": "mediator"})).is_success
                assert await heard.next() == ("user", "li")
                assert (await li.get("/api/session")).status_code == 401


async def test_changing_ones_own_password_ends_every_other_session(lawline: Running) -> None:
    async with (
        revocations(lawline.redis_url) as heard,
        await sign_in(lawline, "wang") as desk,
        await sign_in(lawline, "wang") as phone,
    ):
        wrong = {"password": "guess", "new_password": "a new password"}
        assert (await desk.put("/api/session/password", json=wrong)).status_code == 401
        weak = {"password": PASSWORD, "new_password": "short"}
        assert (await desk.put("/api/session/password", json=weak)).status_code == 422
        change = {"password": PASSWORD, "new_password": "a new password"}
        r = await desk.put("/api/session/password", json=change)
        assert r.status_code == 200, r.text
        assert await heard.next() == ("user", "wang")
        # The other sign-in has ended; this browser carries on with the new cookie.
        assert (await phone.get("/api/session")).status_code == 401
        assert (await desk.get("/api/session")).status_code == 401  # the old cookie
        new_cookie = set_cookie(r).split(";")[0]
        assert (await desk.get("/api/session", headers={"Cookie": new_cookie})).is_success
    await (await sign_in(lawline, "wang", "a new password")).aclose()


# ----- who may see what -------------------------------------------------------------


async def _contact_offered_to_li(lawline: Running) -> str:
    async with await sign_in(lawline, "boss") as boss:
        for lawyer_id in ("wang", "li"):
            r = await boss.post("/api/lawyers", json=LAWYER | {"id": lawyer_id})
            assert r.status_code == 201, r.text
    async with await sign_in(lawline, "li") as li:
        r = await li.put("/api/lawyers/li/state", json={"state": "available"})
        assert r.status_code == 200, r.text
    async with lawline.client("worker-1", Role.GATEWAY) as gateway:
        contact_id = (await gateway.post("/api/contacts", json=CALL)).json()["id"]
        for _ in range(100):
            contact = (await gateway.get(f"/api/contacts/{contact_id}")).json()
            if contact["lawyer"] == "li":
                return contact_id
            await asyncio.sleep(0.05)
    raise AssertionError(f"never offered to li: {contact}")


async def test_lawyers_see_only_their_own_contacts_masked(lawline: Running) -> None:
    contact_id = await _contact_offered_to_li(lawline)
    async with await sign_in(lawline, "li") as li:
        r = await li.get(f"/api/contacts/{contact_id}")
        assert r.status_code == 200
        assert r.json()["caller"] == "*******8000"
    async with await sign_in(lawline, "wang") as wang:
        assert (await wang.get(f"/api/contacts/{contact_id}")).status_code == 403
        assert (await wang.post(f"/api/contacts/{contact_id}/end")).status_code == 403
        assert (await wang.get("/api/lawyers/li")).status_code == 403
        assert (await wang.put("/api/lawyers/li/state", json={"state": "break"})).status_code == 403
        # Supervisor and admin routes.
        for method, path in [
            ("GET", "/api/contacts/waiting"),
            ("GET", "/api/lawyers"),
            ("POST", "/api/lawyers"),
            ("PATCH", "/api/lawyers/li"),
            ("GET", "/api/users"),
            ("POST", "/api/users"),
            ("PATCH", "/api/users/li"),
        ]:
            r = await wang.request(method, path, json=LAWYER | {"id": "zhao"})
            assert r.status_code == 403, (method, path, r.text)
    for who in ("boss", "root"):
        async with await sign_in(lawline, who) as staff:
            assert (await staff.get(f"/api/contacts/{contact_id}")).json()["caller"] == (
                "13800138000"
            )
            assert (await staff.get("/api/contacts/waiting")).status_code == 200


async def test_signed_out_requests_get_401(lawline: Running) -> None:
    contact_id = await _contact_offered_to_li(lawline)
    async with httpx.AsyncClient(base_url=lawline.base) as http:
        for method, path in [
            ("GET", "/api/session"),
            ("GET", f"/api/contacts/{contact_id}"),
            ("GET", "/api/contacts/waiting"),
            ("GET", "/api/queues"),
            ("GET", "/api/lawyers"),
            ("GET", "/api/lawyers/li"),
            ("GET", "/api/users"),
            ("POST", "/api/users"),
        ]:
            r = await http.request(method, path)
            assert r.status_code == 401, (method, path, r.text)
        http.headers["Cookie"] = f"{COOKIE_NAME}=made-up"
        assert (await http.get("/api/queues")).status_code == 401


async def test_admins_manage_users(lawline: Running) -> None:
    new = {"username": "zhao", "role": "lawyer", "password": PASSWORD, "display_name": "赵律师"}
    async with await sign_in(lawline, "boss") as boss:
        assert (await boss.post("/api/users", json=new)).status_code == 403
    async with await sign_in(lawline, "root") as root:
        r = await root.post("/api/users", json=new)
        assert r.status_code == 201, r.text
        assert r.json()["display_name"] == "赵律师"
        assert (await root.post("/api/users", json=new)).status_code == 409
        r = await root.post("/api/users", json=new | {"username": "qian", "password": "short"})
        assert r.status_code == 422 and "password" in r.text
        r = await root.post("/api/users", json=new | {"username": "qian", "role": "gateway"})
        assert r.status_code == 422
        users = (await root.get("/api/users")).json()
        assert [u["username"] for u in users] == ["boss", "li", "root", "wang", "zhao"]
        assert all("password" not in key for u in users for key in u)

        # A new role ends the user's sessions: the role travels with the session.
        async with await sign_in(lawline, "zhao") as zhao:
            r = await root.patch("/api/users/zhao", json={"role": "mediator"})
            assert r.json()["role"] == "mediator"
            assert (await zhao.get("/api/session")).status_code == 401
        async with await sign_in(lawline, "zhao") as zhao:
            assert (await zhao.get("/api/session")).json()["role"] == "mediator"
            # Disabled: signed out at once, and cannot sign in again.
            assert (await root.patch("/api/users/zhao", json={"disabled": True})).status_code == 200
            assert (await zhao.get("/api/session")).status_code == 401
        async with httpx.AsyncClient(base_url=lawline.base) as http:
            body = {"username": "zhao", "password": PASSWORD}
            assert (await http.post("/api/session", json=body)).status_code == 401
        r = await root.patch("/api/users/zhao", json={"disabled": False, "password": "reset pw 2"})
        assert r.status_code == 200
        await (await sign_in(lawline, "zhao", "reset pw 2")).aclose()
        # An admin cannot lock themselves out.
        assert (await root.patch("/api/users/root", json={"disabled": True})).status_code == 409
        assert (await root.patch("/api/users/root", json={"role": "lawyer"})).status_code == 409
        assert (await root.patch("/api/users/ghost", json={"disabled": True})).status_code == 404


async def test_a_websocket_authenticates_with_the_session_cookie(
    clean_redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def whoami(ws: WebSocket) -> None:
        principal = await authenticate_async(ws)
        await ws.accept()
        await ws.send_json({"subject": principal.subject, "role": principal.role})
        await ws.close()

    def app_with_whoami(settings: Settings, redis_url: str) -> FastAPI:
        app = create_app(settings, redis_url)
        app.add_api_websocket_route("/test/whoami", whoami)
        return app

    monkeypatch.setattr(lawline_server, "create_app", app_with_whoami)
    settings = _settings(tmp_path)
    add_user(settings, "wang", "lawyer")
    async with running_lawline(settings, clean_redis_url) as lawline:
        wang = await sign_in(lawline, "wang")
        url = lawline.base.replace("http://", "ws://") + "/test/whoami"
        cookie = {"Cookie": wang.headers["Cookie"]}
        async with websockets.connect(url, additional_headers=cookie) as ws:
            assert json.loads(await ws.recv()) == {"subject": "wang", "role": "lawyer"}
        await wang.delete("/api/session")
        await wang.aclose()
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with websockets.connect(url, additional_headers=cookie):
                pass
        assert refused.value.response.status_code == 401


# ----- the command line -------------------------------------------------------------


def _lawline(
    tmp_path: Path, *args: str, stdin: str = "", redis_url: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LAWLINE_DATA_DIR": str(tmp_path), "PYTHONPATH": str(REPO)}
    env["LAWLINE_SECRET_KEY"] = "test-secret"  # the running app's, from _settings
    env.pop("LAWLINE_DATABASE_URL", None)
    env.pop("LAWLINE_REDIS_URL", None)
    if redis_url is not None:
        env["LAWLINE_REDIS_URL"] = redis_url
    return subprocess.run(
        [sys.executable, "-m", "lawline", *args],
        cwd=tmp_path,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_first_admin_from_the_command_line(clean_redis_url: str, tmp_path: Path) -> None:
    add = ["user", "add", "root", "--role", "admin", "--display-name", "管理员", "--password-stdin"]
    done = await asyncio.to_thread(_lawline, tmp_path, *add, stdin=PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    again = await asyncio.to_thread(_lawline, tmp_path, *add, stdin=PASSWORD + "\n")
    assert again.returncode == 1 and "exists" in again.stderr
    weak = ["user", "add", "li", "--role", "lawyer", "--password-stdin"]
    done = await asyncio.to_thread(_lawline, tmp_path, *weak, stdin="short\n")
    assert done.returncode == 1 and "password" in done.stderr
    listed = await asyncio.to_thread(_lawline, tmp_path, "user", "list")
    assert listed.stdout.split("\n")[0].split("\t")[:3] == ["root", "admin", "管理员"]

    async with (
        running_lawline(_settings(tmp_path), clean_redis_url) as lawline,
        revocations(clean_redis_url) as heard,
    ):
        async with await sign_in(lawline, "root") as root:
            me = (await root.get("/api/session")).json()
            assert me == {
                "username": "root",
                "display_name": "管理员",
                "role": "admin",
                "time_zone": "Asia/Shanghai",
            }
            # No default users: only the one the command made.
            assert [u["username"] for u in (await root.get("/api/users")).json()] == ["root"]
            # A new password from the command line ends the sessions at once, everywhere.
            passwd = ["user", "passwd", "root", "--password-stdin"]
            done = await asyncio.to_thread(
                _lawline, tmp_path, *passwd, stdin="another one\n", redis_url=clean_redis_url
            )
            assert done.returncode == 0, done.stderr
            assert (await root.get("/api/session")).status_code == 401
        assert await heard.next() == ("user", "root")
        await (await sign_in(lawline, "root", "another one")).aclose()


def test_user_add_prompts_for_the_password_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from lawline.cli import app

    monkeypatch.setenv("LAWLINE_DATA_DIR", str(tmp_path))
    add = ["user", "add", "boss", "--role", "supervisor"]
    result = CliRunner().invoke(app, add, input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output  # typed unseen
    assert "Repeat" in result.output
    engine = make_engine(f"sqlite:///{tmp_path / 'lawline.db'}")
    with session_factory(engine)() as session:
        assert Accounts(session, AccountSettings()).verify("boss", PASSWORD).role == "supervisor"
    engine.dispose()


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _old_style_token(subject: str, role: str, secret: str = "test-secret") -> str:
    """A token as lawline signed them before people had sessions: any role, no id."""
    payload = json.dumps({"sub": subject, "role": role, "exp": int(time.time()) + 3600}).encode()
    sig = hmac.new(secret.encode(), payload, hashlib.sha256).digest()
    b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()  # noqa: E731
    return f"{b64(payload)}.{b64(sig)}"


async def test_service_tokens_are_for_services_short_lived_and_revocable(
    lawline: Running, tmp_path: Path
) -> None:
    refused = await asyncio.to_thread(
        _lawline, tmp_path, "token", "issue", "boss", "--role", "supervisor"
    )
    assert refused.returncode != 0 and "sign in" in refused.stderr
    issued = await asyncio.to_thread(
        _lawline, tmp_path, "token", "issue", "prometheus", "--role", "scraper"
    )
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip()
    claims = _claims(token)
    assert claims["role"] == "scraper" and issued.stderr.startswith(f"token id {claims['jti']}")
    # Every id can be given to `token revoke` as it is (never "-" first, read as an option).
    assert set(claims["jti"]) <= set("0123456789abcdef")
    assert 86400 - 60 < claims["exp"] - time.time() <= 86400  # one day unless --days

    async with httpx.AsyncClient(base_url=lawline.base) as http:
        # /metrics names every lawyer: a scraper's token or an admin only.
        assert (await http.get("/metrics")).status_code == 401
        async with await sign_in(lawline, "wang") as wang:
            assert (await wang.get("/metrics")).status_code == 403
        scraper = {"Authorization": f"Bearer {token}"}
        r = await http.get("/metrics", headers=scraper)
        assert r.status_code == 200 and "lawline_lawyers" in r.text
        # A scraper's token opens nothing else.
        assert (await http.get("/api/queues", headers=scraper)).status_code == 403
        # Tokens naming a person's role are no longer honoured, however well signed.
        for role in ("supervisor", "admin", "lawyer"):
            forged = {"Authorization": f"Bearer {_old_style_token('boss', role)}"}
            assert (await http.get("/api/queues", headers=forged)).status_code == 401

        async with revocations(lawline.redis_url) as heard:
            done = await asyncio.to_thread(
                _lawline,
                tmp_path,
                "token",
                "revoke",
                claims["jti"],
                redis_url=lawline.redis_url,
            )
            assert done.returncode == 0, done.stderr
            assert await heard.next() == ("token", claims["jti"])
        r = await http.get("/metrics", headers=scraper)
        assert r.status_code == 401 and "revoked" in r.text


def test_the_throttle_locks_a_pair_slows_an_account_and_refuses_a_source() -> None:
    from lawline.accounts.throttle import Counts, Verdict, decide

    limits = AccountSettings(max_failed_logins=5, account_slow_after=20, source_max_failures=50)
    # Counts include the attempt being decided: the 6th try after 5 failures is locked.
    assert decide(Counts(pair=5, account=5, source=5), limits) is Verdict.CHECK
    assert decide(Counts(pair=6, account=6, source=6), limits) is Verdict.LOCKED
    assert decide(Counts(pair=1, account=21, source=1), limits) is Verdict.SLOW
    # Not from where the account signed in lately: the lawyer's own desk.
    assert decide(Counts(1, 21, 1, known_desk=True), limits) is Verdict.CHECK
    assert decide(Counts(pair=6, account=21, source=6), limits) is Verdict.LOCKED
    assert decide(Counts(pair=1, account=1, source=51), limits) is Verdict.SOURCE_BLOCKED
    # A centre's lawyers behind one address: a known desk is not blocked for the others.
    assert decide(Counts(1, 1, 51, known_desk=True), limits) is Verdict.CHECK
    assert decide(Counts(6, 1, 51, known_desk=True), limits) is Verdict.LOCKED
