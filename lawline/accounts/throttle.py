"""Throttling password guesses without letting a stranger lock a lawyer out.

Failed sign-ins are counted in Redis (shared by every web process) three ways,
each counter living `lockout_s` after the attempt that last raised it:

  account + source   `max_failed_logins` wrong passwords in a row from one
                     address lock the account *from that address only*; the
                     lawyer at their own desk (another address) still signs in.
  account            more than `account_slow_after` failures from anywhere slow
                     every attempt on it by `account_delay_s` (but from its
                     known desks, below): a guesser spread over many addresses
                     is slowed, never given a lock-out.
  source             more than `source_max_failures` failures from one address,
                     whatever the accounts, and it is refused (429) for a while
                     (but for the accounts it is a known desk of): one address
                     cannot try every username.

An address an account signed in from lately (`known_desk_days`) is a known
desk: its checks have a lane of their own in the bound on argon2 work
(`PasswordGate`), so a flood of guesses does not keep the lawyer out either.
An attempt refused unchecked (busy) is not counted as a failure.

A locked pair is answered exactly like a wrong password, after the same argon2
work, and unknown usernames are counted like real ones, so neither the status,
the body nor the time tells whether an account exists or is locked.

The source is the TCP peer's address as uvicorn reports it: lawline trusts no
X-Forwarded-For of its own (behind a proxy, uvicorn's forwarded_allow_ips sets
the client address from the proxy's header).

Scripts are in accounts/scripts (one atomic operation each, every key in KEYS).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from enum import Enum
from importlib import resources

from redis import Redis as SyncRedis
from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from lawline.accounts.keys import AccountKeys
from lawline.accounts.settings import AccountSettings


class Verdict(Enum):
    CHECK = "check"  # check the password
    SLOW = "slow"  # wait account_delay_s, then check it
    LOCKED = "locked"  # this account from this address: answer as a wrong password
    SOURCE_BLOCKED = "source_blocked"  # this address: 429, whichever account


@dataclass(frozen=True, slots=True)
class Counts:
    """Failures counted so far, this attempt included."""

    pair: int
    account: int
    source: int
    # This account signed in from this address lately: the lawyer's own desk.
    known_desk: bool = False


def decide(counts: Counts, settings: AccountSettings) -> Verdict:
    """What to do with an attempt, given the counts including it (a plain function)."""
    # A known desk is spared: a centre's lawyers may share one address (NAT).
    if counts.source > settings.source_max_failures and not counts.known_desk:
        return Verdict.SOURCE_BLOCKED
    if counts.pair > settings.max_failed_logins:
        return Verdict.LOCKED
    if counts.account > settings.account_slow_after and not counts.known_desk:
        return Verdict.SLOW
    return Verdict.CHECK


def _script(name: str) -> str:
    return (resources.files("lawline.accounts") / "scripts" / name).read_text()


class SignInThrottle:
    """The counters in Redis (accounts/keys.py `AccountKeys.signin_*`)."""

    def __init__(self, redis: Redis, prefix: str, settings: AccountSettings) -> None:
        self.redis = redis
        self.keys = AccountKeys(prefix)
        self.settings = settings
        self._attempt: AsyncScript = redis.register_script(_script("signInAttempt-4.lua"))
        self._refund: AsyncScript = redis.register_script(_script("signInRefund-4.lua"))

    def _keys(self, username: str, source: str) -> list[str]:
        return [
            self.keys.signin_pair(username, source),
            self.keys.signin_account(username),
            self.keys.signin_source(source),
            self.keys.signin_known(username, source),
        ]

    async def attempt(self, username: str, source: str) -> tuple[Verdict, Counts]:
        """Count this attempt (before its password is checked) and say what to do with it."""
        window_ms = int(self.settings.lockout_s * 1000)
        got = await self._attempt(keys=self._keys(username, source), args=[window_ms])
        counts = Counts(int(got[0]), int(got[1]), int(got[2]), bool(int(got[3])))
        return decide(counts, self.settings), counts

    async def succeeded(self, username: str, source: str) -> None:
        known_ms = int(self.settings.known_desk_days * 86400 * 1000)
        await self._refund(keys=self._keys(username, source), args=["right", known_ms])

    async def unchecked(self, username: str, source: str) -> None:
        """The attempt was refused before its password was checked: it does not count."""
        await self._refund(keys=self._keys(username, source), args=["unchecked", 0])

    async def clear(self, username: str) -> None:
        """Lift every lock on this account (a new password is how an admin unlocks)."""
        pairs = [k async for k in self.redis.scan_iter(match=self.keys.signin_pairs(username))]
        await self.redis.delete(self.keys.signin_account(username), *pairs)


def clear_sync(redis: SyncRedis, prefix: str, username: str) -> None:
    """`SignInThrottle.clear` for the command line, which has no event loop."""
    keys = AccountKeys(prefix)
    pairs = list(redis.scan_iter(match=keys.signin_pairs(username)))
    redis.delete(keys.signin_account(username), *pairs)


class VerifierBusy(Exception):
    """More sign-ins are waiting for a password check than this process will queue."""


class PasswordGate:
    """Bounds the argon2 work a flood of sign-ins can cause in one process.

    At most `concurrent` checks run at once (each takes tens of milliseconds and
    64 MiB); at most `waiting` more wait for a turn. Beyond that a sign-in is
    refused at once (503) instead of queueing without bound. One more check at
    a time, with its own short queue, is kept for known desks (an account and
    an address it signed in from lately), so a flood of guesses does not shut
    the lawyers at their own desks out.
    """

    def __init__(self, concurrent: int, waiting: int) -> None:
        self._lanes = {False: _Lane(concurrent, waiting), True: _Lane(1, min(waiting, 4))}

    def admit(self, known_desk: bool) -> _Lane:
        """The lane for an attempt: use it as `async with gate.admit(...)`."""
        return self._lanes[known_desk]


class _Lane:
    def __init__(self, concurrent: int, waiting: int) -> None:
        self._slots = asyncio.Semaphore(concurrent)
        self._limit = concurrent + waiting
        self._inside = 0

    async def __aenter__(self) -> None:
        if self._inside >= self._limit:
            raise VerifierBusy
        self._inside += 1
        try:
            await self._slots.acquire()
        except BaseException:
            self._inside -= 1
            raise

    async def __aexit__(self, *_: object) -> None:
        self._slots.release()
        self._inside -= 1
