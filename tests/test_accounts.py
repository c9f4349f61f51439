"""Accounts: argon2 passwords, lock-out, sign-in sessions in Redis, and who may see what.

The API tests run the real app on uvicorn with a real Redis and a real SQLite
file; `lawline user add` runs as a real subprocess.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import websockets
from alembic.script import ScriptDirectory
from argon2 import PasswordHasher
from fastapi import FastAPI, WebSocket

from lawline.accounts.service import AccountError, AccountLocked, Accounts, WrongPassword
from lawline.config import AccountSettings, RoutingSettings, Settings
from lawline.db import alembic_config, make_engine, session_factory, upgrade
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
    assert accounts.verify("wang", PASSWORD, NOW).display_name == "王律师"


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
    accounts.verify("wang", PASSWORD, NOW)
    after = accounts.get("wang").password_hash  # type: ignore[union-attr]
    assert after != before and "m=65536," in after
    accounts.verify("wang", PASSWORD, NOW)
    assert accounts.get("wang").password_hash == after  # type: ignore[union-attr]


def test_lock_out_after_repeated_failures_then_unlock(accounts: Accounts) -> None:
    accounts.add_user("wang", "lawyer", PASSWORD, NOW)
    # Failures are counted in a row: a success starts the count again.
    for _ in range(2):
        with pytest.raises(WrongPassword):
            accounts.verify("wang", "guess", NOW)
    accounts.verify("wang", PASSWORD, NOW)
    for _ in range(3):
        with pytest.raises(WrongPassword):
            accounts.verify("wang", "guess", NOW)
    # Locked: even the right password is refused, until lockout_s has passed.
    with pytest.raises(AccountLocked) as locked:
        accounts.verify("wang", PASSWORD, NOW + timedelta(seconds=59))
    assert locked.value.retry_after_s == 1
    assert accounts.verify("wang", PASSWORD, NOW + timedelta(seconds=60)).username == "wang"
    # An admin's new password lifts a lock-out at once.
    for _ in range(3):
        with pytest.raises(WrongPassword):
            accounts.verify("wang", "guess", NOW)
    accounts.set_password("wang", "a new password")
    accounts.verify("wang", "a new password", NOW)


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
            counting.verify(name, PASSWORD, NOW)
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


def test_migrations_and_accounts_on_postgresql(postgres_url: str) -> None:
    upgrade(postgres_url)
    upgrade(postgres_url)
    engine = make_engine(postgres_url)
    try:
        with session_factory(engine)() as session:
            accounts = Accounts(session, AccountSettings(max_failed_logins=1, lockout_s=60))
            accounts.add_user("wang", "lawyer", PASSWORD, NOW)
            with pytest.raises(WrongPassword):
                accounts.verify("wang", "guess", NOW)
            with pytest.raises(AccountLocked):
                accounts.verify("wang", PASSWORD, NOW)
            user = accounts.verify("wang", PASSWORD, NOW + timedelta(minutes=2))
            assert user.created_at == NOW
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
    assert r.json() == {"username": "wang", "display_name": "", "role": "lawyer"}
    attributes = {a.strip().lower() for a in set_cookie(r).split(";")[1:]}
    assert {"httponly", "secure", "samesite=strict", "path=/"} <= attributes
    async with await sign_in(lawline, "wang") as wang:
        assert (await wang.get("/api/session")).json()["username"] == "wang"
        assert (await wang.get("/api/queues")).status_code == 200


async def test_wrong_password_is_401_and_lock_out_is_423(
    clean_redis_url: str, tmp_path: Path
) -> None:
    settings = _settings(tmp_path, max_failed_logins=3, lockout_s=1)
    add_user(settings, "wang", "lawyer")
    async with (
        running_lawline(settings, clean_redis_url) as lawline,
        httpx.AsyncClient(base_url=lawline.base) as http,
    ):

        async def attempt(password: str, username: str = "wang") -> httpx.Response:
            body = {"username": username, "password": password}
            return await http.post("/api/session", json=body)

        r = await attempt("guess", "nobody")
        assert r.status_code == 401 and "wrong username or password" in r.text
        assert "set-cookie" not in r.headers
        for _ in range(3):
            assert (await attempt("guess")).status_code == 401
        r = await attempt(PASSWORD)
        assert r.status_code == 423 and "locked" in r.text
        assert r.headers["retry-after"] == "1"
        await asyncio.sleep(1.1)
        assert (await attempt(PASSWORD)).status_code == 200


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
    settings = _settings(tmp_path, session_ttl_s=0.5)
    add_user(settings, "wang", "lawyer")
    async with (
        running_lawline(settings, clean_redis_url) as lawline,
        await sign_in(lawline, "wang") as wang,
    ):
        # In use, it lives on past its time to live...
        for _ in range(4):
            await asyncio.sleep(0.25)
            assert (await wang.get("/api/session")).status_code == 200
        # ...and left alone, it ends.
        await asyncio.sleep(0.7)
        assert (await wang.get("/api/session")).status_code == 401


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


def _lawline(tmp_path: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LAWLINE_DATA_DIR": str(tmp_path), "PYTHONPATH": str(REPO)}
    env.pop("LAWLINE_DATABASE_URL", None)
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

    async with running_lawline(_settings(tmp_path), clean_redis_url) as lawline:
        async with await sign_in(lawline, "root") as root:
            me = (await root.get("/api/session")).json()
            assert me == {"username": "root", "display_name": "管理员", "role": "admin"}
            # No default users: only the one the command made.
            assert [u["username"] for u in (await root.get("/api/users")).json()] == ["root"]
        passwd = ["user", "passwd", "root", "--password-stdin"]
        done = await asyncio.to_thread(_lawline, tmp_path, *passwd, stdin="another one\n")
        assert done.returncode == 0, done.stderr
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
        assert (
            Accounts(session, AccountSettings()).verify("boss", PASSWORD, NOW).role == "supervisor"
        )
    engine.dispose()
