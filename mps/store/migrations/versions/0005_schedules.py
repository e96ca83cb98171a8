"""Schedules (orchestrations) live in ``workflows``: a ``kind`` column (``workflow`` for every
existing row, or ``schedule``), and names unique per kind instead of across the table.

Revision ID: 0005_schedules
Revises: 0002_leases
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

#: Alembic's revision identifiers.
revision: str = "0005_schedules"
down_revision: str | None = "0002_leases"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # Batch mode: SQLite cannot drop a constraint in place, so the table is copied there.
    with op.batch_alter_table("workflows") as batch:
        batch.add_column(sa.Column("kind", sa.String(length=16), nullable=False, server_default="workflow"))
        batch.drop_constraint(op.f("uq_workflows_name"), type_="unique")
        batch.create_unique_constraint(op.f("uq_workflows_kind_name"), ["kind", "name"])


def downgrade() -> None:
    # Schedules have no place in the older schema (and their names could clash with workflows').
    op.execute(sa.text("DELETE FROM workflows WHERE kind = 'schedule'"))
    with op.batch_alter_table("workflows") as batch:
        batch.drop_constraint(op.f("uq_workflows_kind_name"), type_="unique")
        batch.create_unique_constraint(op.f("uq_workflows_name"), ["name"])
        batch.drop_column("kind")
