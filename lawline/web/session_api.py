"""Signing in and out (/api/session), and the admin's user management (/api/users).

Thin routes over `accounts.service.Accounts`. Database work (and argon2, which
takes tens of milliseconds on purpose) runs in a worker thread, off the event
loop that serves every console.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session, sessionmaker

from lawline.accounts.models import User
from lawline.accounts.service import (
    MAX_PASSWORD_LENGTH,
    AccountError,
    AccountLocked,
    Accounts,
    NoSuchUser,
    UserExists,
    WrongPassword,
    check_password,
    check_role,
)
from lawline.accounts.sessions import SessionStore
from lawline.config import Settings
from lawline.web.auth import COOKIE_NAME, Principal, Role, require

router = APIRouter(prefix="/api")
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]
Anyone = Annotated[Principal, Depends(require())]
T = TypeVar("T")


class SignInIn(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=MAX_PASSWORD_LENGTH)


class Me(BaseModel):
    username: str
    display_name: str
    role: Role


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str
    role: Role
    password: str
    display_name: str = Field(default="", max_length=100)


class UserPatch(BaseModel):
    """Only what is given changes. A new password also lifts a lock-out."""

    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    disabled: bool | None = None
    display_name: str | None = Field(default=None, max_length=100)
    password: str | None = None


class UserOut(BaseModel):
    username: str
    display_name: str
    role: Role
    disabled: bool
    locked_until: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            username=user.username,
            display_name=user.display_name,
            role=Role(user.role),
            disabled=user.disabled,
            locked_until=user.locked_until,
            created_at=user.created_at,
        )


async def _accounts(request: Request, work: Callable[[Accounts], T]) -> T:
    """Run `work` with the users table in a worker thread; AccountError becomes 4xx."""
    settings: Settings = request.app.state.settings
    db: sessionmaker[Session] = request.app.state.db

    def run() -> T:
        with db() as session:
            return work(Accounts(session, settings.accounts))

    try:
        return await run_in_threadpool(run)
    except NoSuchUser as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except UserExists as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    except AccountLocked as exc:
        raise HTTPException(
            status.HTTP_423_LOCKED, str(exc), headers={"Retry-After": str(exc.retry_after_s)}
        ) from exc
    except WrongPassword as exc:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, str(exc)) from exc
    except AccountError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc


def _sessions(request: Request) -> SessionStore:
    return request.app.state.sessions


def _now() -> datetime:
    return datetime.now(UTC)


# ----- signing in and out -----------------------------------------------------------


@router.post("/session")
async def sign_in(body: SignInIn, request: Request, response: Response) -> Me:
    """Password sign-in: sets the http-only session cookie. 401 wrong, 423 locked out."""

    def verify(accounts: Accounts) -> Me:
        user = accounts.verify(body.username, body.password, _now())
        return Me(username=user.username, display_name=user.display_name, role=Role(user.role))

    me = await _accounts(request, verify)
    sessions = _sessions(request)
    if old := request.cookies.get(COOKIE_NAME):
        await sessions.delete(old)  # signing in again replaces this browser's session
    session_id = await sessions.create(me.username, me.role)
    response.set_cookie(
        COOKIE_NAME,
        session_id,
        httponly=True,
        samesite="strict",
        path="/",
        secure=request.app.state.settings.accounts.cookie_secure,
    )
    return me


@router.get("/session")
async def who_am_i(request: Request, principal: Anyone) -> Me:
    """Who is signed in (a service token's subject has no display name)."""
    user = await _accounts(request, lambda a: a.get(principal.subject))
    if user is None or principal.role == Role.GATEWAY:
        return Me(username=principal.subject, display_name="", role=principal.role)
    return Me(username=user.username, display_name=user.display_name, role=principal.role)


@router.delete("/session", status_code=status.HTTP_204_NO_CONTENT)
async def sign_out(request: Request, response: Response) -> None:
    """Ends this browser's session everywhere; signing out twice is harmless."""
    if session_id := request.cookies.get(COOKIE_NAME):
        await _sessions(request).delete(session_id)
    response.delete_cookie(
        COOKIE_NAME,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.app.state.settings.accounts.cookie_secure,
    )


# ----- users (admins) ---------------------------------------------------------------


@router.get("/users")
async def list_users(request: Request, _: Admin) -> list[UserOut]:
    return await _accounts(request, lambda a: [UserOut.of(u) for u in a.users()])


@router.post("/users", status_code=status.HTTP_201_CREATED)
async def add_user(body: UserIn, request: Request, _: Admin) -> UserOut:
    return await _accounts(
        request,
        lambda a: UserOut.of(
            a.add_user(body.username, body.role, body.password, _now(), body.display_name)
        ),
    )


@router.patch("/users/{username}")
async def update_user(username: str, body: UserPatch, request: Request, me: Admin) -> UserOut:
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

    out = await _accounts(request, update)
    if body.role is not None or body.disabled or body.password is not None:
        # Sessions carry the role, and a reset password may mean a stolen one.
        await _sessions(request).delete_user(username)
    return out
