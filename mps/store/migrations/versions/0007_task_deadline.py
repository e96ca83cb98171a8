"""Task deadlines: a task given ``TimeoutSeconds`` is aborted by the relay once it runs past it.

Revision ID: 0007_deadline
Revises: 0006_history
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

#: Alembic's revision identifiers.
revision: str = "0007_deadline"
down_revision: str | None = "0006_history"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("deadline", sa.DateTime(), nullable=True))
        batch.create_index("ix_tasks_deadline", ["deadline"])


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_index("ix_tasks_deadline")
        batch.drop_column("deadline")
