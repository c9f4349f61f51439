"""PostgreSQL: the index that gives a phrase's newest transcripts first (RUM), where the
server has it, and the GIN index in its place where it does not (migration 0014).

RUM is GIN's design with more in each entry: here, the contact's `entered_at`
attached to every lexeme, so `WHERE body_bigrams @@ q ORDER BY entered_at <=| t`
walks the matches newest first and LIMIT stops it (cases/search.py). It is an
extension (Debian: postgresql-NN-rum) that only a role allowed to create extensions
can install; a server without it keeps the GIN index and search's earlier plans.
"""

from __future__ import annotations

import logging

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)

NEWEST_INDEX = "ix_contact_search_newest"
GIN_INDEX = "ix_contact_search_body_bigrams"


def has_newest_index(conn: Connection) -> bool:
    """Whether this database has the RUM index (search orders by it when it does)."""
    return conn.execute(text(f"SELECT to_regclass('{NEWEST_INDEX}') IS NOT NULL")).scalar_one()


def build_newest_index(conn: Connection) -> bool:
    """Make the RUM index and drop the GIN index it replaces; False (and nothing changed)
    where the server lacks the extension or this role may not create it."""
    if has_newest_index(conn):
        return True
    available = conn.execute(
        text("SELECT 1 FROM pg_available_extensions WHERE name = 'rum'")
    ).first()
    if available is None:
        log.warning("search: the rum extension is not on this server; keeping the GIN index")
        return False
    try:
        with conn.begin_nested():  # a refusal must not abort the migration's transaction
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS rum"))
    except DBAPIError as exc:
        log.warning(
            "search: the rum extension could not be created; keeping the GIN index",
            extra={"error": type(exc.orig).__name__},
        )
        return False
    conn.execute(
        text(
            f"CREATE INDEX {NEWEST_INDEX} ON contact_search "
            "USING rum (body_bigrams rum_tsvector_addon_ops, entered_at) "
            "WITH (attach = 'entered_at', to = 'body_bigrams')"
        )
    )
    conn.execute(text(f"DROP INDEX IF EXISTS {GIN_INDEX}"))
    return True


def drop_newest_index(conn: Connection) -> None:
    """Back to the GIN index (the extension stays: other databases may use it)."""
    conn.execute(text(f"DROP INDEX IF EXISTS {NEWEST_INDEX}"))
    conn.execute(
        text(f"CREATE INDEX IF NOT EXISTS {GIN_INDEX} ON contact_search USING gin (body_bigrams)")
    )
