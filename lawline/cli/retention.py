"""`lawline retention purge`: apply the configured retention (see lawline/retention.py)."""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(help="How long citizens' data is kept.", no_args_is_help=True)


@app.command("purge")
def purge(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would go; delete nothing.")
    ] = False,
) -> None:
    """Delete recordings, transcript text and contact details older than `cases.retention`
    allows (run it daily). Prints the counts; each run leaves an audit row."""
    from datetime import UTC, datetime

    from lawline.config import Settings
    from lawline.db import make_engine, session_factory, upgrade
    from lawline.logs import setup_logging
    from lawline.retention import purge as apply_retention

    setup_logging("INFO")
    settings = Settings()
    retention = settings.cases.retention
    upgrade(settings.database)
    engine = make_engine(settings.database)
    try:
        with session_factory(engine)() as session, session.begin():
            out = apply_retention(session, retention, settings.data_dir, datetime.now(UTC), dry_run)
    finally:
        engine.dispose()
    periods = retention.recordings_days, retention.transcripts_days, retention.contact_details_days
    if not any(periods):
        typer.echo("retention is off (cases.retention: every period is 0): nothing purged")
    typer.echo(("would purge: " if dry_run else "purged: ") + out.summary())
