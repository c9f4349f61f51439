"""Live transcription in the duty lawyer's console, end to end: a pjsua2 softphone calls
12348 and speaks, headless Chromium's fake microphone speaks for the lawyer, the worker's
bridge feeds both legs to a real transcriber process (Vosk, Korean model), and the
console shows who said what as they talk. A supervisor's feed gets alerts."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from playwright.async_api import Page
from redis.asyncio import Redis
from websockets.exceptions import InvalidStatus

from lawline.queue.model import Contact
from lawline.queue.settings import RoutingSettings
from lawline.queue.skills import Channel, Service
from lawline.queue.store import QueueStore
from lawline.transcripts.segments import Kind, Leg, Segment
from lawline.transcripts.store import TranscriptStore
from lawline.transcripts.text import AlertMatch
from lawline.web.auth import Role
from tests.browser import PASSWORD, chromium, lawline_with_wang, needs_browser, sign_in
from tests.lawline_server import Running, next_frame
from tests.ports import free_sip_port
from tests.processes import stop_process
from tests.sip_helpers import Worker, telephony_worker
from tests.speech import (
    CITIZEN_SAYS,
    LAWYER_SAYS,
    TranscriberProcess,
    decoder,
    speak,
    speak_mandarin,
    transcriber,
)


def looped_speech(text: str, out: Path, rate: int, pause_s: float, mandarin: bool = False) -> Path:
    """Speech followed by a pause: played in a loop, a speaker who talks and stops."""
    voice = speak_mandarin if mandarin else speak
    said = voice(text, out.with_name(out.stem + "-once.wav"), rate=rate)
    subprocess.run(["sox", "-q", str(said), str(out), "pad", "0", str(pause_s)], check=True)
    return out


@pytest.fixture
def asr() -> Iterator[TranscriberProcess]:
    with transcriber() as t:
        yield t


@pytest.fixture
def worker(
    tmp_path: Path, clean_redis_url: str, prompts_dir: Path, asr: TranscriberProcess
) -> Iterator[Worker]:
    env = {
        "LAWLINE_WEBRTC__HOST_ADDRESSES": '["127.0.0.1"]',
        "LAWLINE_TRANSCRIPTS__URLS": json.dumps([asr.url]),
    }
    with telephony_worker(tmp_path, clean_redis_url, prompts_dir, **env) as w:
        yield w


@pytest.fixture
async def lawline(clean_redis_url: str, tmp_path: Path) -> AsyncIterator[Running]:
    routing = RoutingSettings(offer_timeout_s=60, wrapup_s=120)
    async with lawline_with_wang(tmp_path, clean_redis_url, routing) as running:
        yield running


# Collects what the console showed, as it showed it: partials as they replace each
# other, finals as they are appended.
WATCH = """() => {
  window.shown = [];
  const note = (kind, el) => window.shown.push({kind, leg: el.dataset.leg,
    text: el.textContent, at: performance.now()});
  for (const id of ["partial-citizen", "partial-lawyer"]) {
    const el = document.getElementById(id);
    new MutationObserver(() => { if (el.textContent) note("partial", el); })
      .observe(el, {childList: true, characterData: true, subtree: true});
  }
  new MutationObserver((changes) => {
    for (const c of changes) for (const li of c.addedNodes) {
      // Elements only: not the comment markers lit-html places between rendered lines.
      if (li.nodeType === Node.ELEMENT_NODE) note(li.dataset.kind, li);
    }
  }).observe(document.getElementById("transcript-lines"), {childList: true});
}"""


@asynccontextmanager
async def answered_call(
    lawline: Running,
    sip_port: int,
    tmp_path: Path,
    citizen: Path,
    microphone: Path | None = None,
) -> AsyncIterator[Page]:
    """Wang signs in and goes available, a softphone calls 12348 saying `citizen` (looped),
    and Wang accepts with the console watched (WATCH); the caller is gone afterwards."""
    base = lawline.base.replace("127.0.0.1", "localhost")  # Secure cookies on localhost
    async with chromium(microphone=microphone) as browser:
        page = await browser.new_page()
        await sign_in(page, base, "wang", PASSWORD)
        await page.click("#go-available")
        await page.wait_for_selector('#state[data-state="available"]')
        caller = subprocess.Popen(
            [sys.executable, str(Path(__file__).parent / "pjsua_caller.py"),
             f"sip:12348@127.0.0.1:{sip_port}", str(tmp_path / "heard.wav"), "90",
             str(free_sip_port()), "--play", str(citizen), "--keys", "11"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        try:
            await page.wait_for_selector("#offer:not([hidden])", timeout=60_000)
            await page.evaluate(WATCH)
            await page.click("#accept")
            yield page
        finally:
            # The caller hangs up (a BYE), rather than vanishing: the worker would keep
            # the survey playing to a dead line until its timeout before it could stop.
            await asyncio.to_thread(stop_process, caller)


@needs_browser
async def test_the_console_shows_both_speakers_live_and_the_record_keeps_them(
    lawline: Running, worker: Worker, tmp_path: Path, clean_redis_url: str
) -> None:
    citizen = looped_speech(CITIZEN_SAYS, tmp_path / "citizen.wav", 16000, pause_s=2.0)
    lawyer = looped_speech(LAWYER_SAYS, tmp_path / "lawyer.wav", 48000, pause_s=2.5)
    async with answered_call(lawline, worker.sip_port, tmp_path, citizen, lawyer) as page:
        await page.wait_for_selector("#transcript:not([hidden])", timeout=20_000)
        for leg in ("citizen", "lawyer"):
            await page.wait_for_selector(
                f'#transcript-lines li[data-leg="{leg}"][data-kind="final"]', timeout=40_000
            )
        assert await page.text_content("#transcript-status") == "转写中"
        await page.click("#hang-up")
        await page.wait_for_selector("#wrapup:not([hidden])")
        # Once the last finals are in, the card says the transcript is over.
        await page.wait_for_function(
            "() => document.getElementById('transcript-status').textContent === '转写已结束'",
            timeout=30_000,
        )
        await asyncio.sleep(2)  # the finals forced by the hang-up
        shown = await page.evaluate("window.shown")
        cid = await page.evaluate("lawlineConsole.transcript.contact")
        srt = await page.evaluate(
            f"fetch('/api/contacts/{cid}/transcript?format=srt').then(r => r.text())"
        )
        # The transcript stays on screen through wrap-up.
        assert not await page.is_hidden("#transcript")

    for leg, label in (("citizen", "来电人"), ("lawyer", "律师")):
        mine = [s for s in shown if s["leg"] == leg]
        kinds = [s["kind"] for s in mine]
        assert "partial" in kinds and "final" in kinds, (leg, kinds)
        # Words appeared while the sentence was spoken, before its final line.
        assert kinds.index("partial") < kinds.index("final"), (leg, kinds)
        assert all(label in s["text"] for s in mine if s["kind"] == "final")
    # The record: every final, with its speaker and times, in the SubRip export too.
    redis = Redis.from_url(clean_redis_url, decode_responses=True)
    try:
        store = TranscriptStore(QueueStore(redis))
        _, stored = await store.read(cid)
    finally:
        await redis.aclose()
    finals = [s for s in stored if s.kind == Kind.FINAL]
    assert {s.leg for s in finals} == {Leg.CITIZEN, Leg.LAWYER}
    assert all(0 <= s.start < s.end for s in finals)
    assert len([s for s in shown if s["kind"] == "final"]) == len(finals)
    # The export has a cue per final and per gap: an utterance begun as the caller
    # hung up may find the transcriber full (3 streams) and be kept as a gap.
    gaps = [s for s in stored if s.kind == Kind.GAP]
    assert srt.count(" --> ") == len(finals) + len(gaps), srt
    assert srt.count("（转写中断）") == len(gaps)
    assert "来电人：" in srt and "律师：" in srt


@pytest.fixture
def whisper_worker(tmp_path: Path, clean_redis_url: str, prompts_dir: Path) -> Iterator[Worker]:
    """A worker whose only engine is a Whisper decoder: no Vosk model for Mandarin."""
    with decoder() as whisper:
        env = {
            "LAWLINE_WEBRTC__HOST_ADDRESSES": '["127.0.0.1"]',
            "LAWLINE_TRANSCRIPTS__WHISPER__URLS": json.dumps([whisper.url]),
        }
        with telephony_worker(tmp_path, clean_redis_url, prompts_dir, **env) as w:
            yield w


@needs_browser
async def test_without_partials_the_console_says_it_is_listening_then_shows_the_sentence(
    lawline: Running, whisper_worker: Worker, tmp_path: Path
) -> None:
    """Mandarin with no Vosk model: while the caller talks the console says it is
    listening (no words yet), and Whisper's sentence replaces the sign when they pause."""
    citizen = looped_speech(
        "我想咨询劳动仲裁的问题。", tmp_path / "citizen.wav", 16000, pause_s=3.0, mandarin=True
    )
    async with answered_call(lawline, whisper_worker.sip_port, tmp_path, citizen) as page:
        await page.wait_for_selector(
            '#transcript-lines li[data-leg="citizen"][data-kind="final"]', timeout=90_000
        )
        shown = await page.evaluate("window.shown")
        await page.click("#hang-up")
    citizen_shown = [s for s in shown if s["leg"] == "citizen"]
    kinds = [s["kind"] for s in citizen_shown]
    assert "partial" in kinds and "final" in kinds, kinds
    sign = citizen_shown[kinds.index("partial")]
    final = citizen_shown[kinds.index("final")]
    assert sign["text"] == "来电人：正在听…", "no words before the pause, only the sign"
    assert sign["at"] < final["at"]
    assert "来电人" in final["text"] and "正在听" not in final["text"]
    said = final["text"].split("来电人", 1)[1]
    assert re.search(r"[\u4e00-\u9fff]{4}", said), final  # Whisper's Mandarin


async def test_an_alert_reaches_the_supervisors_feed_at_once(
    lawline: Running, clean_redis_url: str
) -> None:
    redis = Redis.from_url(clean_redis_url, decode_responses=True)
    try:
        store = TranscriptStore(QueueStore(redis))
        contact = Contact(
            id="c9",
            service=Service.CONSULTATION,
            channel=Channel.VOICE,
            language="zh",
            entered_at=time.time(),
            caller="13900000000",
        )
        await store.queue_store.add_contact(contact, time.time())
        with pytest.raises(InvalidStatus, match="403"):  # a lawyer is not a supervisor
            async with lawline.websocket("/api/supervisor/ws", "wang", Role.LAWYER):
                pass
        async with lawline.websocket("/api/supervisor/ws", "boss", Role.SUPERVISOR) as ws:
            await asyncio.sleep(0.3)
            said = Segment(Kind.FINAL, Leg.CITIZEN, "我们几十个工人的工资一直没发", 12.0, 14.5)
            await store.alert("c9", said, AlertMatch("wage_arrears", "工资一直没发"))
            frame = await next_frame(ws, "alert", timeout=5)  # (wallboard frames come too)
        assert frame["contact"]["id"] == "c9"
        assert frame["alert"]["category"] == "wage_arrears"
        assert frame["alert"]["text"] == "我们几十个工人的工资一直没发"
        assert "13900000000" not in json.dumps(frame)  # the citizen's number stays out
        async with lawline.client("boss", Role.SUPERVISOR) as http:
            [listed] = (await http.get("/api/alerts")).json()
        assert listed["phrase"] == "工资一直没发"
    finally:
        await redis.aclose()
