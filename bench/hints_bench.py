"""Statute hints: how long a suggestion takes over the whole shipped pack, on SQLite and
on PostgreSQL, and how often the expected article is among the first three.

Run by hand from the project root:

    .venv/bin/python bench/hints_bench.py                  # both databases, 5 rounds
    .venv/bin/python bench/hints_bench.py --db sqlite --rounds 20
    .venv/bin/python bench/hints_bench.py --postgres-url postgresql+psycopg://me@127.0.0.1:5432

Each database gets the schema and the shipped pack (44 instruments, 3,978 articles) the
way lawline's first start imports it (timed), then one `StatuteHints` as a web process
holds it: its index is built at the first suggestion (timed apart, not counted), then
read back from disk by a second one, as a later process does (timed apart too).
A suggestion is what the console asks for: the last utterances' text (and the contact's
domain, for the pack's own articles below) in, the top three hints with their text out
(`StatuteHints.suggest`: the search in memory, then the three articles read from the
database in a session of their own). Timed are: every question of the question sets
in tests/hints (what callers say, recogniser errors included), `--rounds` times,
and `--synthetic` passages of the pack itself (12 to 40 characters from a random
article, with its law's domain where it has one), whose own article should come back:
a check that every part of the pack is reachable. Recall@1, recall@3 and MRR (over the
first ten) per question set: `questions.tsv` is the set the phrase map and weights were
tuned on; `heldout.tsv` to `heldout8.tsv` were not (`heldout6` to `heldout8` were written
apart from the code and the other sets; the README says which set saw which change).

SQLite: lawline's settings (WAL) in a file in a temporary folder. PostgreSQL: a private
cluster on a free loopback port (initdb's settings, fsync off), or --postgres-url's
server, in a database of the bench's own, dropped afterwards.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

# This checkout's lawline and the tests' private PostgreSQL cluster (run from anywhere).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lawline.db import make_engine, session_factory, upgrade
from lawline.hints import stored
from lawline.hints.citation import Citation
from lawline.hints.evaluate import Figures, figures, percentile, read_questions, run
from lawline.hints.index import DOMAIN_LAWS
from lawline.hints.service import StatuteHints
from lawline.queue.skills import Domain
from lawline.statutes.store import import_shipped_pack
from tests.postgres import have_postgres, private_postgres, scratch_database

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "tests" / "hints"
# Every question set there, the tuned one first.
SETS = tuple(sorted((p.stem for p in QUESTIONS.glob("*.tsv")), key=lambda s: (s != "questions", s)))


@dataclass
class Result:
    name: str
    import_s: float = 0.0
    build_s: float = 0.0
    read_back_s: float = 0.0
    ms: list[float] = field(default_factory=list)
    recall: dict[str, Figures] = field(default_factory=dict)
    synthetic_at_3: float = 0.0

    def p(self, q: float) -> float:
        return percentile(sorted(self.ms), q)


def synthetic(hints: StatuteHints, n: int, seed: int) -> list[tuple[str, Domain | None, Citation]]:
    """Passages of random articles, with their law's domain where one lists it."""
    from lawline.hints.index import ArticleDoc

    with hints._db() as session:
        docs: list[ArticleDoc] = hints.index(session).docs
    rng = random.Random(seed)
    out = []
    for doc in rng.sample(docs, min(n, len(docs))):
        text = doc.text.replace("\n", "")
        length = rng.randint(12, 40)
        start = rng.randint(0, max(0, len(text) - length))
        domain = next((d for d, laws in DOMAIN_LAWS.items() if set(doc.laws()) & laws), None)
        out.append((text[start : start + length], domain, Citation(doc.law, doc.number)))
    return out


def bench(name: str, url: str, args: argparse.Namespace) -> Result:
    r = Result(name)
    upgrade(url)
    engine = make_engine(url)
    db = session_factory(engine)
    try:
        start = time.perf_counter()
        with db() as session, session.begin():
            import_shipped_pack(session, datetime.now(UTC))
        r.import_s = time.perf_counter() - start
        with tempfile.TemporaryDirectory(prefix="hints-bench-kept-") as kept:
            hints = StatuteHints(db, keep_in=Path(kept))
            stored.forget()  # built here, not handed over from the database before
            start = time.perf_counter()
            hints.suggest("预热")
            r.build_s = time.perf_counter() - start
            # What a later process does: the index read back from disk (stored.py).
            stored.forget()
            start = time.perf_counter()
            StatuteHints(db, keep_in=Path(kept)).warm()
            r.read_back_s = time.perf_counter() - start
        sets = {s: read_questions(QUESTIONS / f"{s}.tsv") for s in SETS}
        for s, questions in sets.items():
            r.recall[s] = figures(run(questions, lambda said: hints.suggest(said, None, 10)))
        everything = [q for qs in sets.values() for q in qs]
        for _ in range(args.rounds):
            for q in everything:
                t = time.perf_counter()
                hints.suggest(q.text)
                r.ms.append((time.perf_counter() - t) * 1000)
        found = 0
        passages = synthetic(hints, args.synthetic, args.seed)
        for text, domain, citation in passages:
            t = time.perf_counter()
            got = hints.suggest(text, domain)
            r.ms.append((time.perf_counter() - t) * 1000)
            found += any(Citation(h.law, h.number) == citation for h in got)
        r.synthetic_at_3 = found / (len(passages) or 1)
    finally:
        engine.dispose()
    return r


def report(results: Sequence[Result]) -> None:
    print(f"\n{'':<30}" + "".join(f"{r.name:>14}" for r in results))
    rows = [
        ("pack import at first start s", [f"{r.import_s:.2f}" for r in results]),
        ("index build s", [f"{r.build_s:.2f}" for r in results]),
        ("index read back s", [f"{r.read_back_s:.2f}" for r in results]),
        ("suggestions timed", [f"{len(r.ms):,}" for r in results]),
        ("suggestion p50 ms", [f"{r.p(50):.2f}" for r in results]),
        ("suggestion p99 ms", [f"{r.p(99):.2f}" for r in results]),
        ("suggestion max ms", [f"{max(r.ms, default=0):.2f}" for r in results]),
        ("pack passages found @3", [f"{r.synthetic_at_3:.3f}" for r in results]),
    ]
    for label, values in rows:
        print(f"{label:<30}" + "".join(f"{v:>14}" for v in values))
    first = results[0]
    print(f"\n{'question set':<14}{'questions':>10}{'recall@1':>10}{'recall@3':>10}{'MRR':>8}")
    for s, f in first.recall.items():
        print(f"{s:<14}{f.questions:>10}{f.recall_at_1:>10.3f}{f.recall_at_3:>10.3f}{f.mrr:>8.3f}")
    for r in results[1:]:
        if {s: f.recall_at_3 for s, f in r.recall.items()} != {
            s: f.recall_at_3 for s, f in first.recall.items()
        }:
            print(f"  !! {r.name} ranks differently from {first.name}")


def summary(results: Sequence[Result]) -> str:
    parts = []
    for r in results:
        parts += [f"{r.name}_p50_ms={r.p(50):.2f}", f"{r.name}_p99_ms={r.p(99):.2f}"]
    recall = results[0].recall
    parts += [f"recall3_{s}={recall[s].recall_at_3:.3f}" for s in SETS]
    parts += [f"mrr_{s}={recall[s].mrr:.3f}" for s in SETS]
    return " ".join(parts)


@contextmanager
def databases(args: argparse.Namespace) -> Iterator[list[tuple[str, str]]]:
    with ExitStack() as stack:
        out = []
        if args.db in ("sqlite", "both"):
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="hints-bench-"))
            out.append(("sqlite", f"sqlite:///{folder}/lawline.db"))
        if args.db in ("postgresql", "both"):
            server = args.postgres_url
            if not server:
                if not have_postgres():
                    raise SystemExit("no PostgreSQL server installed (scripts/setup.sh)")
                server = stack.enter_context(private_postgres("hints-bench-pg-"))
            out.append(("postgresql", stack.enter_context(scratch_database(server, "hints"))))
        yield out


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    p.add_argument("--rounds", type=int, default=5, help="times each question is asked")
    p.add_argument("--synthetic", type=int, default=500, help="passages of the pack asked")
    p.add_argument("--seed", type=int, default=12348)
    p.add_argument("--postgres-url", help="a PostgreSQL server's base URL (else a private one)")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    results = []
    with databases(args) as targets:
        for name, url in targets:
            print(f"{name}: importing the pack, building the index, asking...", flush=True)
            results.append(bench(name, url, args))
    report(results)
    print()
    print(summary(results))


if __name__ == "__main__":
    main()
