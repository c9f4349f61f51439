"""One instrument of the statutes pack, from its Markdown file.

The format (the pack's README): file name `<category>_<title>(<date>).md`; inside,
`# title` (the Civil Code's books add `# 婚姻家庭编`), the adoption and amendment
lines, `<!-- INFO END -->`, then headings (`##` part or chapter, deeper ones chapter
and section) and one paragraph per article starting `第X条 `, its further paragraphs
on the lines after it until the next article or heading.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path

from lawline.statutes.numerals import NUMERAL_CHARS, to_int

PRC = "中华人民共和国"
INFO_END = "<!-- INFO END -->"
_ARTICLE = re.compile(rf"^第([{NUMERAL_CHARS}]+)条(之[{NUMERAL_CHARS}]+)?\s+(.*)$")
_HEADING = re.compile(r"^(#{2,6})\s*(.*)$")
_FILE_DATE = re.compile(r"[(（](\d{4})-(\d{2})-(\d{2})[)）]$")
_TEXT_DATE = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日")
_SECTION = re.compile(r"^第.+节")
_SPACES = re.compile(r"\s+")

# The pack's categories (the national database's), and the level each stands for.
LEVELS = {
    "宪法": "法律",
    "宪法相关法": "法律",
    "民法典": "法律",
    "民法商法": "法律",
    "行政法": "法律",
    "经济法": "法律",
    "社会法": "法律",
    "刑法": "法律",
    "诉讼与非诉讼程序法": "法律",
    "行政法规": "行政法规",
    "司法解释": "司法解释",
    "部门规章": "部门规章",
    "地方性法规": "地方性法规",
}


class StatuteFormatError(ValueError):
    """The file is not an instrument in the pack's format."""


@dataclass(frozen=True, slots=True)
class Article:
    number: int  # 38
    label: str  # 第三十八条 (第十条之一 where an amendment inserted one)
    chapter: str  # the headings above it but the section: "第一分编 通则 · 第一章 一般规定"
    section: str  # 第一节 一般规定, or ""
    text: str  # its paragraphs, one per line


@dataclass(slots=True)
class Instrument:
    title: str  # 中华人民共和国民法典
    part: str  # the Civil Code's book (婚姻家庭编); "" for every other instrument
    level: str  # 法律, 行政法规, 司法解释, 地方性法规...
    version: date | None
    articles: list[Article] = field(default_factory=list)

    @property
    def short_title(self) -> str:
        """How a lawyer cites it: 劳动合同法, 民法典 for every book; a judicial
        interpretation by its full title."""
        return self.title.removeprefix(PRC) or self.title


def shipped_pack() -> Path:
    """The national instruments lawline ships (package data)."""
    return Path(str(resources.files("lawline.statutes") / "pack"))


def pack_files(folder: Path) -> list[Path]:
    """A pack's instruments: every `*.md` in `folder` but its README, in name order."""
    return [p for p in sorted(folder.glob("*.md")) if p.name.lower() != "readme.md"]


def parse_file(path: Path) -> Instrument:
    return parse_text(path.read_text(encoding="utf-8"), path.stem)


def parse_text(text: str, name: str = "") -> Instrument:
    """`name`: the file's name without `.md`, for the category and the version date."""
    lines = text.splitlines()
    if INFO_END not in (line.strip() for line in lines):
        raise StatuteFormatError(f"no {INFO_END} line")
    end = next(i for i, line in enumerate(lines) if line.strip() == INFO_END)
    titles = [_tidy(line[2:]) for line in lines[:end] if line.startswith("# ")]
    if not titles or not titles[0]:
        raise StatuteFormatError("no '# title' line before the information")
    category = name.split("_", 1)[0] if "_" in name else ""
    found = _FILE_DATE.search(name)
    version = date(*map(int, found.groups())) if found else _last_date(lines[:end])
    instrument = Instrument(
        title=titles[0],
        part=titles[1] if len(titles) > 1 else "",
        level=LEVELS.get(category, category),
        version=version,
    )
    instrument.articles = _articles(lines[end + 1 :])
    if not instrument.articles:
        raise StatuteFormatError("no article (a line starting 第X条)")
    return instrument


def _articles(lines: list[str]) -> list[Article]:
    out: list[Article] = []
    headings: dict[int, str] = {}  # depth -> heading text, the path down to here
    current: tuple[int, str, str, str] | None = None
    paragraphs: list[str] = []

    def close() -> None:
        if current is not None:
            out.append(Article(*current, text="\n".join(paragraphs)))

    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        heading = _HEADING.match(line)
        if heading:
            close()
            current, paragraphs = None, []
            depth = len(heading.group(1))
            headings = {d: h for d, h in headings.items() if d < depth}
            if title := _tidy(heading.group(2)):
                headings[depth] = title
            continue
        article = _ARTICLE.match(line)
        if article:
            close()
            label = f"第{article.group(1)}条{article.group(2) or ''}"
            path = [headings[d] for d in sorted(headings)]
            section = path[-1] if path and _SECTION.match(path[-1]) else ""
            chapter = " · ".join(path[:-1] if section else path)
            current, paragraphs = (to_int(article.group(1)), label, chapter, section), []
            paragraphs.append(_tidy(article.group(3)))
        elif current is not None:
            paragraphs.append(_tidy(line))
        # Text before the first article (an interpretation's preamble) is no article's.
    close()
    return out


def _last_date(lines: list[str]) -> date | None:
    found = [m for line in lines for m in _TEXT_DATE.finditer(line)]
    return date(*map(int, found[-1].groups())) if found else None


def _tidy(text: str) -> str:
    return _SPACES.sub(" ", text).strip()
