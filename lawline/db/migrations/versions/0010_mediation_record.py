"""The mediation record (调解笔录): the room's transcript, per speaker, kept with the
mediation when its room closes; and its rooms' recordings (per side, after consent).

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mediations") as batch:
        batch.add_column(sa.Column("record", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("recordings", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mediations") as batch:
        batch.drop_column("recordings")
        batch.drop_column("record")
