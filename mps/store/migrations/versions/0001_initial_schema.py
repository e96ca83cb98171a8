"""Initial schema: tasks, sub-tasks, outbox, custom templates, workflows and bucket-event keys.

Timestamps are naive UTC (``mps.store.schema.UtcDateTime``); this file is frozen, so it spells
the plain ``DateTime`` it stores rather than importing the schema module.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

#: Alembic's revision identifiers.
revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "bucket_events",
        sa.Column("workflow_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("bucket", sa.String(length=255), nullable=False),
        sa.Column("object_key", sa.String(length=1024), nullable=False),
        sa.Column("etag", sa.String(length=255), nullable=False),
        sa.Column("task_id", sa.String(length=128), nullable=True),
        sa.Column("create_time", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("workflow_id", "bucket", "object_key", "etag", name=op.f("pk_bucket_events")),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("task_id", sa.String(length=128), nullable=True),
        sa.Column("target_kind", sa.String(length=16), nullable=False),
        sa.Column("target_name", sa.String(length=2048), nullable=False),
        sa.Column("target_key", sa.String(length=255), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    op.create_index(
        op.f("ix_outbox_sent_at_next_attempt_at"), "outbox", ["sent_at", "next_attempt_at"], unique=False
    )

    op.create_table(
        "tasks",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("task_id", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("workflow_task", sa.JSON(), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=True),
        sa.Column("err_code", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=True),
        sa.Column("session_context", sa.Text(), nullable=False),
        sa.Column("notify", sa.JSON(), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("workflow_id", sa.Integer(), nullable=True),
        sa.Column("create_time", sa.DateTime(), nullable=False),
        sa.Column("begin_time", sa.DateTime(), nullable=True),
        sa.Column("finish_time", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_tasks")),
        sa.UniqueConstraint("session_id", name=op.f("uq_tasks_session_id")),
        sa.UniqueConstraint("task_id", name=op.f("uq_tasks_task_id")),
    )
    op.create_index(op.f("ix_tasks_status_seq"), "tasks", ["status", "seq"], unique=False)

    op.create_table(
        "template_sequences",
        sa.Column("family", sa.String(length=32), nullable=False),
        sa.Column("next_definition", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("family", name=op.f("pk_template_sequences")),
    )
    op.create_table(
        "templates",
        sa.Column("family", sa.String(length=32), nullable=False),
        sa.Column("definition", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("create_time", sa.DateTime(), nullable=False),
        sa.Column("update_time", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("family", "definition", name=op.f("pk_templates")),
    )
    op.create_table(
        "workflows",
        sa.Column("workflow_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("trigger_bucket", sa.String(length=255), nullable=False),
        sa.Column("trigger_dir", sa.String(length=1024), nullable=False),
        sa.Column("create_time", sa.DateTime(), nullable=False),
        sa.Column("update_time", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("workflow_id", name=op.f("pk_workflows")),
        sa.UniqueConstraint("name", name=op.f("uq_workflows_name")),
    )
    op.create_index(
        op.f("ix_workflows_trigger_bucket_status"), "workflows", ["trigger_bucket", "status"], unique=False
    )

    op.create_table(
        "subtasks",
        sa.Column("task_id", sa.String(length=128), nullable=False),
        sa.Column("subtask_index", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("input", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("begin_time", sa.DateTime(), nullable=True),
        sa.Column("finish_time", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.task_id"], name=op.f("fk_subtasks_task_id_tasks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("task_id", "subtask_index", name=op.f("pk_subtasks")),
    )


def downgrade() -> None:
    op.drop_table("subtasks")
    op.drop_index(op.f("ix_workflows_trigger_bucket_status"), table_name="workflows")

    op.drop_table("workflows")
    op.drop_table("templates")
    op.drop_table("template_sequences")
    op.drop_index(op.f("ix_tasks_status_seq"), table_name="tasks")

    op.drop_table("tasks")
    op.drop_index(op.f("ix_outbox_sent_at_next_attempt_at"), table_name="outbox")

    op.drop_table("outbox")
    op.drop_table("bucket_events")
