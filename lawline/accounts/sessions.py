"""Sign-in sessions, kept in Redis so every lawline process sees them.

The browser holds only a random id (the `lawline_session` cookie); the session
itself lives here, so signing out, disabling a user or changing their role
ends it at once on every process. Keys under the prefix P:
  P:session:ID        string  JSON {sub, role}; expires after session_ttl_s unused
  P:sessions:USERNAME set     the user's session ids (stale ones pruned at sign-in)
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass

from redis.asyncio import Redis

from lawline.accounts.roles import Role


@dataclass(frozen=True, slots=True)
class SignIn:
    username: str
    role: Role


class SessionStore:
    def __init__(self, redis: Redis, prefix: str, ttl_s: float) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl_ms = int(ttl_s * 1000)

    def _key(self, session_id: str) -> str:
        return f"{self.prefix}:session:{session_id}"

    def _user_key(self, username: str) -> str:
        return f"{self.prefix}:sessions:{username}"

    async def create(self, username: str, role: Role) -> str:
        session_id = secrets.token_urlsafe(32)
        user_key = self._user_key(username)
        await self._prune(user_key)
        value = json.dumps({"sub": username, "role": role}, separators=(",", ":"))
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self._key(session_id), value, px=self.ttl_ms)
            pipe.sadd(user_key, session_id)
            await pipe.execute()
        return session_id

    async def get(self, session_id: str) -> SignIn | None:
        """The session's user, and its time to live starts again (it is in use)."""
        if not session_id or len(session_id) > 100:
            return None
        value = await self.redis.getex(self._key(session_id), px=self.ttl_ms)
        if value is None:
            return None
        claims = json.loads(value)
        return SignIn(str(claims["sub"]), Role(claims["role"]))

    async def delete(self, session_id: str) -> None:
        key = self._key(session_id)
        value = await self.redis.getdel(key)
        if value is not None:
            await self.redis.srem(self._user_key(json.loads(value)["sub"]), session_id)

    async def delete_user(self, username: str) -> int:
        """End every session of this user (disabled, new role, new password)."""
        user_key = self._user_key(username)
        ids = await self.redis.smembers(user_key)
        if not ids:
            return 0
        async with self.redis.pipeline(transaction=True) as pipe:
            for session_id in ids:
                pipe.delete(self._key(session_id))
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
                pipe.exists(self._key(session_id))
            alive = await pipe.execute()
        stale = [sid for sid, n in zip(ids, alive, strict=True) if not n]
        if stale:
            await self.redis.srem(user_key, *stale)
