"""The routing policy as admins edit it: checked as the settings' is (steps only relax),
saved with its history, and followed by the routing process at its next look (the
router built again from Redis with it). Real Redis; the API on a real app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from lawline.config import Settings
from lawline.queue import live_policy
from lawline.queue.live_policy import Policies
from lawline.queue.settings import QueuePolicy, RelaxStep
from lawline.queue.skills import Domain
from lawline.web.auth import Role
from tests.lawline_server import Running, running_lawline
from tests.queue_helpers import T0, Harness, contact, harness, lawyer


@pytest.fixture
async def q(clean_redis_url: str) -> AsyncIterator[Harness]:
    async with harness(clean_redis_url) as h:
        yield h


async def test_a_saved_policy_is_followed_by_the_router(q: Harness) -> None:
    await q.add_lawyer(lawyer("xu", domains={Domain.LABOUR: 1}))
    await q.add(contact("wages", T0, domain=Domain.LABOUR))
    q.clock.advance(5)
    assert await q.route() == []  # the settings': proficiency 3 in the domain for 30 s
    anyone = Policies(default=QueuePolicy(steps=[RelaxStep(after_s=0, min_proficiency=1)]))
    assert await live_policy.save(q.redis, q.store.keys, anyone, "root", T0) == 1
    assert await q.service.follow_policy()
    assert q.service.policy_version == 1
    assert await q.route() == [("wages", "xu")]
    assert not await q.service.follow_policy()  # it looked a moment ago
    [saved] = await live_policy.history(q.redis, q.store.keys)
    assert (saved["version"], saved["by"]) == (1, "root")


@pytest.fixture
async def lawline(clean_redis_url: str, tmp_path: Path) -> AsyncIterator[Running]:
    async with running_lawline(
        Settings(data_dir=tmp_path, secret_key="test-secret"), clean_redis_url
    ) as running:
        yield running


async def test_admins_save_a_policy_that_only_relaxes(lawline: Running) -> None:
    async with lawline.client("boss", Role.SUPERVISOR) as http:
        shown = (await http.get("/api/routing-policy")).json()
        assert shown["from"] == "settings" and shown["policies"]["default"]["steps"]
        body = {"default": {"steps": [{"after_s": 0, "min_proficiency": 2}]}}
        assert (await http.put("/api/routing-policy", json=body)).status_code == 403
    async with lawline.client("root", Role.ADMIN) as http:
        tighter = {"default": {"steps": [
            {"after_s": 0, "min_proficiency": 1}, {"after_s": 30, "min_proficiency": 3},
        ]}}  # fmt: skip
        r = await http.put("/api/routing-policy", json=tighter)
        assert r.status_code == 422 and "loosen" in r.text
        r = await http.put("/api/routing-policy", json=body)
        assert r.status_code == 200, r.text
        assert r.json()["from"] == "saved" and r.json()["version"] == 1
        assert r.json()["history"][0]["by"] == "root"
