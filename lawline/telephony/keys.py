"""Every Redis key of the telephony workers and the phone bridge, named once.

P is `settings.redis_prefix`. Each key's docstring says what it holds, its Redis type
and how long it lives. The phone bridge's wire contract (telephony/bridge_wire.py) is
spoken over `line`, `rpc` and `reply`; `held_lines` is a worker's own bookkeeping
(telephony/lines.py). The workers' counts for /metrics are in queue/keys.py.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TelephonyKeys:
    prefix: str

    def line(self, contact_id: str) -> str:
        """string `P:line:CONTACT`: the name of the worker whose session holds that
        contact's call; set when the session starts tracking the contact, deleted when it
        forgets it; TTL a day, so a worker that died without cleaning up leaves nothing."""
        return f"{self.prefix}:line:{contact_id}"

    def rpc(self, worker: str) -> str:
        """list `P:rpc:WORKER`: bridge requests for one worker, LPUSHed JSON, BLPOPed by
        that worker; no TTL (emptied as it is read)."""
        return f"{self.prefix}:rpc:{worker}"

    def reply(self, request_id: str) -> str:
        """list `P:rpc:reply:ID`: the worker's one reply to a bridge request, LPUSHed
        JSON; TTL 60 s."""
        return f"{self.prefix}:rpc:reply:{request_id}"

    def held_lines(self, worker: str) -> str:
        """set `P:worker-lines:WORKER`: the contacts whose calls a worker holds, kept for
        when it dies holding them (read and emptied when it starts again); no TTL."""
        return f"{self.prefix}:worker-lines:{worker}"
