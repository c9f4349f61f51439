"""Village video terminals in real browsers: two headless Chromium instances with fake
cameras and microphones, a terminal and a duty lawyer's console. The resident presses
the big button with the remote (Enter), the lawyer accepts, and both sides' WebRTC
statistics show 4K video decoded and audio flowing; hang-up and the five-star rating
with the remote; a revoked terminal refused. The remote's pitfalls: OK pressed again and
again never leaves the queue, hangs up or rates; nobody on duty said plainly, with a
callback that rings the terminal; one focus ring on screen; a box without a token told
in Chinese. Everything on loopback in the test
namespace; 4K at a low frame rate, so two encoders fit on a shared 2-core machine."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Page

from lawline.accounts.settings import AccountSettings
from lawline.config import Settings
from lawline.queue.settings import RoutingSettings
from lawline.terminals.settings import TerminalSettings
from lawline.transcripts.settings import TranscriptSettings
from lawline.video.settings import WebRTCSettings
from lawline.web.auth import Role
from tests.browser import PASSWORD, add_user, chromium, needs_browser, sign_in
from tests.lawline_server import Running, next_frame, running_lawline
from tests.speech import CITIZEN_SAYS, LAWYER_SAYS, transcriber
from tests.test_transcripts_browser import looped_speech

pytestmark = needs_browser

LI = {
    "id": "li",
    "name": "李律师",
    "services": {"consultation": 4},
    "domains": {"land_homestead": 5},
    "languages": ["zh"],
    "capacity": {"video": 1},
}
TERMINAL = {"id": "dalai-1", "village": "大赖村", "township": "大赖镇", "language": "zh"}


def base_of(lawline: Running) -> str:
    # Browsers keep Secure cookies over plain http only for localhost.
    return lawline.base.replace("127.0.0.1", "localhost")


@asynccontextmanager
async def start_lawline(
    tmp_path: Path,
    redis_url: str,
    webrtc: WebRTCSettings | None = None,
    transcribers: list[str] | None = None,
    **terminals: Any,
) -> AsyncIterator[tuple[Running, str]]:
    settings = Settings(
        transcripts=TranscriptSettings(urls=transcribers or []),
        data_dir=tmp_path,
        secret_key="test-secret",
        routing=RoutingSettings(offer_timeout_s=60, wrapup_s=120, console_timeout_s=10),
        accounts=AccountSettings(cookie_secure=True),
        webrtc=webrtc or WebRTCSettings(host_addresses=["127.0.0.1"]),
        terminals=TerminalSettings(**{"frame_rate": 5, **terminals}),
    )
    add_user(tmp_path, "li", "lawyer", PASSWORD)
    async with running_lawline(settings, redis_url) as running:
        async with running.client("boss", Role.SUPERVISOR) as http:
            assert (await http.post("/api/lawyers", json=LI)).status_code == 201
        async with running.client("root", Role.ADMIN) as http:
            r = await http.post("/api/terminals", json=TERMINAL)
            assert r.status_code == 201, r.text
        yield running, r.json()["token"]


@pytest.fixture
async def lawline(clean_redis_url: str, tmp_path: Path) -> AsyncIterator[tuple[Running, str]]:
    async with start_lawline(tmp_path, clean_redis_url) as running:
        yield running


async def lawyer_on_duty(page: Page, base: str) -> None:
    await sign_in(page, base, "li", PASSWORD)
    await page.click("#go-available")
    await page.wait_for_selector('#state[data-state="available"]')


async def open_terminal(page: Page, base: str, token: str) -> None:
    await page.goto(f"{base}/terminal#token={token}")
    await page.wait_for_selector("#screen-home:not([hidden])")
    await page.wait_for_selector('#link[data-link="up"]', state="attached")


# The inbound video and audio of a page's call, and the selected ICE pair's type.
STATS_JS = """async (which) => {
  const call = which === "terminal" ? window.lawlineTerminal.call : window.lawlineConsole.video;
  if (!call || !call.pc) return null;
  const stats = await call.pc.getStats();
  const out = {video: null, audio: null, pair: null, codec: null,
               connection: call.pc.connectionState};
  const byId = {};
  stats.forEach((r) => { byId[r.id] = r; });
  stats.forEach((r) => {
    if (r.type === "inbound-rtp" && r.kind === "video") {
      out.video = {width: r.frameWidth || 0, height: r.frameHeight || 0,
                   decoded: r.framesDecoded || 0};
      if (r.codecId && byId[r.codecId]) out.codec = byId[r.codecId].mimeType;
    }
    if (r.type === "inbound-rtp" && r.kind === "audio") {
      out.audio = {packets: r.packetsReceived || 0, bytes: r.bytesReceived || 0};
    }
    if (r.type === "transport" && r.selectedCandidatePairId) {
      const pair = byId[r.selectedCandidatePairId];
      const local = pair && byId[pair.localCandidateId];
      out.pair = local ? local.candidateType : null;
    }
  });
  return out;
}"""


async def stats(page: Page, which: str) -> dict[str, Any] | None:
    result: dict[str, Any] | None = await page.evaluate(STATS_JS, which)
    return result


async def wait_for_4k(page: Page, which: str, seconds: float = 120) -> dict[str, Any]:
    """The stats once 3840x2160 frames are being decoded (or the last seen, failing)."""
    got = None
    for _ in range(int(seconds)):
        got = await stats(page, which)
        v = got and got["video"]
        if v and v["width"] == 3840 and v["height"] == 2160 and v["decoded"] > 0:
            return got
        await asyncio.sleep(1)
    raise AssertionError(f"{which}: no 3840x2160 frames decoded; last stats {got}")


async def audio_grows(page: Page, which: str) -> None:
    first = await stats(page, which)
    assert first and first["audio"], f"{which}: no inbound audio: {first}"
    for _ in range(30):
        await asyncio.sleep(1)
        later = await stats(page, which)
        assert later and later["audio"]
        if later["audio"]["packets"] > first["audio"]["packets"] + 20:
            assert later["audio"]["bytes"] > first["audio"]["bytes"]
            return
    raise AssertionError(f"{which}: audio not flowing: {first} -> {later}")


async def press_and_accept(terminal: Page, console: Page) -> None:
    """The resident presses OK on the big button; the lawyer accepts the offer."""
    await terminal.keyboard.press("Enter")  # the big button has the focus
    await terminal.wait_for_selector("#screen-waiting:not([hidden])")
    await console.wait_for_selector("#offer:not([hidden])", timeout=60_000)
    assert "视频" in (await console.text_content("#offer-detail") or "")
    await console.click("#accept")
    await terminal.wait_for_selector("#screen-talk:not([hidden])", timeout=60_000)
    await console.wait_for_selector("#video:not([hidden])", timeout=60_000)


async def connect(terminal: Page, console: Page, base: str, token: str) -> None:
    """The lawyer on duty, the terminal opened with its token, a call between them."""
    await lawyer_on_duty(console, base)
    await open_terminal(terminal, base, token)
    await press_and_accept(terminal, console)


async def recorded_rating(running: Running, contact_id: str) -> dict[str, Any]:
    """The ledger's record of the contact once its rating has arrived (the ledger follows
    the event stream a moment behind)."""
    async with running.client("boss", Role.SUPERVISOR) as http:
        for _ in range(100):
            r = await http.get(f"/api/ledger/contacts/{contact_id}")
            if r.status_code == 200 and r.json()["rating"] is not None:
                break
            await asyncio.sleep(0.2)
    return r.json()


async def test_a_resident_talks_to_a_lawyer_in_4k_and_rates_the_talk(
    lawline: tuple[Running, str],
) -> None:
    running, token = lawline
    base = base_of(running)
    async with chromium() as terminal_browser, chromium() as lawyer_browser:
        console = await lawyer_browser.new_page()
        terminal = await terminal_browser.new_page()
        await connect(terminal, console, base, token)
        assert await terminal.evaluate("location.hash") == ""  # the token is not left in view
        assert "大赖村" in (await console.text_content("#call-summary") or "")

        for page, which in ((console, "lawyer"), (terminal, "terminal")):
            got = await wait_for_4k(page, which)
            assert got["connection"] == "connected"
            assert got["codec"] == "video/H264", got
            await audio_grows(page, which)
        # No speech model here: the lawyer is told so in words, never a path.
        await console.wait_for_function(
            "() => document.getElementById('transcript-status').textContent"
            " === '转写不可用：语音识别模型未安装，请联系管理员'"
        )

        contact_id = await terminal.evaluate("window.lawlineTerminal.contactId")
        # The resident hangs up with the remote (and says yes), then gives four stars.
        await terminal.focus("#hangup")
        await terminal.keyboard.press("Enter")
        await terminal.wait_for_selector("#confirm:not([hidden])")
        await terminal.keyboard.press("ArrowRight")
        await terminal.keyboard.press("Enter")
        await terminal.wait_for_selector("#screen-rating:not([hidden])", timeout=30_000)
        await console.wait_for_selector("#call", state="hidden", timeout=30_000)
        for key in ("ArrowRight", "ArrowRight"):  # the middle (一般) first, then 满意
            await terminal.keyboard.press(key)
        await terminal.keyboard.press("Enter")
        await terminal.wait_for_function(
            "() => document.getElementById('rating-hint').textContent.includes('谢谢')"
        )
    recorded = await recorded_rating(running, contact_id)
    assert (recorded["rating"], recorded["origin"]) == (4, "大赖村, 大赖镇")


async def test_a_revoked_terminal_is_refused_with_a_clear_message(
    lawline: tuple[Running, str],
) -> None:
    running, token = lawline
    async with running.client("root", Role.ADMIN) as http:
        assert (await http.post("/api/terminals/dalai-1/revoke")).status_code == 200
    async with chromium() as browser:
        page = await browser.new_page()
        await page.goto(f"{base_of(running)}/terminal#token={token}")
        await page.wait_for_selector("#screen-message:not([hidden])", timeout=30_000)
        assert await page.text_content("#message-title") == "此终端已停用"
        assert "请联系司法所工作人员" in (await page.text_content("#message-text") or "")
        assert await page.is_hidden("#call")
        await no_english_and_no_reconnecting(page)


async def no_english_and_no_reconnecting(page: Page) -> None:
    """What a refused box shows: Chinese only, and no false "reconnecting" line."""
    shown = await page.evaluate("() => document.body.innerText")
    assert not re.search("[A-Za-z]", shown), shown
    assert "重连" not in shown and await page.is_hidden("#link")


async def test_a_box_without_a_token_says_so_in_chinese(lawline: tuple[Running, str]) -> None:
    running, _ = lawline
    async with chromium() as browser:
        page = await browser.new_page()
        await page.goto(f"{base_of(running)}/terminal")
        await page.wait_for_selector("#screen-message:not([hidden])")
        assert await page.text_content("#message-title") == "此终端尚未登记"
        await no_english_and_no_reconnecting(page)


# ----- the remote control: what OK, pressed again and again, may and may not do ----------

TV = {"width": 1920, "height": 1080}

# The elements drawn with the focus ring: there must be exactly one, the focused one.
RINGED_JS = """() => [...document.querySelectorAll("button, [tabindex]")]
  .filter((el) => el.getClientRects().length > 0
    && getComputedStyle(el).boxShadow.includes("rgb(255, 123, 0)"))
  .map((el) => el.id || el.dataset.service || `star-${el.dataset.score}`)"""


async def ringed(page: Page) -> list[str]:
    got: list[str] = await page.evaluate(RINGED_JS)
    return got


async def press(page: Page, *keys: str) -> None:
    for key in keys:
        await page.keyboard.press(key)


async def visible_text(page: Page, selector: str) -> str:
    await page.wait_for_selector(selector, state="visible")
    return await page.inner_text(selector)


async def contact_state(running: Running, contact_id: str) -> dict[str, Any]:
    async with running.client("boss", Role.SUPERVISOR) as http:
        got: dict[str, Any] = (await http.get(f"/api/contacts/{contact_id}")).json()
        return got


async def console_send(ws: Any, frame_type: str, **fields: Any) -> None:
    await ws.send(json.dumps({"type": frame_type, **fields}))


async def on_duty(console: Any) -> None:
    """The lawyer (a console websocket) on duty, once this process's queue knows it."""
    await next_frame(console, "hello")
    await console_send(console, "state", state="available")
    while (await next_frame(console, "state"))["lawyer"]["presence"] != "available":
        pass


async def test_ok_pressed_again_and_again_never_leaves_the_queue(
    lawline: tuple[Running, str],
) -> None:
    """A lawyer on duty who has not answered yet; the resident chooses a service (filled
    and ticked, not ringed) and waits. OK, pressed over and over, keeps waiting; leaving
    takes 不等了 and a yes."""
    running, token = lawline
    async with chromium() as browser, running.console("li") as li:
        await on_duty(li)
        page = await browser.new_page(viewport=TV)
        await open_terminal(page, base_of(running), token)
        assert await ringed(page) == ["call"]
        await press(page, "ArrowRight", "ArrowRight", "Enter")  # 法律援助 chosen
        assert await ringed(page) == ["legal_aid"]
        await press(page, "ArrowRight")  # on to 人民调解: the chosen one keeps no ring
        assert await ringed(page) == ["mediation"]
        assert await page.get_attribute('[data-service="legal_aid"]', "aria-checked") == "true"
        await press(page, "ArrowLeft", "ArrowLeft", "Enter")  # back to 法律咨询, li's service
        await press(page, "ArrowLeft", "Enter")  # the big button
        await page.wait_for_selector("#screen-waiting:not([hidden])")
        await page.wait_for_function(
            "() => document.getElementById('position').textContent === '0'"
        )
        contact_id = await page.evaluate("window.lawlineTerminal.contactId")
        assert await ringed(page) == ["keep-waiting"]
        await press(page, *["Enter"] * 6)
        assert "继续等待" in await visible_text(page, "#waiting-note")
        assert await page.is_visible("#screen-waiting") and await page.is_hidden("#confirm")
        assert (await contact_state(running, contact_id))["state"] in ("waiting", "offered")

        # 不等了 asks first, with 继续等待 focused: OK again stays.
        await press(page, "ArrowRight", "Enter")
        assert await visible_text(page, "#confirm-title") == "确定不等了吗？"
        assert await ringed(page) == ["confirm-no"]
        await press(page, "Enter")
        await page.wait_for_selector("#confirm", state="hidden")
        assert await page.is_visible("#screen-waiting")
        assert (await contact_state(running, contact_id))["state"] in ("waiting", "offered")
        # Deliberately: 不等了, then the other button.
        await press(page, "Enter", "ArrowRight", "Enter")
        await page.wait_for_selector("#screen-home:not([hidden])")
        for _ in range(50):
            if (await contact_state(running, contact_id))["state"] == "abandoned":
                break
            await asyncio.sleep(0.1)
        assert (await contact_state(running, contact_id))["state"] == "abandoned"


async def test_with_nobody_on_duty_the_screen_says_so_and_the_terminal_is_rung_back(
    lawline: tuple[Running, str],
) -> None:
    """The lawyer's shift is another day and nobody is on duty: the screen says the
    hotline is closed and when lawyers are on duty (not "0 people ahead, please wait"),
    OK books a callback; a lawyer accepting it rings the terminal."""
    running, token = lawline
    not_today = (datetime.now(ZoneInfo("Asia/Shanghai")).weekday() + 3) % 7
    shift = {"weekdays": [not_today], "start": "09:00", "end": "17:00"}
    async with running.client("boss", Role.SUPERVISOR) as http:
        r = await http.patch("/api/lawyers/li", json={"roster": [shift]})
        assert r.status_code == 200, r.text
    async with chromium() as browser:
        page = await browser.new_page(viewport=TV)
        await open_terminal(page, base_of(running), token)
        await press(page, "Enter")
        assert await visible_text(page, "#nobody-title") == "现在不是值班时间"
        day = ["周一", "周二", "周三", "周四", "周五", "周六", "周日"][not_today]
        assert await visible_text(page, "#duty-hours") == f"律师值班时间：{day} 09:00-17:00"
        assert await page.is_hidden("#waiting-queue")  # no "您前面还有 0 人"
        assert await ringed(page) == ["ask-callback"]
        await press(page, "Enter", "Enter", "Enter")
        assert await visible_text(page, "#waiting-callback h1") == "已为您预约回电"
        assert await ringed(page) == ["keep-waiting"]
        assert await page.inner_text("#cancel") == "取消回电"
        contact_id = await page.evaluate("window.lawlineTerminal.contactId")
        assert (await contact_state(running, contact_id))["callback"] is True

        async with running.console("li") as li:
            await on_duty(li)
            offer = await next_frame(li, "offer")
            assert offer["contact"]["id"] == contact_id
            await console_send(li, "accept", contact_id=contact_id)
            await page.wait_for_selector("#screen-talk:not([hidden])")
            assert "回电" in await visible_text(page, "#talk-status")
            assert await visible_text(page, "#lawyer-name") == "值班律师：李律师"


async def test_the_rating_starts_empty_names_each_level_and_needs_a_choice(
    lawline: tuple[Running, str],
) -> None:
    """OK on the talk screen asks before hanging up; the rating screen has no star lit and
    no level chosen, OK alone asks for a choice, arrows choose with the level's words."""
    running, token = lawline
    async with chromium() as browser, running.console("li") as li:
        await on_duty(li)
        page = await browser.new_page(viewport=TV)
        await open_terminal(page, base_of(running), token)
        await press(page, "Enter")
        offer = await next_frame(li, "offer")
        contact_id = offer["contact"]["id"]
        await console_send(li, "accept", contact_id=contact_id)
        await page.wait_for_selector("#screen-talk:not([hidden])")
        await press(page, "Enter")
        assert await visible_text(page, "#confirm-title") == "要结束通话吗？"
        await press(page, "Enter")  # 继续通话
        await page.wait_for_selector("#confirm", state="hidden")
        assert (await contact_state(running, contact_id))["state"] == "connected"
        await press(page, "Enter", "ArrowRight", "Enter")  # 挂断, then yes
        await page.wait_for_selector("#screen-rating:not([hidden])")

        labels = await page.eval_on_selector_all("#stars small", "els => els.map(e => e.innerText)")
        assert labels == ["非常不满意", "不满意", "一般", "满意", "非常满意"]
        assert await page.locator("#stars .lit").count() == 0
        assert await visible_text(page, "#rating-choice") == "未选择"
        assert await ringed(page) == ["stars"]
        await press(page, "Enter", "Enter", "Enter")
        assert "请先按左右键选择" in await visible_text(page, "#rating-hint")
        assert not await page.evaluate("window.lawlineTerminal.rated")
        await press(page, "ArrowRight")
        assert await visible_text(page, "#rating-choice") == "3 星：一般"
        await press(page, "ArrowRight")
        assert await visible_text(page, "#rating-choice") == "4 星：满意"
        assert await page.locator("#stars .lit").count() == 4
        assert await ringed(page) == ["star-4"]
        await press(page, "Enter")
        await page.wait_for_function(
            "() => document.getElementById('rating-hint').textContent.includes('谢谢')"
        )
    assert (await recorded_rating(running, contact_id))["rating"] == 4


async def test_both_voices_are_transcribed_live_in_the_console_and_kept(
    clean_redis_url: str, tmp_path: Path
) -> None:
    """Each fake microphone speaks (real Korean speech, the one complete model here) and
    the lawyer's browser sends both voices to lawline, which transcribes them per
    speaker: finals from both on the console as they talk, and in the record."""
    resident = looped_speech(CITIZEN_SAYS, tmp_path / "resident.wav", 48000, pause_s=2.0)
    lawyer = looped_speech(LAWYER_SAYS, tmp_path / "lawyer.wav", 48000, pause_s=2.5)
    with transcriber() as asr:
        async with start_lawline(tmp_path, clean_redis_url, transcribers=[asr.url]) as (
            running,
            token,
        ):
            base = base_of(running)
            async with (
                chromium(microphone=resident) as terminal_browser,
                chromium(microphone=lawyer) as lawyer_browser,
            ):
                console = await lawyer_browser.new_page()
                terminal = await terminal_browser.new_page()
                await connect(terminal, console, base, token)
                await console.wait_for_selector("#transcript:not([hidden])", timeout=30_000)
                for leg in ("citizen", "lawyer"):
                    await console.wait_for_selector(
                        f'#transcript-lines li[data-leg="{leg}"][data-kind="final"]',
                        timeout=90_000,
                    )
                assert await console.text_content("#transcript-status") == "转写中"
                contact_id = await terminal.evaluate("window.lawlineTerminal.contactId")
                await console.click("#hang-up")
                await terminal.wait_for_selector("#screen-rating:not([hidden])", timeout=30_000)
            # Stored per speaker, and copied into the ledger once closed.
            async with running.client("boss", Role.SUPERVISOR) as http:
                for _ in range(150):
                    r = await http.get(f"/api/ledger/contacts/{contact_id}")
                    lines = r.json().get("transcript", []) if r.status_code == 200 else []
                    finals = [line for line in lines if line["kind"] == "final"]
                    if {line["leg"] for line in finals} == {"citizen", "lawyer"}:
                        break
                    await asyncio.sleep(0.2)
            assert {line["leg"] for line in finals} == {"citizen", "lawyer"}, r.text
            assert all(line["text"].strip() for line in finals)
            # And reviewed by the quality rules, from the ledger's copy (quality/service.py;
            # the background round may have been first).
            await asyncio.to_thread(running.app.state.quality.review_due)
            async with running.client("boss", Role.SUPERVISOR) as http:
                r = await http.get(f"/api/quality/reviews/{contact_id}")
            assert r.status_code == 200, r.text
            review = r.json()
            assert review["lawyer"] and 0 <= review["score"] <= 100
            share = next(f for f in review["findings"] if f["rule"] == "talk_share")
            assert 0 < share["evidence"][0]["lawyer_share"] < 1  # both voices were heard


async def test_when_no_picture_gets_through_both_screens_go_audio_only(
    clean_redis_url: str, tmp_path: Path
) -> None:
    """The terminal's picture stops reaching the lawyer (here its sender stops: a link
    too weak to carry video cannot be made to starve Chromium's encoder reliably, and
    what the lawyer's side sees is the same, no new frames). After video_stall_s both
    screens say the call is audio only, and the voices keep flowing."""
    async with start_lawline(tmp_path, clean_redis_url, video_stall_s=4) as (running, token):
        base = base_of(running)
        async with chromium() as terminal_browser, chromium() as lawyer_browser:
            console = await lawyer_browser.new_page()
            terminal = await terminal_browser.new_page()
            await connect(terminal, console, base, token)
            await wait_for_4k(console, "lawyer")
            await terminal.evaluate("""() => {
              for (const s of window.lawlineTerminal.call.pc.getSenders())
                if (s.track && s.track.kind === "video") s.replaceTrack(null);
            }""")
            for page, status in ((console, "#video-status"), (terminal, "#talk-status")):
                await page.wait_for_function(
                    f"() => document.querySelector('{status}').textContent.includes('仅语音')",
                    timeout=60_000,
                )
            assert await console.evaluate("window.lawlineConsole.video.audioOnly")
            assert await terminal.evaluate("window.lawlineTerminal.call.audioOnly")
            await audio_grows(console, "lawyer")
            await audio_grows(terminal, "terminal")
