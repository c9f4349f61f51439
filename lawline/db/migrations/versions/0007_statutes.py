"""The statutes knowledge base and the hints shown and pinned during contacts.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "statute_instruments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("part", sa.String(length=50), nullable=False),
        sa.Column("short_title", sa.String(length=200), nullable=False),
        sa.Column("level", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Date(), nullable=True),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statute_instruments")),
        sa.UniqueConstraint("title", "part", name=op.f("uq_statute_instruments_title")),
    )
    op.create_index(
        op.f("ix_statute_instruments_short_title"), "statute_instruments", ["short_title"]
    )
    op.create_table(
        "statute_articles",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("instrument_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=40), nullable=False),
        sa.Column("chapter", sa.String(length=300), nullable=False),
        sa.Column("section", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["instrument_id"],
            ["statute_instruments.id"],
            name=op.f("fk_statute_articles_instrument_id_statute_instruments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statute_articles")),
    )
    op.create_index(
        op.f("ix_statute_articles_instrument_id"), "statute_articles", ["instrument_id"]
    )
    op.create_table(
        "contact_hints",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("contact_id", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lawyer", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("law", sa.String(length=200), nullable=False),
        sa.Column("article", sa.String(length=40), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_hints")),
    )
    op.create_index(op.f("ix_contact_hints_contact_id"), "contact_hints", ["contact_id"])


def downgrade() -> None:
    op.drop_table("contact_hints")
    op.drop_table("statute_articles")
    op.drop_table("statute_instruments")
