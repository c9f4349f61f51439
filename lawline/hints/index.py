"""BM25 over every article of the knowledge base, in memory (about 4,000 articles:
a few MB), rebuilt when the knowledge base changes.

A query is what the citizen said: its words (jieba), the law's words for the phrases
heard (phrases.py), and words of the index that sound the same as a word said (a
recogniser's wrong character), weighed less. Articles of the laws of the contact's
legal domain are boosted; an article named aloud comes first.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import bm25s
import numpy as np

from lawline.hints.citation import Citation, SpokenCitations
from lawline.hints.phrases import expand
from lawline.hints.segment import Segmenter, legal_vocabulary, sound, sounds, spans
from lawline.queue.skills import Domain
from lawline.transcripts.text import compact

CIVIL_CODE = "民法典"
DOMAIN_BOOST = 1.3  # what the contact chose in the menu is a strong prior, not a filter
SOUND_WEIGHT = 0.6  # a homophone is a guess at what was said
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
        corpus = [self.segmenter.words(_indexed_text(d)) for d in self.docs]
        self._bm25 = bm25s.BM25()
        self._bm25.index(corpus, show_progress=False)
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
        scores = np.zeros(len(self.docs), dtype=np.float32)
        for term, weight in self.query_terms(said).items():
            scores += weight * self._bm25.get_scores([term])
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


_NUMBERING = re.compile(r"第[一二三四五六七八九十百]+[编章节]|^[一二三四五六七八九十]+、|分编")


def _indexed_text(doc: ArticleDoc) -> str:
    # The headings say what the article is about in the law's own words (their
    # numbering says nothing).
    headings = _NUMBERING.sub(" ", f"{doc.chapter} · {doc.section}")
    return f"{headings} {doc.text}"
