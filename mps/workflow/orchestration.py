"""Running an orchestration: its activities as stored sub-tasks, and what finishing one releases.

An orchestration task stores every activity as a sub-task at its own index (``input`` and
``output`` included, as kinds of their own that never run): ``input`` is done at creation, the
activities it leads to are ``WAITING`` (their work messages go out with the task), every other
one ``PENDING``. When an activity finishes, :func:`advance` decides, under the task's lock and in
the transaction that commits the result (:class:`~mps.store.base.Followup`), which ``PENDING``
activities became ready (their work messages are outbox rows of that same transaction: a crash
cannot lose a release) and which can never run (``SKIPPED``: a rule chose another branch, or a
predecessor failed). The task finishes when every activity is final, as a workflow task does.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence

from mps.errors import ERR_CODE_INTERNAL, InvalidParameterError, ResourceNotFoundError
from mps.models import MediaInputInfo, TaskOutputStorage
from mps.models.schedules import Activity, RetryPolicy
from mps.storage.locations import output_location
from mps.store.base import Followup, JsonDict, NewSubtask, SubtaskRecord, TaskRecord
from mps.workflow.chunks import split_parents, visible
from mps.workflow.dag import INPUT, OUTPUT, PENDING, SKIPPED, Dag, build_dag, predrive_indexes
from mps.workflow.kind import TemplateLookup
from mps.workflow.kinds import KINDS
from mps.workflow.messages import work_row
from mps.workflow.resolve import check_subtask

#: The ``TaskType`` of orchestration tasks, and the middle of their TaskIds.
SCHEDULE_TASK = "ScheduleTask"


def new_schedule_task_id(account_id: str = "0") -> str:
    """A fresh TaskId in Tencent's shape for orchestrations: ``<accountId>-ScheduleTask-<32hex>t0``."""
    return f"{account_id}-{SCHEDULE_TASK}-{uuid.uuid4().hex}t0"


def stored_activities(activities: Sequence[Activity]) -> list[JsonDict]:
    """The activities as the task stores them: as given, with ``PredriveIndex`` computed."""
    predecessors = predrive_indexes(activities)
    return [
        {**activity.to_wire(), "PredriveIndex": before}
        for activity, before in zip(activities, predecessors, strict=True)
    ]


def check_activities(
    dag: Dag,
    info: MediaInputInfo,
    storage: TaskOutputStorage | None,
    output_dir: str | None,
    templates: TemplateLookup,
) -> None:
    """Each activity's templates and output location checked as ProcessMedia's sub-tasks are, the
    error naming the activity (``activity 2: ...``).

    Raises:
        InvalidParameterError, ResourceNotFoundError: the first problem found.
    """
    output_location(info, storage, None, output_dir)
    for node in dag.work():
        assert node.kind is not None and node.para is not None  # work() lists the activities with a kind
        try:
            check_subtask(node.kind, node.para, templates)
            output_location(info, storage, node.para.OutputStorage, output_dir)
        except (InvalidParameterError, ResourceNotFoundError) as exc:
            raise type(exc)(f"activity {node.index}: {exc.message}", code=exc.code) from None


def task_dag(task: TaskRecord) -> Dag:
    """The DAG of a stored orchestration task (checked again: it was valid when stored)."""
    return build_dag([Activity.model_validate(item) for item in task.request["Activities"]])


def new_activities(dag: Dag) -> list[NewSubtask]:
    """The sub-tasks of a new orchestration task: one per activity, in index order, with the first
    states (:meth:`Dag.initial`)."""
    states = dag.initial()
    return [
        NewSubtask(
            kind=node.kind.name if node.kind is not None else node.type,
            input=node.para.to_wire() if node.para is not None else {},
            status=states[node.index],  # type: ignore[arg-type]  # the DAG's states are statuses
        )
        for node in dag.nodes
    ]


def advance(task: TaskRecord, subtasks: list[SubtaskRecord]) -> Followup:
    """What the activities' states now call for (see the module docstring)."""
    # Chunk sub-tasks are no activities, and a split activity waits for its chunks, not the DAG.
    split = split_parents(subtasks)
    subtasks = visible(subtasks)
    dag = task_dag(task)
    states = {record.index: record.status for record in subtasks}
    chosen = {
        record.index: choose(record.result or {})
        for record in subtasks
        if record.status == "SUCCESS" and (choose := _chooser(record.kind)) is not None
    }
    changes = {i: state for i, state in dag.advance(states, chosen).items() if i not in split}
    ready = sorted(index for index, state in changes.items() if state == "WAITING")
    events = [work_row(task.task_id, (index,), task.priority) for index in ready]
    return Followup(updates=changes, events=events)  # type: ignore[arg-type]  # DAG states are statuses


def redo_activities(task: TaskRecord, subtasks: list[SubtaskRecord]) -> dict[int, str]:
    """The activities a Redo runs again, and their new states: every failed activity and every one
    skipped (a rule skips the same ones again) go back to PENDING; then the DAG says which of
    them can run at once (WAITING) and which a rule skips again (left as they were)."""
    subtasks = visible(subtasks)
    dag = task_dag(task)
    states: dict[int, str] = {record.index: record.status for record in subtasks}
    reset = [i for i, state in states.items() if state in ("FAIL", SKIPPED)]
    if not any(states[i] == "FAIL" for i in reset):
        return {}
    states.update(dict.fromkeys(reset, PENDING))
    chosen = {
        record.index: choose(record.result or {})
        for record in subtasks
        if record.status == "SUCCESS" and (choose := _chooser(record.kind)) is not None
    }
    changes = dag.advance(states, chosen)
    states.update(changes)
    return {i: states[i] for i in reset if states[i] != SKIPPED}


def core_outcome(task: TaskRecord, subtasks: list[SubtaskRecord]) -> dict[str, object]:
    """The task's ErrCode and Message when some activities are ``Core`` (ours, TSF's core task):
    the first core activity that failed decides them; when none failed the task succeeded, whatever
    else failed. Without core activities: {} (the task's ErrCode says only the source failed, as
    for workflow tasks)."""
    dag = task_dag(task)
    if not dag.has_core:
        return {}
    for record in sorted(visible(subtasks), key=lambda r: r.index):
        if dag.nodes[record.index].core and record.status == "FAIL":
            members = (record.result or {}).items()
            result: JsonDict = next((v for k, v in members if k != "Type" and isinstance(v, dict)), {})
            code = int(result.get("ErrCode") or 0) or ERR_CODE_INTERNAL
            why = result.get("Message") or result.get("ErrCodeExt") or ""
            return {"ErrCode": code, "Message": f"core activity {record.index} failed: {why}"}
    return {"ErrCode": 0, "Message": "SUCCESS"}


#: The error classes a retry policy without ``ErrorCodes`` retries: the ones that may pass.
RETRYABLE_CODES = ("FailedOperation.Timeout", "FailedOperation.Stalled", "InternalError")


def retryable(policy: RetryPolicy, code: str) -> bool:
    """Whether ``policy`` retries a failure with this ``ErrCodeExt`` (a listed code, or its family)."""
    codes = policy.ErrorCodes or RETRYABLE_CODES
    return any(code == c or code.startswith(c + ".") for c in codes)


def activity_retry(task: TaskRecord, index: int) -> RetryPolicy | None:
    """The ``RetryPolicy`` of activity ``index`` of an orchestration task, if it has one."""
    activities = task.request.get("Activities") or []
    policy = activities[index].get("RetryPolicy") if 0 <= index < len(activities) else None
    return RetryPolicy.model_validate(policy) if policy else None


def activity_timeouts(task: TaskRecord) -> dict[int, float]:
    """The ``TimeoutSeconds`` of each activity of an orchestration task that has one."""
    activities = task.request.get("Activities") or []
    return {i: float(a["TimeoutSeconds"]) for i, a in enumerate(activities) if a.get("TimeoutSeconds")}


def ready_indexes(subtasks: Sequence[NewSubtask]) -> list[int]:
    """The activities of a new task that can run at once."""
    return [index for index, sub in enumerate(subtasks) if sub.status == "WAITING"]


def _chooser(kind_name: str) -> Callable[[JsonDict], list[int]] | None:
    """The kind's way of reading which successors an activity chose (rules), or None."""
    if kind_name in (INPUT, OUTPUT):
        return None
    return KINDS.named(kind_name).choose


__all__ = [
    "PENDING",
    "SCHEDULE_TASK",
    "advance",
    "new_activities",
    "new_schedule_task_id",
    "ready_indexes",
    "stored_activities",
    "task_dag",
    "work_row",
]
