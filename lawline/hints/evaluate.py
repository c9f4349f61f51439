"""`lawline hints eval FILE`: how often the expected article is among the hints, and
how long a suggestion takes.

FILE is TSV: id, what the caller said, the expected citations (《law》第N条, several
separated by ';'); '#' starts a comment line. A question counts as found at k when
any expected citation is among the first k hints.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lawline.hints.citation import Citation, parse_written
from lawline.hints.service import Hint


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    text: str
    expected: tuple[Citation, ...]


@dataclass(slots=True)
class Outcome:
    question: Question
    rank: int | None  # 1-based rank of the first expected citation among the hints
    ms: float
    got: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Figures:
    questions: int
    recall_at_1: float
    recall_at_3: float
    mrr: float
    p50_ms: float
    p99_ms: float

    def line(self) -> str:
        return f"recall@3={self.recall_at_3:.3f} p50_ms={self.p50_ms:.1f} p99_ms={self.p99_ms:.1f}"


def read_questions(path: Path) -> list[Question]:
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 3:
            raise ValueError(f"{path.name}:{n}: want 3 tab-separated fields, got {len(parts)}")
        expected = tuple(parse_written(c) for c in parts[2].split(";") if c.strip())
        out.append(Question(parts[0].strip(), parts[1].strip(), expected))
    return out


def run(
    questions: Iterable[Question], suggest: Callable[[str], Sequence[Hint]], k: int = 10
) -> list[Outcome]:
    out = []
    for q in questions:
        start = time.perf_counter()
        hints = suggest(q.text)
        ms = (time.perf_counter() - start) * 1000
        got = [Citation(h.law, h.number) for h in hints[:k]]
        rank = next((i + 1 for i, c in enumerate(got) if c in q.expected), None)
        out.append(Outcome(q, rank, ms, [str(c) for c in got]))
    return out


def figures(outcomes: Sequence[Outcome]) -> Figures:
    n = len(outcomes) or 1
    ms = sorted(o.ms for o in outcomes) or [0.0]
    return Figures(
        questions=len(outcomes),
        recall_at_1=sum(o.rank == 1 for o in outcomes) / n,
        recall_at_3=sum(o.rank is not None and o.rank <= 3 for o in outcomes) / n,
        mrr=sum(1 / o.rank for o in outcomes if o.rank) / n,
        p50_ms=percentile(ms, 50),
        p99_ms=percentile(ms, 99),
    )


def percentile(ordered: Sequence[float], p: float) -> float:
    """Nearest rank on sorted values."""
    if not ordered:
        return 0.0
    i = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[i]
