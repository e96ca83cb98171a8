"""The task transitions every store makes the same way, as pure functions over records.

The SQL store and the memory twin each own their storage and their locking; *what* a transition
changes is decided here once, so the twin cannot drift from the database it stands in for.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from mps.store._rules import not_abortable, not_redoable
from mps.store.base import (
    ABORTED_ERR_CODE,
    ABORTED_MESSAGE,
    FINAL_SUBTASK_STATUSES,
    Completion,
    EventTarget,
    Followup,
    JsonDict,
    SubtaskRecord,
    TaskRecord,
)

#: An outbox row a transition owes: where it goes and what it says.
OwedEvent = tuple[EventTarget, JsonDict]


def can_start(sub: SubtaskRecord, now: datetime) -> bool:
    """A sub-task starts (again) unless it is final, not ready yet (an activity whose predecessors
    have not finished), or a live attempt holds it: a lease that has not run out fences every other
    attempt off; one that ran out means its holder died."""
    if sub.status in FINAL_SUBTASK_STATUSES or sub.status == "PENDING":
        return False
    return sub.status != "PROCESSING" or sub.lease_until is None or sub.lease_until <= now


def lease_fields(token: str | None, lease: timedelta | None, now: datetime) -> dict[str, Any]:
    """The columns that record which attempt holds a sub-task, and until when."""
    return {"lease_token": token, "lease_until": now + lease if token and lease else None}


def can_finish(task: TaskRecord, subtasks: Sequence[SubtaskRecord]) -> bool:
    """A task finishes once, when it is not finished yet and every sub-task is final."""
    return task.status != "FINISH" and all(s.status in FINAL_SUBTASK_STATUSES for s in subtasks)


def finished_fields(task: TaskRecord, completion: Completion, now: datetime) -> dict[str, Any]:
    """The task's columns once finished: FINISH, the merged record, its ErrCode and Message."""
    merged = completion.workflow_task
    return {
        "status": "FINISH",
        "finish_time": now,
        "begin_time": task.begin_time or now,
        "workflow_task": merged,
        "err_code": int(merged.get("ErrCode") or 0),
        "message": str(merged.get("Message") or ""),
    }


def check_abortable(task: TaskRecord) -> None:
    """A WAITING or PROCESSING task can be aborted; a finished one cannot.

    Raises:
        MpsError: ``FailedOperation`` for a FINISH task.
    """
    if task.status == "FINISH":
        raise not_abortable(task.task_id, task.status)


def aborted_fields(task: TaskRecord, now: datetime, merged: JsonDict | None = None) -> dict[str, Any]:
    """The task's columns once aborted: FINISH with the aborted ErrCode and Message, and the merged
    record (built by the lifecycle; else the stored one, marked aborted)."""
    if merged is None and task.workflow_task is not None:
        merged = {
            **task.workflow_task,
            "Status": "FINISH",
            "ErrCode": ABORTED_ERR_CODE,
            "Message": ABORTED_MESSAGE,
        }
    return {
        "status": "FINISH",
        "finish_time": now,
        "begin_time": task.begin_time or now,
        "err_code": ABORTED_ERR_CODE,
        "message": str((merged or {}).get("Message") or ABORTED_MESSAGE),
        "workflow_task": merged,
    }


def check_redoable(task: TaskRecord, followup: Followup) -> None:
    """A task is redone once it has finished, and only when something is to run again.

    Raises:
        MpsError: ``FailedOperation`` otherwise.
    """
    if task.status != "FINISH":
        raise not_redoable(task.task_id, f"it is {task.status}; wait for it to finish, or abort it")
    if not followup.updates:
        raise not_redoable(task.task_id, "none of its sub-tasks failed")


#: The task's columns when it runs again (Redo): its ErrCode, Message and finish time cleared.
REDONE_FIELDS: dict[str, Any] = {"status": "PROCESSING", "finish_time": None, "err_code": 0, "message": ""}


__all__ = [
    "OwedEvent",
    "aborted_fields",
    "REDONE_FIELDS",
    "can_finish",
    "check_redoable",
    "can_start",
    "lease_fields",
    "check_abortable",
    "finished_fields",
]
