"""Sign-in sessions, kept in Redis so every lawline process sees them.

The browser holds only a random id (the `lawline_session` cookie); the session
itself lives here, so signing out, disabling a user or changing their role
ends it at once on every process. Keys (accounts/keys.py):
  P:session:ID        string  JSON {sub, role}; expires after session_ttl_s unused
  P:sessions:USERNAME set     the user's session ids (stale ones pruned at sign-in)

A session's id is a bearer secret, so it is never announced or logged: what
names a session outside this store is its reference, `session_ref(id)`, a hash.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass

from redis import Redis as SyncRedis
from redis.asyncio import Redis

from lawline.accounts.keys import AccountKeys
from lawline.accounts.roles import Role


@dataclass(frozen=True, slots=True)
class SignIn:
    username: str
    role: Role


def session_ref(session_id: str) -> str:
    """What names a session where its id must not appear (revocations, sockets)."""
    return hashlib.sha256(session_id.encode()).hexdigest()[:32]


def new_session(username: str, role: Role) -> tuple[str, str]:
    """A fresh session id and the value stored under it."""
    value = json.dumps({"sub": username, "role": role}, separators=(",", ":"))
    return secrets.token_urlsafe(32), value


def end_user_sessions(redis: SyncRedis, prefix: str, username: str) -> int:
    """`SessionStore.delete_user` for the command line, which has no event loop."""
    keys = AccountKeys(prefix)
    user_key = keys.user_sessions(username)
    ids = redis.smembers(user_key)
    if not ids:
        return 0
    with redis.pipeline(transaction=True) as pipe:
        for session_id in ids:
            pipe.delete(keys.session(session_id))
        pipe.srem(user_key, *ids)
        results = pipe.execute()
    return sum(results[:-1])


class SessionStore:
    def __init__(self, redis: Redis, prefix: str, ttl_s: float) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl_ms = int(ttl_s * 1000)
        self.keys = AccountKeys(prefix)

    async def create(self, username: str, role: Role) -> str:
        session_id, value = new_session(username, role)
        user_key = self.keys.user_sessions(username)
        await self._prune(user_key)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self.keys.session(session_id), value, px=self.ttl_ms)
            pipe.sadd(user_key, session_id)
            await pipe.execute()
        return session_id

    async def get(self, session_id: str) -> SignIn | None:
        """The session's user, and its time to live starts again (it is in use)."""
        if not session_id or len(session_id) > 100:
            return None
        value = await self.redis.getex(self.keys.session(session_id), px=self.ttl_ms)
        if value is None:
            return None
        claims = json.loads(value)
        return SignIn(str(claims["sub"]), Role(claims["role"]))

    async def delete(self, session_id: str) -> bool:
        """End one session; False if it had already ended."""
        if not session_id or len(session_id) > 100:
            return False
        key = self.keys.session(session_id)
        value = await self.redis.getdel(key)
        if value is None:
            return False
        await self.redis.srem(self.keys.user_sessions(json.loads(value)["sub"]), session_id)
        return True

    async def delete_user(self, username: str) -> int:
        """End every session of this user (disabled, new role, new password)."""
        user_key = self.keys.user_sessions(username)
        ids = await self.redis.smembers(user_key)
        if not ids:
            return 0
        async with self.redis.pipeline(transaction=True) as pipe:
            for session_id in ids:
                pipe.delete(self.keys.session(session_id))
            # Only these ids: a session begun meanwhile keeps its entry.
            pipe.srem(user_key, *ids)
            results = await pipe.execute()
        return sum(results[:-1])

    async def _prune(self, user_key: str) -> None:
        # Ids of sessions that expired unused would otherwise pile up in the set.
        ids = list(await self.redis.smembers(user_key))
        if not ids:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for session_id in ids:
                pipe.exists(self.keys.session(session_id))
            alive = await pipe.execute()
        stale = [sid for sid, n in zip(ids, alive, strict=True) if not n]
        if stale:
            await self.redis.srem(user_key, *stale)
