"""`lawline statutes import DIR`: instruments into the knowledge base (lawline/statutes)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lawline.cli.output import fail

app = typer.Typer(help="The statutes behind the hints.", no_args_is_help=True)


@app.command("import")
def import_(
    folder: Annotated[
        Path, typer.Argument(help="A folder of instruments in the pack's Markdown format.")
    ],
) -> None:
    """Import every instrument in FOLDER; one already there is replaced by a newer
    version of the same title. Running it again changes nothing."""
    from datetime import UTC, datetime

    from lawline.cli.stores import database
    from lawline.config import Settings
    from lawline.statutes.store import import_dir

    if not folder.is_dir():
        fail(f"not a folder: {folder}")
    db = database(Settings())
    with db() as session, session.begin():
        report = import_dir(session, folder, datetime.now(UTC))
    for name, why in report.refused:
        typer.echo(f"refused {name}: {why}", err=True)
    for name in report.older:
        typer.echo(f"kept the newer version of {name}")
    typer.echo(report.summary())
    if report.refused and not (report.added or report.replaced or report.unchanged):
        raise typer.Exit(1)
