"""The routing policy as the centre edits it (admins, in the browser): how each service
queue relaxes what it asks of a lawyer as a caller waits (`routing.default_policy`,
`routing.queues`). The settings' policy is in force until an admin saves one; the saved
policy lives in Redis (queue/keys.py `routing_policy`, with its history), and each
routing process takes it within REFRESH_S (`QueueService.follow_policy`: the router is
built again from Redis with it, as at start)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from redis.asyncio import Redis

from lawline.queue import versioned
from lawline.queue.keys import QueueKeys
from lawline.queue.settings import QueuePolicy, RoutingSettings
from lawline.queue.skills import Service

REFRESH_S = 5.0


class Policies(BaseModel):
    """The default policy and each service queue's own (a queue not named follows the
    default); each checked as the settings' are (steps only relax)."""

    model_config = ConfigDict(extra="forbid")

    default: QueuePolicy
    queues: dict[Service, QueuePolicy] = Field(default_factory=dict)

    @classmethod
    def of(cls, routing: RoutingSettings) -> Policies:
        return cls(default=routing.default_policy, queues=dict(routing.queues))

    def applied_to(self, routing: RoutingSettings) -> RoutingSettings:
        return routing.model_copy(update={"default_policy": self.default, "queues": self.queues})


async def in_force(redis: Redis, keys: QueueKeys, routing: RoutingSettings) -> dict[str, Any]:
    saved = await versioned.in_force(redis, keys.routing_policy)
    if saved is None:
        return {"policies": Policies.of(routing).model_dump(mode="json"), "version": 0,
                "by": "", "at": None, "from": "settings"}  # fmt: skip
    return {"policies": saved.pop("doc"), **saved, "from": "saved"}


async def save(redis: Redis, keys: QueueKeys, policies: Policies, by: str, now: float) -> int:
    doc = policies.model_dump(mode="json")
    return await versioned.save(
        redis, keys.routing_policy, keys.routing_policy_history, doc, by, now
    )


async def saved(redis: Redis, keys: QueueKeys, since: int) -> tuple[int, Policies] | None:
    """A policy saved after version `since`, if there is one."""
    if await versioned.version(redis, keys.routing_policy) == since:
        return None
    found = await versioned.in_force(redis, keys.routing_policy)
    if found is None:
        return None
    return found["version"], Policies.model_validate(found["doc"])


async def history(redis: Redis, keys: QueueKeys, count: int = 50) -> list[dict[str, Any]]:
    return [
        {**{k: v for k, v in h.items() if k != "doc"}, "policies": h["doc"]}
        for h in await versioned.history(redis, keys.routing_policy_history, count)
    ]
