"""Every Redis key of the telephony workers and the phone bridge, named once.

P is `settings.redis_prefix`. Each key's docstring says what it holds, its Redis type
and how long it lives. The phone bridge's wire contract (telephony/bridge_wire.py) is
spoken over `line`, `rpc` and `reply`; `held_lines` is a worker's own bookkeeping
(telephony/lines.py). The workers' counts for /metrics are in queue/keys.py.
"""

from __future__ import annotations

import hashlib
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

    @property
    def party_dials(self) -> str:
        """list `P:party-dials`: mediation parties to dial (telephony/party_wire.py),
        LPUSHed JSON by web processes, BLPOPed by a worker with a free line; no TTL (each
        request carries its own expiry)."""
        return f"{self.prefix}:party-dials"

    def party_events(self, inbox: str) -> str:
        """list `P:party-events:INBOX`: what became of the phone legs one web process
        asked for, LPUSHed JSON by the workers; TTL an hour (gone with its process)."""
        return f"{self.prefix}:party-events:{inbox}"

    def room_code_fails(self, caller: str) -> str:
        """string `P:room-code-fails:HASH`: wrong room codes a caller entered lately
        (findRoom-2.lua); the caller's number hashed, never kept as it is."""
        digest = hashlib.sha256(f"room-code\0{caller or 'anonymous'}".encode()).hexdigest()
        return f"{self.prefix}:room-code-fails:{digest[:24]}"

    def party_room(self, number: str) -> str:
        """hash `P:party-room:NUMBER`: an open mediation room a party may dial in to by
        its number (telephony/party_wire.py): `case_id`, `inbox` (the web process holding
        it) and `pin:PIN` -> the party's seat; made when the room opens, deleted when it
        closes; TTL a day, so a web process that died leaves nothing."""
        return f"{self.prefix}:party-room:{number}"

    @property
    def front_steer(self) -> str:
        """string `P:front:steer:CALL-ID` (this is its stem; the SIP front adds the
        Call-ID): where the front steers that dialog's media, `ADDRESS PORT`, written
        and read by Kamailio (kamailio.cfg's STEER routes) so that a restarted front
        goes on steering; deleted with the unsteer or the BYE; TTL a day."""
        return f"{self.prefix}:front:steer:"
