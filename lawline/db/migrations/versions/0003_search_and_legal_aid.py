"""Full-text search of transcripts (both databases), legal-aid applications, and the
event that made a contact's first lawyer (so replays in any order keep the right one).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# SQLite: an FTS5 index over contact_search, kept in step by triggers (the external
# content pattern of SQLite's FTS5 documentation).
SQLITE_FTS = [
    "CREATE VIRTUAL TABLE contact_search_fts USING fts5("
    "body, content='contact_search', content_rowid='rowid')",
    "CREATE TRIGGER contact_search_ai AFTER INSERT ON contact_search BEGIN "
    "INSERT INTO contact_search_fts(rowid, body) VALUES (new.rowid, new.body); END",
    "CREATE TRIGGER contact_search_ad AFTER DELETE ON contact_search BEGIN "
    "INSERT INTO contact_search_fts(contact_search_fts, rowid, body) "
    "VALUES ('delete', old.rowid, old.body); END",
    "CREATE TRIGGER contact_search_au AFTER UPDATE ON contact_search BEGIN "
    "INSERT INTO contact_search_fts(contact_search_fts, rowid, body) "
    "VALUES ('delete', old.rowid, old.body); "
    "INSERT INTO contact_search_fts(rowid, body) VALUES (new.rowid, new.body); END",
]
PG_INDEX = (
    "CREATE INDEX ix_contact_search_body_tsv ON contact_search "
    "USING gin (to_tsvector('simple', body))"
)


def upgrade() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("first_answer_event", sa.String(length=32), nullable=True))
    op.create_table(
        "contact_search",
        sa.Column("contact_id", sa.String(length=64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_contact_search_contact_id_contacts")
        ),
        sa.PrimaryKeyConstraint("contact_id", name=op.f("pk_contact_search")),
    )
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_FTS:
            op.execute(statement)
    else:
        op.execute(PG_INDEX)
    op.create_table(
        "legal_aid_applications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("applicant_name", sa.String(length=100), nullable=False),
        sa.Column("id_number", sa.String(length=18), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("facts", sa.Text(), nullable=False),
        sa.Column("exemptions", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_legal_aid_applications_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_aid_applications")),
    )
    with op.batch_alter_table("legal_aid_applications", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_legal_aid_applications_case_id"), ["case_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("legal_aid_applications")
    if op.get_bind().dialect.name == "sqlite":
        for name in ("contact_search_ai", "contact_search_ad", "contact_search_au"):
            op.execute(f"DROP TRIGGER {name}")
        op.execute("DROP TABLE contact_search_fts")
    op.drop_table("contact_search")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_column("first_answer_event")
