"""Merging stored sub-task results into one task record, and the completion event built from it.

A workflow task merges into a ``WorkflowTask`` (``MediaProcessResultSet``), an orchestration into a
``ScheduleTask`` (``ActivityResultSet``: the activities in index order, ``input``, ``output`` and
the activities a rule skipped left out, as Tencent has no skipped status).
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from mps.models import MediaProcessTaskResult, WorkflowTask
from mps.models.schedules import ActivityResItem, ActivityResult, ScheduleTask
from mps.store.base import SubtaskRecord, TaskRecord
from mps.workflow.chunks import split_parents, visible
from mps.workflow.execute import pending_result
from mps.workflow.kinds import KINDS

#: What a task merges into: a workflow task's record, or an orchestration's.
MergedTask = WorkflowTask | ScheduleTask
#: How long an event stays valid for its receiver (Tencent: about 10 minutes).
EVENT_TTL_SECONDS = 600


def subtask_entry(record: SubtaskRecord, *, split: bool = False) -> MediaProcessTaskResult:
    """The result entry of one stored sub-task: its committed result, or a pending one with progress.

    ``split``: the sub-task is a transcode whose chunks run (:mod:`mps.workflow.chunks`): PROCESSING
    on the wire, though it waits (PENDING) in the store.
    """
    if record.result is not None:
        return MediaProcessTaskResult.model_validate(record.result)
    request = KINDS.named(record.kind).input_model.model_validate(record.input)
    # An activity not ready yet is, on the wire, waiting like any other.
    pending = "PROCESSING" if split else "WAITING"
    entry = pending_result(record.kind, request, pending if record.status == "PENDING" else record.status)
    if hasattr(entry.result, "Progress"):  # the kinds whose results report progress
        entry.result.Progress = record.progress
    return entry


def merge_workflow_task(
    task: TaskRecord, subtasks: list[SubtaskRecord], *, finished: bool = False
) -> WorkflowTask:
    """The WorkflowTask of ``task`` as DescribeTaskDetail and events show it.

    Parameters:
        task: the stored task.
        subtasks: its sub-tasks (any order).
        finished: build the final record (Status FINISH) even if the stored status is not yet.
    """
    split = split_parents(subtasks)
    ordered = sorted(visible(subtasks), key=lambda r: r.index)
    entries = [subtask_entry(record, split=record.index in split) for record in ordered]
    return WorkflowTask.model_validate({**_task_fields(task, finished), "MediaProcessResultSet": entries})


def is_orchestration(task: TaskRecord) -> bool:
    """Whether ``task`` runs an orchestration (its request holds the resolved ``Activities``)."""
    return "Activities" in task.request


def merge_task(task: TaskRecord, subtasks: list[SubtaskRecord], *, finished: bool = False) -> MergedTask:
    """The record of ``task``: a ScheduleTask for an orchestration, else a WorkflowTask."""
    if is_orchestration(task):
        return merge_schedule_task(task, subtasks, finished=finished)
    return merge_workflow_task(task, subtasks, finished=finished)


def merge_schedule_task(
    task: TaskRecord, subtasks: list[SubtaskRecord], *, finished: bool = False
) -> ScheduleTask:
    """The ScheduleTask of an orchestration ``task`` as DescribeTaskDetail and events show it."""
    results = []
    split = split_parents(subtasks)
    for record in sorted(visible(subtasks), key=lambda r: r.index):
        if record.status == "SKIPPED" or record.kind in ("input", "output"):
            continue
        kind = KINDS.named(record.kind)
        entry = subtask_entry(record, split=record.index in split)
        member = entry.result.model_dump(mode="json")  # each result class says what it sends
        item = ActivityResItem.model_validate({kind.result_field: member})
        results.append(ActivityResult(ActivityType=kind.name, ActivityResItem=item))
    return ScheduleTask.model_validate({**_task_fields(task, finished), "ActivityResultSet": results})


def _task_fields(task: TaskRecord, finished: bool) -> dict[str, Any]:
    """What a workflow task's and an orchestration's records share: the task's own fields."""
    status = "FINISH" if finished else task.status
    return {
        "TaskId": task.task_id,
        "Status": status,
        "ErrCode": task.err_code,
        "Message": task.message or ("SUCCESS" if status == "FINISH" else ""),
        "InputInfo": task.request.get("InputInfo"),
        "MetaData": task.metadata,
    }


def notification(record: MergedTask, task: TaskRecord, *, now: float | None = None) -> dict[str, Any]:
    """The ParseNotification object for a task's ``record``: no ``Response`` wrapper, signed.

    ``Timestamp`` is when the event expires; ``Sign = md5(str(Timestamp) + NotifyKey)`` in lowercase hex.
    """
    expires = int((now if now is not None else time.time()) + EVENT_TTL_SECONDS)
    key = (task.notify or {}).get("NotifyKey") or ""
    schedule = isinstance(record, ScheduleTask)
    return {
        "EventType": "ScheduleTask" if schedule else "WorkflowTask",
        "WorkflowTaskEvent": None if schedule else record.to_wire(),
        "EditMediaTaskEvent": None,
        "ScheduleTaskEvent": record.to_wire() if schedule else None,
        "BatchTaskEvent": None,
        "ExtractBlindWatermarkTask": None,
        "SessionId": task.session_id or "",
        "SessionContext": task.session_context,
        "Timestamp": expires,
        "Sign": hashlib.md5(f"{expires}{key}".encode(), usedforsecurity=False).hexdigest(),
    }
