"""Signing in and out (/api/session), and the admin's user management (/api/users).

Thin routes over `accounts.service.Accounts`. Database work (and argon2, which
takes tens of milliseconds on purpose) runs in a worker thread, off the event
loop that serves every console.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session, sessionmaker

from lawline.accounts.models import User
from lawline.accounts.roles import SERVICE_ROLES
from lawline.accounts.service import (
    AccountError,
    Accounts,
    NoSuchUser,
    UserExists,
    WrongPassword,
    check_password,
    check_role,
)
from lawline.accounts.sessions import session_ref
from lawline.accounts.throttle import PasswordGate, SignInThrottle, Verdict, VerifierBusy
from lawline.config import Settings
from lawline.revocation import announce
from lawline.web.auth import COOKIE_NAME, Role
from lawline.web.deps import (
    Admin,
    Anyone,
    DbDep,
    PasswordGateDep,
    SessionsDep,
    SettingsDep,
    ThrottleDep,
)
from lawline.web.schemas.accounts import (
    Me,
    PasswordChange,
    SignInIn,
    UserIn,
    UserOut,
    UserPatch,
)

router = APIRouter(prefix="/api")
T = TypeVar("T")


async def _accounts(
    db: sessionmaker[Session], settings: Settings, work: Callable[[Accounts], T]
) -> T:
    """Run `work` with the users table in a worker thread; AccountError becomes 4xx."""

    def run() -> T:
        with db() as session:
            return work(Accounts(session, settings.accounts))

    try:
        return await run_in_threadpool(run)
    except NoSuchUser as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except UserExists as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    except WrongPassword as exc:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, str(exc)) from exc
    except AccountError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc


def check_password_or_422(password: str) -> None:
    try:
        check_password(password)
    except AccountError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc


def _now() -> datetime:
    return datetime.now(UTC)


# ----- signing in and out -----------------------------------------------------------


def _source(request: Request) -> str:
    # The TCP peer as uvicorn reports it (see accounts/throttle.py on proxies).
    return request.client.host if request.client else "unknown"


@dataclass(frozen=True)
class PasswordCheck:
    """What checking a password needs: the users table, the sign-in throttle, and the
    bound on argon2 work."""

    db: sessionmaker[Session]
    settings: Settings
    throttle: SignInThrottle
    gate: PasswordGate


def password_check(
    db: DbDep, settings: SettingsDep, throttle: ThrottleDep, gate: PasswordGateDep
) -> PasswordCheck:
    return PasswordCheck(db, settings, throttle, gate)


PasswordCheckDep = Annotated[PasswordCheck, Depends(password_check)]


async def _with_password(
    request: Request,
    check: PasswordCheck,
    username: str,
    password: str,
    then: Callable[[Accounts, User], T],
) -> T:
    """`then(accounts, user)` if this is the user's password, through the sign-in throttle
    and the bound on argon2 work; else the same 401 whatever the reason."""
    throttle = check.throttle
    source = _source(request)
    verdict, counts = await throttle.attempt(username, source)
    if verdict is Verdict.SOURCE_BLOCKED:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "too many failed sign-ins from this address: try again later",
            headers={"Retry-After": str(int(throttle.settings.lockout_s))},
        )
    if verdict is Verdict.SLOW:
        await asyncio.sleep(throttle.settings.account_delay_s)

    def verify(accounts: Accounts) -> T:
        if verdict is Verdict.LOCKED:
            # The same work and the same answer as a wrong password.
            accounts.waste_a_check(password)
            raise WrongPassword("wrong username or password")
        return then(accounts, accounts.verify(username, password))

    try:
        async with check.gate.admit(counts.known_desk):
            result = await _accounts(check.db, check.settings, verify)
    except VerifierBusy:
        await throttle.unchecked(username, source)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "too many sign-ins at once: try again in a moment",
            headers={"Retry-After": "1"},
        ) from None
    await throttle.succeeded(username, source)
    return result


async def _new_session(
    request: Request, response: Response, sessions: SessionsDep, settings: Settings, me: Me
) -> None:
    if (old := request.cookies.get(COOKIE_NAME)) and await sessions.delete(old):
        # Signing in again replaces this browser's session.
        await announce(sessions.redis, sessions.prefix, "session", session_ref(old))
    session_id = await sessions.create(me.username, me.role)
    response.set_cookie(
        COOKIE_NAME,
        session_id,
        httponly=True,
        samesite="strict",
        path="/",
        secure=settings.accounts.cookie_secure,
    )


def _me(user: User, settings: Settings) -> Me:
    return Me(
        username=user.username,
        display_name=user.display_name,
        role=Role(user.role),
        time_zone=settings.timezone,
    )


@router.post("/session")
async def sign_in(
    body: SignInIn,
    request: Request,
    response: Response,
    check: PasswordCheckDep,
    sessions: SessionsDep,
) -> Me:
    """Password sign-in: sets the http-only session cookie. 401 for a wrong password, an
    unknown or disabled account and one locked from this address alike; 429 for an
    address that has guessed too often; 503 when too many sign-ins wait to be checked."""
    me = await _with_password(
        request, check, body.username, body.password, lambda _, user: _me(user, check.settings)
    )
    await _new_session(request, response, sessions, check.settings, me)
    return me


@router.put("/session/password")
async def change_password(
    body: PasswordChange,
    request: Request,
    response: Response,
    check: PasswordCheckDep,
    sessions: SessionsDep,
    principal: Anyone,
) -> Me:
    """A person changes their own password, giving the current one: every session of
    theirs ends (open consoles close) and this browser gets a new one."""
    if principal.role in SERVICE_ROLES:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "a service token has no password")
    check_password_or_422(body.new_password)

    def change(accounts: Accounts, user: User) -> Me:
        return _me(accounts.set_password(user.username, body.new_password), check.settings)

    me = await _with_password(request, check, principal.subject, body.password, change)
    await sessions.delete_user(me.username)
    await announce(sessions.redis, sessions.prefix, "user", me.username)
    await check.throttle.clear(me.username)
    await _new_session(request, response, sessions, check.settings, me)
    return me


@router.get("/session")
async def who_am_i(db: DbDep, settings: SettingsDep, principal: Anyone) -> Me:
    """Who is signed in (a service token's subject has no display name)."""
    user = await _accounts(db, settings, lambda a: a.get(principal.subject))
    if user is None or principal.role == Role.GATEWAY:
        return Me(
            username=principal.subject,
            display_name="",
            role=principal.role,
            time_zone=settings.timezone,
        )
    return Me(
        username=user.username,
        display_name=user.display_name,
        role=principal.role,
        time_zone=settings.timezone,
    )


@router.delete("/session", status_code=status.HTTP_204_NO_CONTENT)
async def sign_out(
    request: Request, response: Response, sessions: SessionsDep, settings: SettingsDep
) -> None:
    """Ends this browser's session everywhere; signing out twice is harmless."""
    if (session_id := request.cookies.get(COOKIE_NAME)) and await sessions.delete(session_id):
        # Its open websockets close too (each web process listens).
        await announce(sessions.redis, sessions.prefix, "session", session_ref(session_id))
    response.delete_cookie(
        COOKIE_NAME,
        path="/",
        httponly=True,
        samesite="strict",
        secure=settings.accounts.cookie_secure,
    )


# ----- users (admins) ---------------------------------------------------------------


@router.get("/users")
async def list_users(db: DbDep, settings: SettingsDep, _: Admin) -> list[UserOut]:
    return await _accounts(db, settings, lambda a: [UserOut.of(u) for u in a.users()])


@router.post("/users", status_code=status.HTTP_201_CREATED)
async def add_user(body: UserIn, db: DbDep, settings: SettingsDep, _: Admin) -> UserOut:
    return await _accounts(
        db,
        settings,
        lambda a: UserOut.of(
            a.add_user(body.username, body.role, body.password, _now(), body.display_name)
        ),
    )


@router.patch("/users/{username}")
async def update_user(
    username: str,
    body: UserPatch,
    db: DbDep,
    settings: SettingsDep,
    sessions: SessionsDep,
    throttle: ThrottleDep,
    me: Admin,
) -> UserOut:
    """Role, disabled, display name, password reset. Changing any but the name signs them out."""
    if username == me.subject and (body.disabled or body.role not in (None, Role.ADMIN)):
        raise HTTPException(status.HTTP_409_CONFLICT, "an admin may not lock themselves out")

    def update(accounts: Accounts) -> UserOut:
        # Check everything first, so a bad password does not leave the rest half-changed.
        if body.role is not None:
            check_role(body.role)
        if body.password is not None:
            check_password(body.password)
        user = accounts.update(username, body.role, body.disabled, body.display_name)
        if body.password is not None:
            user = accounts.set_password(username, body.password)
        return UserOut.of(user)

    out = await _accounts(db, settings, update)
    if body.role is not None or body.disabled or body.password is not None:
        # Sessions carry the role, and a reset password may mean a stolen one.
        await sessions.delete_user(username)
        await announce(sessions.redis, sessions.prefix, "user", username)
    if body.password is not None:
        await throttle.clear(username)  # how an admin unlocks
    return out
