"""The task store's protocol and its plain record types.

``TaskStore`` is the one seam between the processes (api, worker, listener, outbox relay) and the
database. Two implementations keep the same semantics: :class:`mps.store.sql.SqlTaskStore`
(SQLite by default, PostgreSQL when several hosts share it) and
:class:`mps.store.memory.MemoryTaskStore` (a lock and dicts, for unit tests of upper layers).

Guarantees every implementation keeps (design.md, "State and delivery guarantees"):

- a ``SessionId`` used within :data:`SESSION_TTL` names one task: a repeat returns that task with
  ``created=False``, never a second task (a unique key, not check-then-insert);
- a sub-task result is committed once: a redelivered message cannot record twice;
- a task finishes once, even when workers race, and its completion event is written to the outbox
  in the same transaction as the ``FINISH`` state, so an event is never lost.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol, runtime_checkable

from mps.errors import ERR_CODE_INTERNAL, MpsError

JsonDict = dict[str, Any]
#: The source of "now" a store uses; tests pass a settable one instead of patching.
Clock = Callable[[], datetime]
TaskStatus = Literal["WAITING", "PROCESSING", "FINISH"]
SubtaskStatus = Literal["WAITING", "PROCESSING", "SUCCESS", "FAIL"]
WorkflowStatus = Literal["Enabled", "Disabled"]

#: Sub-task states after which nothing about the sub-task changes any more.
FINAL_SUBTASK_STATUSES: frozenset[str] = frozenset({"SUCCESS", "FAIL"})
#: How long a SessionId stays taken (mps-api.md §5: "a repeat within 3 days is rejected").
SESSION_TTL = timedelta(days=3)
#: First Definition the store hands out in every family. Tencent's presets stop at 100800 (and
#: Tencent's own custom IDs are below a million), so 1000001 and up can never shadow a preset.
CUSTOM_DEFINITION_BASE = 1_000_001
#: Custom templates allowed per family (the SDK docstrings' per-account limits).
TEMPLATE_LIMITS: dict[str, int] = {
    "Transcode": 1000,
    "Watermark": 1000,
    "SnapshotByTimeOffset": 16,
    "SampleSnapshot": 16,
    "ImageSprite": 16,
    "AnimatedGraphics": 16,
    "AdaptiveDynamicStreaming": 100,
}
#: ErrCode and Message of a task ended by ``ManageTask Abort``.
ABORTED_ERR_CODE = ERR_CODE_INTERNAL
ABORTED_MESSAGE = "task aborted by ManageTask"
#: How long a claimed outbox row stays invisible to other relays unless marked sent or failed.
DEFAULT_OUTBOX_LEASE = timedelta(seconds=60)


def utc_now() -> datetime:
    """The current time, timezone-aware UTC (the default clock of every store)."""
    return datetime.now(UTC)


def new_task_id(account_id: str = "0") -> str:
    """A fresh TaskId in the suggested shape ``<accountId>-WorkflowTask-<32hex>t0``."""
    return f"{account_id}-WorkflowTask-{uuid.uuid4().hex}t0"


@dataclass(frozen=True)
class EventTarget:
    """Where an outbox row goes: ``kind`` is e.g. ``exchange``, ``queue`` or ``url``; ``key`` is the
    routing key of an exchange (empty otherwise)."""

    kind: str
    name: str
    key: str = ""


@dataclass(frozen=True)
class BucketTrigger:
    """The identity of one bucket event that fired a workflow (deduplicated on all four)."""

    workflow_id: int
    bucket: str
    key: str
    etag: str


@dataclass(frozen=True)
class NewSubtask:
    """A sub-task to create: its kind (``Transcode``, ``SnapshotByTimeOffset``...) and input echo."""

    kind: str
    input: JsonDict


@dataclass(frozen=True)
class NewTask:
    """Everything ``create_task`` stores. ``subtasks`` get indexes 0..n-1 in order; ``trigger`` makes
    the task the one answer to that bucket event (a redelivered event returns it again)."""

    task_id: str
    request: JsonDict
    workflow_task: JsonDict | None = None
    session_id: str | None = None
    session_context: str = ""
    notify: JsonDict | None = None
    priority: int = 0
    workflow_id: int | None = None
    subtasks: Sequence[NewSubtask] = ()
    trigger: BucketTrigger | None = None


@dataclass(frozen=True)
class UnstartedSubtask:
    """A WAITING sub-task never started, of an unfinished task: what the redispatch sweep needs."""

    task_id: str
    index: int
    priority: int


@dataclass(frozen=True)
class TaskRecord:
    """One stored task. Times are timezone-aware UTC."""

    task_id: str
    status: TaskStatus
    request: JsonDict
    workflow_task: JsonDict | None
    metadata: JsonDict | None
    err_code: int
    message: str
    session_id: str | None
    session_context: str
    notify: JsonDict | None
    priority: int
    workflow_id: int | None
    create_time: datetime
    begin_time: datetime | None
    finish_time: datetime | None


@dataclass(frozen=True)
class SubtaskRecord:
    """One stored sub-task; ``result`` is the MediaProcessTaskResult wire dict once committed."""

    task_id: str
    index: int
    kind: str
    status: SubtaskStatus
    input: JsonDict
    result: JsonDict | None
    progress: int
    attempts: int
    begin_time: datetime | None
    finish_time: datetime | None


@dataclass(frozen=True)
class Completion:
    """What finishing a task stores: the merged WorkflowTask, and the outbox rows (target, payload)
    committed with it."""

    workflow_task: JsonDict
    events: Sequence[tuple[EventTarget, JsonDict]] = ()


#: Builds the Completion from the task and its final sub-tasks. ``try_finish_task`` calls it inside
#: its transaction, after every sub-task is final, so the merge can never miss a late result.
Merger = Callable[[TaskRecord, list[SubtaskRecord]], Completion]


@dataclass(frozen=True)
class OutboxRecord:
    """One event waiting for (or done with) delivery."""

    id: int
    task_id: str | None
    target: EventTarget
    payload: JsonDict
    created_at: datetime
    attempts: int
    next_attempt_at: datetime
    sent_at: datetime | None
    last_error: str


@dataclass(frozen=True)
class TemplateRecord:
    """A custom template: ``body`` is the template object as stored (Describe shape, no Definition)."""

    family: str
    definition: int
    name: str
    body: JsonDict
    create_time: datetime
    update_time: datetime


@dataclass(frozen=True)
class WorkflowRecord:
    """A workflow: ``body`` is the whole CreateWorkflow/ResetWorkflow request."""

    workflow_id: int
    name: str
    status: WorkflowStatus
    body: JsonDict
    trigger_bucket: str
    trigger_dir: str
    create_time: datetime
    update_time: datetime


class ConflictError(MpsError):
    """A unique key was already taken. The store resolves the races it expects (SessionId, bucket
    trigger, template Definition) itself; this escapes only for an unexpected one, e.g. a TaskId
    created twice."""

    code = "FailedOperation.Conflict"


class WorkflowStatusError(MpsError):
    """A workflow change that needs a status (``if_status``) found the workflow in another one."""

    code = "FailedOperation"

    def __init__(self, workflow_id: int, status: str) -> None:
        super().__init__(f"workflow {workflow_id} is {status}")
        self.workflow_id = workflow_id
        self.status = status


# The store by role: a part that needs one role depends on that protocol only. Every method of
# every role is safe to call from several threads (and, for SQL, several processes). Errors:
# ``ResourceNotFoundError`` for unknown ids, ``InvalidParameterError``/``MpsError`` with Tencent
# codes for requests the state forbids, ``StorageUnavailableError`` (retryable) when the database
# does not answer.


class Tasks(Protocol):
    """Tasks and their sub-tasks, and their transitions (each with the outbox rows it owes)."""

    def create_task(self, new: NewTask) -> tuple[TaskRecord, bool]:
        """Store a WAITING task and its sub-tasks; a repeated SessionId (within :data:`SESSION_TTL`)
        or bucket trigger returns the existing task with ``False`` instead of creating one."""
        ...

    def get_task(self, task_id: str) -> TaskRecord:
        """The task; ``ResourceNotFound.TaskNotFound`` if unknown."""
        ...

    def get_subtasks(self, task_id: str) -> list[SubtaskRecord]:
        """The task's sub-tasks by index ([] for an unknown task)."""
        ...

    def get_task_detail(self, task_id: str) -> tuple[TaskRecord, list[SubtaskRecord]]:
        """The task and its sub-tasks by index, as one read (DescribeTaskDetail);
        ``ResourceNotFound.TaskNotFound`` if unknown."""
        ...

    def list_unstarted_subtasks(self, created_before: datetime, limit: int = 1000) -> list[UnstartedSubtask]:
        """WAITING sub-tasks with no attempt yet, of WAITING or PROCESSING tasks created before
        ``created_before``, oldest task first, at most ``limit``: one query, for the redispatch sweep."""
        ...

    def list_tasks(
        self,
        status: TaskStatus,
        limit: int = 10,
        scroll_token: str = "",
        sub_task_has_failed: bool | None = None,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
    ) -> tuple[list[TaskRecord], str]:
        """One page, newest first, and the token of the next (``""`` when none): keyset paging,
        so tasks created meanwhile never shift a page. Times filter ``create_time`` (start
        inclusive, end exclusive)."""
        ...

    def count_tasks(
        self,
        status: TaskStatus,
        sub_task_has_failed: bool | None = None,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
    ) -> int:
        """How many tasks :meth:`list_tasks` would list over all its pages (DescribeTasks' TotalCount)."""
        ...

    def purge_tasks(self, finished_before: datetime, limit: int = 1000) -> int:
        """Delete up to ``limit`` FINISH tasks finished before ``finished_before``, their sub-tasks
        with them, and the events delivered before then; returns how many tasks went. A task with
        an event not delivered yet is kept (its notification must not be lost)."""
        ...

    def start_task(self, task_id: str) -> bool:
        """WAITING -> PROCESSING with a begin time; True only for the call that moved it."""
        ...

    def set_metadata(self, task_id: str, metadata: JsonDict) -> None:
        """Store the probe's MediaMetaData of the source."""
        ...

    def abort_task(self, task_id: str, events: Sequence[tuple[EventTarget, JsonDict]] = ()) -> TaskRecord:
        """WAITING -> FINISH with :data:`ABORTED_ERR_CODE`, its waiting sub-tasks FAIL, plus every
        outbox row of ``events`` (target, payload) in the same transaction; any other state raises
        ``InvalidParameterValue.TaskId``."""
        ...

    def add_subtasks(self, task_id: str, subtasks: Sequence[NewSubtask]) -> int:
        """Append sub-tasks (after a probe); returns the index of the first one added."""
        ...

    def start_subtask(self, task_id: str, index: int) -> SubtaskRecord | None:
        """Mark it PROCESSING (attempts + 1; task to PROCESSING too); None when it or the task is
        already final, so a redelivered message is skipped."""
        ...

    def update_progress(self, task_id: str, index: int, progress: int) -> bool:
        """Set progress (clamped 0-100) unless the sub-task is final; True if stored."""
        ...

    def finish_subtask(self, task_id: str, index: int, result: JsonDict, status: SubtaskStatus) -> bool:
        """Commit the result once: True for the first commit, False (no change) afterwards."""
        ...

    def try_finish_task(self, task_id: str, completion: Completion | Merger) -> bool:
        """If every sub-task is final and the task is not FINISH: set FINISH, the finish time, the
        merged WorkflowTask (its ErrCode/Message onto the task) and the completion's outbox rows,
        all in one transaction. True only for the one call that won."""
        ...


class Outbox(Protocol):
    """Events waiting for the relay."""

    def add_event(self, task_id: str | None, target: EventTarget, payload: JsonDict) -> int:
        """Queue an event; returns its id."""
        ...

    def add_events(self, task_id: str | None, events: Sequence[tuple[EventTarget, JsonDict]]) -> list[int]:
        """Queue several events (target, payload) in one transaction, e.g. a PROCESSING event to every
        target of NotifyMode Change; returns their ids."""
        ...

    def claim_outbox(
        self, limit: int, now: datetime | None = None, lease: timedelta = DEFAULT_OUTBOX_LEASE
    ) -> list[OutboxRecord]:
        """Unsent rows due at ``now``, oldest first, leased for ``lease`` (attempts + 1) so other
        relays skip them until they are marked or the lease runs out."""
        ...

    def mark_sent(self, event_id: int) -> None:
        """The event was delivered: never claim it again."""
        ...

    def mark_failed(self, event_id: int, error: str, retry_at: datetime) -> None:
        """Delivery failed: keep the error and claim it again at ``retry_at``."""
        ...

    def list_events(self, task_id: str) -> list[OutboxRecord]:
        """Every outbox row of one task, oldest first."""
        ...


class TemplateStore(Protocol):
    """Custom templates, by family."""

    def create_template(self, family: str, name: str, body: JsonDict) -> TemplateRecord:
        """Store a custom template under the next Definition of its family (from
        :data:`CUSTOM_DEFINITION_BASE`, never reused); ``LimitExceeded.TooMuchTemplate`` when full."""
        ...

    def get_template(self, family: str, definition: int) -> TemplateRecord:
        """The template; ``ResourceNotFound.TemplateNotExist`` if unknown."""
        ...

    def list_templates(
        self,
        family: str,
        definitions: Sequence[int] | None = None,
        name: str | None = None,
        offset: int = 0,
        limit: int = 10,
    ) -> tuple[int, list[TemplateRecord]]:
        """The total matching and one page of them by Definition; ``name`` matches exactly."""
        ...

    def update_template(
        self, family: str, definition: int, body: JsonDict, name: str | None = None
    ) -> TemplateRecord:
        """Replace the body (and the name, if given); bumps the update time."""
        ...

    def delete_template(self, family: str, definition: int) -> None:
        """Delete it; ``ResourceNotFound.TemplateNotExist`` if unknown."""
        ...


class WorkflowStore(Protocol):
    """Workflows and the bucket events that fired them."""

    def create_workflow(
        self, name: str, body: JsonDict, trigger_bucket: str, trigger_dir: str = "/"
    ) -> WorkflowRecord:
        """Store a Disabled workflow; ``InvalidParameterValue.WorkflowName`` if the name is taken."""
        ...

    def get_workflow(self, workflow_id: int) -> WorkflowRecord:
        """The workflow; ``ResourceNotFound.Workflow`` if unknown."""
        ...

    def list_workflows(
        self,
        workflow_ids: Sequence[int] | None = None,
        status: WorkflowStatus | None = None,
        trigger_bucket: str | None = None,
        offset: int = 0,
        limit: int = 10,
    ) -> tuple[int, list[WorkflowRecord]]:
        """The total matching and one page of them by WorkflowId."""
        ...

    def update_workflow(
        self,
        workflow_id: int,
        *,
        name: str | None = None,
        status: WorkflowStatus | None = None,
        body: JsonDict | None = None,
        trigger_bucket: str | None = None,
        trigger_dir: str | None = None,
        if_status: WorkflowStatus | None = None,
    ) -> WorkflowRecord:
        """Change the given fields; bumps the update time.

        ``if_status``: only while the workflow is in that status, checked in the same atomic step
        (a concurrent Enable cannot slip between the check and the change); otherwise
        :class:`WorkflowStatusError`.
        """
        ...

    def delete_workflow(self, workflow_id: int, *, if_status: WorkflowStatus | None = None) -> None:
        """Delete it; ``if_status`` as for :meth:`update_workflow` (the API deletes only Disabled ones)."""
        ...

    def claim_trigger(self, trigger: BucketTrigger, task_id: str | None = None) -> bool:
        """Record that this bucket event fired; False if it already had (a redelivery)."""
        ...


@runtime_checkable
class TaskStore(Tasks, Outbox, TemplateStore, WorkflowStore, Protocol):
    """Every role in one database: what the composition root builds and the processes share."""

    def close(self) -> None:
        """Release connections; the store is not used afterwards."""
        ...
