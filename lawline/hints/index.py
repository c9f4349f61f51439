"""BM25 over every article of the knowledge base, in memory (about 4,000 articles:
a few MB), rebuilt when the knowledge base changes.

A query is what the citizen said: its words (jieba), the law's words for the phrases
heard (phrases.py), and words of the index that sound the same as a word said (a
recogniser's wrong character), weighed less. Three fields are searched and their
scores, each scaled to its best, added: those words; the pairs of neighbouring
characters said (a word jieba cut otherwise, a word with one character heard wrong);
the single characters said (租的房子 meets 租赁 by 租, where no word of the caller's is
the law's). The same three over each law (each book of the Civil Code) and each
chapter as a whole say which law, and which part of it, the question is about; an
article gains their shares. The questions callers ask about an article (asked.py) add
what the law's words cannot say (不给交社保我辞职 is Article 38's case): an article
gains the share of its best question the caller said. A judicial
interpretation's article weighs a little less than the law's own (a lawyer cites the
law first). Articles of the laws of the contact's legal domain are boosted; an article
named aloud comes first.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import bm25s
import numpy as np

from lawline.hints.asked import ASKED
from lawline.hints.citation import Citation, SpokenCitations, parse_written
from lawline.hints.phrases import expand
from lawline.hints.segment import (
    Segmenter,
    characters,
    legal_vocabulary,
    pairs,
    sound,
    sounds,
    spans,
)
from lawline.queue.skills import Domain
from lawline.transcripts.text import compact

CIVIL_CODE = "民法典"
DOMAIN_BOOST = 1.3  # what the contact chose in the menu is a strong prior, not a filter
SOUND_WEIGHT = 0.6  # a homophone is a guess at what was said
# Each field's share of an article's score, its words' field counting 1; and its law's
# and its chapter's (the same fields over the whole law, the whole chapter). Chosen on
# questions.tsv, checked on the held-out sets (see the README).
PAIRS_WEIGHT = 0.15
CHARACTERS_WEIGHT = 0.4
LAW_WEIGHT = 0.4
CHAPTER_WEIGHT = 0.2
# The callers' questions about an article (asked.py): the share of its best question said
# (1: all of it). As much as all the fields together can give (1.55, its law 0.62, its
# chapter 0.31): a lawyer wrote it for this very case.
ASKED_WEIGHT = 2.5
# A level's articles weigh this much (1 where not listed): the law before its reading.
LEVEL_WEIGHT = {"司法解释": 0.9}
# Terms in more than this share of articles say little (用人单位 in labour law is fine).
_COMMON = 0.25

# Laws ("short title" or "short title/book") behind each legal domain of the menu.
DOMAIN_LAWS: dict[Domain, frozenset[str]] = {
    Domain.LABOUR: frozenset({
        "劳动合同法", "劳动法", "劳动合同法实施条例", "工伤保险条例", "工资支付暂行规定",
        "保障农民工工资支付条例", "劳动争议调解仲裁法", "社会保险法",
        "最高人民法院关于审理劳动争议案件适用法律问题的解释（一）",
    }),
    Domain.MARRIAGE_FAMILY: frozenset({
        "民法典/婚姻家庭编", "民法典/继承编", "反家庭暴力法", "妇女权益保障法",
        "未成年人保护法", "老年人权益保障法",
        "最高人民法院关于适用《中华人民共和国民法典》婚姻家庭编的解释（一）",
    }),
    Domain.LAND_HOMESTEAD: frozenset({
        "土地管理法", "土地管理法实施条例", "农村土地承包法", "农村土地承包经营纠纷调解仲裁法",
        "民法典/物权编",
    }),
    Domain.HOUSING_DEMOLITION: frozenset({
        "国有土地上房屋征收与补偿条例", "土地管理法", "土地管理法实施条例", "民法典/物权编",
    }),
    Domain.TRAFFIC: frozenset({
        "道路交通安全法", "道路交通安全法实施条例", "民法典/侵权责任编",
        "最高人民法院关于审理道路交通事故损害赔偿案件适用法律若干问题的解释",
        "最高人民法院关于审理人身损害赔偿案件适用法律若干问题的解释",
    }),
    Domain.LENDING_CONTRACTS: frozenset({
        "民法典/合同编", "民法典/总则",
        "最高人民法院关于审理民间借贷案件适用法律若干问题的规定",
    }),
    Domain.CONSUMER: frozenset({"消费者权益保护法", "产品质量法", "电子商务法"}),
    Domain.SOCIAL_SECURITY: frozenset({
        "社会保险法", "工伤保险条例", "老年人权益保障法", "残疾人保障法", "法律援助法",
    }),
    Domain.NEIGHBOUR: frozenset({
        "民法典/物权编", "民法典/侵权责任编", "治安管理处罚法", "物业管理条例", "人民调解法",
    }),
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class ArticleDoc:
    id: int  # statute_articles.id
    law: str  # short title
    part: str  # the Civil Code's book, else ""
    number: int
    chapter: str
    section: str
    text: str
    level: str = ""  # 法律, 行政法规, 司法解释...

    def laws(self) -> tuple[str, str]:
        """The names a domain's list may use for it."""
        return self.law, f"{self.law}/{self.part}"


@dataclass(frozen=True, slots=True)
class Ranked:
    article_id: int
    score: float
    spoken: bool  # named aloud by the caller


class HintIndex:
    def __init__(self, docs: Sequence[ArticleDoc]) -> None:
        self.docs = list(docs)
        laws = {d.law for d in self.docs}
        dictionary = legal_vocabulary(
            laws,
            (h for d in self.docs for h in (d.chapter, d.section)),
            (d.text for d in self.docs),
        )
        self.segmenter = Segmenter(dictionary)
        texts = [_indexed_text(d) for d in self.docs]
        corpus = _shared(self.segmenter.words(t) for t in texts)
        cut = [corpus] + [_shared(c(t) for t in texts) for c, _ in _Fields.CUTS]
        self._articles = _Fields(cut)
        # Which law, then which chapter: the same fields over each instrument (each
        # book of the Civil Code) and each chapter as a whole.
        self._wholes = [
            _Whole(cut, [(d.law, d.part) for d in self.docs], LAW_WEIGHT),
            _Whole(cut, [(d.law, d.part, d.chapter) for d in self.docs], CHAPTER_WEIGHT),
        ]
        self._asked = _Asked(self.segmenter, self.docs, ASKED)
        self._level_weight = np.array(
            [LEVEL_WEIGHT.get(d.level, 1.0) for d in self.docs], dtype=np.float32
        )
        df = Counter(w for words in corpus for w in set(words))
        too_common = max(_COMMON * len(self.docs), 20)  # a small knowledge base keeps all
        self._vocabulary = {w for w, n in df.items() if n <= too_common}
        self._by_sound: dict[str, list[str]] = defaultdict(list)
        # Only the law's own terms: every everyday word has homophones.
        for word in self._vocabulary.intersection(self.segmenter.legal_words):
            self._by_sound[sound(word)].append(word)
        self._position = {(d.law, d.number): i for i, d in enumerate(self.docs)}
        self._spoken = SpokenCitations(laws)
        self._domain_masks = {
            domain: np.array([bool(names & set(d.laws())) for d in self.docs])
            for domain, names in DOMAIN_LAWS.items()
        }

    def query_terms(self, said: str) -> dict[str, float]:
        """Each term searched, with its weight."""
        said = compact(said)
        terms: dict[str, float] = {}

        def add(word: str, weight: float) -> None:
            if word in self._vocabulary:
                terms[word] = max(terms.get(word, 0.0), weight)

        for word in self.segmenter.words(said):
            add(word, 1.0)
        syllables = sounds(said)
        for legal, weight in expand(said, (" ".join(run) for run in syllables)):
            for word in self.segmenter.words(legal):
                add(word, weight)
        # Words of the law that sound like something said: what the recogniser heard
        # wrong (工商认定, 中裁), wherever jieba cut it.
        for run in syllables:
            for heard in spans(run):
                for alike in self._by_sound.get(heard, ()):
                    if alike not in terms:
                        add(alike, SOUND_WEIGHT)
        return terms

    def spoken(self, said: str) -> list[Citation]:
        return self._spoken.find(compact(said))

    def search(self, said: str, domain: Domain | None = None, limit: int = 3) -> list[Ranked]:
        named = [
            self._position[(c.law, c.number)]
            for c in self.spoken(said)
            if (c.law, c.number) in self._position
        ]
        terms = self.query_terms(said)
        said = compact(said)
        scores = self._articles.scores(terms, said)
        if scores.any():
            for whole in self._wholes:
                scores += whole.scores(terms, said)
            scores += ASKED_WEIGHT * self._asked.scores(said)
            scores *= self._level_weight
        mask = self._domain_masks.get(domain) if domain is not None else None
        if mask is not None:
            scores[mask] *= DOMAIN_BOOST
        out = [Ranked(self.docs[i].id, float(scores.max(initial=0.0)) + 1.0, True) for i in named]
        wanted = limit - len(out)
        if wanted > 0 and scores.any():
            top = np.argpartition(-scores, min(wanted + len(named), len(scores) - 1))
            best = sorted(top[: wanted + len(named)], key=lambda i: -scores[i])
            for i in best:
                if scores[i] > 0 and i not in named and len(out) < limit:
                    out.append(Ranked(self.docs[i].id, float(scores[i]), False))
        return out[:limit]


class _Field:
    """One BM25 over one way of cutting every document."""

    def __init__(self, corpus: list[list[str]]) -> None:
        self._bm25 = bm25s.BM25()
        self._bm25.index(corpus, show_progress=False)
        self._known = {t for tokens in corpus for t in tokens}
        self._size = len(corpus)

    def scores(self, terms: Mapping[str, float]) -> np.ndarray:
        """Each term's scores times its weight, summed; scaled so the best is 1."""
        out = np.zeros(self._size, dtype=np.float32)
        by_weight: dict[float, list[str]] = defaultdict(list)
        for term, weight in terms.items():
            if term in self._known:
                by_weight[weight].append(term)
        for weight, same in by_weight.items():
            out += weight * self._bm25.get_scores(same)
        best = out.max(initial=0.0)
        return out / best if best > 0 else out


class _Fields:
    """The words, pairs and characters fields of the same documents (articles, or
    chapters), their scores added in their weights."""

    CUTS: tuple[tuple[Callable[[str], list[str]], float], ...] = (
        (pairs, PAIRS_WEIGHT),
        (characters, CHARACTERS_WEIGHT),
    )

    def __init__(self, cut: Sequence[list[list[str]]]) -> None:
        """`cut`: every document's words, then its tokens by each of CUTS."""
        self._words = _Field(cut[0])
        self._cut = [
            (c, weight, _Field(tokens))
            for (c, weight), tokens in zip(self.CUTS, cut[1:], strict=True)
        ]

    def scores(self, terms: Mapping[str, float], said: str) -> np.ndarray:
        """Nothing when no word of the law's was heard: characters alone (嗯, 好) are
        no question."""
        out = self._words.scores(terms)
        if not out.any():
            return out
        for cut, weight, field in self._cut:
            out += weight * field.scores(dict.fromkeys(cut(said), 1.0))
        return out


class _Whole:
    """The articles of each law, or of each chapter, as one document: its score is
    each of its articles' share."""

    def __init__(self, cut: Sequence[list[list[str]]], keys: list[Hashable], weight: float):
        ids: dict[Hashable, int] = {}
        of = [ids.setdefault(key, len(ids)) for key in keys]
        self._fields = _Fields([_joined(tokens, of, len(ids)) for tokens in cut])
        self._of = np.array(of)
        self._weight = weight

    def scores(self, terms: Mapping[str, float], said: str) -> np.ndarray:
        return self._weight * self._fields.scores(terms, said)[self._of]


class _Asked:
    """The questions callers ask about some articles. Each question scores by how much
    of it the caller said: the share of its words, character pairs and characters
    (each weighed by how rare it is among the questions) found in what was said. An
    article takes its best question's share, so a caller who says nearly all of one
    gains its whole weight and one who shares a common fragment (申请仲裁) little:
    not scaled to the best, unlike the fields, where the best match always counts
    in full."""

    def __init__(self, segmenter: Segmenter, docs: Sequence[ArticleDoc], asked: Mapping[str, str]):
        position = {(d.law, d.number): i for i, d in enumerate(docs)}
        of: list[int] = []
        questions: list[set[str]] = []
        for written, line in asked.items():
            c = parse_written(written)
            if (c.law, c.number) not in position:  # a centre's own knowledge base may lack it
                continue
            for question in line.split():
                of.append(position[(c.law, c.number)])
                questions.append(_asked_tokens(segmenter, question))
        self._segmenter = segmenter
        self._size = len(docs)
        self._of = np.array(of, dtype=np.int64)
        df = Counter(t for tokens in questions for t in tokens)
        idf = {t: float(np.log1p(len(questions) / n)) for t, n in df.items()}
        # Each token: the questions holding it, and its weight in each (its idf over
        # the question's total), so a question's share is a sum over the tokens said.
        holders: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for q, tokens in enumerate(questions):
            total = sum(idf[t] for t in tokens)
            for t in tokens:
                holders[t].append((q, idf[t] / total))
        self._holders = {
            t: (np.array([q for q, _ in hs]), np.array([w for _, w in hs], dtype=np.float32))
            for t, hs in holders.items()
        }
        self._questions = len(questions)

    def scores(self, said: str) -> np.ndarray:
        """By the caller's own words, the law's or not (辞职, 社保 are no statute's)."""
        share = np.zeros(self._questions, dtype=np.float32)
        for token in _asked_tokens(self._segmenter, said):
            if token in self._holders:
                which, weight = self._holders[token]
                share[which] += weight
        out = np.zeros(self._size, dtype=np.float32)
        np.maximum.at(out, self._of, share)
        return out


def _asked_tokens(segmenter: Segmenter, text: str) -> set[str]:
    """A question's (or what was said's) words, character pairs and characters."""
    return {*segmenter.words(text), *pairs(text), *characters(text)}


def _shared(tokens: Iterable[list[str]]) -> list[list[str]]:
    """The same tokens, each distinct one a single object: a token made anew at each
    occurrence (hundreds of thousands of character pairs) is otherwise held as often."""
    one: dict[str, str] = {}
    return [[one.setdefault(t, t) for t in some] for some in tokens]


def _joined(tokens: list[list[str]], group: list[int], groups: int) -> list[list[str]]:
    """The tokens of each group's documents as one document."""
    out: list[list[str]] = [[] for _ in range(groups)]
    for g, some in zip(group, tokens, strict=True):
        out[g] += some
    return out


_NUMBERING = re.compile(r"第[一二三四五六七八九十百]+[编章节]|^[一二三四五六七八九十]+、|分编")


def _indexed_text(doc: ArticleDoc) -> str:
    # The headings say what the article is about in the law's own words (their
    # numbering says nothing).
    headings = _NUMBERING.sub(" ", f"{doc.chapter} · {doc.section}")
    return f"{headings} {doc.text}"
