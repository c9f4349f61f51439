"""The mediation parties a web process has dialled: asking, hearing back, answering.

The room is this process's (mediation/live.py); the call is a telephony worker's
(telephony/party_call.py). The contract between them is telephony/party_wire.py:
this pushes a dial request any worker with a free line takes, reads what became of it
from this process's own inbox, and answers the worker holding the leg over the call
requests (bridge_wire.BridgeClient, the leg as the contact). An event that is not one
is set aside, counted and logged without its content.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis

from lawline.telephony.bridge_wire import BridgeClient, BridgeError, blpop_one
from lawline.telephony.keys import TelephonyKeys
from lawline.telephony.party_wire import (
    PARTY_END,
    PARTY_PEER,
    PARTY_REFUSED,
    PartyDial,
    PartyEvent,
    new_leg,
    register_room,
    unregister_room,
)

log = logging.getLogger(__name__)
DIAL_WAIT_S = 30.0  # a request no worker took by then is not dialled (and reported failed)
BLPOP_S = 1


class PhoneParties:
    def __init__(self, redis: Redis, listen: Redis, prefix: str) -> None:
        self.redis = redis
        self.listen = listen  # BLPOP holds its connection
        self.keys = TelephonyKeys(prefix)
        self.bridge = BridgeClient(redis, prefix)
        self.inbox = uuid.uuid4().hex[:16]  # this web process's, for as long as it runs
        self.set_aside = 0
        # Dials no worker answered for yet: leg -> when it was asked, to report them failed.
        self._asked: dict[str, tuple[float, PartyDial]] = {}

    async def dial(self, case_id: str, who: str, number: str) -> str:
        """Ask for the party to be dialled; the leg's id."""
        leg = new_leg()
        dial = PartyDial(leg, case_id, who, number, self.inbox, time.time() + DIAL_WAIT_S)
        self._asked[leg] = (time.monotonic(), dial)
        await self.redis.lpush(self.keys.party_dials, dial.to_json())
        return leg

    async def register(self, case_id: str, seats: list[str]) -> tuple[str, dict[str, str]]:
        """The room's number for parties dialling in, and each seat's PIN."""
        return await register_room(self.redis, self.keys, case_id, self.inbox, seats)

    async def unregister(self, number: str) -> None:
        await unregister_room(self.redis, self.keys, number)

    async def run(self, on_event: Callable[[PartyEvent], Awaitable[None]]) -> None:
        """Forever: each event from the workers to `on_event`; dials no worker took in
        time come as `failed` ("no free line")."""
        key = self.keys.party_events(self.inbox)
        while True:
            try:
                raw = await blpop_one(self.listen, key, BLPOP_S)
            except Exception:  # Redis gone for longer than the client's retries
                log.exception("cannot read mediation party events; trying again")
                await asyncio.sleep(BLPOP_S)
                continue
            for event in [*self._untaken(), *([self._parse(raw)] if raw else [])]:
                if event is None:
                    continue
                self._asked.pop(event.leg, None)
                try:
                    await on_event(event)
                except Exception:
                    log.exception("mediation party event not handled", extra={"leg": event.leg})

    def _parse(self, raw: str) -> PartyEvent | None:
        try:
            return PartyEvent.parse(raw)
        except ValueError as exc:
            self.set_aside += 1
            log.warning("mediation party event set aside", extra={"error": str(exc)[:200]})
            return None

    def _untaken(self) -> list[PartyEvent]:
        late = time.monotonic() - DIAL_WAIT_S - 2 * BLPOP_S
        return [
            PartyEvent(d.leg, d.case_id, d.who, "-", "failed", "no free line")
            for asked, d in self._asked.values()
            if asked < late
        ]

    async def peer(self, leg: str, ip: str, port: int) -> bool:
        return await self._tell(leg, PARTY_PEER, ip=ip, port=port)

    async def refused(self, leg: str) -> bool:
        return await self._tell(leg, PARTY_REFUSED)

    async def end(self, leg: str, reason: str) -> bool:
        """The party is told the call ends and hung up on (or their ringing stops); a
        request no worker took yet is taken back."""
        asked = self._asked.pop(leg, None)
        if asked is not None:
            request = asked[1].to_json()
            if await self.redis.lrem(self.keys.party_dials, 1, request):
                return True
        return await self._tell(leg, PARTY_END, reason=reason)

    async def _tell(self, leg: str, kind: str, **fields: object) -> bool:
        try:
            await self.bridge.request(leg, kind, timeout_s=5.0, **fields)
        except BridgeError as exc:
            log.warning("mediation party leg not reached", extra={"leg": leg, "error": str(exc)})
            return False
        return True
