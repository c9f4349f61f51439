"""`lawline search-index`: the ledger search's newest-first index, built where the
database can have it (see cases/search_index.py)."""

from __future__ import annotations

import typer

from lawline.cli.output import fail


def search_index() -> None:
    """Build the PostgreSQL index that gives a phrase's newest transcripts first (after
    the server gained the rum extension); the table is locked for writes meanwhile."""
    from lawline.cases.search_index import build_newest_index
    from lawline.config import Settings
    from lawline.db import make_engine, upgrade

    settings = Settings()
    upgrade(settings.database)
    engine = make_engine(settings.database)
    try:
        if engine.dialect.name != "postgresql":
            typer.echo("SQLite: its full-text index already gives the newest first")
            return
        with engine.begin() as conn:
            if not build_newest_index(conn):
                fail("the rum extension is not available to this role (see README)", 1)
        typer.echo("search index: newest first (rum)")
    finally:
        engine.dispose()
