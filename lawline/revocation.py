"""Telling every web process that a credential no longer holds.

When a user is disabled, changes role or password, a sign-in session ends, a
service token is revoked or a village terminal is revoked, the change is
written where it is checked at the next request (SQL, Redis) and announced on
one pub/sub channel, `P:revoked` (accounts/keys.py). Each web process holds one
subscription to it and closes the open websockets the credential opened, so a
revoked user or terminal loses its sockets within a moment, not at their next
reconnect.

A message is JSON {"kind": ..., "id": ...} with kind one of:
  user      a username: every socket of that user (disabled, new role, new password)
  session   a session id hash: the sockets opened with that sign-in
  token     a service token's id: the sockets opened with it
  terminal  a terminal id: that village terminal's sockets
"""

from __future__ import annotations

import json
from typing import Literal

from redis import Redis as SyncRedis
from redis.asyncio import Redis

from lawline.accounts.keys import AccountKeys

Kind = Literal["user", "session", "token", "terminal"]
KINDS: frozenset[str] = frozenset({"user", "session", "token", "terminal"})


def message(kind: Kind, ident: str) -> str:
    return json.dumps({"kind": kind, "id": ident}, ensure_ascii=False)


def parse(data: str | bytes) -> tuple[Kind, str] | None:
    """(kind, id) of an announcement, or None for anything malformed."""
    try:
        obj = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(obj, dict) or obj.get("kind") not in KINDS:
        return None
    if not isinstance(obj.get("id"), str):
        return None
    return obj["kind"], obj["id"]


async def announce(redis: Redis, prefix: str, kind: Kind, ident: str) -> None:
    await redis.publish(AccountKeys(prefix).revoked, message(kind, ident))


def announce_sync(redis: SyncRedis, prefix: str, kind: Kind, ident: str) -> None:
    """For the command line, which has no event loop."""
    redis.publish(AccountKeys(prefix).revoked, message(kind, ident))
