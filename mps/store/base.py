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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol, runtime_checkable

from mps.errors import ERR_CODE_INTERNAL, MpsError

JsonDict = dict[str, Any]
#: The source of "now" a store uses; tests pass a settable one instead of patching.
Clock = Callable[[], datetime]
TaskStatus = Literal["WAITING", "PROCESSING", "FINISH"]
#: ``PENDING`` and ``SKIPPED`` are activities of orchestrations: not ready yet (a predecessor has
#: not finished; shown as WAITING on the wire), and never to run (a rule chose another branch).
SubtaskStatus = Literal["PENDING", "WAITING", "PROCESSING", "SUCCESS", "FAIL", "SKIPPED"]
WorkflowStatus = Literal["Enabled", "Disabled"]
#: What a row of ``workflows`` is: a workflow (``CreateWorkflow``) or an orchestration
#: (``CreateSchedule``). Both share one id sequence and one bucket-event intake.
WorkflowKind = Literal["workflow", "schedule"]
#: What a task's history records (orchestration.md §5), one row per transition, written in the
#: transaction that makes it: ``created``, ``probed`` and ``finished`` are the task's; ``ready``,
#: ``started``, ``succeeded``, ``failed``, ``skipped``, ``retried`` and ``aborted`` a sub-task's;
#: ``delivered`` an outbox row's (an event or a work message sent); ``split`` a transcode's cut into
#: chunk sub-tasks (:mod:`mps.workflow.chunks`).
HistoryEvent = Literal[
    "created", "ready", "probed", "started", "succeeded", "failed", "retried", "skipped", "aborted",
    "finished", "delivered", "split",
]  # fmt: skip

#: Sub-task states after which nothing about the sub-task changes any more.
FINAL_SUBTASK_STATUSES: frozenset[str] = frozenset({"SUCCESS", "FAIL", "SKIPPED"})
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
    """A sub-task to create: its kind (``Transcode``, ``SnapshotByTimeOffset``...), input echo, and
    first status (an orchestration's activities start ``PENDING`` until their predecessors finish)."""

    kind: str
    input: JsonDict
    status: SubtaskStatus = "WAITING"


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
    #: When the task must be over (``TimeoutSeconds``, ours); the relay aborts it past this.
    deadline: datetime | None = None


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
    lease_token: str | None = None
    lease_until: datetime | None = None


@dataclass(frozen=True)
class Completion:
    """What finishing a task stores: the merged WorkflowTask, and the outbox rows (target, payload)
    committed with it."""

    workflow_task: JsonDict
    events: Sequence[tuple[EventTarget, JsonDict]] = ()
    #: For an abort: the results of the sub-tasks it ends (they become FAIL with these).
    results: Mapping[int, JsonDict] = field(default_factory=dict)


@dataclass(frozen=True)
class Followup:
    """What finishing one sub-task changes besides it, in the same transaction: other sub-tasks'
    statuses (only ``PENDING`` ones change: they become ready or skipped) and outbox rows (the work
    messages of the activities that became ready)."""

    updates: Mapping[int, SubtaskStatus] = field(default_factory=dict)
    events: Sequence[tuple[EventTarget, JsonDict]] = ()


#: Decides the Followup of a finish from the task and all its sub-tasks as committed (the finished
#: one included), under the task's lock, so two activities finishing at once both see each other.
Advance = Callable[["TaskRecord", list["SubtaskRecord"]], Followup]

#: Builds the Completion from the task and its final sub-tasks. ``try_finish_task`` calls it inside
#: its transaction, after every sub-task is final, so the merge can never miss a late result.
Merger = Callable[[TaskRecord, list[SubtaskRecord]], Completion]


@dataclass(frozen=True)
class HistoryRecord:
    """One event of a task's history (``DescribeTaskHistory``).

    Attributes:
        task_id: the task.
        seq: the event's position in the task's history, from 1, in the order the store wrote them.
        time: when its transaction ran (UTC).
        event: what happened (:data:`HistoryEvent`).
        index: the sub-task (activity) it is about; None for the task's own events.
        attempt: the sub-task's attempt (1 for its first run), when the event is about one.
        detail: what else the event says (``Host``, ``ErrCode``, ``Message``, ``Target``...).
    """

    task_id: str
    seq: int
    time: datetime
    event: str
    index: int | None
    attempt: int | None
    detail: JsonDict


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
    """A workflow or a schedule (``kind``): ``body`` is the whole CreateWorkflow/ResetWorkflow
    request, or for a schedule the CreateSchedule request (``PredriveIndex`` computed). A
    schedule's ``workflow_id`` is its ScheduleId: the two kinds share one sequence."""

    workflow_id: int
    name: str
    status: WorkflowStatus
    body: JsonDict
    trigger_bucket: str
    trigger_dir: str
    create_time: datetime
    update_time: datetime
    kind: WorkflowKind = "workflow"


@dataclass(frozen=True)
class TaskQuery:
    """The console's task filters; every one is optional and they combine with AND.

    ``search`` is a TaskId (exact) or a piece of the input's name (``bucket/key`` or the URL,
    case-insensitive); ``failed`` as DescribeTasks' ``SubTaskHasFailed`` (the task's ErrCode or
    any sub-task FAIL); times filter ``create_time`` (start inclusive, end exclusive).
    """

    status: TaskStatus | None = None
    failed: bool | None = None
    workflow_id: int | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    search: str = ""


@dataclass(frozen=True)
class TaskSummary:
    """One row of the console's task list: the task's columns without its JSON, and its sub-tasks
    counted (``progress`` is the mean progress of all of them, 0-100)."""

    position: int
    task_id: str
    status: TaskStatus
    err_code: int
    message: str
    workflow_id: int | None
    input_name: str
    create_time: datetime
    begin_time: datetime | None
    finish_time: datetime | None
    subtasks: int = 0
    finished: int = 0
    failed: int = 0
    progress: int = 0


@dataclass(frozen=True)
class TaskPage:
    """A page of :meth:`Tasks.find_tasks`, newest first; ``before`` is the cursor of the next
    (older) page, None on the last one."""

    tasks: list[TaskSummary]
    before: int | None


@dataclass(frozen=True)
class TaskStats:
    """What ``/metrics`` reads from the store at scrape time (a few cheap aggregate queries).

    Parameters:
        by_status: how many tasks the store holds per status.
        by_err_code: how many FINISH tasks per non-zero ErrCode.
        oldest_unstarted: creation time of the oldest unfinished task with a sub-task never
            started (the age of the oldest work message still queued), None when none waits.
        oldest_unsent_event: creation time of the oldest outbox row not delivered yet.
    """

    by_status: dict[str, int]
    by_err_code: dict[int, int]
    oldest_unstarted: datetime | None
    oldest_unsent_event: datetime | None


def input_name(request: JsonDict) -> str:
    """The short name of a task's input the console shows and searches: ``bucket/key`` of a COS or
    AWS-S3 input, the URL of a URL input ("" when the request names none)."""
    info = request.get("InputInfo") or {}
    cos, s3, url = info.get("CosInputInfo"), info.get("S3InputInfo"), info.get("UrlInputInfo")
    if isinstance(cos, dict):
        return f"{cos.get('Bucket', '')}/{str(cos.get('Object', '')).lstrip('/')}"[:INPUT_NAME_LENGTH]
    if isinstance(s3, dict):
        return f"{s3.get('S3Bucket', '')}/{str(s3.get('S3Object', '')).lstrip('/')}"[:INPUT_NAME_LENGTH]
    if isinstance(url, dict):
        return str(url.get("Url", ""))[:INPUT_NAME_LENGTH]
    return ""


#: Longest input name stored for search (longer ones are cut).
INPUT_NAME_LENGTH = 1024


@dataclass(frozen=True)
class LeaseRecord:
    """A named lease (``trigger_leases``): who holds it until when, and the last tick it ran.

    Attributes:
        name: e.g. ``workflow:12``.
        holder: who holds it (a host and process id); None when free.
        expires: when the holder's claim runs out (UTC); None when free.
        last_tick: the scheduled time of the last tick that ran to the end (UTC); None if none did.
    """

    name: str
    holder: str | None
    expires: datetime | None
    last_tick: datetime | None


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

    def list_overdue_tasks(self, now: datetime, limit: int = 100) -> list[str]:
        """The TaskIds of WAITING or PROCESSING tasks whose deadline is past, oldest deadline first."""
        ...

    def list_unstarted_subtasks(self, created_before: datetime, limit: int = 1000) -> list[UnstartedSubtask]:
        """Sub-tasks no live attempt holds, of WAITING or PROCESSING tasks: WAITING ones with no
        attempt yet of tasks created before ``created_before``, and PROCESSING ones whose lease ran
        out (their worker died). Oldest task first, at most ``limit``: one query, for the
        redispatch sweep."""
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

    def find_tasks(self, query: TaskQuery, limit: int = 50, before: int | None = None) -> TaskPage:
        """One page of the console's task list, newest first: tasks matching ``query`` positioned
        before ``before`` (keyset paging on the creation order), at most ``limit``, with their
        sub-tasks counted. Filtered and paged in the database."""
        ...

    def task_stats(self) -> TaskStats:
        """Counts by status and ErrCode and the oldest waiting work and event, for ``/metrics``."""
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

    def abort_task(self, task_id: str, completion: Completion | Merger) -> TaskRecord:
        """WAITING or PROCESSING -> FINISH with :data:`ABORTED_ERR_CODE`: every sub-task not final
        becomes FAIL (with the completion's result for it, when given; its holder's lease is gone,
        so a running attempt is fenced off and stops), the merged record is stored and the
        completion's outbox rows written, in one transaction. A :data:`Merger` runs under the
        task's lock. A FINISH task raises ``FailedOperation``."""
        ...

    def redo_task(
        self, task_id: str, planner: Callable[[TaskRecord, list[SubtaskRecord]], Followup]
    ) -> TaskRecord:
        """FINISH -> PROCESSING again under the same TaskId: the sub-tasks the ``planner``'s
        :class:`Followup` names go back to the status it gives (``WAITING`` or ``PENDING``) with
        no result, the task's ErrCode and finish time are cleared, and the Followup's outbox rows
        (their work messages) are written, in one transaction. What succeeded is kept.
        ``FailedOperation`` when the task is not FINISH or the planner names nothing."""
        ...

    def add_subtasks(self, task_id: str, subtasks: Sequence[NewSubtask]) -> int:
        """Append sub-tasks (after a probe); returns the index of the first one added."""
        ...

    def split_subtask(
        self,
        task_id: str,
        index: int,
        token: str,
        parts: Sequence[NewSubtask],
        work: Callable[[list[int]], Sequence[tuple[EventTarget, JsonDict]]],
    ) -> int | None:
        """Attempt ``token``'s sub-task is cut into ``parts`` (:mod:`mps.workflow.chunks`), in one
        transaction: it goes PENDING with no lease, the parts are appended after the last sub-task,
        ``split`` is recorded, and the outbox rows ``work`` returns for the parts' indexes are
        written. Returns the first part's index; None when the attempt no longer holds the
        sub-task (fenced off: nothing changed)."""
        ...

    def start_subtask(
        self,
        task_id: str,
        index: int,
        token: str | None = None,
        lease: timedelta | None = None,
        host: str = "",
    ) -> SubtaskRecord | None:
        """Mark it PROCESSING (attempts + 1; task to PROCESSING too), held by attempt ``token``
        until now + ``lease``, and record ``started`` on ``host`` (the worker) in its history.
        None when it or the task is already final, or when another attempt holds a lease that has
        not run out: the message is a redelivery or a copy, to be dropped (a sub-task whose holder
        died is started again once its lease runs out)."""
        ...

    def renew_subtask_lease(self, task_id: str, index: int, token: str, lease: timedelta) -> bool:
        """Extend attempt ``token``'s hold to now + ``lease``; False when the sub-task is no longer
        its (another attempt took it over, it is final, or its task was aborted): the attempt must
        stop, and upload nothing."""
        ...

    def retry_subtask(
        self,
        task_id: str,
        index: int,
        token: str | None,
        event: tuple[EventTarget, JsonDict],
        delay: timedelta,
    ) -> bool:
        """Instead of committing a failure: attempt ``token``'s sub-task back to WAITING (its lease
        gone) and its work message in the outbox, due after ``delay``, in one transaction. False
        when the sub-task is final or another attempt holds it."""
        ...

    def release_subtask_lease(self, task_id: str, index: int, token: str) -> bool:
        """Give up attempt ``token``'s hold at once (it failed and its message will be retried), so
        the retry need not wait for the lease to run out; False when it held nothing."""
        ...

    def update_progress(self, task_id: str, index: int, progress: int) -> bool:
        """Set progress (clamped 0-100) unless the sub-task is final; True if stored."""
        ...

    def finish_subtask(
        self,
        task_id: str,
        index: int,
        result: JsonDict,
        status: SubtaskStatus,
        token: str | None = None,
        then: Advance | None = None,
    ) -> bool:
        """Commit the result once: True for the first commit, False (no change) afterwards, or when
        ``token`` is given and is not the attempt that holds the sub-task (a fenced attempt). With
        ``then``, its :class:`Followup` is applied in the same transaction as the commit."""
        ...

    def try_finish_task(self, task_id: str, completion: Completion | Merger) -> bool:
        """If every sub-task is final and the task is not FINISH: set FINISH, the finish time, the
        merged WorkflowTask (its ErrCode/Message onto the task) and the completion's outbox rows,
        all in one transaction. True only for the one call that won."""
        ...

    def task_history(self, task_id: str) -> list[HistoryRecord]:
        """Every event of the task, in order (``seq`` 1..n), as one read. Each was written by the
        transaction that made its transition, so the history never disagrees with the task.
        ``ResourceNotFound.TaskNotFound`` if unknown."""
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
    """Workflows and schedules (one table, told apart by ``kind``), and the bucket events that
    fired them. Names are unique per kind; ids are unique across both."""

    def create_workflow(
        self,
        name: str,
        body: JsonDict,
        trigger_bucket: str,
        trigger_dir: str = "/",
        *,
        kind: WorkflowKind = "workflow",
    ) -> WorkflowRecord:
        """Store a Disabled workflow (or schedule); ``InvalidParameterValue.WorkflowName``
        (``.ScheduleName``) if the name is taken by another of the same kind."""
        ...

    def get_workflow(self, workflow_id: int) -> WorkflowRecord:
        """The workflow or schedule (see ``kind``); ``ResourceNotFound.Workflow`` if unknown."""
        ...

    def list_workflows(
        self,
        workflow_ids: Sequence[int] | None = None,
        status: WorkflowStatus | None = None,
        trigger_bucket: str | None = None,
        offset: int = 0,
        limit: int = 10,
        *,
        kind: WorkflowKind | None = "workflow",
    ) -> tuple[int, list[WorkflowRecord]]:
        """The total matching and one page of them by id; ``kind`` None lists both kinds."""
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
        kind: WorkflowKind | None = None,
    ) -> WorkflowRecord:
        """Change the given fields; bumps the update time.

        ``if_status``: only while the workflow is in that status, checked in the same atomic step
        (a concurrent Enable cannot slip between the check and the change); otherwise
        :class:`WorkflowStatusError`. ``kind``: only a record of that kind; one of the other kind
        is ``ResourceNotFound.Workflow`` (None: either).
        """
        ...

    def delete_workflow(
        self,
        workflow_id: int,
        *,
        if_status: WorkflowStatus | None = None,
        kind: WorkflowKind | None = None,
    ) -> None:
        """Delete it; ``if_status`` and ``kind`` as for :meth:`update_workflow` (the API deletes
        only Disabled ones)."""
        ...

    def claim_trigger(self, trigger: BucketTrigger, task_id: str | None = None) -> bool:
        """Record that this bucket event fired; False if it already had (a redelivery)."""
        ...


class TriggerLeases(Protocol):
    """Named leases: at most one holder at a time across every process sharing the store, and the
    time of the last tick stored with each (timed triggers, :mod:`mps.workflow.ticks`)."""

    def get_lease(self, name: str) -> LeaseRecord | None:
        """The lease as stored; None if it was never taken."""
        ...

    def acquire_lease(self, name: str, holder: str, ttl: timedelta) -> LeaseRecord | None:
        """Take the lease for ``ttl`` if it is free, expired, or already ``holder``'s (then it is
        extended), in one atomic step; the record now stored, or None when another holds it."""
        ...

    def release_lease(self, name: str, holder: str, last_tick: datetime | None = None) -> bool:
        """Free the lease if ``holder`` still holds it, storing ``last_tick`` when given (else
        keeping the stored one); False (nothing changed) when it is not ``holder``'s any more."""
        ...


@runtime_checkable
class TaskStore(Tasks, Outbox, TemplateStore, WorkflowStore, TriggerLeases, Protocol):
    """Every role in one database: what the composition root builds and the processes share."""

    def close(self) -> None:
        """Release connections; the store is not used afterwards."""
        ...
