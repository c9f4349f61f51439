"""Bridge signalling, the web process's side: ask the telephony worker holding a call.

Over Redis (P = settings.redis_prefix):
  P:line:{contact_id}   the name of the worker whose session holds that contact's call
                        (set when the session starts tracking it, gone when it forgets it)
  P:rpc:{worker}        requests, LPUSHed JSON: {"id", "kind", "contact_id", ...fields}
  P:rpc:reply:{id}      the worker's answer, LPUSHed JSON {"ok": bool, "error": str, ...}
                        (kept 60 s)
Kinds (the worker's side is lawline/telephony/bridge_rpc.py):
  offer {contact_id, lawyer_id, sdp} -> {ok, sdp}  the browser's complete offer, the answer;
        only for a connected contact of that lawyer; a new offer replaces the old bridge
  hold  {contact_id, on}             -> {ok}       the caller hears hold music, or the lawyer
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from redis.asyncio import Redis


def line_key(prefix: str, contact_id: str) -> str:
    return f"{prefix}:line:{contact_id}"


def rpc_key(prefix: str, worker: str) -> str:
    return f"{prefix}:rpc:{worker}"


def reply_key(prefix: str, request_id: str) -> str:
    return f"{prefix}:rpc:reply:{request_id}"


async def blpop_one(redis: Redis, key: str, timeout_s: float) -> str | None:
    """BLPOP one key; None on timeout. Re-raises a cancellation that redis-py swallowed:
    one that lands while the blocking read times out is lost (about 1 in 150 here), and
    a loop around BLPOP would then never stop."""
    popped = await redis.blpop([key], timeout=timeout_s)
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
    return None if popped is None else _text(popped[1])


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


class BridgeError(Exception):
    """No worker holds the call, it did not answer in time, or it refused."""


class BridgeClient:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix

    async def request(
        self, contact_id: str, kind: str, timeout_s: float = 10.0, **fields: Any
    ) -> dict[str, Any]:
        """Send one request to the worker holding the call; its reply when ok is true."""
        worker = await self.redis.get(line_key(self.prefix, contact_id))
        if not worker:
            raise BridgeError(f"no telephony worker holds the call of contact {contact_id}")
        worker = _text(worker)
        request_id = uuid.uuid4().hex
        request = {**fields, "id": request_id, "kind": kind, "contact_id": contact_id}
        await self.redis.lpush(rpc_key(self.prefix, worker), json.dumps(request))
        popped = await blpop_one(self.redis, reply_key(self.prefix, request_id), timeout_s)
        if popped is None:
            raise BridgeError(
                f"telephony worker {worker} did not answer {kind} for contact {contact_id}"
                f" within {timeout_s:g} s"
            )
        reply: dict[str, Any] = json.loads(popped)
        if not reply.get("ok"):
            raise BridgeError(f"{kind} refused by {worker}: {reply.get('error', '')}")
        return reply
