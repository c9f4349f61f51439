"""Signing in and out, and the admin's user management: bodies."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from lawline.accounts.models import User
from lawline.accounts.roles import Role
from lawline.accounts.service import MAX_PASSWORD_LENGTH, USERNAME_PATTERN


class SignInIn(BaseModel):
    # The rule of usernames: a name that cannot exist is refused (422) before any counting.
    username: str = Field(pattern=USERNAME_PATTERN)
    password: str = Field(max_length=MAX_PASSWORD_LENGTH)


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str = Field(max_length=MAX_PASSWORD_LENGTH)
    new_password: str = Field(max_length=MAX_PASSWORD_LENGTH)


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
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            username=user.username,
            display_name=user.display_name,
            role=Role(user.role),
            disabled=user.disabled,
            created_at=user.created_at,
        )
