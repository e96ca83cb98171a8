"""Console indexes: the task list's filters, the task page's events, the metrics' counts; and the
``input_name`` column the console searches (filled in for existing tasks).

Revision ID: 0002_console
Revises: 0002_fencing
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

#: Alembic's revision identifiers.
revision: str = "0002_console"
down_revision: str | None = "0002_fencing"
branch_labels: str | None = None
depends_on: str | None = None

#: Rows filled in per UPDATE batch when existing tasks get their input name.
_BATCH = 1000


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("input_name", sa.String(length=1024), nullable=False, server_default=""))
    op.create_index(op.f("ix_tasks_workflow_id_seq"), "tasks", ["workflow_id", "seq"], unique=False)
    op.create_index(op.f("ix_tasks_create_time"), "tasks", ["create_time"], unique=False)
    op.create_index(op.f("ix_tasks_status_err_code"), "tasks", ["status", "err_code"], unique=False)
    op.create_index(op.f("ix_subtasks_status"), "subtasks", ["status"], unique=False)
    op.create_index(op.f("ix_outbox_task_id"), "outbox", ["task_id"], unique=False)
    _fill_input_names()


def _fill_input_names() -> None:
    tasks = sa.table(
        "tasks", sa.column("seq", sa.Integer), sa.column("request", sa.JSON), sa.column("input_name")
    )
    conn = op.get_bind()
    last = 0
    while True:
        rows = conn.execute(
            sa.select(tasks.c.seq, tasks.c.request)
            .where(tasks.c.seq > last)
            .order_by(tasks.c.seq)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        for seq, request in rows:
            name = _input_name(request if isinstance(request, dict) else {})
            if name:
                conn.execute(sa.update(tasks).where(tasks.c.seq == seq).values(input_name=name))
        last = rows[-1][0]


def _input_name(request: dict[str, Any]) -> str:
    # Frozen copy of mps.store.base.input_name as of this revision.
    info = request.get("InputInfo") or {}
    cos, s3, url = info.get("CosInputInfo"), info.get("S3InputInfo"), info.get("UrlInputInfo")
    if isinstance(cos, dict):
        return f"{cos.get('Bucket', '')}/{str(cos.get('Object', '')).lstrip('/')}"[:1024]
    if isinstance(s3, dict):
        return f"{s3.get('S3Bucket', '')}/{str(s3.get('S3Object', '')).lstrip('/')}"[:1024]
    if isinstance(url, dict):
        return str(url.get("Url", ""))[:1024]
    return ""


def downgrade() -> None:
    op.drop_index(op.f("ix_outbox_task_id"), table_name="outbox")
    op.drop_index(op.f("ix_subtasks_status"), table_name="subtasks")
    op.drop_index(op.f("ix_tasks_status_err_code"), table_name="tasks")
    op.drop_index(op.f("ix_tasks_create_time"), table_name="tasks")
    op.drop_index(op.f("ix_tasks_workflow_id_seq"), table_name="tasks")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("input_name")
