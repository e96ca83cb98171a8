"""Merging stored sub-task results into one WorkflowTask, and the completion event built from it."""

from __future__ import annotations

import hashlib
import time
from typing import Any

from mps.models import MediaProcessTaskResult, WorkflowTask
from mps.store.base import SubtaskRecord, TaskRecord
from mps.workflow.execute import pending_result
from mps.workflow.kinds import KINDS

#: How long an event stays valid for its receiver (Tencent: about 10 minutes).
EVENT_TTL_SECONDS = 600


def subtask_entry(record: SubtaskRecord) -> MediaProcessTaskResult:
    """The result entry of one stored sub-task: its committed result, or a pending one with progress."""
    if record.result is not None:
        return MediaProcessTaskResult.model_validate(record.result)
    request = KINDS.named(record.kind).input_model.model_validate(record.input)
    entry = pending_result(record.kind, request, record.status)
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
    entries = [subtask_entry(record) for record in sorted(subtasks, key=lambda r: r.index)]
    status = "FINISH" if finished else task.status
    return WorkflowTask.model_validate(
        {
            "TaskId": task.task_id,
            "Status": status,
            "ErrCode": task.err_code,
            "Message": task.message or ("SUCCESS" if status == "FINISH" else ""),
            "InputInfo": task.request.get("InputInfo"),
            "MetaData": task.metadata,
            "MediaProcessResultSet": entries,
        }
    )


def notification(
    workflow_task: WorkflowTask, task: TaskRecord, *, now: float | None = None
) -> dict[str, Any]:
    """The ParseNotification object for ``workflow_task``: no ``Response`` wrapper, signed.

    ``Timestamp`` is when the event expires; ``Sign = md5(str(Timestamp) + NotifyKey)`` in lowercase hex.
    """
    expires = int((now if now is not None else time.time()) + EVENT_TTL_SECONDS)
    key = (task.notify or {}).get("NotifyKey") or ""
    return {
        "EventType": "WorkflowTask",
        "WorkflowTaskEvent": workflow_task.to_wire(),
        "EditMediaTaskEvent": None,
        "ScheduleTaskEvent": None,
        "BatchTaskEvent": None,
        "ExtractBlindWatermarkTask": None,
        "SessionId": task.session_id or "",
        "SessionContext": task.session_context,
        "Timestamp": expires,
        "Sign": hashlib.md5(f"{expires}{key}".encode(), usedforsecurity=False).hexdigest(),
    }
