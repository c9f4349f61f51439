"""Chinese words for BM25: jieba, with a legal dictionary built from the knowledge base.

jieba's own dictionary splits 工伤认定 and 劳动报酬 where the law treats them as one
term; the legal dictionary (instrument short titles, heading words, defined terms,
the phrase map's legal words) keeps them whole. Search mode (cut_for_search) also
yields the parts of a long word, so 工伤 still meets 工伤认定. Each process keeps its
own tokenizer: jieba's module-level one is shared by whoever imports jieba.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import jieba
from pypinyin import lazy_pinyin

from lawline.hints.phrases import legal_phrases
from lawline.statutes.parse import Instrument
from lawline.transcripts.text import compact

jieba.setLogLevel(logging.WARNING)  # its dictionary-loading chatter is not ours to log

_HAN_RUN = re.compile(r"[\u4e00-\u9fff]+")
_HEADING_SPLIT = re.compile(r"[第一二三四五六七八九十百章节编分\s、，·和与及的]+")
_DEFINED = re.compile(r"[“\"（(]以下简称|[“]([\u4e00-\u9fff]{2,8})[”]")
# Words that say nothing about which law applies (as callers and statutes use them).
_STOP = """
    以后 以前 之后 时候 不算 算不算 每个 三个 两个 几个 下个 直接 现在 还有 这种 那种 多少 一样
    有没有 是不是 能不能 可不可以 会不会 要不要 行不行 怎么样 怎样 为啥 咋办 人家 东西 事情
    我们 你们 他们 她们 自己 什么 怎么 怎么办 这个 那个 这样 那样 就是
    还是 可以 能不能 不能 能够 现在 已经 一直 一个 没有 不是 为什么 吗
    呢 吧 啊 了 的 得 地 是 在 有 和 与 或者 以及 应当 应该 依照
    按照 规定 本法 本条例 本解释 本规定 有关 其他 下列 情形 之一 之日起
    以上 以下 不得 予以 进行 对于 由于 但是 并且 如果 因为 所以 这么
    那么 那边 一下 一点 知道 觉得 请问 你好 您好 谢谢 然后 说 问 想
    要 给 让 被 把 都 也 还 又
"""
STOP_WORDS = frozenset(_STOP.split())
# Characters that say nothing of the matter (particles, pronouns, function words): left
# out of single characters and character pairs.
EMPTY_CHARS = frozenset(
    "的了是在我你他她它们这那个吗呢吧啊么就都也还又把被给让和与或及其之以于为所者等"
)


def private_cache_dir() -> str:
    """Where jieba keeps its parsed dictionary. Its default is the shared /tmp, where
    any local user could leave a `jieba.cache` for it to load (marshal data, read
    unchecked): a folder only this user can write instead (~/.cache/lawline, 0700), or a
    fresh private temporary one when that cannot be had."""
    base = private_cache_folder()
    return str(base) if base else tempfile.mkdtemp(prefix="lawline-jieba-")


def private_cache_folder() -> Path | None:
    """~/.cache/lawline (or under XDG_CACHE_HOME), made 0700 if missing; None when it
    cannot be had or others may write to it."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "lawline"
    with contextlib.suppress(OSError):
        base.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = base.stat()
        if st.st_uid == os.getuid() and not st.st_mode & 0o077:
            return base
    return None


class Segmenter:
    def __init__(self, legal_words: Iterable[str] = ()) -> None:
        self._jieba = jieba.Tokenizer()
        self._jieba.tmp_dir = private_cache_dir()
        self._jieba.initialize()
        self.legal_words = sorted({w for w in legal_words if 2 <= len(w) <= 12})
        for word in self.legal_words:
            # A high frequency: the legal term wins over jieba's everyday splits.
            self._jieba.add_word(word, freq=50_000)

    # Kept on disk with the index (stored.py): jieba's tokenizer holds a lock, so its
    # dictionary, the legal words added, travels instead, and reads back in a quarter
    # of the time jieba takes to load its own.
    def __getstate__(self) -> dict[str, Any]:
        return {
            "legal_words": self.legal_words,
            "freq": self._jieba.FREQ,
            "total": self._jieba.total,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.legal_words = state["legal_words"]
        self._jieba = jieba.Tokenizer()
        self._jieba.FREQ, self._jieba.total = state["freq"], state["total"]
        self._jieba.initialized = True

    def words(self, text: str) -> list[str]:
        """Index and query terms: search-mode words of two characters or more,
        stop words out."""
        out = []
        for word in self._jieba.cut_for_search(compact(text)):
            if len(word) >= 2 and word not in STOP_WORDS and not word.isdigit():
                out.append(word)
        return out


def characters(text: str) -> list[str]:
    """Single Han characters, the empty ones out: 租的房子 still meets 租赁 by 租 when
    no word of the caller's is the law's."""
    return [c for run in _HAN_RUN.findall(text) for c in run if c not in EMPTY_CHARS]


def pairs(text: str) -> list[str]:
    """Every two neighbouring Han characters, neither of them empty: they meet the law's
    words wherever jieba cut the caller's, and a longer word with one character heard
    wrong still shares its other pairs."""
    return [
        a + b
        for run in _HAN_RUN.findall(text)
        for a, b in pairwise(run)
        if a not in EMPTY_CHARS and b not in EMPTY_CHARS
    ]


def legal_dictionary(
    short_titles: Iterable[str], headings: Iterable[str], texts: Iterable[str]
) -> set[str]:
    """Terms from the knowledge base itself: the instruments' names, the words of
    their chapter and section headings, and terms the texts define in quotes."""
    words = set(short_titles)
    for heading in headings:
        words.update(w for w in _HEADING_SPLIT.split(heading) if 2 <= len(w) <= 8)
    for text in texts:
        words.update(m.group(1) for m in _DEFINED.finditer(text) if m.group(1))
    return words


def legal_vocabulary(
    short_titles: Iterable[str], headings: Iterable[str], texts: Iterable[str]
) -> set[str]:
    """The legal dictionary and the phrase map's legal words: every term the hints
    know as the law's."""
    words = legal_dictionary(short_titles, headings, texts)
    words.update(w for legal in legal_phrases() for w in legal.split())
    return words


def pack_vocabulary(instruments: Iterable[Instrument]) -> set[str]:
    """`legal_vocabulary` of parsed instruments (the shipped pack read from its
    files, where there is no knowledge base to ask)."""
    instruments = list(instruments)
    articles = [a for ins in instruments for a in ins.articles]
    return legal_vocabulary(
        {ins.short_title for ins in instruments},
        (h for a in articles for h in (a.chapter, a.section)),
        (a.text for a in articles),
    )


def sound(word: str) -> str:
    """How a word sounds, tones left out: the recogniser's wrong character (工商 for
    工伤, 中裁 for 仲裁) sounds like the right one."""
    return " ".join(lazy_pinyin(word))


def sounds(text: str) -> list[list[str]]:
    """The syllables of each run of Han characters in `text`, one per character."""
    return [lazy_pinyin(run) for run in _HAN_RUN.findall(text)]


def spans(syllables: list[str], shortest: int = 2, longest: int = 4) -> Iterator[str]:
    """Every run of `shortest` to `longest` syllables, as `sound` writes a word."""
    for n in range(shortest, longest + 1):
        for i in range(len(syllables) - n + 1):
            yield " ".join(syllables[i : i + n])
