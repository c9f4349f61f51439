"""The console's statute hints during a real call: a softphone calls 12348 (consultation,
labour) and says, in Mandarin (espeak-ng through the telephone and the Whisper
decoder), that the boss does not pay the wages and they want labour arbitration; the
hints panel shows a wage or arbitration article, the lawyer pins it into what the
citizen was told, and the contact's record keeps it.

espeak's robotic Mandarin is heard badly (劳动仲裁 comes out as 老东忠财, 老板 as 老爬铺):
the hints must find the law through the recogniser's errors, as on a bad phone line."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path
from typing import Any

from lawline.transcripts.segments import Leg
from lawline.web.auth import Role
from tests.browser import chromium, needs_browser
from tests.lawline_server import Running
from tests.sip_helpers import Worker
from tests.speech import speak_mandarin
from tests.test_console_browser import box, video_call_taken
from tests.test_hints_console import say
from tests.test_transcripts_browser import (  # noqa: F401 (fixtures)
    answered_call,
    lawline,
    whisper_worker,
)

# What a caller with unpaid wages says, twice over, a pause after each sentence.
SAYS = ("老板不给我发工资。", "我要申请劳动仲裁。")
# The articles on wages withheld and on applying for labour arbitration: any of them is
# a right hint.
WAGE_ARTICLES = {
    "《劳动合同法》第三十条",
    "《劳动合同法》第三十八条",
    "《劳动合同法》第八十五条",
    "《劳动法》第五十条",
    "《劳动法》第九十一条",
    "《工资支付暂行规定》第七条",
    "《工资支付暂行规定》第十八条",
    "《保障农民工工资支付条例》第三条",
    "《劳动法》第七十九条",
    "《劳动争议调解仲裁法》第五条",
    "《劳动争议调解仲裁法》第二十一条",
    "《劳动争议调解仲裁法》第二十七条",
    "《劳动争议调解仲裁法》第二十八条",
}


def caller_speech(tmp_path: Path) -> Path:
    parts = []
    for i, sentence in enumerate(SAYS):
        said = speak_mandarin(sentence, tmp_path / f"said-{i}.wav", rate=16000)
        parts += [str(said), str(tmp_path / f"pause-{i}.wav")]
        subprocess.run(
            ["sox", "-q", "-n", "-r", "16000", "-b", "16", "-c", "1", parts[-1],
             "trim", "0", "2.5"],
            check=True,
        )  # fmt: skip
    out = tmp_path / "citizen.wav"
    subprocess.run(["sox", "-q", *parts, str(out)], check=True)
    return out


async def wait_for(what: Any, timeout_s: float, why: Any = None) -> Any:
    """`what()` (awaited) until it is truthy; at the deadline, fail saying `why()`."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = await what()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"not after {timeout_s} s: {await why() if why else got!r}")
        await asyncio.sleep(0.5)


@needs_browser
async def test_a_wage_article_appears_while_the_caller_talks_and_is_pinned_into_the_case(
    lawline: Running,  # noqa: F811 (the fixture imported above)
    whisper_worker: Worker,  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
) -> None:
    citizen = caller_speech(tmp_path)
    async with answered_call(lawline, whisper_worker.sip_port, tmp_path, citizen) as page:
        await page.wait_for_selector("#case:not([hidden])")
        assert await page.text_content("#hints") is not None

        async def wage_hint() -> str | None:
            shown = await page.eval_on_selector_all(
                "#hints-body li.hint", "els => els.map(e => e.dataset.citation)"
            )
            return next((c for c in shown if c in WAGE_ARTICLES), None)

        async def shown() -> str:
            heard = await page.text_content("#transcript-lines")
            return f"heard {heard!r}, hints {await page.text_content('#hints-body')!r}"

        citation = await wait_for(wage_hint, 150, shown)
        hint = page.locator(f'#hints-body li.hint[data-citation="{citation}"]')
        # The article's whole text is one click away.
        await hint.locator("summary").click()
        assert await hint.locator(".article-text").is_visible()
        await hint.locator("button.pin").click()
        await page.wait_for_selector(
            f'#hints-body li.hint[data-citation="{citation}"] button.pin:has-text("已加入告知")'
        )
        assert citation in await page.input_value("#case-advice")
        await page.wait_for_selector('#case-saved:has-text("已保存")')
        cid = await page.evaluate("lawlineConsole.caseContact.id")
        await page.click("#hang-up")
        await page.wait_for_selector("#wrapup:not([hidden])")
        # 立案 starts from the case form: what the citizen was told carries the article.
        assert citation in await page.input_value("#open-told")

    async with lawline.client("wang", Role.LAWYER) as http:

        async def recorded() -> dict[str, Any] | None:
            r = await http.get(f"/api/ledger/contacts/{cid}")
            if r.status_code != 200:
                return None
            record = r.json()
            advice = (record.get("case_form") or {}).get("advice", "")
            return record if citation in advice else None

        record = await wait_for(recorded, 30)
    kinds = {(h["kind"], h["citation"]) for h in record["hints"]}
    assert ("pinned", citation) in kinds and ("shown", citation) in kinds
    assert all(h["lawyer"] == "wang" for h in record["hints"])


@needs_browser
async def test_on_a_laptop_the_hints_sit_beside_the_call_transcript_and_case_form(
    lawline: Running,  # noqa: F811 (the fixture imported above)
    clean_redis_url: str,
) -> None:
    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 1440, "height": 900})
        cid = await video_call_taken(lawline, page)
        await say(clean_redis_url, cid, Leg.CITIZEN, "老板拖欠了我三个月工资，我想辞职", 1.0)
        await page.wait_for_selector("#hints-body li.hint", timeout=60_000)
        assert await page.locator("#hints-body li.hint").count() == 3
        for selector in ("#call", "#transcript", "#case", "#hints", "#case-save"):
            b = await box(page, selector)
            assert b["x"] >= 0 and b["y"] >= 0, (selector, b)
            assert b["x"] + b["width"] <= 1440 and b["y"] + b["height"] <= 900, (selector, b)
        assert await page.evaluate("() => document.documentElement.scrollHeight") <= 900

        # Looked up by typing: the article named comes first; then back to the live hints.
        await page.fill("#hint-query", "劳动合同法第38条")
        await page.press("#hint-query", "Enter")
        first = page.locator("#hints-body li.hint").first
        await page.wait_for_selector(
            '#hints-body li.hint[data-citation="《劳动合同法》第三十八条"]'
        )
        assert await first.get_attribute("data-citation") == "《劳动合同法》第三十八条"
        await page.click('#hints-body button:has-text("返回实时提示")')
        await page.wait_for_selector(
            '#hints-body button:has-text("返回实时提示")', state="detached"
        )
        assert await page.locator("#hints-body li.hint").count() == 3
