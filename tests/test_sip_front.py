"""One SIP address for many workers: Kamailio in front of real telephony workers, as
`lawline serve` runs them, with SIPp and pjsua2 callers on loopback."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from redis.asyncio import Redis

from tests.front_helpers import routed, sip_pool, sipp, sipp_async
from tests.sip_helpers import scenario

pytestmark = pytest.mark.skipif(
    shutil.which("sipp") is None or shutil.which("kamailio") is None,
    reason="SIPp and Kamailio are installed by scripts/setup.sh",
)

QUEUED = [("pause", 500), ("keys", "2"), ("pause", 9000), ("bye", None)]


async def lines(redis: Redis) -> dict[str, str]:
    """contact id -> the worker holding its call."""
    return {k.split(":")[-1]: await redis.get(k) for k in await redis.keys("ll:line:*")}


async def test_calls_spread_over_the_workers_and_the_call_beyond_capacity_gets_503(
    tmp_path: Path, clean_redis_url: str, prompts_dir: Path, redis: Redis
) -> None:
    with sip_pool(tmp_path, clean_redis_url, prompts_dir, workers=2) as pool:
        full = sipp_async(tmp_path, pool, routed(scenario("queued", QUEUED)), "queued",
                          calls=8, rate=8)  # fmt: skip
        for _ in range(300):
            if await redis.zcard("ll:waiting") == 8 or full.poll() is not None:
                break
            await asyncio.sleep(0.1)
        held = await lines(redis)
        assert await redis.zcard("ll:waiting") == 8, "eight callers queued through the front"
        # Call load: four calls on each worker, not eight on one.
        assert sorted(held.values()) == sorted(pool.worker_names() * 4)
        extra = await asyncio.to_thread(
            sipp, tmp_path, pool, scenario("busy", [("status", 503)], answered=False),
            name="busy",
        )
        assert extra.returncode == 0, extra.stdout[-2000:] + extra.stderr[-2000:]
        out, _ = await asyncio.to_thread(full.communicate, timeout=90)
        # The ninth caller changed nothing for the eight already connected.
        assert full.returncode == 0, out[-3000:]
        assert "every worker is full or down" in pool.kamailio_log()
    await asyncio.sleep(1)
    assert await redis.zcard("ll:waiting") == 0
