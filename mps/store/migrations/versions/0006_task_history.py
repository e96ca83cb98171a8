"""Task history: every event of a task in order (DescribeTaskHistory), deleted with its task.

Revision ID: 0006_history
Revises: 0005_schedules
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

#: Alembic's revision identifiers.
revision: str = "0006_history"
down_revision: str | None = "0005_schedules"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "task_history",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("task_id", sa.String(length=128), nullable=False),
        sa.Column("time", sa.DateTime(), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("subtask_index", sa.Integer(), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.task_id"], name=op.f("fk_task_history_task_id_tasks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_task_history")),
    )
    op.create_index(op.f("ix_task_history_task_id_seq"), "task_history", ["task_id", "seq"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_task_history_task_id_seq"), table_name="task_history")
    op.drop_table("task_history")
