"""One word list for every page, export and the glossary: the server's label table
(lawline/labels.py), the pages' (static/lib/labels.js) and GLOSSARY.md agree; no page
says 台帐 (the standard word is 台账), and no English word reaches what a person reads."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from lawline.labels import LABELS, label
from lawline.queue.skills import Channel, Domain, GreenReason, Service
from lawline.telephony.menu import default_menu
from lawline.transcripts.segments import TranscriptStatus

ROOT = Path(__file__).parent.parent
STATIC = ROOT / "lawline" / "web" / "static"
# A page's words, file format names aside.
FORMATS = {"Excel", "XLSX", "CSV", "SRT", "WebVTT", "TXT", "Word", "PDF"}
# The groups the glossary names word for word.
IN_GLOSSARY = [
    "service",
    "domain",
    "green",
    "channel",
    "language",
    "disposition",
    "triage",
    "referral",
    "caseStatus",
    "leg",
    "partyRole",
    "reach",
    "outcome",
]


def labels_js() -> dict[str, dict[str, str]]:
    """LABELS as labels.js writes it: groups of `key: "words"` (keys bare or quoted)."""
    source = (STATIC / "lib" / "labels.js").read_text()
    body = source.split("export const LABELS = {", 1)[1].split("\n};", 1)[0]
    body = re.sub(r"//[^\n]*", "", body)
    groups = {}
    for name, inner in re.findall(r"(\w+):\s*\{(.*?)\}", body, re.S):
        pairs = re.findall(r'(?:"([^"]*)"|(\w+)):\s*"([^"]*)"', inner)
        groups[name] = {quoted or bare: words for quoted, bare, words in pairs}
    return groups


def test_the_server_and_the_pages_use_one_label_table() -> None:
    js = labels_js()
    assert len(js) >= 15, "labels.js could not be read"
    assert js == LABELS


def test_the_glossary_has_every_word_the_pages_show_for_a_value() -> None:
    glossary = (ROOT / "GLOSSARY.md").read_text()
    missing = [(g, k, w) for g in IN_GLOSSARY for k, w in LABELS[g].items() if w not in glossary]
    assert not missing


def test_every_value_a_person_meets_has_its_words() -> None:
    coded = {
        "service": Service,
        "domain": Domain,
        "green": GreenReason,
        "channel": Channel,
        "transcriptStatus": TranscriptStatus,
    }
    for group, values in coded.items():
        assert {v.value for v in values} <= set(LABELS[group]), group
    for group in LABELS.values():
        for words in group.values():
            assert not re.search(r"[A-Za-z]", words), words
    assert label("reason", "caller hung up") == "来电人挂断"
    assert label("reason", "工伤，转赵律师") == "工伤，转赵律师"  # a lawyer's own words


def test_the_menu_path_reads_as_the_callers_choices() -> None:
    menu = default_menu()
    assert menu.path_words("main:1 consultation:1") == "法律咨询 › 劳动争议"
    assert menu.path_words("main:8 green:1 main:2") == "绿色通道 › 老年人 › 法律援助"
    assert menu.path_words("main:9") == "法律咨询（蒙古语）"
    assert menu.path_words("main:7? main:timeout") == "无效按键 7 › 未按键"
    assert menu.path_words("gone:3") == "按键 3"  # a node since removed from the menu


class _Visible(HTMLParser):
    """The text a person reads on a page (and its placeholders and titles)."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden = 0
        self.words: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hidden += tag in ("script", "style")
        self.words += [v for k, v in attrs if k in ("placeholder", "title", "aria-label") and v]

    def handle_endtag(self, tag: str) -> None:
        self.hidden -= tag in ("script", "style")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.words.append(data)


def pages() -> list[Path]:
    found = [p for p in STATIC.rglob("*") if p.suffix in (".html", ".js")]
    return [p for p in found if not {"vendor", "swagger-ui"} & set(p.parts)]


def test_no_page_or_export_says_台帐() -> None:
    sources = pages() + list((ROOT / "lawline").rglob("*.py"))
    sources += [ROOT / "GLOSSARY.md", ROOT / "README.md"]
    assert len(sources) > 30
    assert [str(p.relative_to(ROOT)) for p in sources if "台帐" in p.read_text()] == []


def test_no_english_word_on_a_page() -> None:
    for page in STATIC.glob("*.html"):
        if page.name == "docs.html":  # the API reference, for developers
            continue
        parser = _Visible()
        parser.feed(page.read_text())
        english = set(re.findall(r"[A-Za-z]{2,}", " ".join(parser.words))) - FORMATS
        assert not english, (page.name, english)
