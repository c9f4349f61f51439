"""The lines a worker holds, as Redis knows them: for the web side and for a restart.

Per call the worker marks `P:line:{contact}` (its own name: where the web side
sends the lawyer's browser) and adds the contact to `P:worker-lines:{worker}`.
A worker that dies holding calls leaves that set behind; started again, it ends
those contacts (waiting ones abandoned), so no ghost stays queued.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from redis.asyncio import Redis

from lawline.telephony.keys import TelephonyKeys

if TYPE_CHECKING:
    from lawline.queue.service import QueueService

log = logging.getLogger(__name__)

LINE_KEY_TTL_S = 86400


class HeldLines:
    def __init__(self, redis: Redis, prefix: str, worker: str) -> None:
        self.redis = redis
        self.keys = TelephonyKeys(prefix)
        self.worker = worker

    async def hold(self, contact_id: str) -> None:
        """This worker holds the contact's call."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self.keys.line(contact_id), self.worker, ex=LINE_KEY_TTL_S)
            pipe.sadd(self.keys.held_lines(self.worker), contact_id)
            await pipe.execute()

    async def let_go(self, contact_id: str) -> None:
        """The contact's call is over."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(self.keys.line(contact_id))
            pipe.srem(self.keys.held_lines(self.worker), contact_id)
            await pipe.execute()

    async def release_lost(self, queue: QueueService) -> int:
        """Contacts whose calls this worker held when it last died: their lines are gone,
        so they leave the queue (abandoned) or their conversation ends. Returns how many."""
        held = self.keys.held_lines(self.worker)
        released = 0
        for contact_id in await self.redis.smembers(held):
            contact_id = contact_id.decode() if isinstance(contact_id, bytes) else contact_id
            gone = await queue.line_gone(
                contact_id, "line lost: telephony worker died", ended_by="line lost"
            )
            released += gone > 0
            await self.redis.delete(self.keys.line(contact_id))
            await self.redis.srem(held, contact_id)
        if released:
            log.warning(
                "ended the contacts of calls lost when this worker died",
                extra={"contacts": released},
            )
        return released
