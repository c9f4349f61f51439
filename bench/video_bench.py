"""Village video calls: press to first frame, server CPU per 4K session, most sessions.

Run by hand, in a loopback-only namespace (Chromium offers loopback candidates only
there, as in the tests):
  ip netns exec lawline-tests .venv/bin/python bench/video_bench.py \\
      [--presses 10] [--sessions 1,2,3] [--seconds 20] [--fps 5]
lawline runs in this process (a private redis-server, SQLite in a temp dir); one
headless Chromium holds every terminal page, another every lawyer (a browser context
each), fake 4K cameras. Printed:
- press to first remote video frame on the terminal (p50/p95 over --presses calls):
  the button -> queue -> offer -> the lawyer's console accepts at once (automated) ->
  signalling -> ICE/DTLS -> the first decoded frame of the lawyer's picture;
- server CPU per active 4K session: this process's CPU (lawline's web process; the
  browsers are other processes) while N sessions talk, less its idle CPU, over N,
  in % of one core. The video never reaches lawline: only the signalling and, for
  the transcript, the lawyer's two voices (audio tap) do;
- for each N in --sessions whether all N calls decoded 3840x2160 frames on both
  sides; the largest N that did is printed last. On a shared 2-core machine the
  browsers' 4K encoders, not lawline, are what runs out.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Page, async_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lawline.accounts.settings import AccountSettings
from lawline.config import Settings
from lawline.queue.settings import RoutingSettings
from lawline.redis_server import EmbeddedRedis
from lawline.terminals.settings import TerminalSettings
from lawline.video.settings import WebRTCSettings
from lawline.web.auth import Role
from tests.browser import PASSWORD, add_user, sign_in
from tests.lawline_server import Running, running_lawline
from tests.test_terminal_browser import STATS_JS

ARGS = [
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--autoplay-policy=no-user-gesture-required",
    "--no-sandbox",
]

# In the terminal page: press the button, then the time until the first remote frame.
PRESS_JS = """async () => {
  const t0 = performance.now();
  document.getElementById("call").click();
  for (;;) {
    await new Promise((r) => setTimeout(r, 20));
    const call = window.lawlineTerminal.call;
    if (!call || !call.pc) continue;
    const stats = await call.pc.getStats();
    let decoded = 0;
    stats.forEach((r) => {
      if (r.type === "inbound-rtp" && r.kind === "video") decoded += r.framesDecoded || 0;
    });
    if (decoded > 0) return performance.now() - t0;
  }
}"""


class Pair:
    def __init__(self, n: int, terminal: Page, console: Page) -> None:
        self.n = n
        self.terminal = terminal
        self.console = console

    async def accept_when_offered(self) -> None:
        await self.console.wait_for_selector("#offer:not([hidden])", timeout=120_000)
        await self.console.click("#accept")

    async def talk(self) -> float:
        """Press, accept, and the milliseconds to the terminal's first remote frame."""
        accepting = asyncio.create_task(self.accept_when_offered())
        ms: float = await self.terminal.evaluate(PRESS_JS)
        await accepting
        return ms

    async def is_4k_both_ways(self, seconds: float = 90) -> bool:
        for _ in range(int(seconds)):
            ok = True
            for page, which in ((self.terminal, "terminal"), (self.console, "lawyer")):
                s = await page.evaluate(STATS_JS, which)
                v = s and s["video"]
                ok = ok and bool(v and v["width"] == 3840 and v["decoded"] > 0)
            if ok:
                return True
            await asyncio.sleep(1)
        return False

    async def hang_up(self) -> None:
        await self.terminal.click("#hangup")
        await self.terminal.click("#confirm-yes")  # leaving a call is confirmed on a terminal
        await self.terminal.wait_for_selector("#screen-rating:not([hidden])", timeout=30_000)
        await self.terminal.click("#rating-skip")
        await self.terminal.wait_for_selector("#screen-home:not([hidden])", timeout=30_000)
        await self.console.wait_for_selector('#state[data-state="available"]', timeout=30_000)


async def make_pairs(
    running: Running, data: Path, terminals: Browser, lawyers: Browser, count: int
) -> list[Pair]:
    base = running.base.replace("127.0.0.1", "localhost")
    pairs = []
    for n in range(count):
        lawyer = f"lawyer{n}"
        add_user(data, lawyer, "lawyer", PASSWORD)
        async with running.client("boss", Role.SUPERVISOR) as http:
            await http.post(
                "/api/lawyers",
                json={
                    "id": lawyer,
                    "name": lawyer,
                    "services": {"consultation": 3},
                    "languages": ["zh"],
                    "capacity": {"video": 1},
                },
            )
        async with running.client("root", Role.ADMIN) as http:
            r = await http.post(
                "/api/terminals",
                json={"id": f"t{n}", "village": f"村{n}", "township": "镇", "language": "zh"},
            )
            token = r.json()["token"]
        console = await (await lawyers.new_context()).new_page()
        await sign_in(console, base, lawyer, PASSWORD)
        terminal = await (await terminals.new_context()).new_page()
        await terminal.goto(f"{base}/terminal#token={token}")
        await terminal.wait_for_selector("#screen-home:not([hidden])")
        pairs.append(Pair(n, terminal, console))
    return pairs


async def on_duty(pairs: list[Pair]) -> None:
    for p in pairs:
        await p.console.click("#go-available")
        await p.console.wait_for_selector('#state[data-state="available"]')


async def off_duty(pairs: list[Pair]) -> None:
    for p in pairs:
        await p.console.click("#go-offline")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run(args: argparse.Namespace) -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("needs Debian chromium")
    sessions = [int(x) for x in args.sessions.split(",")]
    with tempfile.TemporaryDirectory(prefix="video-bench-") as tmp:
        data = Path(tmp)
        os.environ["LAWLINE_DATA_DIR"] = str(data)
        settings = Settings(
            data_dir=data,
            secret_key="bench-secret",
            routing=RoutingSettings(offer_timeout_s=120, wrapup_s=0, console_timeout_s=60),
            accounts=AccountSettings(cookie_secure=True),
            webrtc=WebRTCSettings(host_addresses=["127.0.0.1"]),
            terminals=TerminalSettings(frame_rate=args.fps),
        )
        with EmbeddedRedis(data / "redis") as redis:
            async with running_lawline(settings, redis.url) as running, async_playwright() as pw:
                terminals = await pw.chromium.launch(executable_path=chromium, args=ARGS)
                lawyers = await pw.chromium.launch(executable_path=chromium, args=ARGS)
                pairs = await make_pairs(running, data, terminals, lawyers, max(sessions))

                first = pairs[0]
                await on_duty([first])
                times = []
                for _ in range(args.presses):
                    times.append(await first.talk())
                    await first.hang_up()
                print(
                    f"press to first remote frame, {len(times)} calls: "
                    f"p50 {statistics.median(times):.0f} ms, p95 {pct(times, 0.95):.0f} ms, "
                    f"max {max(times):.0f} ms"
                )
                await off_duty([first])

                idle = await cpu_over(args.seconds)
                largest, per = 0, float("nan")
                for n in sessions:
                    group = pairs[:n]
                    await on_duty(group)
                    await asyncio.gather(*(p.talk() for p in group))
                    all_4k = all(await asyncio.gather(*(p.is_4k_both_ways() for p in group)))
                    busy = await cpu_over(args.seconds)
                    per = (busy - idle) / n
                    print(
                        f"{n} session(s): 4K both ways in all: {'yes' if all_4k else 'NO'}; "
                        f"server CPU {busy:.1f}% of a core (idle {idle:.1f}%), "
                        f"{per:.2f}% per session"
                    )
                    for p in group:
                        await p.hang_up()
                    await off_duty(group)
                    if all_4k:
                        largest = n
                print(
                    f"largest number of simultaneous 4K sessions carried: {largest} (of {sessions})"
                )
                print(
                    f"press_p50_ms={statistics.median(times):.0f}"
                    f" press_p95_ms={pct(times, 0.95):.0f} idle_cpu_pct={idle:.1f}"
                    f" cpu_pct_per_session={per:.2f} sessions_4k={largest}"
                )
                await terminals.close()
                await lawyers.close()


async def cpu_over(seconds: float) -> float:
    """This process's CPU over `seconds`, in % of one core."""
    c0, t0 = time.process_time(), time.monotonic()
    await asyncio.sleep(seconds)
    return 100 * (time.process_time() - c0) / (time.monotonic() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, default=10, help="calls timed, one after another")
    parser.add_argument("--sessions", default="1,2,3", help="N values: sessions at once")
    parser.add_argument("--seconds", type=float, default=20, help="CPU measured over this long")
    parser.add_argument("--fps", type=int, default=5, help="camera frame rate asked for")
    args: Any = parser.parse_args()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
