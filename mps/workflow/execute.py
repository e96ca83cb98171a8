"""Run one resolved sub-task and turn what happened into its wire result.

This is the unit both ``mps process`` (threads on one machine) and the service workers run.
Failures stay per sub-task: an error becomes ``Status: FAIL`` with Tencent's ``ErrCode``
family, our stable code in ``ErrCodeExt`` and a one-line ``Message``; it never escapes.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from mps.errors import ERR_CODE_INTERNAL, MpsError
from mps.media.specs import Subtask
from mps.models import (
    MediaProcessTaskResult,
    SubtaskInput,
    SubtaskResult,
    TaskOutputStorage,
    TimedResult,
    TranscodeResult,
    WireModel,
)
from mps.workflow.context import OperationContext
from mps.workflow.kind import Operation
from mps.workflow.kinds import KINDS

log = logging.getLogger("mps.workflow.execute")


def now_iso() -> str:
    """UTC now as Tencent writes times: ``2019-07-16T06:21:27Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def pending_result(kind: str, request: SubtaskInput, status: str = "WAITING") -> MediaProcessTaskResult:
    """The result entry of a sub-task that has not finished: no Output yet."""
    of_kind = KINDS.named(kind)
    result = of_kind.result_class(Status=status, Input=request.to_wire())
    return MediaProcessTaskResult.model_validate({"Type": kind, of_kind.result_field: result})


def failed_result(
    kind: str, request: SubtaskInput, error: MpsError, begin: str = ""
) -> MediaProcessTaskResult:
    """The result entry of a sub-task that failed with ``error``."""
    entry = pending_result(kind, request, "FAIL")
    result = entry.result
    result.ErrCode, result.ErrCodeExt, result.Message = error.err_code, error.code, error.message
    _stamp(result, begin)
    return entry


def execute_subtask(
    subtask: Subtask,
    ctx: OperationContext,
    storage: TaskOutputStorage | None = None,
    *,
    operation: Operation | None = None,
) -> MediaProcessTaskResult:
    """Run ``subtask`` and return its result entry, SUCCESS or FAIL; never raises for media errors.

    Parameters:
        subtask: the resolved sub-task.
        ctx: where it reads and writes.
        storage: reported as the output's ``OutputStorage``/``Storage`` (None on a local disk).
        operation: what produces the result item (default: the kind's own, :class:`~mps.workflow.kind.Kind`);
            a fused run passes the collecting half of the operation, its ffmpeg run already done.
    """
    begin = now_iso()
    try:
        item = (operation or KINDS.named(subtask.kind).run)(subtask, ctx)
    except MpsError as exc:
        log.warning(
            "task %s sub-task %d (%s) failed: %s [%s]",
            ctx.task_id,
            subtask.index,
            subtask.kind,
            exc.message,
            exc.code,
        )
        return failed_result(subtask.kind, subtask.request, exc, begin)
    except Exception as exc:  # the boundary of one sub-task: a bug must not take the others down
        log.exception("task %s sub-task %d (%s) crashed", ctx.task_id, subtask.index, subtask.kind)
        error = MpsError(f"internal error: {type(exc).__name__}", code="InternalError")
        error.err_code = ERR_CODE_INTERNAL
        return failed_result(subtask.kind, subtask.request, error, begin)
    field = _storage_field(item)
    if storage is not None and field is not None:
        item = item.model_copy(update={field: storage})
    entry = pending_result(subtask.kind, subtask.request, "SUCCESS")
    result = entry.result
    result.Output = item
    result.Message = "SUCCESS"
    if isinstance(result, TranscodeResult):
        result.Progress = 100
    _stamp(result, begin)
    return entry


def _stamp(result: SubtaskResult, begin: str) -> None:
    """Transcode results carry Progress; all the others carry begin and finish times instead."""
    if isinstance(result, TimedResult):
        result.BeginProcessTime = begin
        result.FinishTime = now_iso()


def _storage_field(item: WireModel) -> str | None:
    """Where an output item names its bucket: transcode items say ``OutputStorage``, the others
    ``Storage`` (one of Tencent's traps, mps-api.md §7); None for an item that writes no file."""
    fields = type(item).model_fields
    return next((name for name in ("OutputStorage", "Storage") if name in fields), None)
