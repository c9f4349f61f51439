"""`lawline hints suggest` and `lawline hints eval`: the statute hints from the command
line (lawline/hints), on the configured database's knowledge base."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lawline.cli.output import fail
from lawline.queue.skills import Domain

if TYPE_CHECKING:
    from lawline.hints.service import StatuteHints

app = typer.Typer(help="Statute hints from what a caller says.", no_args_is_help=True)

DomainOption = Annotated[
    Domain | None, typer.Option(help="The contact's legal domain: its laws rank higher.")
]


def _hints() -> StatuteHints:
    from datetime import UTC, datetime

    from lawline.cli.stores import database
    from lawline.config import Settings
    from lawline.hints.service import StatuteHints
    from lawline.statutes.store import import_shipped_pack

    db = database(Settings())
    with db() as session, session.begin():
        import_shipped_pack(session, datetime.now(UTC))  # as at first start
    return StatuteHints(db)


@app.command("suggest")
def suggest(
    text: Annotated[str, typer.Argument(help="What the caller said.")],
    as_json: Annotated[bool, typer.Option("--json", help="A JSON list of hints.")] = False,
    domain: DomainOption = None,
    limit: Annotated[int, typer.Option(min=1, max=20, help="How many hints.")] = 3,
) -> None:
    """The articles that fit TEXT best, best first."""
    hints = _hints().suggest(text, domain, limit)
    if as_json:
        typer.echo(json.dumps([h.to_json() for h in hints], ensure_ascii=False, indent=1))
        return
    for h in hints:
        typer.echo(f"{h.score:7.2f}  {h.citation}  {h.text[:60]}")


@app.command("eval")
def evaluate(
    file: Annotated[Path, typer.Argument(help="TSV: id, text, expected 《law》第N条;...")],
    domain: DomainOption = None,
    verbose: Annotated[bool, typer.Option("--verbose", help="Every question's hints.")] = False,
) -> None:
    """Recall@1, recall@3, MRR and latency on a question set; the last line is
    `recall@3=... p50_ms=... p99_ms=...`."""
    from lawline.hints.evaluate import figures, read_questions, run

    try:
        questions = read_questions(file)
    except (OSError, ValueError) as exc:
        fail(exc)
    hints = _hints()
    hints.suggest("预热")  # the index is built once, not inside the first question's time
    outcomes = run(questions, lambda said: hints.suggest(said, domain, 10))
    for o in outcomes:
        if verbose or o.rank is None or o.rank > 3:
            mark = f"rank {o.rank}" if o.rank else "missed"
            typer.echo(f"{o.question.id}\t{mark}\t{' '.join(o.got[:3])}")
    f = figures(outcomes)
    typer.echo(f"questions={f.questions} recall@1={f.recall_at_1:.3f} mrr={f.mrr:.3f}")
    typer.echo(f.line())
