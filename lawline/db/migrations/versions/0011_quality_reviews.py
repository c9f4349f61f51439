"""Quality review of every call (质量评价): the rules' findings and score, and the
supervisor's confirmation or correction.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "quality_reviews",
        sa.Column("contact_id", sa.String(64), sa.ForeignKey("contacts.id"), primary_key=True),
        sa.Column("lawyer", sa.String(64), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("critical_failed", sa.Boolean(), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.Column("confirmed_score", sa.Float(), nullable=True),
        sa.Column("reviewer", sa.String(64), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
    )
    for column in ("lawyer", "reviewed_at", "score"):
        op.create_index(op.f(f"ix_quality_reviews_{column}"), "quality_reviews", [column])


def downgrade() -> None:
    op.drop_table("quality_reviews")
