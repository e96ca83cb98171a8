"""The task store: tasks, sub-tasks, the event outbox, custom templates and workflows.

``TaskStore`` is the protocol; ``SqlTaskStore`` runs on SQLite (default) or PostgreSQL, with its
schema migrated by alembic on open; ``MemoryTaskStore`` is the in-memory twin for unit tests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mps.lazy import lazy_exports
from mps.store.base import (
    ABORTED_ERR_CODE,
    CUSTOM_DEFINITION_BASE,
    SESSION_TTL,
    TEMPLATE_LIMITS,
    BucketTrigger,
    Completion,
    ConflictError,
    EventTarget,
    Followup,
    JsonDict,
    LeaseRecord,
    Merger,
    NewSubtask,
    NewTask,
    OutboxRecord,
    SubtaskRecord,
    TaskRecord,
    TaskStore,
    TemplateRecord,
    TriggerLeases,
    UnstartedSubtask,
    WorkflowRecord,
    WorkflowStatusError,
    new_task_id,
)

if TYPE_CHECKING:
    from mps.store.memory import MemoryTaskStore
    from mps.store.migrate import migrate_url
    from mps.store.sql import SqlTaskStore
    from mps.store.sqlbase import map_db_errors

#: Loaded on first use: the SQL store brings SQLAlchemy and alembic (a quarter of a second to
#: import), which `mps process` and every other process without a database should not pay.
_LAZY = {
    "MemoryTaskStore": "mps.store.memory",
    "SqlTaskStore": "mps.store.sql",
    "map_db_errors": "mps.store.sqlbase",
    "migrate_url": "mps.store.migrate",
}


__getattr__ = lazy_exports(__name__, _LAZY)


__all__ = [
    "ABORTED_ERR_CODE",
    "CUSTOM_DEFINITION_BASE",
    "SESSION_TTL",
    "TEMPLATE_LIMITS",
    "BucketTrigger",
    "Completion",
    "Followup",
    "ConflictError",
    "EventTarget",
    "JsonDict",
    "LeaseRecord",
    "MemoryTaskStore",
    "Merger",
    "NewSubtask",
    "NewTask",
    "OutboxRecord",
    "SqlTaskStore",
    "SubtaskRecord",
    "TaskRecord",
    "TaskStore",
    "TemplateRecord",
    "TriggerLeases",
    "UnstartedSubtask",
    "WorkflowRecord",
    "WorkflowStatusError",
    "map_db_errors",
    "migrate_url",
    "new_task_id",
]
