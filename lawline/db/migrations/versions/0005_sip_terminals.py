"""SIP credentials for terminals that register with the SIP front (digest auth).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("terminals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sip_realm", sa.String(100), nullable=True))
        batch_op.add_column(sa.Column("sip_ha1", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("terminals", schema=None) as batch_op:
        batch_op.drop_column("sip_ha1")
        batch_op.drop_column("sip_realm")
