"""Headless Chromium (Debian's `chromium`) driven by Playwright, for the console tests.

Chromium's WebRTC offers only loopback candidates when it runs in a network
namespace that has nothing but `lo`, which is how scripts/test.sh runs the suite
(LAWLINE_TEST_NETNS is set there). Outside one it would offer this machine's
other addresses too, so these tests skip there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright

from lawline.accounts.settings import AccountSettings
from lawline.config import Settings
from lawline.queue.settings import RoutingSettings
from lawline.video.settings import WebRTCSettings
from lawline.web.auth import Role
from tests.lawline_server import Running, running_lawline

CHROMIUM = shutil.which("chromium")

needs_browser = pytest.mark.skipif(
    CHROMIUM is None or not os.environ.get("LAWLINE_TEST_NETNS"),
    reason="needs Debian chromium and a loopback-only network namespace (scripts/test.sh)",
)


def tone(path: Path, hz: int, seconds: float = 60, rate: int = 48000, volume: float = 0.5) -> Path:
    """A sine tone WAV made with sox: what a fake microphone or a caller says."""
    subprocess.run(
        ["sox", "-n", "-r", str(rate), "-c", "1", "-b", "16", str(path),
         "synth", str(seconds), "sine", str(hz), "vol", str(volume)],
        check=True,
    )  # fmt: skip
    return path


@asynccontextmanager
async def chromium(
    microphone: Path | None = None, executable: Path | None = None, loopback: bool = True
) -> AsyncIterator[Browser]:
    """A headless Chromium with a fake microphone (this WAV, looped) and speakers.
    `executable`: a launcher of its own (tests/netns.py runs one in a namespace);
    loopback False: WebRTC offers no loopback candidates (the namespace's links only)."""
    assert CHROMIUM is not None
    args = [
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        # Host candidates as plain addresses, not mDNS names nobody here resolves.
        "--disable-features=WebRtcHideLocalIpsWithMdns",
        "--autoplay-policy=no-user-gesture-required",
        "--no-sandbox",  # tests run as root
    ]
    if loopback:
        args.append("--allow-loopback-in-peer-connection")
    if microphone is not None:
        args.append(f"--use-file-for-fake-audio-capture={microphone}")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=executable or CHROMIUM, args=args)
        try:
            yield browser
        finally:
            await browser.close()


async def sign_in(
    page: Page,
    base: str,
    username: str,
    password: str,
    lands: str = "/console",
    linked: bool = True,
) -> None:
    """Sign in on the login page; the page a person of that role lands on, and (`linked`:
    a page with a live socket) its link to lawline up."""
    await page.goto(f"{base}/login")
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("#login")
    await page.wait_for_url(f"{base}{lands}")
    if linked:
        await page.wait_for_selector('#link[data-link="up"]')


def add_user(data_dir: Path, username: str, role: str, password: str) -> None:
    """`lawline user add`, as an administrator would run it."""
    env = {**os.environ, "LAWLINE_DATA_DIR": str(data_dir)}
    result = subprocess.run(
        [sys.executable, "-m", "lawline", "user", "add", username, "--role", role,
         "--password-stdin"],
        input=password + "\n", env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


PASSWORD = "zhiban-2026-lvshi"
WANG = {
    "id": "wang",
    "name": "王律师",
    "services": {"consultation": 4},
    "domains": {"labour": 5},
    "languages": ["zh"],
}


@asynccontextmanager
async def lawline_with_wang(
    tmp_path: Path, redis_url: str, routing: RoutingSettings
) -> AsyncIterator[Running]:
    """The real app with one duty lawyer, wang (a lawyer account and a queue record),
    its WebRTC on loopback and Secure cookies (browsers accept them from localhost)."""
    settings = Settings(
        data_dir=tmp_path,
        secret_key="test-secret",
        routing=routing,
        accounts=AccountSettings(cookie_secure=True),
        webrtc=WebRTCSettings(host_addresses=["127.0.0.1"]),
    )
    add_user(tmp_path, "wang", "lawyer", PASSWORD)
    async with running_lawline(settings, redis_url) as running:
        async with running.client("boss", Role.SUPERVISOR) as http:
            r = await http.post("/api/lawyers", json=WANG)
            assert r.status_code == 201, r.text
        yield running
