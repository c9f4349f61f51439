"""The call requests' wire contract: how a web process asks the worker holding a call.

Both sides import this module: the web process (`BridgeClient`, for the lawyer's
console) and the worker (`lawline/telephony/bridge_rpc.py`, with `blpop_one`,
`request_id_of` and `send_reply`). Over Redis (keys in lawline/telephony/keys.py,
P = settings.redis_prefix):
  P:line:{contact_id}   the name of the worker whose session holds that contact's call
                        (set when the session starts tracking it, gone when it forgets it)
  P:rpc:{worker}        requests, LPUSHed JSON: {"id", "kind", "contact_id", ...fields}
  P:rpc:reply:{id}      the worker's answer, LPUSHed JSON {"ok": bool, "error": str, ...}
                        (kept REPLY_TTL_S)
Kinds:
  hold  {contact_id, on}             -> {ok}       the caller hears hold music, or the lawyer
(The lawyer's audio goes through the media server: lawline/media/legs.py.)
A request the worker does not carry out gets {"ok": false, "error": why}.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from typing import Any

from redis.asyncio import Redis

from lawline.telephony.keys import TelephonyKeys

HOLD = "hold"
REPLY_TTL_S = 60
# An id in a request that is not valid JSON, so even that gets its error reply.
_ID = re.compile(r'"id"\s*:\s*"([^"\\]{1,100})"')
MAX_ID = 100


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


# ----- the worker's side ------------------------------------------------------------


def request_id_of(request: object, raw: str) -> str:
    """The id to reply to: the request's own, else one found in text that is not JSON
    (so even that gets its error reply); '' when there is none."""
    if isinstance(request, dict) and isinstance(request.get("id"), str) and request["id"]:
        return request["id"][:MAX_ID]
    m = _ID.search(raw)
    return "" if m is None else m.group(1)


async def send_reply(redis: Redis, prefix: str, request_id: str, reply: dict[str, Any]) -> None:
    key = TelephonyKeys(prefix).reply(request_id)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.lpush(key, json.dumps(reply))
        pipe.expire(key, REPLY_TTL_S)
        await pipe.execute()


# ----- the web process's side -------------------------------------------------------


class BridgeError(Exception):
    """No worker holds the call, it did not answer in time, or it refused."""


class BridgeClient:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix
        self.keys = TelephonyKeys(prefix)

    async def holder(self, contact_id: str) -> str | None:
        """The worker holding that contact's call, if any holds it."""
        worker = await self.redis.get(self.keys.line(contact_id))
        return _text(worker) if worker else None

    async def request(
        self, contact_id: str, kind: str, timeout_s: float = 10.0, **fields: Any
    ) -> dict[str, Any]:
        """Send one request to the worker holding the call; its reply when ok is true."""
        worker = await self.redis.get(self.keys.line(contact_id))
        if not worker:
            raise BridgeError(f"no telephony worker holds the call of contact {contact_id}")
        worker = _text(worker)
        request_id = uuid.uuid4().hex
        request = {**fields, "id": request_id, "kind": kind, "contact_id": contact_id}
        await self.redis.lpush(self.keys.rpc(worker), json.dumps(request))
        popped = await blpop_one(self.redis, self.keys.reply(request_id), timeout_s)
        if popped is None:
            raise BridgeError(
                f"telephony worker {worker} did not answer {kind} for contact {contact_id}"
                f" within {timeout_s:g} s"
            )
        reply: dict[str, Any] = json.loads(popped)
        if not reply.get("ok"):
            raise BridgeError(f"{kind} refused by {worker}: {reply.get('error', '')}")
        return reply
