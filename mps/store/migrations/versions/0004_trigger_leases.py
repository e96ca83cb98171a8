"""Trigger leases: one row per timed trigger (holder, expiry, last tick).

Revision ID: 0002_leases
Revises: 0002_console
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

#: Alembic's revision identifiers.
revision: str = "0002_leases"
down_revision: str | None = "0002_console"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "trigger_leases",
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("holder", sa.String(length=255), nullable=True),
        sa.Column("expires", sa.DateTime(), nullable=True),
        sa.Column("last_tick", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_trigger_leases")),
    )


def downgrade() -> None:
    op.drop_table("trigger_leases")
