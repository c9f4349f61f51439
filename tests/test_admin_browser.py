"""The admins' page in headless Chromium: an admin lands on it, adds a user and disables
them, creates a duty lawyer with a week's shifts (a call is then routed to that lawyer),
relaxes the routing policy, adds a phrase to the public-opinion watch list (in force at
once), and enrols a village terminal (its address and token shown once, as a QR code
too) and revokes it; puts a lawyer on leave for today (calls pass them by) and takes
the leave off again (calls reach them). The page calls the same API the command line
does; a real app and Redis."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from lawline import centre_time
from lawline.queue import live_policy
from lawline.queue.service import QueueService
from lawline.queue.settings import RoutingSettings
from lawline.queue.skills import Presence
from lawline.transcripts.alert_phrases import LivePhrases
from tests.browser import chromium, needs_browser, sign_in
from tests.lawline_server import Running, signed_in_lawline
from tests.queue_helpers import contact, lawyer

pytestmark = needs_browser
PASSWORD = "guanli-2026-xitong"


@pytest.fixture
async def lawline(clean_redis_url: str, tmp_path: Path) -> AsyncIterator[Running]:
    users = {"root": ("admin", PASSWORD)}
    # The new lawyer has no console open here: keep them on duty all the same.
    routing = RoutingSettings(console_timeout_s=86_400)
    async with signed_in_lawline(tmp_path, clean_redis_url, users, routing=routing) as running:
        yield running


async def test_an_admin_runs_users_lawyers_and_terminals_from_the_browser(
    lawline: Running,
) -> None:
    queue: QueueService = lawline.app.state.queue
    base = lawline.base.replace("127.0.0.1", "localhost")
    async with chromium() as browser:
        page = await browser.new_page()
        page.on("dialog", lambda d: asyncio.ensure_future(d.accept()))
        await sign_in(page, base, "root", PASSWORD, lands="/admin", linked=False)

        # A user, then disabled.
        await page.fill('#new-user input[name="username"]', "zhao")
        await page.fill('#new-user input[name="display_name"]', "赵督导")
        await page.select_option("#new-user-role", "supervisor")
        await page.fill('#new-user input[name="password"]', "duchao-2026-kanban")
        await page.click("#new-user button")
        user = page.locator('#users tr[data-user="zhao"]')
        await user.wait_for()
        await user.get_by_role("button", name="停用").click()
        await page.wait_for_selector('#users tr[data-user="zhao"] td:text-is("已停用")')

        # A duty lawyer on duty every day, all day.
        form = page.locator("#lawyer-form")
        await form.locator('input[name="id"]').fill("lawyer-017")
        await form.locator('input[name="name"]').fill("王律师")
        shift = page.locator('#shifts li[data-shift="0"]')
        for day in ("周六", "周日"):
            await shift.get_by_label(day).check()
        await shift.get_by_label("开始").fill("00:00")
        await shift.get_by_label("结束").fill("23:59")
        await form.get_by_role("button", name="保存律师").click()
        row = page.locator('#lawyers tr[data-lawyer="lawyer-017"]')
        await row.wait_for()
        assert "王律师" in await row.inner_text() and "00:00–23:59" in await row.inner_text()
        lawyer = queue.router.lawyers["lawyer-017"]
        assert {d for s in lawyer.roster for d in s.weekdays} == set(range(7))
        # On duty from their console (here: as it would say), a caller is routed to them.
        assert await queue.set_presence("lawyer-017", Presence.AVAILABLE) == 1
        assert await queue.add_contact(contact("c1", time.time()))
        for _ in range(100):
            if queue.router.lawyers["lawyer-017"].offer == "c1":
                break
            await page.wait_for_timeout(100)
        assert queue.router.lawyers["lawyer-017"].offer == "c1"

        # The routing policy: from the first second any proficiency in the domain will do.
        first = page.locator('.policy-queue[data-service="default"] tbody tr').first
        await first.get_by_label("熟练度").select_option("1")
        await page.click("#policy-form button.primary")
        await page.wait_for_selector("#policy-history li:has-text('第 1 版')")
        policies = await live_policy.in_force(queue.store.redis, queue.store.keys, queue.routing)
        assert policies["policies"]["default"]["steps"][0]["min_proficiency"] == 1

        # The watch list: a phrase added to one category, in force from then on (the
        # history keeps who saved it).
        violence = page.locator('#watchlist label[data-category="violence"] textarea')
        await violence.fill((await violence.input_value()) + "\n烧了村委会")
        await page.click("#watchlist-form button")
        await page.wait_for_selector("#watchlist-history li:has-text('第 1 版')")
        assert "root" in (await page.text_content("#watchlist-history") or "")
        process = LivePhrases({}, queue.store.redis, queue.store.keys)  # any process's
        rules = await process.current()
        assert [m.phrase for m in rules.match("他说要烧了村委会")] == ["烧了村委会"]

        # A village terminal: its address with the token shown once; then revoked.
        await page.fill('#new-terminal input[name="id"]', "dalai-1")
        await page.fill('#new-terminal input[name="village"]', "大赉村")
        await page.fill('#new-terminal input[name="township"]', "兴安镇")
        await page.click("#new-terminal button")
        await page.wait_for_selector("#terminal-token:not([hidden])")
        assert "/terminal#token=" in (await page.text_content("#terminal-token") or "")
        assert await page.locator("#terminal-token svg.qr rect").count() > 200  # a QR code
        box = page.locator('#terminals tr[data-terminal="dalai-1"]')
        await box.get_by_role("button", name="吊销").click()
        await page.wait_for_selector('#terminals tr[data-terminal="dalai-1"] td:text-is("已吊销")')


async def _until(condition: Callable[[], object], timeout_s: float = 10.0) -> None:
    """Wait for the app's state to say so (the page's calls and the route loop run
    in this event loop)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_an_admin_puts_a_lawyer_on_leave_today_and_calls_pass_them_by(
    lawline: Running,
) -> None:
    queue: QueueService = lawline.app.state.queue
    assert await queue.create_lawyer(lawyer("lawyer-021").with_changes(name="钱律师"))
    assert await queue.set_presence("lawyer-021", Presence.AVAILABLE) == 1
    today = centre_time.today(time.time(), queue.tz).isoformat()
    base = lawline.base.replace("127.0.0.1", "localhost")
    async with chromium() as browser:
        page = await browser.new_page()
        await sign_in(page, base, "root", PASSWORD, lands="/admin", linked=False)
        row = page.locator('#lawyers tr[data-lawyer="lawyer-021"]')
        await row.get_by_role("button", name="修改").click()

        # Leave is what the form offers first, from today on the centre's calendar.
        leave = page.locator("#exception-form")
        assert await leave.get_by_label("开始日期").input_value() == today
        await leave.get_by_placeholder("事由（可不填）").fill("事假")
        await leave.get_by_role("button", name="添加").click()
        entry = page.locator('#exceptions li[data-kind="leave"]')
        await entry.wait_for()
        assert today in await entry.inner_text()
        # The week shown marks today as leave in the lawyer's row.
        await row.locator(f'td[data-day="{today}"] .mark:text-is("请假")').wait_for()

        # Every process follows the lawyer's profile: a caller now passes them by.
        await _until(lambda: queue.router.lawyers["lawyer-021"].exceptions)
        assert await queue.add_contact(contact("c-leave", time.time()))
        await _until(lambda: "c-leave" in queue.router.contacts)
        assert await queue.route_once() == []
        assert queue.router.lawyers["lawyer-021"].offer is None
        assert queue.staffed_for(queue.router.contacts["c-leave"]) == 0

        # The leave taken off: the waiting caller is offered to them.
        await entry.get_by_role("button", name="删除").click()
        await page.locator("#exceptions li:has-text('没有请假或加班')").wait_for()
        await _until(lambda: queue.router.lawyers["lawyer-021"].offer == "c-leave")
        await row.locator(f'td[data-day="{today}"] .mark').wait_for(state="detached")
