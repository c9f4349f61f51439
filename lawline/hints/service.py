"""Hints from the knowledge base in the database: the index built once per process
(or read back from disk: stored.py) and rebuilt when instruments are imported; each
hint's text read from the database, so a replaced instrument never shows its old
wording."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from lawline.hints import stored
from lawline.hints.index import ArticleDoc, HintIndex
from lawline.hints.segment import private_cache_folder
from lawline.queue.skills import Domain
from lawline.statutes.models import StatuteArticle, StatuteInstrument

MAX_SAID = 2000  # characters of speech searched: the last few utterances
RECHECK_S = 30.0  # how often the knowledge base is asked whether it changed

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Hint:
    law: str  # short title: 劳动合同法, 民法典, an interpretation's full title
    article: str  # as written: 第三十八条
    number: int
    text: str
    score: float
    title: str  # the instrument's full title (and the Civil Code's book)
    chapter: str
    article_id: int
    spoken: bool  # the caller named it

    @property
    def citation(self) -> str:
        return f"《{self.law}》{self.article}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"score": round(self.score, 3)}


class StatuteHints:
    def __init__(self, db: sessionmaker[Session], keep_in: Path | None = None) -> None:
        """`keep_in`: where built indexes are kept (stored.py); the user's private
        cache folder (segment.private_cache_folder) unless given."""
        self._db = db
        self._keep_in = keep_in
        self._index: HintIndex | None = None
        self._stamp: tuple[int, Any] | None = None
        self._checked = 0.0
        self._lock = threading.Lock()  # one rebuild at a time (routes run in threads)

    @property
    def ready(self) -> bool:
        """Its index is built (hints are answered at once, not after the build)."""
        return self._index is not None

    def index(self, session: Session) -> HintIndex:
        now = time.monotonic()
        if self._index is not None and now - self._checked < RECHECK_S:
            return self._index
        with self._lock:
            stamp = _stamp(session)
            if self._index is None or stamp != self._stamp:
                self._index = self._built(_documents(session))
                self._stamp = stamp
            self._checked = now
            return self._index

    def warm(self) -> None:
        """The index now, ahead of the first hint (the web process at start-up, in a
        thread: a hint asked for meanwhile waits for it)."""
        try:
            with self._db() as session:
                self.index(session)
        except Exception:
            # Hints are not worth a process that will not start: the first hint tries again.
            log.exception("statute hints index not built at start-up")

    def _built(self, docs: list[ArticleDoc]) -> HintIndex:
        folder = self._keep_in or private_cache_folder()  # None: none on disk
        key = stored.key(docs)
        index = stored.load(folder, key)
        if index is None:
            index = HintIndex(docs)
            stored.save(folder, key, index)
        return index

    def suggest(self, said: str, domain: Domain | None = None, limit: int = 3) -> list[Hint]:
        said = said[-MAX_SAID:]
        with self._db() as session:
            index = self.index(session)
            ranked = index.search(said, domain, limit)
            if not ranked:
                return []
            rows = session.execute(
                select(StatuteArticle, StatuteInstrument)
                .join(StatuteInstrument, StatuteInstrument.id == StatuteArticle.instrument_id)
                .where(StatuteArticle.id.in_([r.article_id for r in ranked]))
            ).all()
        found = {a.id: (a, i) for a, i in rows}
        out = []
        for r in ranked:
            if r.article_id not in found:
                continue  # replaced since the index was built: gone at the next check
            article, instrument = found[r.article_id]
            title = " ".join(filter(None, (instrument.title, instrument.part)))
            out.append(
                Hint(
                    law=instrument.short_title,
                    article=article.label,
                    number=article.number,
                    text=article.text,
                    score=r.score,
                    title=title,
                    chapter=" · ".join(filter(None, (article.chapter, article.section))),
                    article_id=article.id,
                    spoken=r.spoken,
                )
            )
        return out


def _stamp(session: Session) -> tuple[int, Any]:
    count, newest = session.execute(
        select(func.count(StatuteInstrument.id), func.max(StatuteInstrument.imported_at))
    ).one()
    return int(count), newest


def _documents(session: Session) -> list[ArticleDoc]:
    rows = session.execute(
        select(
            StatuteArticle.id,
            StatuteInstrument.short_title,
            StatuteInstrument.part,
            StatuteArticle.number,
            StatuteArticle.chapter,
            StatuteArticle.section,
            StatuteArticle.text,
            StatuteInstrument.level,
        )
        .join(StatuteInstrument, StatuteInstrument.id == StatuteArticle.instrument_id)
        .order_by(StatuteArticle.id)
    ).all()
    return [ArticleDoc(*row) for row in rows]
