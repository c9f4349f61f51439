"""Chinese numerals as articles are numbered: 第一千二百六十条 is article 1260."""

from __future__ import annotations

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6}
_DIGITS |= {"七": 7, "八": 8, "九": 9}
_UNITS = {"十": 10, "百": 100, "千": 1000}
NUMERAL_CHARS = "".join(_DIGITS) + "".join(_UNITS)


def to_int(numeral: str) -> int:
    """一千零四十 -> 1040, 十一 -> 11, 二十 -> 20; also plain digits ("38").
    ValueError on anything else."""
    if numeral.isascii() and numeral.isdigit():
        return int(numeral)
    if not numeral or any(c not in _DIGITS and c not in _UNITS for c in numeral):
        raise ValueError(f"not a Chinese numeral: {numeral!r}")
    total, digit = 0, None
    for c in numeral:
        if c in _DIGITS:
            digit = _DIGITS[c]
        else:
            # A unit with no digit before it is one of it: 十一 is 11.
            total += (1 if digit is None else digit) * _UNITS[c]
            digit = None
    return total + (digit or 0)


def to_chinese(n: int) -> str:
    """1040 -> 一千零四十, 11 -> 十一 (as the pack writes article numbers)."""
    if not 0 < n < 10000:
        raise ValueError(f"article numbers run 1-9999, not {n}")
    names = "零一二三四五六七八九"
    out, zero = "", False
    for unit, name in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d, n = divmod(n, unit)
        if d:
            if zero:
                out += "零"
            out += ("" if (unit == 10 and d == 1 and not out) else names[d]) + name
            zero = False
        elif out:
            zero = True
    return out
