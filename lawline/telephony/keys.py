"""Telephony's Redis keys, in one place (`prefix` is settings.redis_prefix).

The phone bridge's wire contract (lawline/telephony/bridge_wire.py) is spoken over
the first three; the fourth is a worker's own bookkeeping (lawline/telephony/lines.py).
"""

from __future__ import annotations


def line_key(prefix: str, contact_id: str) -> str:
    """String: the name of the worker whose session holds that contact's call. Set when
    the session starts tracking the contact, deleted when it forgets it; TTL a day, so a
    worker that died without cleaning up leaves nothing for ever."""
    return f"{prefix}:line:{contact_id}"


def rpc_key(prefix: str, worker: str) -> str:
    """List: bridge requests for one worker, LPUSHed JSON, BLPOPed by that worker."""
    return f"{prefix}:rpc:{worker}"


def reply_key(prefix: str, request_id: str) -> str:
    """List: the worker's one reply to a bridge request, LPUSHed JSON; TTL 60 s."""
    return f"{prefix}:rpc:reply:{request_id}"


def held_lines_key(prefix: str, worker: str) -> str:
    """Set: the contacts whose calls a worker holds, kept for when it dies holding them
    (read and emptied by the worker when it starts again); no TTL."""
    return f"{prefix}:worker-lines:{worker}"
