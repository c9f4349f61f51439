"""Citations: written (《劳动合同法》第三十八条, in eval files and pinned hints) and
spoken (劳动合同法第三十八条, 工伤保险条例十四条, 民法典1079条 as a recogniser writes them)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from lawline.statutes.numerals import NUMERAL_CHARS, to_int
from lawline.statutes.parse import PRC


@dataclass(frozen=True, slots=True)
class Citation:
    law: str  # short title: 劳动合同法, 民法典, an interpretation's full title
    number: int  # 38

    def __str__(self) -> str:
        from lawline.statutes.numerals import to_chinese

        return f"《{self.law}》第{to_chinese(self.number)}条"


_WRITTEN_ARTICLE = re.compile(rf"^第([{NUMERAL_CHARS}0-9]+)条$")


def parse_written(text: str) -> Citation:
    """《law》第N条: the law may itself hold 《》 (an interpretation of 《民法典》), so the
    article is what follows the last 》."""
    text = text.strip()
    head, sep, tail = text.rpartition("》")
    if not sep or not head.startswith("《"):
        raise ValueError(f"not a citation 《law》第N条: {text!r}")
    found = _WRITTEN_ARTICLE.match(tail.strip())
    if not found:
        raise ValueError(f"not an article 第N条: {tail!r}")
    return Citation(head[1:].removeprefix(PRC), to_int(found.group(1)))


class SpokenCitations:
    """Finds 'law + article number' in what was said, for the laws the knowledge base
    holds (the longest name first: 劳动合同法实施条例 before 劳动合同法)."""

    def __init__(self, laws: Iterable[str]) -> None:
        names = sorted({law for law in laws if law}, key=len, reverse=True)
        self._laws = names
        alternatives = "|".join(re.escape(n) for n in names) or "(?!)"
        self._pattern = re.compile(
            rf"(?:{re.escape(PRC)})?({alternatives})的?第?([{NUMERAL_CHARS}0-9]{{1,7}})条"
        )

    def find(self, said: str) -> list[Citation]:
        out: list[Citation] = []
        for m in self._pattern.finditer(said):
            try:
                citation = Citation(m.group(1), to_int(m.group(2)))
            except ValueError:
                continue
            if citation not in out:
                out.append(citation)
        return out
