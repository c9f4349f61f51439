"""Chinese numerals as articles are numbered: 第一千二百六十条 is article 1260.

cn2an (already lawline's for the transcripts' numerals) converts both ways; what is
here is the characters an article number may hold (the parsers' patterns) and the
bounds of an article number."""

from __future__ import annotations

import cn2an

NUMERAL_CHARS = "零〇一二三四五六七八九两十百千"


def to_int(numeral: str) -> int:
    """一千零四十 -> 1040, 十一 -> 11, 二十 -> 20; also plain digits ("38").
    ValueError on anything else."""
    if numeral.isascii() and numeral.isdigit():
        return int(numeral)
    if not numeral or any(c not in NUMERAL_CHARS for c in numeral):
        raise ValueError(f"not a Chinese numeral: {numeral!r}")
    return int(cn2an.cn2an(numeral, "smart"))


def to_chinese(n: int) -> str:
    """1040 -> 一千零四十, 11 -> 十一 (as the pack writes article numbers)."""
    if not 0 < n < 10000:
        raise ValueError(f"article numbers run 1-9999, not {n}")
    return str(cn2an.an2cn(n))
