"""The case ledger's pages in a real browser: a duty lawyer opens a case in wrap-up
from the console, follows it on /cases (overdue flagged, notes, legal aid, closing),
and a supervisor searches the ledger by what was said, hands a case over and
downloads the month. Real Chromium, the real app, a real Redis; nothing mocked."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from playwright.async_api import Page, expect
from redis.asyncio import Redis

from lawline.accounts.settings import AccountSettings
from lawline.cases.settings import CaseSettings
from lawline.config import Settings
from lawline.queue.settings import RoutingSettings
from lawline.queue.store import QueueStore
from lawline.transcripts.segments import Kind, Leg, Segment
from lawline.transcripts.store import TranscriptStore
from lawline.video.settings import WebRTCSettings
from lawline.web import cases_api
from lawline.web.auth import Role
from tests.browser import PASSWORD, WANG, add_user, chromium, needs_browser, sign_in
from tests.lawline_server import Running, next_frame, running_lawline
from tests.queue_helpers import contact

pytestmark = needs_browser

NUMBER = "13800138000"
ZHAO = {**WANG, "id": "zhao", "name": "赵律师"}
RED = "rgb(180, 35, 24)"  # console.css --danger


@pytest.fixture
async def lawline(clean_redis_url: str, tmp_path: Path) -> AsyncIterator[Running]:
    """The real app, where a simple matter is due the moment it is opened (so overdue
    at once), with a lawyer (wang), a colleague (zhao) and a supervisor (boss)."""
    settings = Settings(
        data_dir=tmp_path,
        secret_key="test-secret",
        # Over the console's 5 s ping: an open page is never taken for lost.
        routing=RoutingSettings(offer_timeout_s=60, wrapup_s=120, console_timeout_s=8),
        accounts=AccountSettings(cookie_secure=True),
        webrtc=WebRTCSettings(host_addresses=["127.0.0.1"]),
        cases=CaseSettings(deadline_days={"simple": 0, "general": 7, "complex": 30}, min_ratings=1),
    )
    add_user(tmp_path, "wang", "lawyer", PASSWORD)
    add_user(tmp_path, "boss", "supervisor", PASSWORD)
    async with running_lawline(settings, clean_redis_url) as running:
        async with running.client("boss", Role.SUPERVISOR) as http:
            for lawyer in (WANG, ZHAO):
                r = await http.post("/api/lawyers", json=lawyer)
                assert r.status_code == 201, r.text
        yield running


def browser_base(lawline: Running) -> str:
    # Browsers keep Secure cookies over plain http only for localhost.
    return lawline.base.replace("127.0.0.1", "localhost")


# ----- making contacts through the real queue -------------------------------------------


async def a_call_taken(
    lawline: Running,
    redis_url: str,
    number: str,
    said: tuple[str, ...] = (),
    rating: int | None = None,
) -> str:
    """A citizen calls; wang answers over a console websocket and hangs up. What the
    citizen said is stored as the call's transcript, and their rating. The contact id."""
    async with lawline.console("wang") as ws:
        await next_frame(ws, "hello")
        await ws.send(json.dumps({"type": "state", "state": "available"}))
        assert (await next_frame(ws, "result"))["ok"]
        cid = str((await lawline.enter_call(caller=number))["id"])
        await next_frame(ws, "offer")
        await ws.send(json.dumps({"type": "accept", "contact_id": cid}))
        await next_frame(ws, "connected")
        await ws.send(json.dumps({"type": "end", "contact_id": cid}))
        await next_frame(ws, "ended")
        for done in ({"type": "ready"}, {"type": "state", "state": "offline"}):
            await ws.send(json.dumps(done))  # wrap-up over, off duty
            assert (await next_frame(ws, "result"))["ok"]
    redis = Redis.from_url(redis_url, decode_responses=True)
    try:
        store = TranscriptStore(QueueStore(redis))
        now = time.time()
        await store.started(cid, now)
        for i, text in enumerate(said):
            await store.segment(cid, Segment(Kind.FINAL, Leg.CITIZEN, text, i * 3.0, i * 3.0 + 2))
        if rating is not None:
            await store.queue_store.rate(cid, rating, now)
        await store.closed(cid)
    finally:
        await redis.aclose()
    return cid


async def a_call_abandoned(redis_url: str, cid: str, number: str, *said: str) -> None:
    """A citizen who hung up before anyone answered (what they said to the menu kept)."""
    redis = Redis.from_url(redis_url, decode_responses=True)
    try:
        qs = QueueStore(redis)
        now = time.time()
        menu = {"menu": "main:1 consultation:1"}  # as the voice menu records it
        assert await qs.add_contact(replace(contact(cid, now), caller=number, attrs=menu), now)
        await qs.abandon(cid, now + 1, "caller hung up")
        store = TranscriptStore(qs)
        await store.started(cid, now)
        for i, text in enumerate(said):
            await store.segment(cid, Segment(Kind.FINAL, Leg.CITIZEN, text, i * 3.0, i * 3.0 + 2))
        await store.closed(cid)
    finally:
        await redis.aclose()


async def recorded(
    lawline: Running, cid: str, want: Callable[[dict[str, Any]], Any], seconds: float = 15
) -> dict[str, Any]:
    """The ledger's record of a contact, once `want(record)` holds."""
    async with lawline.client("boss", Role.SUPERVISOR) as http:
        for _ in range(int(seconds / 0.1)):
            r = await http.get(f"/api/ledger/contacts/{cid}")
            if r.status_code == 200 and want(r.json()):
                return dict(r.json())
            await asyncio.sleep(0.1)
    raise AssertionError(f"the ledger never had it: {r.status_code} {r.text[:500]}")


async def a_case(lawline: Running, cid: str, **fields: str) -> str:
    async with lawline.client("wang", Role.LAWYER) as wang:
        r = await wang.post("/api/cases", json={"contact_id": cid, **fields})
        assert r.status_code == 201, r.text
        return str(r.json()["id"])


async def sign_in_as_boss(page: Page, lawline: Running) -> None:
    base = browser_base(lawline)
    await page.goto(f"{base}/login")
    await page.fill("#username", "boss")
    await page.fill("#password", PASSWORD)
    await page.click("#login")
    await page.wait_for_url(f"{base}/supervisor")


# ----- the lawyer -------------------------------------------------------------------------


async def test_a_lawyer_opens_a_case_in_wrap_up_and_follows_it_up(
    lawline: Running, clean_redis_url: str
) -> None:
    # An earlier matter of wang's, a general one: due in a week.
    earlier = await a_call_taken(lawline, clean_redis_url, "13900000001")
    await recorded(lawline, earlier, lambda c: c["first_lawyer"] == "wang")
    due_later = await a_case(
        lawline, earlier, triage="general", citizen_name="张秀英", summary="离婚后子女抚养费"
    )

    async with chromium() as browser:
        page = await browser.new_page()
        await sign_in(page, browser_base(lawline), "wang", PASSWORD)
        # Nothing overdue yet: the link to the cases has no badge.
        await page.wait_for_function("() => document.getElementById('cases-link').title !== ''")
        assert await page.is_hidden("#overdue-badge")
        await page.click("#go-available")
        await page.wait_for_selector('#state[data-state="available"]')

        # A citizen calls through the real queue; wang answers in the page.
        cid = (await lawline.enter_call(caller=NUMBER))["id"]
        await page.wait_for_selector("#offer:not([hidden])")
        await page.click("#accept")
        await page.wait_for_selector("#call:not([hidden])")
        assert await page.is_hidden("#open-case"), "立案 comes after the call"
        advice = "可申请劳动仲裁，并可申请法律援助；请带劳动合同和工资条"
        await page.fill("#case-summary", "欠薪三个月，用人单位拒付")
        await page.select_option("#case-disposition", "referred_legal_aid")
        await page.fill("#case-advice", advice)
        await page.click("#hang-up")

        # Wrap-up: the record saved, then 立案, pre-filled from the case form.
        await page.wait_for_selector("#wrapup:not([hidden])")
        await page.click("#case-save")
        await expect(page.locator("#case-saved")).to_contain_text("已保存")
        await page.wait_for_selector("#open-case:not([hidden])")
        assert await page.input_value("#open-told") == advice
        assert await page.input_value("#open-referral") == "legal_aid_centre"
        await page.select_option("#open-triage", "simple")
        await page.fill("#open-name", "李大山")
        await page.fill("#open-referral-body", "区法律援助中心")
        await page.click("#open-case-send")
        result = page.locator("#open-case-result")
        await expect(result).to_contain_text("已立案", timeout=15_000)
        m = re.search(r"案件编号 (\S+?)，", await result.inner_text())
        assert m, await result.inner_text()
        case_id = m.group(1)
        assert await page.is_disabled("#open-case-send"), "one contact, one case"
        # Simple matters are due at once here: the badge says one is overdue.
        await expect(page.locator("#overdue-badge")).to_have_text("逾期 1")
        assert (
            await page.locator("#overdue-badge").evaluate(
                "el => getComputedStyle(el).backgroundColor"
            )
            == RED
        )

        # The cases open in a tab of their own (the console stays on duty).
        async with page.context.expect_page() as opened:
            await page.click("#cases-link")
        cases = await opened.value
        rows = cases.locator("#list-rows tr")
        await expect(rows).to_have_count(2)
        # Soonest deadline first: the overdue one, flagged in red.
        first, second = rows.nth(0), rows.nth(1)
        await expect(first).to_contain_text(case_id)
        await expect(first).to_contain_text("李大山")
        await expect(first).to_contain_text("已逾期")
        flag = first.locator(".flag")
        assert await flag.inner_text() == "已逾期"
        assert await flag.evaluate("el => getComputedStyle(el).backgroundColor") == RED
        assert await first.evaluate("el => getComputedStyle(el.cells[0]).color") == RED
        await expect(second).to_contain_text(due_later)
        await expect(second).to_contain_text("剩余 6 天")
        await expect(second).not_to_contain_text("已逾期")
        await expect(cases.locator("#list-summary")).to_contain_text("其中 1 件已逾期")

        await cases.check("#list-overdue")
        await expect(rows).to_have_count(1)
        await expect(rows.nth(0)).to_contain_text(case_id)

        # The case: its fields, the call with its timeline, and a follow-up note.
        await rows.nth(0).click()
        await cases.wait_for_url(re.compile(rf"#case/{re.escape(case_id)}$"))
        fields = cases.locator("#case-fields")
        for text in (
            "李大山",
            NUMBER,
            "简易",
            "法律咨询",
            "劳动争议",
            "欠薪三个月，用人单位拒付",
            advice,
            "转法律援助",
            "法律援助中心（区法律援助中心）",
            "已逾期",
        ):
            await expect(fields).to_contain_text(text)
        assert (
            await cases.locator("#case-deadline").evaluate("el => getComputedStyle(el).color")
            == RED
        )
        call = cases.locator(f'#case-contacts details[data-contact="{cid}"]')
        for text in ("进入排队", "律师接听", "通话结束", "欠薪三个月，用人单位拒付"):
            await expect(call).to_contain_text(text)
        await expect(cases.locator("#case-notes-empty")).to_be_visible()
        await cases.fill("#note-text", "已电话回访，当事人下周一带材料来中心")
        await cases.click("#note-add")
        notes = cases.locator("#case-notes li")
        await expect(notes).to_have_count(1)
        await expect(notes.first).to_contain_text("已电话回访，当事人下周一带材料来中心")
        await expect(notes.first).to_contain_text("wang")
        await expect(cases.locator("#note-text")).to_have_value("")
        # An empty note is refused at the field.
        await cases.click("#note-add")
        await expect(cases.locator("#note-text-error")).to_have_text("请填写跟进内容。")
        # Lawyers see no audit trail.
        assert await cases.is_hidden("#audit-card")
        # The owner hands over by picking a colleague by name.
        await expect(cases.locator('#lawyer-ids option[value="zhao"]')).to_have_text("赵律师")

    async with lawline.client("wang", Role.LAWYER) as wang:
        detail = (await wang.get(f"/api/cases/{case_id}")).json()
        colleagues = (await wang.get("/api/colleagues")).json()
        # Names and who is on duty, nothing of their skills or figures.
        assert {"id": "zhao", "name": "赵律师", "state": "offline"} in colleagues
        assert (await wang.get("/api/lawyers")).status_code == 403
    assert detail["contacts"] == [cid] and detail["triage"] == "simple"
    assert detail["referral_to"] == "legal_aid_centre" and detail["told"] == advice


async def test_a_citizens_later_call_joins_their_open_case_from_the_console(
    lawline: Running, clean_redis_url: str
) -> None:
    earlier = await a_call_taken(lawline, clean_redis_url, NUMBER)
    await recorded(lawline, earlier, lambda c: c["first_lawyer"] == "wang")
    case_id = await a_case(lawline, earlier, citizen_name="李大山", summary="欠薪三个月")
    async with chromium() as browser:
        page = await browser.new_page()
        await sign_in(page, browser_base(lawline), "wang", PASSWORD)
        await page.click("#go-available")
        await page.wait_for_selector('#state[data-state="available"]')
        later = (await lawline.enter_call(caller=NUMBER))["id"]
        await page.wait_for_selector("#offer:not([hidden])")
        await expect(page.locator("#offer-history")).to_contain_text("此前来电")
        await page.click("#accept")
        await page.wait_for_selector("#call:not([hidden])")
        await page.click("#hang-up")
        await page.wait_for_selector("#open-case:not([hidden])")
        # The citizen's open case is offered, found through their earlier call.
        hint = page.locator("#open-join-hint")
        await expect(hint).to_have_text("该来电人有 1 件由您承办、尚在办理中的案件，可选择“并入”。")
        await page.check('input[name="open-mode"][value="join"]')
        await expect(page.locator("#open-case-send")).to_have_text("并入案件")
        # A mistyped number is refused, in words.
        await page.fill("#open-join-case", "20200101-deadbeef")
        await page.click("#open-case-send")
        result = page.locator("#open-case-result")
        await expect(result).to_have_text("没有这个案件编号，请核对。", timeout=15_000)
        await page.select_option("#open-join-pick", case_id)
        assert await page.input_value("#open-join-case") == case_id
        await page.click("#open-case-send")
        await expect(result).to_have_text(f"已并入案件 {case_id}。")

        # The case (its number links to it) now holds both calls.
        async with page.context.expect_page() as opened:
            await result.locator("a").click()
        cases = await opened.value
        await expect(cases.locator("#case-contacts details")).to_have_count(2)
        for cid in (earlier, later):
            call = cases.locator(f'#case-contacts details[data-contact="{cid}"] summary')
            await expect(call).to_contain_text("法律咨询 · 劳动争议 · 已办结")


async def test_the_legal_aid_form_shows_the_apis_field_errors_and_the_case_closes(
    lawline: Running, clean_redis_url: str
) -> None:
    cid = await a_call_taken(lawline, clean_redis_url, NUMBER)
    await recorded(lawline, cid, lambda c: c["first_lawyer"] == "wang")
    case_id = await a_case(
        lawline, cid, triage="general", citizen_name="李大山", summary="农民工欠薪"
    )
    async with chromium() as browser:
        page = await browser.new_page()
        await sign_in(page, browser_base(lawline), "wang", PASSWORD)
        await page.goto(f"{browser_base(lawline)}/cases#case/{case_id}")
        await page.wait_for_selector("#case-body:not([hidden])")
        await expect(page.locator("#case-flag")).to_have_text("办理中")
        assert await page.input_value("#aid-applicant_name") == "李大山"

        # The details corrected: a complex matter after all, so thirty days from opening.
        await expect(page.locator("#case-deadline")).to_contain_text("剩余 6 天")
        await page.click("#edit-card summary")
        await page.select_option("#edit-triage", "complex")
        await page.fill("#edit-told", "请携带身份证、劳动合同和工资条")
        await page.click('#edit-form button[type="submit"]')
        await expect(page.locator("#edit-result")).to_have_text("已保存。")
        await expect(page.locator("#case-fields")).to_contain_text("复杂")
        await expect(page.locator("#case-fields")).to_contain_text("请携带身份证、劳动合同和工资条")
        await expect(page.locator("#case-deadline")).to_contain_text("剩余 29 天")

        # No name, and an ID number whose check digit is wrong: each error by its field.
        await page.fill("#aid-applicant_name", "")
        await page.fill("#aid-id_number", "110105194912310021")
        await page.check('input[name="aid-exemption"][value="migrant_wages"]')
        await page.click("#aid-send")
        id_error = page.locator("#aid-id_number-error")
        await expect(id_error).to_contain_text("公民身份号码不正确")
        await expect(id_error).to_be_visible()
        await expect(page.locator("#aid-applicant_name-error")).to_have_text("请填写申请人姓名。")
        await expect(page.locator("#aid-id_number")).to_have_attribute("aria-invalid", "true")
        assert await page.locator("#aid-phone-error").inner_text() == ""
        await expect(page.locator("#aid-result")).to_have_text("请按提示修改后再提交。")
        # The error sits with its field, not elsewhere on the page.
        box = await page.locator("#aid-id_number").bounding_box()
        err = await id_error.bounding_box()
        assert box and err and 0 <= err["y"] - (box["y"] + box["height"]) < 40

        await page.fill("#aid-applicant_name", "李大山")
        await page.fill("#aid-id_number", "11010519491231002x")
        await page.click("#aid-send")
        await expect(page.locator("#aid-result")).to_contain_text("法律援助申请已提交")
        await expect(page.locator("#aid-result")).to_contain_text("免于经济困难审查（农民工讨薪）")
        assert await id_error.inner_text() == ""
        await expect(page.locator("#aid-id_number")).not_to_have_attribute("aria-invalid", "true")

        # Closed with a disposition: no more changes offered.
        await page.select_option("#close-disposition", "referred_legal_aid")
        await page.click("#close-send")
        await expect(page.locator("#case-flag")).to_have_text("已办结")
        await expect(page.locator("#case-fields")).to_contain_text("转法律援助")
        assert await page.is_hidden("#aid-card") and await page.is_hidden("#close-card")
        await page.goto(f"{browser_base(lawline)}/cases#list")
        await expect(page.locator("#list-summary")).to_have_text("没有符合条件的案件。")
        await page.select_option("#list-status", "closed")
        await expect(page.locator("#list-rows tr")).to_have_count(1)
        await expect(page.locator("#list-rows tr").first).to_contain_text("已办结")


# ----- the supervisor ---------------------------------------------------------------------


async def test_a_supervisor_searches_the_ledger_hands_over_and_downloads_the_month(
    lawline: Running, clean_redis_url: str, tmp_path: Path
) -> None:
    said = ("老板拖欠工资三个月了", "一共十二个工人")
    handled = await a_call_taken(lawline, clean_redis_url, NUMBER, said, rating=5)
    await a_call_abandoned(clean_redis_url, "gone", "13900000009", "我想咨询离婚的事")
    await recorded(lawline, handled, lambda c: c["transcript"] and c["rating"])
    await recorded(lawline, "gone", lambda c: c["transcript"])
    case_id = await a_case(
        lawline, handled, triage="complex", citizen_name="李大山", summary="集体欠薪"
    )

    async with chromium() as browser:
        page = await browser.new_page()
        await sign_in_as_boss(page, lawline)
        async with page.context.expect_page() as opened:
            await page.click("#cases-link")
        cases = await opened.value
        # Staff see every case, with its owner, and may filter by owner.
        await expect(cases.locator("#list-title")).to_have_text("全部案件")
        rows = cases.locator("#list-rows tr")
        await expect(rows).to_have_count(1)
        await expect(rows.first).to_contain_text("王律师（wang）")
        await cases.select_option("#list-owner", "zhao")
        await expect(rows).to_have_count(0)
        await expect(cases.locator("#list-summary")).to_have_text("没有符合条件的案件。")

        # The ledger, searched by a word said in the call.
        await cases.click('nav a[data-view="search"]')
        await cases.fill("#search-words", "工资")
        await cases.click("#search-send")
        await expect(cases.locator("#search-summary")).to_have_text("找到 1 条来电记录。")
        found = cases.locator("#search-rows tr")
        await expect(found).to_have_count(1)
        await expect(found.first).to_contain_text(NUMBER)
        await expect(found.first).to_contain_text(case_id)
        await found.first.locator("button.show-contact").click()
        transcript = cases.locator("#search-rows tr.contact-detail .transcript")
        await expect(transcript).to_contain_text("老板拖欠工资三个月了")
        await expect(transcript).to_contain_text("来电人")
        # ... and by number: the citizen who gave up waiting.
        await cases.fill("#search-words", "")
        await cases.fill("#search-number", "13900000009")
        await cases.click("#search-send")
        await expect(found).to_have_count(1)
        await expect(found.first).to_contain_text("未接通")
        # What they chose in the voice menu, in words, not the menu's internal names.
        await found.first.locator("button.show-contact").click()
        detail = cases.locator("#search-rows tr.contact-detail")
        await expect(detail.locator("dd", has_text="›")).to_have_text("法律咨询 › 劳动争议")
        await expect(detail).not_to_contain_text("consultation")
        await cases.fill("#search-words", "工资")
        await cases.click("#search-send")
        await expect(cases.locator("#search-summary")).to_have_text("没有找到符合条件的来电记录。")

        # From the search to the case: its audit trail, and a formal hand-over.
        await cases.click("#search-clear")
        await cases.fill("#search-name", "大山")
        await cases.click("#search-send")
        await expect(found).to_have_count(1)
        await found.first.locator(f'a[href="#case/{case_id}"]').click()
        await cases.wait_for_selector("#case-body:not([hidden])")
        audit = cases.locator("#audit-rows")
        await expect(audit.locator("tr").first).to_contain_text("立案")
        await expect(audit.locator("tr").first).to_contain_text("wang")
        await expect(audit).to_contain_text("查阅")
        await cases.fill("#handover-to_lawyer", "zhao")
        await cases.fill("#handover-reason", "王律师休假")
        await cases.click("#handover-send")
        await expect(cases.locator("#handover-result")).to_have_text("已移交给 赵律师（zhao）。")
        await expect(cases.locator("#case-handovers")).to_contain_text("王律师休假")
        await expect(cases.locator("#case-fields")).to_contain_text("赵律师（zhao）")
        await expect(audit).to_contain_text("移交")

        # This month: figures, grades, and the ledger to download.
        await cases.click('nav a[data-view="reports"]')
        figures = cases.locator("#figures-rows")
        await expect(figures.locator("tr", has_text="来电总数")).to_contain_text("2")
        await expect(figures.locator("tr", has_text="接通率")).to_contain_text("50.0%")
        await expect(figures.locator("tr", has_text="未接通")).to_contain_text("1")
        await expect(cases.locator("#per-lawyer-rows")).to_contain_text("王律师（wang）")
        # A short call's talk is its seconds, not a rounded 0 minutes.
        await expect(cases.locator("#per-lawyer-rows")).to_contain_text(re.compile(r"\d+秒"))
        grade = cases.locator("#grades-rows tr")
        await expect(grade).to_have_count(1)
        await expect(grade.first).to_contain_text("王律师（wang）")
        await expect(grade.first).to_contain_text("★★★★★")

        async with cases.expect_download() as download_xlsx:
            await cases.click("#export-xlsx")
        xlsx = await download_xlsx.value
        assert xlsx.suggested_filename.endswith(".xlsx")
        saved = tmp_path / xlsx.suggested_filename  # where the supervisor keeps it
        await xlsx.save_as(saved)
        sheet = openpyxl.load_workbook(saved).active
        assert sheet is not None and sheet.max_row == 3  # the titles and two contacts
        assert sheet["A1"].value == "编号"
        assert {sheet.cell(i, 1).value for i in (2, 3)} == {handled, "gone"}

        async with cases.expect_download() as download_csv:
            await cases.click("#export-csv")
        csv_file = await download_csv.value
        assert csv_file.suggested_filename.endswith(".csv")
        text = Path(str(await csv_file.path())).read_text("utf-8-sig")
        assert len(list(csv.reader(io.StringIO(text)))) == 3

        # An earlier month has nothing in it.
        await cases.fill("#report-month", "2020-01")
        await expect(cases.locator("#figures-title")).to_have_text("2020 年 1 月数据")
        await expect(figures.locator("tr", has_text="来电总数")).to_contain_text("0")
        async with cases.expect_download() as download_empty:
            await cases.click("#export-xlsx")
        nothing = await download_empty.value
        await nothing.save_as(tmp_path / nothing.suggested_filename)
        empty = openpyxl.load_workbook(tmp_path / nothing.suggested_filename).active
        assert empty is not None and empty.max_row == 1


# ----- the centre's clock -----------------------------------------------------------------


async def test_a_pc_set_to_new_york_time_still_reads_beijing_times_and_days(
    lawline: Running, clean_redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A call at 00:05 and a case opened at 00:08 on 3 December, Beijing time (still
    2 December in UTC, and 11:08 the day before in New York): the ledger's pages show
    the centre's times, search its days and report its month, whatever the PC's zone."""
    beijing = ZoneInfo("Asia/Shanghai")
    called = datetime(2026, 12, 3, 0, 5, tzinfo=beijing).timestamp()
    redis = Redis.from_url(clean_redis_url, decode_responses=True)
    try:
        qs = QueueStore(redis)
        assert await qs.add_contact(replace(contact("night", called), caller=NUMBER), called)
        await qs.abandon("night", called + 30, "caller hung up")
    finally:
        await redis.aclose()
    await recorded(lawline, "night", lambda c: c["state"] == "abandoned")
    opened = datetime(2026, 12, 3, 0, 8, tzinfo=beijing)
    monkeypatch.setattr(cases_api, "_now", lambda: opened.astimezone(UTC))
    async with lawline.client("boss", Role.SUPERVISOR) as http:
        r = await http.post("/api/cases", json={"contact_id": "night", "triage": "complex"})
        assert r.status_code == 201, r.text
        case_id = r.json()["id"]
    assert case_id.startswith("20261203-")

    async with chromium() as browser:
        context = await browser.new_context(timezone_id="America/New_York")
        page = await context.new_page()
        zone = await page.evaluate("() => Intl.DateTimeFormat().resolvedOptions().timeZone")
        assert zone == "America/New_York"
        await sign_in_as_boss(page, lawline)
        await page.goto(f"{browser_base(lawline)}/cases#case/{case_id}")
        await page.wait_for_selector("#case-body:not([hidden])")
        await expect(page.locator("#case-id")).to_have_text(case_id)
        await expect(page.locator("#case-fields")).to_contain_text("2026-12-03 00:08")
        assert "2026-12-02" not in await page.inner_text("#case-fields")

        # The search's days are Beijing's days.
        await page.click('nav a[data-view="search"]')
        found = page.locator("#search-rows tr")
        for day, count in (("2026-12-03", 1), ("2026-12-02", 0)):
            await page.fill("#search-since", day)
            await page.fill("#search-until", day)
            await page.click("#search-send")
            await expect(found).to_have_count(count)
        await page.fill("#search-since", "2026-12-03")
        await page.fill("#search-until", "2026-12-03")
        await page.click("#search-send")
        await expect(found.first).to_contain_text("2026-12-03 00:05")

        # So is the month: December holds the call, November does not.
        await page.click('nav a[data-view="reports"]')
        figures = page.locator("#figures-rows")
        await page.fill("#report-month", "2026-12")
        await expect(page.locator("#figures-title")).to_have_text("2026 年 12 月数据")
        await expect(figures.locator("tr", has_text="来电总数")).to_contain_text("1")
        href = await page.get_attribute("#export-csv", "href")
        assert href is not None and "since=2026-12-01&until=2026-12-31" in href
        await page.fill("#report-month", "2026-11")
        await expect(page.locator("#figures-title")).to_have_text("2026 年 11 月数据")
        await expect(figures.locator("tr", has_text="来电总数")).to_contain_text("0")
