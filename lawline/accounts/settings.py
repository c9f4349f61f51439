"""Sign-in settings (`[accounts]`): sessions, throttling, service tokens."""

from __future__ import annotations

from pydantic import BaseModel, Field


class AccountSettings(BaseModel):
    # Sign-in sessions: an http-only cookie naming a session kept in Redis.
    session_ttl_s: float = Field(default=12 * 3600, gt=0)
    # Secure cookies need HTTPS (browsers also accept them from http://localhost).
    cookie_secure: bool = True
    # Wrong passwords in a row from one address before the account is locked from
    # that address (only), and how long failures are remembered (see accounts/throttle.py).
    max_failed_logins: int = Field(default=5, ge=1)
    lockout_s: float = Field(default=900, gt=0)
    # Failures of one account from anywhere beyond which each attempt on it waits
    # account_delay_s (slowed, never locked: the lawyer can still sign in).
    account_slow_after: int = Field(default=20, ge=1)
    account_delay_s: float = Field(default=1.0, ge=0, le=10)
    # Failures from one address, whatever the accounts, beyond which it gets 429.
    source_max_failures: int = Field(default=50, ge=1)
    # argon2 checks one web process runs at once, and sign-ins that may wait for one;
    # more are answered 503 at once.
    concurrent_password_checks: int = Field(default=2, ge=1)
    waiting_password_checks: int = Field(default=16, ge=0)
    # An address an account signed in from is its known desk this long: its checks
    # get a lane of their own, so a flood of guesses does not keep the lawyer out.
    known_desk_days: float = Field(default=30, gt=0)
    # Service tokens (`lawline token`): default and longest life.
    token_days: float = Field(default=1, gt=0)
    max_token_days: float = Field(default=90, gt=0)
