"""Sub-task leases: the attempt that holds a sub-task (its token) and until when (fencing).

Revision ID: 0002_fencing
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

#: Alembic's revision identifiers.
revision: str = "0002_fencing"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("subtasks") as batch:
        batch.add_column(sa.Column("lease_token", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("lease_until", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("subtasks") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("lease_token")
