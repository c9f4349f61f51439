"""Legal terms heard right: a correction pass over a recogniser's final text.

Whisper base writes a legal term it does not know as an everyday homophone: 工伤认定
as 工商认定, 劳动仲裁 as 劳动重裁, 宅基地 as 宅急地, 赡养费 as 善养费. A span of the
text that sounds like a legal term becomes that term: its toned pinyin equal, else
its toneless pinyin equal, else (terms of four characters or more) one syllable but
the first apart by a confusion of the south (zh/z, ch/c, sh/s, n/l, ang/an, eng/en,
ing/in).
The terms: the statutes pack's vocabulary (as the statute hints' legal dictionary
has it), the glossary, and the centre's own list.

A span that is right must never be touched (the glossary prompt failed exactly
there). A span is left alone when it is itself a term, occurs in the statutes'
text, or is a word of jieba's dictionary (工商局, 扶养费); when it cuts into a term
written right or, by a character the term does not have, into a common word
(建筑无人 is not 建筑物人); and, when only its toneless sound fits, unless it shares
a character with the term. A span never crosses punctuation. Terms are three
characters or more: two-character ones (工伤, 押金) caught fewer mistakes and
replaced right words (市养 -> 扶养, 不还 -> 不服).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache

from lawline.transcripts.vocabulary import LEGAL_GLOSSARY

MIN_CHARS = 3
MAX_CHARS = 12  # a whole instrument's name is not misheard as one word
NEAR_MIN_CHARS = 4  # a near sound is evidence enough only over a long term
# jieba's dictionary frequency from which a word is taken for what was said (工商银行
# has 3); a two-character word a span would cut into needs more (无人 has 2874).
WORD_FREQ = 3
BOUNDARY_FREQ = 20
# The centre's own list: what settings accept.
MAX_CENTRE_TERMS = 500

_HAN = re.compile(r"[\u4e00-\u9fff]+")
_HAN_TERM = re.compile(rf"[\u4e00-\u9fff]{{{MIN_CHARS},{MAX_CHARS}}}")
_CONFUSED_INITIALS = (("zh", "z"), ("ch", "c"), ("sh", "s"), ("n", "l"))


@dataclass(frozen=True, slots=True)
class Term:
    text: str
    toned: tuple[str, ...]  # gong1 shang1 ren4 ding4
    toneless: tuple[str, ...]  # gong shang ren ding
    near: tuple[str, ...]  # gong san ren din


@dataclass(frozen=True, slots=True)
class Correction:
    start: int
    heard: str
    term: str
    how: str  # "toned", "toneless" or "near"


@dataclass(frozen=True, slots=True)
class _Readings:
    toned: frozenset[str]
    toneless: frozenset[str]
    near: frozenset[str]


def _toneless(syllable: str) -> str:
    return syllable.rstrip("012345")


def _blur(syllable: str) -> str:
    """A syllable as a speaker of the south may say it: zh, ch, sh, n as z, c, s, l;
    ang, eng, ing as an, en, in."""
    for a, b in _CONFUSED_INITIALS:
        if syllable.startswith(a):
            syllable = b + syllable[len(a) :]
            break
    return syllable[:-1] if syllable.endswith(("ang", "eng", "ing")) else syllable


@cache
def _readings(char: str) -> _Readings:
    """A character's two most common readings (地 is di4 in 宅基地, de in 慢慢地);
    the rare ones (还 as fu2, 市 as fu2) made right words sound like terms."""
    from pypinyin import Style, pinyin

    toned = frozenset(pinyin(char, style=Style.TONE3, heteronym=True)[0][:2])
    toneless = frozenset(_toneless(s) for s in toned)
    return _Readings(toned, toneless, frozenset(_blur(s) for s in toneless))


def is_term(word: str) -> bool:
    """A word the corrector can use: Han characters only, of a length it matches."""
    return bool(_HAN_TERM.fullmatch(word))


def _sounds_like(heard: Sequence[_Readings], term: Term) -> str | None:
    """How characters read `heard` sound like `term` (same length): "toned",
    "toneless", "near" (one syllable blurred), or None."""
    toned = True
    near = 0
    for r, syllable, bare, blurred in zip(heard, term.toned, term.toneless, term.near, strict=True):
        if bare in r.toneless:
            toned = toned and syllable in r.toned
        elif len(heard) >= NEAR_MIN_CHARS and blurred in r.near:
            near += 1
        else:
            return None
    if near:
        return "near" if near == 1 else None
    return "toned" if toned else "toneless"


class LegalTermCorrector:
    """The lexicon, indexed by the toneless sound of each term's first syllable and
    the blurred sound of its second, and what tells a right span from a mistake."""

    def __init__(
        self,
        terms: Iterable[str],
        statute_text: str = "",
        words: Iterable[tuple[str, int]] = (),
    ) -> None:
        """`terms`: the lexicon (its shorter words too are never replaced);
        `statute_text`: the law's wording; `words`: everyday words with their
        frequencies (jieba's dictionary)."""
        # pypinyin here: settings import this module for `is_term`, and stay light.
        from pypinyin import Style, pinyin

        self._words = frozenset(terms)
        self._index: dict[tuple[str, str], list[Term]] = defaultdict(list)
        for word in sorted(w for w in self._words if is_term(w)):
            # The term's own reading, phrase-aware: 宅基地 is di4, 重婚 chong2.
            toned = tuple(s[0] for s in pinyin(word, style=Style.TONE3))
            toneless = tuple(_toneless(s) for s in toned)
            term = Term(word, toned, toneless, tuple(_blur(s) for s in toneless))
            self._index[toneless[0], term.near[1]].append(term)
        for alike in self._index.values():
            alike.sort(key=lambda t: -len(t.text))  # the longest term first
        self._lengths = sorted({len(t.text) for ts in self._index.values() for t in ts})
        self._statute_text = statute_text
        common: set[str] = set()
        pairs: set[str] = set()
        for word, freq in words:
            if len(word) == 2 and freq >= BOUNDARY_FREQ:
                pairs.add(word)
            elif freq >= WORD_FREQ and self._alike(word):
                common.add(word)  # only those that sound like a term: a handful
        self._common = frozenset(common)
        self._pairs = frozenset(pairs)

    def __len__(self) -> int:
        return sum(len(terms) for terms in self._index.values())

    def correct(self, text: str) -> str:
        for fix in reversed(self.corrections(text)):
            text = text[: fix.start] + fix.term + text[fix.start + len(fix.heard) :]
        return text

    def corrections(self, text: str) -> list[Correction]:
        """What `correct` replaces, left to right, none overlapping."""
        out: list[Correction] = []
        for run in _HAN.finditer(text):
            if len(run.group()) >= MIN_CHARS:
                out.extend(self._run(run.group(), run.start()))
        return out

    def _run(self, run: str, offset: int) -> list[Correction]:
        readings = [_readings(char) for char in run]
        kept: list[range] | None = None  # terms written right: found once needed
        out: list[Correction] = []
        i = 0
        while i <= len(run) - MIN_CHARS:
            for term, how in self._alike_at(run, readings, i):
                if kept is None:
                    kept = self._terms_present(run)
                if self._may_replace(run, i, term.text, how, kept):
                    out.append(Correction(offset + i, run[i : i + len(term.text)], term.text, how))
                    i += len(term.text) - 1
                    break
            i += 1
        return out

    def _alike_at(
        self, run: str, readings: Sequence[_Readings], i: int
    ) -> Iterator[tuple[Term, str]]:
        """The terms the span at `i` sounds like, longest first, and how."""
        for first in readings[i].toneless:
            for second in readings[i + 1].near:
                for term in self._index.get((first, second), ()):
                    n = len(term.text)
                    if i + n > len(run) or run.startswith(term.text, i):
                        continue
                    how = _sounds_like(readings[i : i + n], term)
                    if how:
                        yield term, how

    def _terms_present(self, run: str) -> list[range]:
        found = []
        for i in range(len(run) - MIN_CHARS + 1):
            for n in self._lengths:
                if i + n > len(run):
                    break
                if run[i : i + n] in self._words:
                    found.append(range(i, i + n))
        return found

    def _may_replace(self, run: str, i: int, term: str, how: str, kept: Sequence[range]) -> bool:
        j = i + len(term)
        heard = run[i:j]
        if heard in self._words or heard in self._common:
            return False
        if how != "toned" and not set(heard) & set(term):
            return False  # nothing of the term was heard, only something like its sound
        if any(i < k.stop and k.start < j and not i <= k.start < k.stop <= j for k in kept):
            return False  # it would cut into a term written right (holding one is fine)
        # A wrong first or last character that makes a common word with its
        # neighbour belongs to that word (建筑无人, 土地证熟知).
        if i > 0 and heard[0] != term[0] and run[i - 1 : i + 1] in self._pairs:
            return False
        if j < len(run) and heard[-1] != term[-1] and run[j - 1 : j + 1] in self._pairs:
            return False
        # The law's own wording as heard (公正处理 holds 公正处, not 公证处).
        return not self._in_statutes(heard)

    @lru_cache(maxsize=4096)  # noqa: B019 - one corrector per process, kept for good
    def _in_statutes(self, heard: str) -> bool:
        # A scan of the whole text (about 0.3 ms): a mistake once corrected recurs.
        return heard in self._statute_text

    def _alike(self, word: str) -> bool:
        """Whether a word sounds like a term of its own length (and is not one)."""
        if not is_term(word) or word in self._words:
            return False
        readings = [_readings(char) for char in word]
        return any(len(t.text) == len(word) for t, _ in self._alike_at(word, readings, 0))


# ----- the lexicon as lawline ships it ---------------------------------------------------


@lru_cache(maxsize=1)
def _pack() -> tuple[frozenset[str], str]:
    """The statutes pack's vocabulary (the hints' legal dictionary of it) and its
    articles' text, from the package data: no database needed."""
    from lawline.hints.segment import pack_vocabulary
    from lawline.statutes.parse import pack_files, parse_file, shipped_pack

    instruments = [parse_file(path) for path in pack_files(shipped_pack())]
    text = "\n".join(a.text for ins in instruments for a in ins.articles)
    return frozenset(pack_vocabulary(instruments)), text


@lru_cache(maxsize=1)
def _jieba_words() -> tuple[tuple[str, int], ...]:
    import jieba

    words = []
    with jieba.get_dict_file() as f:
        for line in f:
            word, freq, *_ = line.decode("utf-8").split()
            if 2 <= len(word) <= MAX_CHARS:
                words.append((word, int(freq)))
    return tuple(words)


@lru_cache(maxsize=4)
def shipped_corrector(centre_terms: tuple[str, ...] = ()) -> LegalTermCorrector:
    """The corrector for the pack, the glossary and a centre's own terms; built once
    per process (a second or two), then shared."""
    vocabulary, statute_text = _pack()
    terms = vocabulary | set(LEGAL_GLOSSARY) | set(centre_terms)
    corrector = LegalTermCorrector(terms, statute_text, _jieba_words())
    _jieba_words.cache_clear()  # its 300,000 words are not needed again
    return corrector
