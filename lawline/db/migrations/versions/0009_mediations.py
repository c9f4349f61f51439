"""Mediations: a mediation case's schedule, state and outcome, and its parties.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mediations",
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("contact_id", sa.String(length=64), nullable=True),
        sa.Column("outcome", sa.String(length=16), server_default="", nullable=False),
        sa.Column("facts", sa.Text(), server_default="", nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("oral", sa.Boolean(), nullable=False),
        sa.Column("consent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_mediations_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_mediations")),
    )
    op.create_index(op.f("ix_mediations_state"), "mediations", ["state"])
    op.create_index(op.f("ix_mediations_scheduled_at"), "mediations", ["scheduled_at"])
    op.create_index(op.f("ix_mediations_closed_at"), "mediations", ["closed_at"])
    op.create_table(
        "mediation_parties",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("reach", sa.String(length=16), nullable=False),
        sa.Column("phone", sa.String(length=32), server_default="", nullable=False),
        sa.Column("terminal_id", sa.String(length=64), server_default="", nullable=False),
        sa.Column("address", sa.String(length=200), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["mediations.case_id"],
            name=op.f("fk_mediation_parties_case_id_mediations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mediation_parties")),
    )
    op.create_index(op.f("ix_mediation_parties_case_id"), "mediation_parties", ["case_id"])


def downgrade() -> None:
    op.drop_table("mediation_parties")
    op.drop_table("mediations")
