"""Rules every task store applies the same way: the errors it raises (with Tencent's codes) and the
opaque ScrollToken of ``list_tasks``. Shared by the SQL and the memory implementation."""

from __future__ import annotations

import base64
import binascii

from mps.errors import InvalidParameterError, MpsError, ResourceNotFoundError
from mps.store.base import FINAL_SUBTASK_STATUSES, TEMPLATE_LIMITS, BucketTrigger, ConflictError


def task_not_found(task_id: str) -> ResourceNotFoundError:
    """The error for an unknown TaskId (``ResourceNotFound.TaskNotFound``)."""
    return ResourceNotFoundError(f"task {task_id!r} does not exist", code="ResourceNotFound.TaskNotFound")


def subtask_not_found(task_id: str, index: int) -> ResourceNotFoundError:
    """The error for a sub-task that was never created."""
    return ResourceNotFoundError(
        f"task {task_id!r} has no sub-task {index}", code="ResourceNotFound.TaskNotFound"
    )


def not_abortable(task_id: str, status: str) -> MpsError:
    """Abort of a task that has finished: ``FailedOperation`` (the operation cannot apply now)."""
    return MpsError(
        f"task {task_id!r} is {status}; only WAITING and PROCESSING tasks can be aborted",
        code="FailedOperation",
    )


def not_redoable(task_id: str, why: str) -> MpsError:
    """Redo of a task that is not finished, or that has nothing to redo: ``FailedOperation``."""
    return MpsError(f"task {task_id!r} cannot be redone: {why}", code="FailedOperation")


def template_not_found(family: str, definition: int) -> ResourceNotFoundError:
    """The error for an unknown custom template (``ResourceNotFound.TemplateNotExist``)."""
    return ResourceNotFoundError(
        f"{family} template {definition} does not exist", code="ResourceNotFound.TemplateNotExist"
    )


def too_many_templates(family: str) -> MpsError:
    """The error when a family already holds its limit of custom templates."""
    return MpsError(
        f"at most {TEMPLATE_LIMITS[family]} custom {family} templates are allowed",
        code="LimitExceeded.TooMuchTemplate",
    )


def check_family(family: str) -> None:
    """Raise ``InvalidParameterValue.Family`` unless ``family`` is one of :data:`TEMPLATE_LIMITS`."""
    if family not in TEMPLATE_LIMITS:
        raise InvalidParameterError.field("Family", f"unknown template family {family!r}")


def workflow_not_found(workflow_id: int) -> ResourceNotFoundError:
    """The error for an unknown WorkflowId."""
    return ResourceNotFoundError(f"workflow {workflow_id} does not exist", code="ResourceNotFound.Workflow")


def duplicate_workflow_name(name: str, kind: str = "workflow") -> InvalidParameterError:
    """WorkflowName is unique per account (mps-api.md §9), ScheduleName likewise (orchestration.md
    §1); a workflow and a schedule may share a name."""
    field = "ScheduleName" if kind == "schedule" else "WorkflowName"
    return InvalidParameterError.field(field, f"a {kind} named {name!r} already exists")


def trigger_taken(trigger: BucketTrigger) -> ConflictError:
    """``create_task`` for a bucket event that ``claim_trigger`` already took without a task."""
    return ConflictError(f"bucket event {trigger} was already claimed without a task")


def check_subtask_status(status: str) -> None:
    """``finish_subtask`` takes only a final status."""
    if status not in FINAL_SUBTASK_STATUSES:
        raise ValueError(f"a sub-task finishes as SUCCESS or FAIL, not {status!r}")


# -- the opaque ScrollToken of list_tasks -------------------------------------------------------


def encode_scroll_token(position: int) -> str:
    """The ScrollToken that resumes a listing after the task at ``position`` (newest first)."""
    return base64.urlsafe_b64encode(f"v1:{position}".encode()).decode().rstrip("=")


def decode_scroll_token(token: str) -> int | None:
    """The position a ScrollToken resumes after; None for ``""`` (the first page).

    Raises:
        InvalidParameterError: ``InvalidParameterValue.ScrollToken`` for a token we did not issue.
    """
    if not token:
        return None
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        version, _, position = text.partition(":")
        if version != "v1":
            raise ValueError(version)
        return int(position)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidParameterError.field("ScrollToken", "the ScrollToken is not valid") from None
