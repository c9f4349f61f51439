"""The wallboard in headless Chromium as a supervisor sees it: callers queue, one is
answered and one hangs up, and the page's figures follow within seconds and equal
/api/queues; a lawyer's state changes on the board within 2 s; from the board a waiting
caller is given to a named lawyer, who is asked back from a break and gets it. Those
contacts enter through the web process's queue service (as the menu and terminals feed
it), in real Redis; one more test puts a real phone call (a pjsua2 softphone through a
telephony worker) on the board, waiting and then abandoned."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Page
from sqlalchemy import select

from lawline.cases.models import AuditEntry
from lawline.quality.rules import QualitySettings
from lawline.queue.service import QueueService
from lawline.queue.settings import RoutingSettings
from lawline.queue.skills import Presence, Service
from tests.browser import chromium, needs_browser, sign_in
from tests.lawline_server import Running, signed_in_lawline
from tests.ports import free_sip_port
from tests.queue_helpers import contact, lawyer
from tests.sip_helpers import telephony_worker

pytestmark = needs_browser
PASSWORD = "kanban-2026-zhiban"


@pytest.fixture
async def lawline(clean_redis_url: str, tmp_path: Path) -> AsyncIterator[Running]:
    async with signed_in_lawline(
        tmp_path,
        clean_redis_url,
        {"zhao": ("supervisor", PASSWORD)},
        # The lawyer here has no console open: keep them on duty all the same.
        routing=RoutingSettings(console_timeout_s=86_400),
        quality=QualitySettings(enabled=False),  # reviews made by hand (review_due)
    ) as running:
        yield running


async def figure(page: Page, what: str) -> str:
    return (await page.inner_text(f'[data-service="consultation"] [data-figure="{what}"]')).strip()


async def until_figure(page: Page, what: str, value: str) -> None:
    await page.wait_for_selector(
        f'[data-service="consultation"] [data-figure="{what}"]:text-is("{value}")', timeout=10_000
    )


async def test_the_board_follows_callers_and_lawyers_and_agrees_with_the_api(
    lawline: Running,
) -> None:
    queue: QueueService = lawline.app.state.queue
    base = lawline.base.replace("127.0.0.1", "localhost")
    async with chromium() as browser:
        page = await browser.new_page()
        await sign_in(page, base, "zhao", PASSWORD, lands="/supervisor")
        await page.wait_for_selector('#link[data-link="up"]')
        await until_figure(page, "waiting", "0")

        now = time.time()
        for cid in ("c1", "c2"):
            assert await queue.add_contact(contact(cid, now))
        await until_figure(page, "waiting", "2")
        assert await figure(page, "offered") == "2"

        # A lawyer comes on duty: the board shows them ringing, then talking.
        assert await queue.create_lawyer(lawyer("xu"))
        assert await queue.set_presence("xu", Presence.AVAILABLE) == 1
        row = page.locator('tr[data-lawyer="xu"]')
        await page.wait_for_selector('tr[data-lawyer="xu"][data-state="offered"]', timeout=10_000)
        offered = queue.router.lawyers["xu"].offer
        assert offered in ("c1", "c2")
        assert await queue.accept(offered, "xu")
        t0 = time.monotonic()
        await page.wait_for_selector('tr[data-lawyer="xu"][data-state="busy"]', timeout=2_000)
        assert time.monotonic() - t0 < 2
        assert "通话中" in await row.inner_text()

        # The other caller hangs up.
        other = "c2" if offered == "c1" else "c1"
        assert await queue.abandon(other) == 1
        await until_figure(page, "abandoned", "1")
        await until_figure(page, "waiting", "0")
        assert await figure(page, "answered") == "1"

        api = await page.evaluate("fetch('/api/queues').then((r) => r.json())")
        mine = api[Service.CONSULTATION]
        assert (mine["answered"], mine["abandoned"], mine["waiting"]) == (1, 1, 0)
        assert await figure(page, "service_level") == f"{round(mine['service_level'] * 100)}%"
        # Asked for the same period, the API gives the board's own figures.
        today = await page.evaluate("fetch('/api/queues?period=today').then((r) => r.json())")
        day = today[Service.CONSULTATION]
        assert (day["offered"], day["answered"], day["abandoned"], day["waiting"]) == (2, 1, 1, 0)
        assert await figure(page, "service_level") == f"{round(day['service_level'] * 100)}%"
        # The half-hour chart has today's slot.
        assert await page.locator("#history svg g").count() == 1

        # A caller given to a named lawyer on a break, who is asked back on duty and gets
        # it; both written to the audit trail.
        assert await queue.create_lawyer(lawyer("li"))
        assert await queue.set_presence("li", Presence.BREAK, "午餐") == 1
        assert await queue.add_contact(contact("c3", time.time()))
        waiting = page.locator('tr[data-contact="c3"]')
        await waiting.wait_for()
        await waiting.locator("select").select_option("li")
        await waiting.get_by_role("button", name="指派").click()
        await page.wait_for_selector('tr[data-contact="c3"] .chosen:has-text("Lawyer li")')
        li = page.locator('tr[data-lawyer="li"][data-state="break"]')
        assert "小休（午餐）" in await li.inner_text()
        await li.get_by_role("button", name="请回岗").click()
        await page.wait_for_selector('tr[data-lawyer="li"][data-state="offered"]')
        assert queue.router.lawyers["li"].offer == "c3"
        with lawline.app.state.db() as session:
            entries = session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action.in_(["contact.assign", "lawyer.on_duty"]))
                .order_by(AuditEntry.id)
            ).all()
        assert [(e.actor, e.detail) for e in entries] == [
            ("zhao", "contact c3 to lawyer li"),
            ("zhao", "lawyer li on duty"),
        ]


async def test_a_supervisor_reads_a_failing_calls_evidence_and_confirms_its_score(
    lawline: Running,
) -> None:
    from tests.test_quality_reviews import a_call
    from tests.test_quality_rules import GOOD, L

    with lawline.app.state.db() as s, s.begin():
        a_call(s, "fees", "li", [*GOOD, L(35, "您先给我转账五百块。")], 2)
    assert lawline.app.state.quality.review_due() == 1
    base = lawline.base.replace("127.0.0.1", "localhost")
    async with chromium() as browser:
        page = await browser.new_page()
        await sign_in(page, base, "zhao", PASSWORD, lands="/supervisor")
        row = page.locator('#quality tr[data-contact="fees"]')
        await row.wait_for()
        assert "索要费用" in await row.inner_text()
        await row.get_by_role("button", name="查看").click()
        broken = page.locator('.review-detail li[data-rule="fees"]')
        await broken.wait_for()
        assert "35秒 律师：您先给我转账五百块。" in await broken.inner_text()
        await page.fill('.review-detail input[name="score"]', "0")
        await page.click(".review-detail button.primary")
        await row.wait_for(state="detached")  # confirmed: off the list of reviews to confirm
        await page.wait_for_selector("#no-quality:not([hidden])")


async def test_a_caller_on_the_phone_queues_on_the_board_and_hanging_up_is_abandoned(
    lawline: Running, tmp_path: Path, clean_redis_url: str, prompts_dir: Path
) -> None:
    """A real call: a pjsua2 softphone through a telephony worker presses 2 (legal aid)
    at the menu and waits; the board shows it waiting, then, hung up, abandoned."""
    base = lawline.base.replace("127.0.0.1", "localhost")
    with telephony_worker(tmp_path, clean_redis_url, prompts_dir) as worker:
        async with chromium() as browser:
            page = await browser.new_page()
            await sign_in(page, base, "zhao", PASSWORD, lands="/supervisor")
            caller = subprocess.Popen(
                [sys.executable, str(Path(__file__).parent / "pjsua_caller.py"),
                 f"sip:12348@127.0.0.1:{worker.sip_port}", str(tmp_path / "heard.wav"), "90",
                 str(free_sip_port()), "--keys", "2"],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            )  # fmt: skip
            try:
                tile = '[data-service="legal_aid"] [data-figure="{}"]:text-is("{}")'
                await page.wait_for_selector(tile.format("waiting", "1"), timeout=30_000)
                caller.terminate()  # the caller hangs up (a proper BYE)
                await asyncio.to_thread(caller.communicate, timeout=30)
                await page.wait_for_selector(tile.format("abandoned", "1"), timeout=15_000)
                await page.wait_for_selector(tile.format("waiting", "0"))
            finally:
                if caller.poll() is None:
                    caller.kill()
            api = await page.evaluate("fetch('/api/queues').then((r) => r.json())")
            assert (api["legal_aid"]["abandoned"], api["legal_aid"]["waiting"]) == (1, 0)
