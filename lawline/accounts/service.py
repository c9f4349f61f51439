"""Users and passwords: plain functions over a database session, time passed in.

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106's
low-memory profile) and rehashed at sign-in when those defaults change.
Guessing is throttled per account and source address in Redis, before the
password is checked (accounts/throttle.py); the users table's old
`failed_logins`/`locked_until` columns were dropped (migration 0006).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lawline.accounts.models import User
from lawline.accounts.roles import USER_ROLES, Role
from lawline.accounts.settings import AccountSettings

# The same rule as lawyer ids: a lawyer's username is their id in the queue.
USERNAME_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
_USERNAME = re.compile(USERNAME_PATTERN)
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024


class AccountError(ValueError):
    """A request the accounts cannot carry out; the message says why."""


class NoSuchUser(AccountError):
    pass


class UserExists(AccountError):
    pass


class WrongPassword(AccountError):
    """Unknown user, wrong password or disabled account: deliberately not told apart."""


@cache
def _unknown_user_hash(hasher: PasswordHasher) -> str:
    # Checked against when the user does not exist, so that takes as long as a real check.
    return hasher.hash("no such user")


def check_username(username: str) -> str:
    if not _USERNAME.match(username):
        raise AccountError("a username is 1-64 letters, digits, '_', '.' or '-'")
    return username


def check_password(password: str) -> str:
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise AccountError(
            f"a password is {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters"
        )
    return password


def check_role(role: str) -> Role:
    if role not in USER_ROLES:
        raise AccountError(f"a user's role is one of {', '.join(USER_ROLES)}, not {role!r}")
    return Role(role)


class Accounts:
    """The users table. Every method that changes something commits."""

    def __init__(
        self, session: Session, settings: AccountSettings, hasher: PasswordHasher | None = None
    ) -> None:
        self.session = session
        self.settings = settings
        self.hasher = hasher or PasswordHasher()

    def get(self, username: str) -> User | None:
        return self.session.get(User, username)

    def users(self) -> Sequence[User]:
        return self.session.scalars(select(User).order_by(User.username)).all()

    def add_user(
        self, username: str, role: str, password: str, now: datetime, display_name: str = ""
    ) -> User:
        check_username(username)
        checked_role = check_role(role)
        check_password(password)
        if self.get(username) is not None:
            raise UserExists(f"user {username} exists")
        user = User(
            username=username,
            display_name=display_name,
            role=checked_role,
            password_hash=self.hasher.hash(password),
            disabled=False,
            created_at=now,
        )
        self.session.add(user)
        try:
            self.session.commit()
        except IntegrityError:  # added by someone else since the check above
            self.session.rollback()
            raise UserExists(f"user {username} exists") from None
        return user

    def set_password(self, username: str, password: str) -> User:
        """A new password (the caller also ends their sessions and lifts sign-in locks)."""
        user = self._existing(username)
        user.password_hash = self.hasher.hash(check_password(password))
        self.session.commit()
        return user

    def update(
        self,
        username: str,
        role: str | None = None,
        disabled: bool | None = None,
        display_name: str | None = None,
    ) -> User:
        user = self._existing(username)
        if role is not None:
            user.role = check_role(role)
        if disabled is not None:
            user.disabled = disabled
        if display_name is not None:
            user.display_name = display_name
        self.session.commit()
        return user

    def verify(self, username: str, password: str) -> User:
        """The user, if this is their password; else WrongPassword (unknown, disabled and
        wrong alike, each after one argon2 check)."""
        user = self.get(username)
        if user is None or user.disabled:
            self.waste_a_check(password)
            raise WrongPassword("wrong username or password")
        if not self._check(user.password_hash, password):
            raise WrongPassword("wrong username or password")
        if self.hasher.check_needs_rehash(user.password_hash):
            user.password_hash = self.hasher.hash(password)
            self.session.commit()
        return user

    def waste_a_check(self, password: str) -> None:
        """The argon2 work of a real check, for answers that must take as long as one."""
        self._check(_unknown_user_hash(self.hasher), password)

    def _check(self, password_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def _existing(self, username: str) -> User:
        user = self.get(username)
        if user is None:
            raise NoSuchUser(f"no such user {username}")
        return user
