"""The duty lawyer's console in a real browser: headless Chromium signs in, goes on
duty, takes a real SIP call with audio both ways, reloads mid-call, hangs up and
saves the case. Everything runs on loopback in the test network namespace."""

from __future__ import annotations

import array
import asyncio
import json
import math
import subprocess
import sys
import time
import wave
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, Page
from redis.asyncio import Redis

from lawline.media.standby import StandbyLegs
from lawline.queue.settings import RoutingSettings
from lawline.web.auth import Role
from tests.browser import PASSWORD, chromium, lawline_with_wang, needs_browser, sign_in, tone
from tests.lawline_server import Running
from tests.ports import free_sip_port
from tests.sip_helpers import Worker
from tests.test_bridge import Caller, clean_tone
from tests.test_standby import parked_muted, standby_rooms

pytestmark = needs_browser

CALLER_HZ, LAWYER_HZ = 600, 1400


@pytest.fixture
async def lawline(clean_redis_url: str, tmp_path: Path) -> AsyncIterator[Running]:
    # A console pings every 5 s: a timeout under that would take a lawyer whose page is
    # open off duty between two pings (mid-call, once a quiet stretch passed 3 s).
    routing = RoutingSettings(offer_timeout_s=60, wrapup_s=120, console_timeout_s=8)
    async with lawline_with_wang(tmp_path, clean_redis_url, routing) as running:
        yield running


def browser_base(lawline: Running) -> str:
    # Browsers keep Secure cookies over plain http only for localhost.
    return lawline.base.replace("127.0.0.1", "localhost")


async def on_duty(page: Page, lawline: Running) -> None:
    await sign_in(page, browser_base(lawline), "wang", PASSWORD)
    await page.click("#go-available")
    await page.wait_for_selector('#state[data-state="available"]')


async def contact_state(lawline: Running, contact_id: str) -> str:
    async with lawline.client("boss", Role.SUPERVISOR) as http:
        return (await http.get(f"/api/contacts/{contact_id}")).json()["state"]


async def lawyer_state(lawline: Running) -> str:
    async with lawline.client("boss", Role.SUPERVISOR) as http:
        return (await http.get("/api/lawyers/wang")).json()["state"]


async def eventually(check: object, want: str, seconds: float = 10) -> None:
    got = None
    for _ in range(int(seconds / 0.1)):
        got = await check()  # type: ignore[operator]
        if got == want:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"wanted {want!r}, still {got!r}")


async def test_closing_the_browser_mid_offer_returns_the_contact_to_the_queue(
    lawline: Running,
) -> None:
    async with chromium() as browser:
        page = await browser.new_page()
        await on_duty(page, lawline)
        contact_id = (await lawline.enter_call(green="elderly", attrs={"menu": "main:1"}))["id"]
        await page.wait_for_selector("#offer:not([hidden])")
        offer = await page.inner_text("#offer")
        assert "法律咨询" in offer and "劳动争议" in offer and "绿色通道" in offer
        assert "8000" in offer and "13800138000" not in offer, "the number is masked"
    # The browser is gone: the offer goes back to the queue at once ...
    await eventually(lambda: contact_state(lawline, contact_id), "waiting", 5)
    # ... and a lawyer who does not come back is taken off duty.
    await eventually(lambda: lawyer_state(lawline), "offline", 20)


async def test_a_console_closed_for_falling_behind_comes_back_and_gets_offers(
    lawline: Running, redis: Redis
) -> None:
    # A queue this small overflows at the burst below (a console too slow to keep up
    # with its events, as a stalled tab would be).
    lawline.app.state.settings.sockets.console_queue = 10
    async with chromium() as browser:
        page = await browser.new_page()
        await on_duty(page, lawline)
        await page.evaluate("window.lawlineConsole.ws.firstSocket = true")
        events_key = lawline.app.state.queue.store.keys.events
        [(_, fields)] = await redis.xrevrange(events_key, count=1)
        async with redis.pipeline(transaction=True) as pipe:
            for _ in range(50):
                pipe.xadd(events_key, fields)
            await pipe.execute()
        # Closed (1013) and reconnected by the page on its own, on duty again.
        await page.wait_for_function(
            "() => !window.lawlineConsole.ws.firstSocket"
            " && window.lawlineConsole.ws.readyState === WebSocket.OPEN",
            timeout=10_000,
        )
        assert lawline.app.state.hub.closed_behind["console"] == 1
        await page.wait_for_selector('#state[data-state="available"]')
        await lawline.enter_call()
        await page.wait_for_selector("#offer:not([hidden])", timeout=10_000)


async def test_a_second_console_over_the_cap_says_so_and_waits_for_the_lawyer(
    lawline: Running,
) -> None:
    lawline.app.state.settings.sockets.per_user = 1
    hub = lawline.app.state.hub
    async with chromium() as browser:
        context = await browser.new_context()
        first = await context.new_page()
        await sign_in(first, browser_base(lawline), "wang", PASSWORD)
        second = await context.new_page()  # the same session, another window
        await second.goto(f"{browser_base(lawline)}/console")
        await second.wait_for_selector('#link[data-link="down"][data-retry]')
        assert "此账号打开的工作台过多，请关闭其他窗口后重试" in await second.inner_text("#toast")
        assert hub.refused["user"] == 1
        # The lawyer closes the other window and clicks the pill: connected.
        await first.close()
        await eventually(lambda: _open_sockets(lawline, "wang"), "0")
        assert hub.refused["user"] == 1, "the refused console did not retry on its own"
        await second.click("#link")
        await second.wait_for_selector('#link[data-link="up"]:not([data-retry])')
        assert hub.refused["user"] == 1


async def _open_sockets(lawline: Running, user: str) -> str:
    return str(lawline.app.state.hub._per_user[user])


# ----- a real call ------------------------------------------------------------------------


@pytest.fixture
def worker(bridge_worker: Worker) -> Worker:
    """A worker whose calls' rooms are on the run's media server (conftest)."""
    return bridge_worker


async def peak_hz(page: Page) -> float:
    return float(await page.evaluate("lawlineConsole.meter ? lawlineConsole.meter.peakHz() : 0"))


async def hears(page: Page, hz: float, seconds: float = 15) -> bool:
    """The browser's analyser finds this tone strongest in the caller's audio."""
    for _ in range(int(seconds / 0.25)):
        if abs(await peak_hz(page) - hz) < 30:
            return True
        await asyncio.sleep(0.25)
    return False


def _near(hz: float) -> list[float]:
    spread = max(2, round(hz * 0.005))
    return [hz + d for d in range(-spread, spread + 1)]


def _goertzel(samples: array.array[int], hz: float, rate: int) -> float:
    k = 2 * math.cos(2 * math.pi * hz / rate)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + k * s1 - s2, s1
    return (s1 * s1 + s2 * s2 - k * s1 * s2) * 2 / len(samples)


def seconds_of_tone(wav: Path, hz: float) -> int:
    """How many whole seconds of a recording are dominated by this tone (Goertzel power
    at hz, or within 0.5 % of it, against the second's total power): the media server's
    resampling and the two ends' clocks may move the pitch by a few hertz, which a
    one-second window (1 Hz bins) would otherwise count as another tone."""
    with wave.open(str(wav)) as w:
        rate = w.getframerate()
        samples = array.array("h", w.readframes(w.getnframes()))
    found = 0
    for start in range(0, len(samples) - rate, rate):
        second = samples[start : start + rate]
        total = sum(x * x for x in second) or 1
        power = max(_goertzel(second, f, rate) for f in _near(hz))
        if power / total > 0.5 and total / len(second) > 100 * 100:
            found += 1
    return found


async def plain_microphone_page(browser: Browser) -> Page:
    """A page whose microphone goes to lawline as it is. Chromium's own audio processing
    (gain control, noise suppression) first drives a steady test tone into clipping, then
    fades it as noise: off, so what is measured is lawline's path, not Chromium's
    treatment of a sine wave."""
    page = await browser.new_page()
    await page.add_init_script(
        "window.LAWLINE_AUDIO_CONSTRAINTS = {echoCancellation: false,"
        " noiseSuppression: false, autoGainControl: false}"
    )
    return page


async def test_a_lawyer_takes_a_real_call_in_the_browser(
    lawline: Running, worker: Worker, tmp_path: Path, clean_redis_url: str
) -> None:
    caller_says = tone(tmp_path / "caller.wav", CALLER_HZ, rate=16000)
    lawyer_says = tone(tmp_path / "lawyer.wav", LAWYER_HZ)
    heard = tmp_path / "caller-heard.wav"
    # A centre that parks no connection (media.park_lawyers off): the console connects
    # at accept, as it still does after a reload. The parked way: the next test.
    lawline.app.state.settings.media.park_lawyers = False
    async with chromium(microphone=lawyer_says) as browser:
        page = await plain_microphone_page(browser)
        await on_duty(page, lawline)
        # A citizen dials 12348 and chooses 1 (consultation), 1 (labour).
        caller = subprocess.Popen(
            [sys.executable, str(Path(__file__).parent / "pjsua_caller.py"),
             f"sip:12348@127.0.0.1:{worker.sip_port}", str(heard), "90",
             str(free_sip_port()), "--play", str(caller_says), "--keys", "11"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        try:
            await page.wait_for_selector("#offer:not([hidden])", timeout=60_000)
            # What the caller chose, in words.
            assert "语音菜单：法律咨询 › 劳动争议" in await page.text_content("#offer-detail")
            await page.click("#accept")
            await page.wait_for_selector("#call:not([hidden])")
            await page.wait_for_function(
                "() => document.getElementById('audio-status').textContent === '音频已接通'",
                timeout=20_000,
            )
            assert await page.evaluate("!lawlineConsole.standby && !lawlineConsole.onStandby")
            assert await hears(page, CALLER_HZ), f"browser hears {await peak_hz(page)} Hz"
            # This worker has no transcriber: the console says so, and why, in words (no
            # path, no English); the call goes on.
            await page.wait_for_function(
                "() => document.getElementById('transcript-status').textContent"
                " === '转写不可用：语音识别模型未安装，请联系管理员'"
            )
            await asyncio.sleep(3)  # the caller hears the lawyer a while

            # A reload mid-call: the console comes back to the same call, with audio.
            await page.reload()
            await page.wait_for_selector("#call:not([hidden])")
            assert await hears(page, CALLER_HZ), "audio after a reload"

            # The lawyer notes the case, hangs up, and saves it in wrap-up.
            await page.fill("#case-summary", "欠薪三个月，用人单位拒付")
            await page.select_option("#case-disposition", "referred_legal_aid")
            await page.fill("#case-advice", "可申请劳动仲裁，并可申请法律援助")
            await page.click("#hang-up")
            await page.wait_for_selector("#wrapup:not([hidden])")
            # The transcript card no longer claims anything is being transcribed.
            await page.wait_for_function(
                "() => document.getElementById('transcript-status').textContent === '转写已结束'"
            )
            await page.click("#case-save")
            await page.wait_for_function(
                "() => document.getElementById('case-saved').textContent.startsWith('已保存')"
            )
            await page.click("#ready")
            await page.wait_for_selector('#state[data-state="available"]')
        except BaseException:
            caller.kill()
            raise
    # The survey follows; nobody answers it, lawline says goodbye and hangs up.
    out, _ = await asyncio.to_thread(caller.communicate, timeout=120)
    assert caller.returncode == 0, out[-2000:]
    # What the caller heard while talking is the lawyer's microphone, not silence.
    assert seconds_of_tone(heard, LAWYER_HZ) >= 3, "the caller did not hear the lawyer"
    redis = Redis.from_url(clean_redis_url, decode_responses=True)
    try:
        [key] = [k for k in await redis.keys("ll:contact:*")]
        contact = await redis.hgetall(key)
    finally:
        await redis.aclose()
    assert contact["state"] == "ended"
    case = json.loads(contact["case"])
    assert case["disposition"] == "referred_legal_aid"
    assert case["summary"] == "欠薪三个月，用人单位拒付"


async def test_on_duty_one_connection_takes_each_call_and_waits_muted_between_them(
    lawline: Running, worker: Worker, tmp_path: Path
) -> None:
    """The console parks one connection to the media server while on duty; each accepted
    phone call's room gets that same connection (nothing negotiated at accept), and
    between calls it sends nothing and is muted on the media server."""
    caller_says = tone(tmp_path / "caller.wav", CALLER_HZ, rate=16000)
    lawyer_says = tone(tmp_path / "lawyer.wav", LAWYER_HZ)
    standby: StandbyLegs = lawline.app.state.standby
    async with chromium(microphone=lawyer_says) as browser:
        page = await plain_microphone_page(browser)
        await on_duty(page, lawline)
        await page.wait_for_function(
            "() => lawlineConsole.standby && lawlineConsole.standby.pc"
            " && lawlineConsole.standby.pc.connectionState === 'connected'",
            timeout=20_000,
        )
        await page.evaluate("window.parkedPc = lawlineConsole.standby.pc")
        assert await parked_muted(standby) == [True]
        for n in range(2):
            (tmp_path / f"c{n}").mkdir()
            caller = Caller(tmp_path / f"c{n}", worker, caller_says)
            try:
                await asyncio.to_thread(caller.wait_media)  # the caller's clock starts
                await page.wait_for_selector("#offer:not([hidden])", timeout=60_000)
                await page.click("#accept")
                await page.wait_for_selector("#call:not([hidden])")
                assert await page.evaluate(
                    "lawlineConsole.onStandby && lawlineConsole.pc === window.parkedPc"
                ), f"call {n} did not take the parked connection"
                assert await hears(page, CALLER_HZ), f"call {n}: {await peak_hz(page)} Hz"
                await asyncio.sleep(3)  # the caller hears the lawyer a while
                t1 = time.monotonic()
                await page.click("#hang-up")
                await page.wait_for_selector("#wrapup:not([hidden])")
                await page.wait_for_function(
                    "() => lawlineConsole.standby && lawlineConsole.standby.pc === window.parkedPc"
                )
                # Parked again: muted on the media server, nothing sent from the browser.
                assert await parked_muted(standby) == [True]
                assert await page.evaluate(
                    "window.parkedPc.getSenders().every((s) => s.track === null)"
                )
                await page.click("#ready")
                await page.wait_for_selector('#state[data-state="available"]')
            finally:
                await asyncio.to_thread(caller.hang_up)
            heard, rate = caller.heard(t1 - 2.5, t1)
            assert clean_tone(heard, rate, LAWYER_HZ), f"caller {n} did not hear the lawyer"
        # Off duty: the connection goes, and the standby room with it.
        await page.click("#go-offline")
        await page.wait_for_function("() => lawlineConsole.standby === null")
        await eventually(lambda: _standby_room_left(standby), "gone")


async def _standby_room_left(standby: StandbyLegs) -> str:
    return "there" if await standby_rooms(standby) else "gone"


async def test_todays_talk_time_counts_two_short_calls(lawline: Running) -> None:
    """Two calls of a couple of seconds: the duty panel shows their talk time (a new
    centre's first test calls once read 0 minutes), the same figure the API gives. The
    PC is set to New York time; the second offer's history shows the first call at its
    Beijing time."""
    entered: list[float] = []
    async with chromium() as browser:
        context = await browser.new_context(timezone_id="America/New_York")
        page = await context.new_page()
        await on_duty(page, lawline)
        for _ in range(2):
            contact = await lawline.enter_call()
            contact_id = contact["id"]
            entered.append(contact["entered_at"])
            await page.wait_for_selector("#offer:not([hidden])")
            if len(entered) == 2:  # the same number called before: its earlier call
                first = datetime.fromtimestamp(entered[0], ZoneInfo("Asia/Shanghai"))
                history = await page.inner_text("#offer-history")
                assert first.strftime("%Y-%m-%d %H:%M") in history, history
            await page.click("#accept")
            await page.wait_for_selector("#call:not([hidden])")
            await asyncio.sleep(2)  # the conversation itself: two seconds of talk
            async with lawline.client("worker-1", Role.GATEWAY) as http:
                r = await http.post(f"/api/contacts/{contact_id}/end")  # the caller hangs up
                assert r.status_code == 200, r.text
            await page.wait_for_selector("#ready:not([hidden])")
            await page.click("#ready")
            await page.wait_for_selector('#state[data-state="available"]')
        async with lawline.client("wang", Role.LAWYER) as http:
            today = (await http.get("/api/lawyers/wang/figures")).json()
        assert today["today_handled"] == 2 and today["today_talk_s"] >= 4
        shown = f"{round(today['today_talk_s'])}秒"
        await page.wait_for_function(
            """([want]) => [...document.querySelectorAll('#figures div')].some((d) =>
              d.querySelector('dt').textContent === '今日通话时长'
              && d.querySelector('dd').textContent === want)""",
            arg=[shown],
        )
        figures = await page.inner_text("#figures")
        assert "今日接听\n2" in figures and "0分钟" not in figures


# ----- the desk: layout, wrap-up time, my recent calls -----------------------------------


async def video_call_taken(lawline: Running, page: Page) -> str:
    """Wang (given a video line) takes a village terminal's video call in the console."""
    async with lawline.client("boss", Role.SUPERVISOR) as http:
        r = await http.patch("/api/lawyers/wang", json={"capacity": {"voice": 1, "video": 1}})
        assert r.status_code == 200, r.text
    await on_duty(page, lawline)
    async with lawline.client("worker-1", Role.GATEWAY) as http:
        r = await http.post(
            "/api/contacts",
            json={
                "channel": "video",
                "service": "consultation",
                "domain": "labour",
                "attrs": {"terminal": "t-1", "village": "石门村", "township": "城关镇"},
            },
        )
        assert r.status_code == 201, r.text
        contact_id = str(r.json()["id"])
    await page.wait_for_selector("#offer:not([hidden])")
    await page.click("#accept")
    for panel in ("#call", "#video", "#transcript", "#case"):
        await page.wait_for_selector(f"{panel}:not([hidden])")
    return contact_id


async def box(page: Page, selector: str) -> dict[str, float]:
    found = await page.locator(selector).bounding_box()
    assert found is not None, f"{selector} is not shown"
    return found


async def test_during_a_video_call_call_transcript_and_case_form_are_all_in_view(
    lawline: Running,
) -> None:
    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 1440, "height": 900})
        await video_call_taken(lawline, page)
        boxes = {s: await box(page, s) for s in ("#call", "#transcript", "#case")}
        for selector, b in boxes.items():
            assert b["x"] >= 0 and b["y"] >= 0, (selector, b)
            assert b["x"] + b["width"] <= 1440 and b["y"] + b["height"] <= 900, (selector, b)
        # Side by side, not one below the other, and each big enough to use.
        assert boxes["#case"]["x"] >= boxes["#call"]["x"] + boxes["#call"]["width"]
        assert boxes["#transcript"]["height"] >= 150
        assert (await box(page, "#resident-video"))["width"] >= 480
        assert (await box(page, "#case-summary"))["width"] >= 300
        assert await page.evaluate("() => document.documentElement.scrollHeight") <= 900


async def test_on_a_phone_the_header_wraps_whole_words_not_a_character_per_line(
    lawline: Running,
) -> None:
    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 390, "height": 844})
        await on_duty(page, lawline)
        await page.wait_for_function("() => document.getElementById('who').textContent !== ''")
        # How many lines each item's text takes (a range's boxes, one or more per line).
        items = await page.evaluate("""() => [...document.querySelectorAll(
            'header strong, header #who, header a, header .pill, header button')]
            .map((el) => { const range = document.createRange(); range.selectNodeContents(el);
              const tops = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
              return [el.id || el.tagName, el.textContent.trim(), tops.size,
                el.getBoundingClientRect().width]; })""")
        assert len(items) == 5, items
        for name, text, lines, width in items:
            assert lines == 1, f"{name} {text!r} takes {lines} lines ({width} px wide)"
        header = await box(page, "header")
        assert header["height"] <= 150, header
        assert await page.evaluate("() => document.documentElement.scrollWidth") <= 390


async def seconds_left(page: Page) -> int:
    text = await page.inner_text("#wrapup-countdown")
    assert text.startswith("剩余 "), text
    return int(text.split()[1])


async def test_a_lawyer_extends_wrapup_and_finds_the_call_in_their_recent_calls(
    lawline: Running,
) -> None:
    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 1440, "height": 900})
        contact_id = await video_call_taken(lawline, page)
        await page.fill("#case-summary", "欠薪三个月，用人单位拒付")
        await page.select_option("#case-disposition", "referred_legal_aid")
        await page.click("#hang-up")
        await page.wait_for_selector("#wrapup:not([hidden])")
        assert await page.inner_text("#extend-wrapup") == "延长整理（+60 秒）"
        assert await page.inner_text("#extend-left") == "本次还可延长 2 次"
        before = await seconds_left(page)
        assert 100 <= before <= 120, before

        await page.click("#extend-wrapup")
        await page.wait_for_function(
            "() => document.getElementById('extend-left').textContent === '本次还可延长 1 次'"
        )
        assert await seconds_left(page) >= before + 50
        await page.click("#extend-wrapup")
        await page.wait_for_function(
            "() => document.getElementById('extend-left').textContent === '本次已不能再延长'"
        )
        assert await page.is_disabled("#extend-wrapup")
        assert await seconds_left(page) >= before + 110
        # Counted: the lawyer's figures and /metrics.
        await page.wait_for_function(
            "() => [...document.querySelectorAll('#figures div')].some((d) =>"
            " d.textContent.replace(/\\s/g, '') === '延长整理（次）2')"
        )
        async with lawline.client("prometheus", Role.SCRAPER) as scraper:
            text = (await scraper.get("/metrics")).text
        assert 'lawline_lawyer_wrapup_extensions_total{lawyer="wang"} 2.0' in text

        # The call in "my recent calls", with its outcome once the form is saved ...
        await page.click("#case-save")
        row = f'#recent-list li[data-contact="{contact_id}"]'
        await page.wait_for_function(
            f"() => {{ const o = document.querySelector('{row} .outcome');"
            " return o && o.textContent === '转法律援助'; }",
            timeout=15_000,
        )
        item = await page.inner_text(row)
        assert "法律咨询 · 劳动争议" in item and "欠薪三个月" in item and "未立案" in item
        assert "石门村" in item
        # ... and a link to its case once one is opened.
        await page.click("#open-case-send")
        link = page.locator(f"{row} a.case-link")
        await link.wait_for(timeout=15_000)
        assert await link.inner_text() == "查看案件"
        href = await link.get_attribute("href")
        assert href is not None and href.startswith("/cases#case/")
        assert await link.get_attribute("target") == "_blank"
        await page.click("#ready")
        await page.wait_for_selector('#state[data-state="available"]')


async def test_every_page_asks_for_the_chinese_fonts_of_windows_kylin_apple_and_android(
    lawline: Running,
) -> None:
    """Without a CJK font every character is a box: each page names one of each system's
    (this machine has none, so what is checked is the stack the page asks for)."""
    async with chromium() as browser:
        page = await browser.new_page()
        for path in ("/login", "/console", "/cases", "/terminal"):
            if path == "/console":
                await sign_in(page, browser_base(lawline), "wang", PASSWORD)
            else:
                await page.goto(f"{browser_base(lawline)}{path}")
            stack = await page.evaluate("() => getComputedStyle(document.body).fontFamily")
            for font in (
                "Microsoft YaHei",
                "SimHei",
                "Noto Sans CJK SC",
                "Source Han Sans SC",
                "WenQuanYi Micro Hei",
                "PingFang SC",
                "Noto Sans SC",
                "Droid Sans Fallback",
            ):
                assert font in stack, (path, font, stack)
            assert stack.rstrip().endswith("sans-serif"), stack
