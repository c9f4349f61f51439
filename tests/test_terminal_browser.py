"""Village video terminals in real browsers: two headless Chromium instances with fake
cameras and microphones, a terminal and a duty lawyer's console. The resident presses
the big button with the remote (Enter), the lawyer accepts, and both sides' WebRTC
statistics show 4K video decoded and audio flowing; hang-up and the five-star rating
with the remote; a revoked terminal refused. Everything on loopback in the test
namespace; 4K at a low frame rate, so two encoders fit on a shared 2-core machine."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

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
from tests.lawline_server import Running, running_lawline
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
    tmp_path: Path, redis_url: str, webrtc: WebRTCSettings | None = None,
    transcribers: list[str] | None = None, **terminals: Any,
) -> AsyncIterator[tuple[Running, str]]:  # fmt: skip
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

        contact_id = await terminal.evaluate("window.lawlineTerminal.contactId")
        # The resident hangs up with the remote, then gives four stars.
        await terminal.focus("#hangup")
        await terminal.keyboard.press("Enter")
        await terminal.wait_for_selector("#screen-rating:not([hidden])", timeout=30_000)
        await console.wait_for_selector("#call", state="hidden", timeout=30_000)
        await terminal.keyboard.press("ArrowLeft")  # five stars to start with: now four
        await terminal.keyboard.press("Enter")
        await terminal.wait_for_function(
            "() => document.getElementById('rating-hint').textContent.includes('谢谢')"
        )
    async with running.client("boss", Role.SUPERVISOR) as http:
        for _ in range(100):
            r = await http.get(f"/api/ledger/contacts/{contact_id}")
            if r.status_code == 200 and r.json()["rating"] is not None:
                break
            await asyncio.sleep(0.2)
    recorded = r.json()
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
        assert "revoked" in (await page.text_content("#message-text") or "")
        assert await page.is_hidden("#call")


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
            running, token
        ):  # fmt: skip
            base = base_of(running)
            async with chromium(microphone=resident) as terminal_browser, chromium(
                microphone=lawyer
            ) as lawyer_browser:
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
