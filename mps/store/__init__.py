"""The task store: tasks, sub-tasks, the event outbox, custom templates and workflows.

``TaskStore`` is the protocol; ``SqlTaskStore`` runs on SQLite (default) or PostgreSQL, with its
schema migrated by alembic on open; ``MemoryTaskStore`` is the in-memory twin for unit tests.
"""

from __future__ import annotations

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
from mps.store.memory import MemoryTaskStore
from mps.store.migrate import migrate_url
from mps.store.sql import SqlTaskStore
from mps.store.sqlbase import map_db_errors

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
