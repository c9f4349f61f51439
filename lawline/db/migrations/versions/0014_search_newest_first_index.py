"""A transcript's search row carries its contact's time; on PostgreSQL with RUM, one
index gives the newest transcripts holding a phrase first.

A phrase search shows the newest 100 contacts holding it. PostgreSQL's GIN index
finds the transcripts holding the phrase's lexemes but in no useful order, so a rare
phrase (彩礼, in 0.7 % of transcripts) read every match's row before the newest could
be picked: about 3,000 rows on as many pages at a million contacts, 95-117 ms p50 and
up to 283 ms. A RUM index (the `rum` extension, Debian's postgresql-NN-rum) over the
same vector with the contact's `entered_at` attached returns the matches already
newest first, so LIMIT stops the scan after 100 (search.said_in).

`contact_search.entered_at` is added on both databases and filled from `contacts`
(ingest writes it with the transcript from now on). On PostgreSQL, where the server
has the extension and this role may create it, the RUM index takes the GIN index's
place (it answers `@@` too). Where it cannot (a managed PostgreSQL without the
extension), the GIN index stays and search.said_in keeps its earlier plans; adding
the extension later, `lawline search-index` builds it (cases/search_index.py).

What it costs: filling the column rewrites every `contact_search` row (PostgreSQL
recomputes its stored vector), and the RUM index is built in the migration's
transaction, the table locked for writes throughout (events wait in Redis).

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from lawline.cases.search_index import build_newest_index, drop_newest_index
from lawline.db import UtcDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("contact_search", sa.Column("entered_at", UtcDateTime(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "UPDATE contact_search s SET entered_at = c.entered_at "
            "FROM contacts c WHERE c.id = s.contact_id"
        )
        build_newest_index(op.get_bind())
    else:
        op.execute(
            "UPDATE contact_search SET entered_at = "
            "(SELECT entered_at FROM contacts WHERE contacts.id = contact_search.contact_id)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        drop_newest_index(op.get_bind())
    op.drop_column("contact_search", "entered_at")
