"""Alembic's entry point: run the migrations on lawline's database."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

# Register the tables autogenerate compares.
import lawline.accounts.models
import lawline.cases.models
import lawline.mediation.models
import lawline.quality.models
import lawline.statutes.models
import lawline.terminals.models  # noqa: F401
from lawline.db import Base, make_engine

config = context.config


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from lawline.config import Settings

    return Settings().database


def _ours(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """What autogenerate compares: not the full-text index's own tables, index and
    PostgreSQL's stored search vector, which the migrations make per database (see
    versions/0003, 0008, 0012 and 0014)."""
    if type_ == "column" and name in ("body_tsv", "body_bigrams"):
        return False
    return not (name or "").startswith(
        (
            "contact_search_fts",
            "ix_contact_search_body_tsv",
            "ix_contact_search_body_bigrams",
            "ix_contact_search_newest",
        )
    )


def _run(connection: Connection) -> None:
    # Batch mode: SQLite cannot ALTER most things, so Alembic copies the table instead.
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,
        include_object=_ours,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
elif (given := config.attributes.get("connection")) is not None:
    _run(given)  # lawline.db.upgrade passes its own connection
else:
    engine = make_engine(_url())
    try:
        with engine.begin() as connection:
            _run(connection)
    finally:
        engine.dispose()
