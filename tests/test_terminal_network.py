"""Village video calls over real networks: the terminal's and the lawyer's browsers each
in a network namespace of their own (tests/netns.py), joined as each test needs.

- A veth between them, cut for a few seconds on the terminal's side: the call survives.
- No route between them except through a coturn relay the test starts in a third
  namespace: the call connects through the relay (a selected candidate pair of type
  relay). The same without TURN configured: both screens say the connection failed,
  within the configured ICE timeout, and the contact ends.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page

from lawline.video.settings import WebRTCSettings
from lawline.web.auth import Role
from tests import netns
from tests.browser import CHROMIUM, chromium, needs_browser
from tests.lawline_server import Running
from tests.processes import stop_process
from tests.test_terminal_browser import (
    base_of,
    connect,
    start_lawline,
    stats,
)

TURNSERVER = shutil.which("turnserver")
pytestmark = [
    needs_browser,
    pytest.mark.skipif(TURNSERVER is None, reason="needs coturn (scripts/setup.sh installs it)"),
]
TURN_SECRET = "relay-secret-for-tests"


# The ICE username fragment the lawyer's browser answered with (new at every restart).
UFRAG_JS = """() => {
  const d = window.lawlineTerminal.call.pc.remoteDescription;
  const m = d && d.sdp.match(/a=ice-ufrag:(\\S+)/);
  return m ? m[1] : null;
}"""


@contextmanager
def two_apart() -> Iterator[tuple[str, str]]:
    """The terminal's and the lawyer's namespaces (loopback only, for now)."""
    with netns.namespace("term") as term, netns.namespace("lawyer") as lawyer:
        yield term, lawyer


async def browsers(
    stack: AsyncExitStack, running: Running, tmp_path: Path, term: str, lawyer: str
) -> tuple[Page, Page]:
    """A console page signed in and on duty in `lawyer`, a terminal page in `term`."""
    port = int(running.base.rsplit(":", 1)[1])
    assert CHROMIUM is not None
    pages = []
    for ns in (term, lawyer):
        await stack.enter_async_context(netns.forward_into(ns, port))
        launcher = netns.chromium_in(ns, tmp_path, CHROMIUM)
        browser = await stack.enter_async_context(chromium(executable=launcher, loopback=False))
        pages.append(await browser.new_page())
    terminal, console = pages
    return terminal, console


async def frames_decoded(page: Page, which: str) -> int:
    got = await stats(page, which)
    return int(got["video"]["decoded"]) if got and got["video"] else 0


async def decoding(page: Page, which: str, seconds: float = 120) -> dict[str, Any]:
    """Stats once frames are being decoded and the count is still going up."""
    first = None
    for _ in range(int(seconds)):
        got = await stats(page, which)
        n = got["video"]["decoded"] if got and got["video"] else 0
        if first is not None and n > first and got and got["connection"] == "connected":
            return got
        first = n if n > 0 else None
        await asyncio.sleep(1)
    raise AssertionError(f"{which}: video not flowing; last stats {got}")


async def contact_state(running: Running, contact_id: str) -> str:
    async with running.client("boss", Role.SUPERVISOR) as http:
        return str((await http.get(f"/api/contacts/{contact_id}")).json()["state"])


async def test_the_call_survives_a_few_seconds_of_network_loss_at_the_terminal(
    clean_redis_url: str, tmp_path: Path
) -> None:
    with two_apart() as (term, lawyer):
        end = netns.link(term, "10.77.0.1", lawyer, "10.77.0.2")
        async with AsyncExitStack() as stack:
            running, token = await stack.enter_async_context(
                start_lawline(tmp_path, clean_redis_url)
            )
            terminal, console = await browsers(stack, running, tmp_path, term, lawyer)
            base = base_of(running)
            await connect(terminal, console, base, token)
            await decoding(terminal, "terminal")
            await decoding(console, "lawyer")
            contact_id = await terminal.evaluate("window.lawlineTerminal.contactId")

            netns.set_link(term, end, up=False)
            await asyncio.sleep(1.5)
            during = await frames_decoded(terminal, "terminal")
            await asyncio.sleep(2.5)
            # The drop is real: no picture reached the terminal for those seconds.
            assert await frames_decoded(terminal, "terminal") == during
            netns.set_link(term, end, up=True)

            # Both pictures move again, on the same call.
            await decoding(terminal, "terminal")
            await decoding(console, "lawyer")
            assert await terminal.is_visible("#screen-talk")
            assert await console.is_visible("#video")

            # The lawyer's side asks for an ICE restart (as on 'failed'): the terminal
            # renegotiates with new ICE credentials and the pictures keep moving.
            before = await terminal.evaluate(UFRAG_JS)
            await console.evaluate("window.lawlineConsole.video.restartIce()")
            for _ in range(60):
                if await terminal.evaluate(UFRAG_JS) not in (before, None):
                    break
                await asyncio.sleep(0.5)
            assert await terminal.evaluate(UFRAG_JS) not in (before, None)
            await decoding(terminal, "terminal")
            await decoding(console, "lawyer")
            assert await contact_state(running, contact_id) == "connected"
            assert await contact_state(running, contact_id) == "connected"


@contextmanager
def coturn(tmp_path: Path, ns: str, addresses: list[str]) -> Iterator[int]:
    """coturn in `ns`, listening and relaying on these addresses, TURN REST auth."""
    port = 3478
    conf = tmp_path / "turnserver.conf"
    lines = [
        f"listening-port={port}",
        *[f"listening-ip={a}" for a in addresses],
        *[f"relay-ip={a}" for a in addresses],
        "min-port=49160", "max-port=49400",
        "use-auth-secret", f"static-auth-secret={TURN_SECRET}", "realm=lawline.test",
        "fingerprint", "no-tls", "no-dtls", "no-cli", "no-tcp-relay",
        "allowed-peer-ip=10.77.0.0-10.77.255.255",
        f"pidfile={tmp_path / 'turnserver.pid'}", f"log-file={tmp_path / 'turn.log'}",
        "simple-log", "verbose",
    ]  # fmt: skip
    conf.write_text("\n".join(lines) + "\n")
    assert TURNSERVER is not None
    proc = subprocess.Popen(
        ["ip", "netns", "exec", ns, TURNSERVER, "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            listening = subprocess.run(
                ["ip", "netns", "exec", ns, "ss", "-lun"], capture_output=True, text=True
            ).stdout
            if f"{addresses[0]}:{port}" in listening:
                break
            assert proc.poll() is None, "turnserver exited"
            time.sleep(0.1)
        else:
            raise AssertionError("turnserver did not start listening")
        yield port
    finally:
        stop_process(proc)


@contextmanager
def relay_only(tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """Terminal and lawyer namespaces each linked only to a third one (the relay's),
    which does not forward: no route between them but through a TURN server there."""
    with two_apart() as (term, lawyer), netns.namespace("relay") as relay:
        netns.link(term, "10.77.1.1", relay, "10.77.1.2")
        netns.link(lawyer, "10.77.2.1", relay, "10.77.2.2")
        yield term, lawyer, relay


async def test_a_terminal_without_a_direct_path_connects_through_turn(
    clean_redis_url: str, tmp_path: Path
) -> None:
    with (
        relay_only(tmp_path) as (term, lawyer, relay),
        coturn(tmp_path, relay, ["10.77.1.2", "10.77.2.2"]) as port,
    ):
        webrtc = WebRTCSettings(
            turn_urls=[
                f"turn:10.77.1.2:{port}?transport=udp",
                f"turn:10.77.2.2:{port}?transport=udp",
            ],
            turn_secret=TURN_SECRET,
        )
        async with AsyncExitStack() as stack:
            running, token = await stack.enter_async_context(
                start_lawline(tmp_path, clean_redis_url, webrtc)
            )
            terminal, console = await browsers(stack, running, tmp_path, term, lawyer)
            base = base_of(running)
            await connect(terminal, console, base, token)
            on_terminal = await decoding(terminal, "terminal")
            on_console = await decoding(console, "lawyer")
            assert "relay" in (on_terminal["pair"], on_console["pair"]), (on_terminal, on_console)
            # No fixed password in either page: credentials issued by lawline, expiring.
            rtc = await terminal.evaluate("window.lawlineTerminal.hello.rtc")
            assert rtc["iceServers"][0]["username"].split(":")[1] == "terminal-dalai-1"
            assert TURN_SECRET not in await terminal.content()


async def test_without_turn_the_call_fails_with_a_clear_message_on_both_screens(
    clean_redis_url: str, tmp_path: Path
) -> None:
    with relay_only(tmp_path) as (term, lawyer, _relay):
        async with AsyncExitStack() as stack:
            running, token = await stack.enter_async_context(
                start_lawline(tmp_path, clean_redis_url, WebRTCSettings(), ice_timeout_s=15)
            )
            terminal, console = await browsers(stack, running, tmp_path, term, lawyer)
            base = base_of(running)
            await connect(terminal, console, base, token)
            contact_id = await terminal.evaluate("window.lawlineTerminal.contactId")
            await terminal.wait_for_selector("#screen-message:not([hidden])", timeout=60_000)
            assert await terminal.text_content("#message-title") == "视频连接失败"
            assert "没有可用的网络通路" in (await terminal.text_content("#message-text") or "")
            await console.wait_for_function(
                "() => document.getElementById('toast').textContent.includes('没有可用的网络通路')",
                timeout=30_000,
            )
            for _ in range(100):
                if await contact_state(running, contact_id) == "ended":
                    break
                await asyncio.sleep(0.2)
            assert await contact_state(running, contact_id) == "ended"
