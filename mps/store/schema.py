"""The task store's tables (SQLAlchemy Core). The migrations in ``mps/store/migrations`` create
exactly this; ``tests/integration/test_sql_store.py`` compares the two so they cannot drift."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

#: Constraint names are spelled out so migrations on every backend refer to the same ones.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


def as_utc(value: datetime) -> datetime:
    """``value`` as an aware UTC instant, as a :class:`UtcDateTime` column reads it back (naive
    values count as UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class UtcDateTime(sa.TypeDecorator[datetime]):
    """A UTC instant. Stored naive (SQLite has no time zones, and one rule for both backends keeps
    comparisons right); naive values passed in count as UTC, values read back are aware UTC."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


tasks = sa.Table(
    "tasks",
    metadata,
    # A monotonic position, the key of ScrollToken paging (task ids are random).
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("task_id", sa.String(128), nullable=False, unique=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("request", sa.JSON, nullable=False),
    sa.Column("workflow_task", sa.JSON, nullable=True),
    sa.Column("metadata", sa.JSON, nullable=True),
    sa.Column("err_code", sa.Integer, nullable=False, default=0),
    sa.Column("message", sa.Text, nullable=False, default=""),
    # Unique when set: the race-safe SessionId de-duplication. NULLs never collide.
    sa.Column("session_id", sa.String(64), nullable=True, unique=True),
    sa.Column("session_context", sa.Text, nullable=False, default=""),
    sa.Column("notify", sa.JSON, nullable=True),
    sa.Column("priority", sa.Integer, nullable=False, default=0),
    sa.Column("workflow_id", sa.Integer, nullable=True),
    sa.Column("create_time", UtcDateTime, nullable=False),
    sa.Column("begin_time", UtcDateTime, nullable=True),
    sa.Column("finish_time", UtcDateTime, nullable=True),
    # bucket/key or URL of the input (``mps.store.base.input_name``): what the console searches.
    sa.Column("input_name", sa.String(1024), nullable=False, default="", server_default=""),
    # When a task given TimeoutSeconds must be over (ours): the relay aborts it past this instant.
    sa.Column("deadline", UtcDateTime, nullable=True, index=True),
    sa.Index(None, "status", "seq"),
    # The console's filters and the metrics' counts (migration 0002).
    sa.Index(None, "workflow_id", "seq"),
    sa.Index(None, "create_time"),
    sa.Index(None, "status", "err_code"),
)

subtasks = sa.Table(
    "subtasks",
    metadata,
    sa.Column(
        "task_id", sa.String(128), sa.ForeignKey("tasks.task_id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("subtask_index", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("input", sa.JSON, nullable=False),
    sa.Column("result", sa.JSON, nullable=True),
    sa.Column("progress", sa.Integer, nullable=False, default=0),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("begin_time", UtcDateTime, nullable=True),
    sa.Column("finish_time", UtcDateTime, nullable=True),
    # The attempt that holds the sub-task while it runs, and until when: a fence, so that two runs
    # of one sub-task never overlap and only the holder's result is committed.
    sa.Column("lease_token", sa.String(64), nullable=True),
    sa.Column("lease_until", UtcDateTime, nullable=True),
    sa.Index(None, "status"),
)

#: Every event of a task in order (DescribeTaskHistory, orchestration.md §5), each written by the
#: transaction of its transition; deleted with the task (purge, and the foreign key's cascade).
task_history = sa.Table(
    "task_history",
    metadata,
    # Monotonic across tasks: a task's events sort by it (reads number them 1..n).
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("task_id", sa.String(128), sa.ForeignKey("tasks.task_id", ondelete="CASCADE"), nullable=False),
    sa.Column("time", UtcDateTime, nullable=False),
    sa.Column("event", sa.String(16), nullable=False),
    sa.Column("subtask_index", sa.Integer, nullable=True),
    sa.Column("attempt", sa.Integer, nullable=True),
    sa.Column("detail", sa.JSON, nullable=False),
    sa.Index(None, "task_id", "seq"),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    # No foreign key: an event outlives the task it reports on (tasks are purged after 7 days).
    sa.Column("task_id", sa.String(128), nullable=True),
    sa.Column("target_kind", sa.String(16), nullable=False),
    sa.Column("target_name", sa.String(2048), nullable=False),
    sa.Column("target_key", sa.String(255), nullable=False, default=""),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_at", UtcDateTime, nullable=False),
    sa.Column("sent_at", UtcDateTime, nullable=True),
    sa.Column("last_error", sa.Text, nullable=False, default=""),
    sa.Index(None, "sent_at", "next_attempt_at"),
    sa.Index(None, "task_id"),
)

templates = sa.Table(
    "templates",
    metadata,
    sa.Column("family", sa.String(32), primary_key=True),
    sa.Column("definition", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(255), nullable=False, default=""),
    sa.Column("body", sa.JSON, nullable=False),
    sa.Column("create_time", UtcDateTime, nullable=False),
    sa.Column("update_time", UtcDateTime, nullable=False),
)

#: The next Definition per family. Allocating = an UPDATE of this row, which also serializes the
#: creates of one family, so the per-family limit holds under concurrency too.
template_sequences = sa.Table(
    "template_sequences",
    metadata,
    sa.Column("family", sa.String(32), primary_key=True),
    sa.Column("next_definition", sa.Integer, nullable=False),
)

workflows = sa.Table(
    "workflows",
    metadata,
    sa.Column("workflow_id", sa.Integer, primary_key=True, autoincrement=True),
    #: ``workflow`` or ``schedule`` (an orchestration): one id sequence, one bucket-event intake.
    sa.Column("kind", sa.String(16), nullable=False, server_default="workflow"),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("body", sa.JSON, nullable=False),
    sa.Column("trigger_bucket", sa.String(255), nullable=False),
    sa.Column("trigger_dir", sa.String(1024), nullable=False, default="/"),
    sa.Column("create_time", UtcDateTime, nullable=False),
    sa.Column("update_time", UtcDateTime, nullable=False),
    sa.Index(None, "trigger_bucket", "status"),
    sa.UniqueConstraint("kind", "name"),
)

#: One row per bucket event that fired a workflow: the key makes redelivered events harmless.
bucket_events = sa.Table(
    "bucket_events",
    metadata,
    sa.Column("workflow_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("bucket", sa.String(255), primary_key=True),
    sa.Column("object_key", sa.String(1024), primary_key=True),
    sa.Column("etag", sa.String(255), primary_key=True),
    sa.Column("task_id", sa.String(128), nullable=True),
    sa.Column("create_time", UtcDateTime, nullable=False),
)

#: Named leases (one per timed trigger): who may run its tick now, and when the last one was due.
trigger_leases = sa.Table(
    "trigger_leases",
    metadata,
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("holder", sa.String(255), nullable=True),
    sa.Column("expires", UtcDateTime, nullable=True),
    sa.Column("last_tick", UtcDateTime, nullable=True),
)
