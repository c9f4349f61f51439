"""The mediation room in real browsers: a mediator signs in (landing on their page),
opens the room of a mediation and hands a party its link; the party's browser opens
it and presses the one button. Each says a tone from a fake microphone; each hears the
other's (the page's analyser) and sees the other's fake camera (frames decoded in the
tile of the other's seat), then the mediator removes the party and the party's page
says so. Headless Chromium, the run's Janus, a real app and Redis."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Page

from lawline.video.settings import WebRTCSettings
from lawline.web.auth import Role
from tests.browser import chromium, needs_browser, sign_in, tone
from tests.lawline_server import Running, next_frame, signed_in_lawline
from tests.test_bridge import make_tone
from tests.test_mediation_phone import send
from tests.test_mediation_room import Peer, janus_rooms, janus_video_rooms, new_mediation
from tests.test_terminal_browser import TERMINAL

pytestmark = [
    needs_browser,
    pytest.mark.skipif(shutil.which("sox") is None, reason="sox is installed by scripts/setup.sh"),
    pytest.mark.usefixtures("media"),
]

PASSWORD = "tiaojie-2026-renmin"
MEDIATOR_HZ, PARTY_HZ = 500, 1300


@pytest.fixture
async def lawline(clean_redis_url: str, tmp_path: Path) -> AsyncIterator[Running]:
    async with signed_in_lawline(
        tmp_path,
        clean_redis_url,
        {"liu": ("mediator", PASSWORD)},
        webrtc=WebRTCSettings(host_addresses=["127.0.0.1"]),
    ) as running:
        yield running


def browser_base(lawline: Running) -> str:
    # Browsers keep Secure cookies over plain http only for localhost.
    return lawline.base.replace("127.0.0.1", "localhost")


async def peak_hz(page: Page, name: str) -> float:
    return float(await page.evaluate(f"{name}.meter ? {name}.meter.peakHz() : 0"))


async def hears(page: Page, name: str, hz: float, seconds: float = 20) -> bool:
    for _ in range(int(seconds / 0.25)):
        if abs(await peak_hz(page, name) - hz) < 30:
            return True
        await asyncio.sleep(0.25)
    return False


async def frames_from(page: Page, who: str) -> int:
    return int(await page.evaluate(f"lawlineVideo.framesFrom({json.dumps(who)})"))


async def sees(page: Page, who: str, seconds: float = 30) -> bool:
    """The page's tile of `who` plays their video: frames keep being decoded."""
    first = 0
    for _ in range(int(seconds / 0.25)):
        frames = await frames_from(page, who)
        if first and frames > first + 10:
            return True
        first = first or frames
        await asyncio.sleep(0.25)
    return False


async def test_a_mediator_and_a_party_talk_in_the_room_from_their_browsers(
    lawline: Running, tmp_path: Path
) -> None:
    async with lawline.client("liu", Role.MEDIATOR) as http:
        parties = [
            {"name": "李桂兰", "role": "applicant", "reach": "link"},
            {"name": "张建国", "role": "respondent", "reach": "phone", "phone": "13900139000"},
        ]
        r = await http.post("/api/mediations", json={"summary": "围墙纠纷", "parties": parties})
        assert r.status_code == 201, r.text
        cid = r.json()["case"]["id"]
    base = browser_base(lawline)
    mediator_says = tone(tmp_path / "mediator.wav", MEDIATOR_HZ)
    party_says = tone(tmp_path / "party.wav", PARTY_HZ)
    async with chromium(mediator_says) as mediator_browser, chromium(party_says) as party_browser:
        desk = await mediator_browser.new_page()
        await sign_in(
            desk, base, "liu", PASSWORD, lands="/mediation"
        )  # a mediator lands on their page
        await desk.wait_for_selector('#link[data-link="up"]')
        await desk.click(f'li[data-case="{cid}"] button')
        link_field = desk.locator("#links li input").first
        await link_field.wait_for()
        link = await link_field.input_value()
        assert link.startswith(f"{base}/mediation/join#")

        party = await party_browser.new_page()
        await party.goto(link)
        await party.click("#join")
        await party.wait_for_selector("#who:has-text('李桂兰（申请人）')")
        assert await hears(party, "lawlineParty", MEDIATOR_HZ), "the party never heard the mediator"
        assert await hears(desk, "lawlineMediation", PARTY_HZ), "the mediator never heard the party"
        seat = desk.locator('#participants li[data-present="true"]', has_text="李桂兰")
        await seat.wait_for()
        assert "在线" in await seat.inner_text()
        who = await seat.get_attribute("data-who")
        assert who

        # They see each other: each page's tile of the other plays the other's camera.
        assert await sees(desk, who), "the mediator never saw the party's video"
        assert await sees(party, "mediator"), "the party never saw the mediator's video"
        tile = desk.locator(f'#videos figure[data-who="{who}"]')
        assert await tile.get_attribute("data-video") == "yes"
        assert "李桂兰（申请人）" in await tile.inner_text()

        await seat.get_by_role("button", name="移出").click()
        await party.wait_for_selector("#status:has-text('调解员已请您离开调解室')")
        await desk.wait_for_selector('#participants li[data-present="false"]:has-text("李桂兰")')
        await tile.wait_for(state="detached")  # the party's picture leaves the grid

        # A party by phone is rung from their line (the call itself: test_mediation_phone.py).
        phone_seat = desk.locator("#participants li", has_text="张建国")
        await phone_seat.get_by_role("button", name="呼叫电话").click()
        await desk.wait_for_selector('#participants li[data-dial="calling"]:has-text("正在呼叫")')
        assert await phone_seat.get_by_role("button", name="呼叫电话").is_disabled()

        # The mediation ends: nothing of the room is left on the media server.
        desk.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
        await desk.click("#close-room")
        await desk.wait_for_selector("#outcome-card:not([hidden])")
        assert f"m-{cid}" not in await janus_rooms()
        assert f"m-{cid}-v" not in await janus_video_rooms()


async def test_in_a_caucus_the_party_outside_sees_neither_the_mediator_nor_the_other(
    lawline: Running,
) -> None:
    """Three pages of one Chromium (its fake camera each): everyone sees the others; in
    背靠背 with the applicant, the respondent's screen shows no picture of either."""
    parties = [
        {"name": "李桂兰", "role": "applicant", "reach": "link"},
        {"name": "张建国", "role": "respondent", "reach": "link"},
    ]
    cid = await new_mediation(lawline, parties)
    base = browser_base(lawline)
    async with chromium() as browser:
        desk = await browser.new_page()
        await sign_in(desk, base, "liu", PASSWORD, lands="/mediation")
        await desk.wait_for_selector('#link[data-link="up"]')
        await desk.click(f'li[data-case="{cid}"] button')
        links = desk.locator("#links li")
        await links.first.wait_for()
        pages, seats = {}, {}
        for name in ("李桂兰", "张建国"):
            line = links.filter(has_text=name)
            seats[name] = await line.get_attribute("data-who")
            page = pages[name] = await browser.new_page()
            await page.goto(await line.locator("input").input_value())
            await page.click("#join")
        applicant, respondent = seats["李桂兰"], seats["张建国"]
        assert applicant and respondent
        for page, others in (
            (desk, (applicant, respondent)),
            (pages["李桂兰"], ("mediator", respondent)),
            (pages["张建国"], ("mediator", applicant)),
        ):
            for who in others:
                assert await sees(page, who), f"{who} never seen"

        line = desk.locator(f'#participants li[data-who="{applicant}"]')
        await line.get_by_role("button", name="背靠背").click()
        outside = pages["张建国"]
        await outside.wait_for_selector('#videos figure[data-video="yes"]', state="detached")
        assert "背靠背谈话中" in await outside.inner_text(f'#videos figure[data-who="{applicant}"]')
        assert "背靠背谈话中" in await outside.inner_text('#videos figure[data-who="mediator"]')
        assert await sees(pages["李桂兰"], "mediator")
        await desk.wait_for_selector(f'#videos figure[data-who="{respondent}"][data-video="no"]')

        await desk.click("#end-caucus")
        assert await sees(outside, "mediator"), "the respondent never saw the mediator again"
        assert await sees(outside, applicant)


async def test_a_mediator_opens_a_mediation_records_its_agreement_and_prints_it(
    lawline: Running, tmp_path: Path
) -> None:
    base = browser_base(lawline)
    async with chromium(tone(tmp_path / "quiet.wav", 300, seconds=5)) as browser:
        desk = await browser.new_page()
        await sign_in(desk, base, "liu", PASSWORD, lands="/mediation")
        # Sent without names: told in Chinese which field of which party, nothing made.
        await desk.click("#new-mediation button[type=submit]")
        await desk.wait_for_selector("#toast:has-text('请填写第 1 位当事人的姓名')")
        await desk.select_option("#new-domain", "neighbour")
        await desk.fill("#new-summary", "宅基地围墙越界")
        first, second = (
            desk.locator("#new-parties li").nth(0),
            desk.locator("#new-parties li").nth(1),
        )
        await first.get_by_placeholder("姓名").fill("李桂兰")
        await first.get_by_placeholder("电话号码").fill("13912345678")
        await second.get_by_placeholder("姓名").fill("张建国")
        await desk.click("#new-mediation button[type=submit]")
        item = desk.locator("#mediations li", has_text="李桂兰")
        await item.wait_for()
        assert "邻里纠纷" in await item.inner_text()

        await item.get_by_role("button", name="记录结果").click()
        await desk.fill("#facts", "张建国所建围墙越过边界约一米。")
        term = desk.locator("#terms li").first
        await term.get_by_placeholder("协议内容").fill("张建国拆除越界围墙")
        await term.get_by_placeholder("履行期限").fill("2026年12月31日前")
        await desk.click("#outcome-form button[type=submit]")
        await desk.wait_for_selector("#agreement:not([hidden])")
        href = await desk.get_attribute("#agreement-docx", "href")
        kind = await desk.evaluate(f"fetch('{href}').then(r => r.headers.get('content-type'))")
        assert kind.startswith("application/vnd.openxmlformats-officedocument")
        # Ended, it is no longer among those to hold.
        await desk.wait_for_selector("#mediations li", state="detached")
    async with lawline.client("boss", Role.SUPERVISOR) as boss:
        m = (await boss.get("/api/mediations")).json()[0]
        assert m["outcome"] == "agreement" and m["state"] == "closed"


async def test_a_village_terminal_is_invited_and_its_resident_joins_with_one_button(
    lawline: Running, tmp_path: Path
) -> None:
    async with lawline.client("root", Role.ADMIN) as http:
        r = await http.post("/api/terminals", json=TERMINAL)
        assert r.status_code == 201, r.text
        device_token = r.json()["token"]
    parties = [
        {"name": "王秀英", "role": "applicant", "reach": "terminal", "terminal_id": TERMINAL["id"]},
        {"name": "张建国", "role": "respondent", "reach": "hall"},
    ]
    cid = await new_mediation(lawline, parties)
    base = browser_base(lawline)
    mediator = Peer(make_tone(tmp_path / "mediator.wav", MEDIATOR_HZ, 48000))
    try:
        async with chromium(tone(tmp_path / "party.wav", PARTY_HZ)) as box_browser:
            box = await box_browser.new_page()
            await box.goto(f"{base}/terminal#token={device_token}")
            await box.wait_for_selector("#screen-home:not([hidden])")
            await box.wait_for_selector('#link[data-link="up"]', state="attached")
            async with lawline.websocket("/api/mediation/ws", "liu", Role.MEDIATOR) as desk:
                await desk.send(json.dumps({"type": "room_open", "case_id": cid}))
                links = (await next_frame(desk, "room"))["links"]
                seat = next(x["who"] for x in links if x["name"] == "王秀英")
                await mediator.join(desk, case_id=cid)
                rung = await send(desk, type="ring", case_id=cid, who=seat)
                assert rung["ok"] and rung["seats"][seat]["dial"] == "invited"

                # The box shows the invitation; OK on the remote (the focused button) joins.
                await box.wait_for_selector("#screen-invite:not([hidden])")
                assert "王秀英" in (await box.text_content("#invite-who") or "")
                await box.keyboard.press("Enter")
                await box.wait_for_url("**/mediation/join?from=terminal*")
                assert await hears(box, "lawlineParty", MEDIATOR_HZ), "the box never heard"
                await mediator.until(hears={PARTY_HZ}, not_hears={MEDIATOR_HZ})
                # The box's camera is in the room: the mediator is offered its picture.
                watch = await next_frame(desk, "watch", timeout=30)
                assert [(s["who"], s["name"]) for s in watch["streams"]] == [(seat, "王秀英")]

                # The mediation ends: the box says so, then goes back to its home screen.
                assert (await send(desk, type="room_close", case_id=cid))["ok"]
                await box.wait_for_selector("#status:has-text('调解已结束')")
                await box.wait_for_url("**/terminal", timeout=20_000)
                await box.wait_for_selector("#screen-home:not([hidden])")
    finally:
        await mediator.close()
