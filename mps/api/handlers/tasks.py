"""Task actions: ProcessMedia, DescribeTaskDetail, DescribeTasks, ManageTask (mps-api.md §5, §7, §8),
and our DescribeTaskHistory (orchestration.md §5)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import Field, field_validator

from mps.api.actions import Handler, RequestContext
from mps.api.handlers import ApiServices, parse_params
from mps.models import WireModel
from mps.models.schedules import ScheduleTask
from mps.store.base import (
    HistoryRecord,
    TaskRecord,
    TaskStatus,
)
from mps.workflow.kinds import KINDS
from mps.workflow.merge import is_orchestration, merge_task
from mps.workflow.orchestration import SCHEDULE_TASK
from mps.workflow.submit import ProcessMediaRequest, submit_task
from mps.workflow.templates import iso_time

#: What Tencent shows for a time not reached yet (TaskSimpleInfo, §8); used in DescribeTaskDetail too.
NOT_YET = "0000-00-00T00:00:00Z"
#: The ``TaskType`` of every task this server runs.
WORKFLOW_TASK = "WorkflowTask"
#: How far back DescribeTasks lists (mps-api.md §8: "only the last 7 days are listed").
LISTED_PERIOD = timedelta(days=7)
#: The task actions that are ours, not Tencent's (no SDK class; sent as raw JSON).
EXTENSION_ACTIONS = frozenset({"DescribeTaskHistory"})
#: Members of DescribeTaskDetail for task types this server never runs.
_OTHER_TASKS = ("EditMediaTask", "LiveStreamProcessTask", "LiveScheduleTask", "ExtractBlindWatermarkTask")


class TaskIdRequest(WireModel):
    """DescribeTaskDetail."""

    TaskId: str = Field(min_length=1, max_length=200)


class ManageTaskRequest(TaskIdRequest):
    """ManageTask: only ``Abort`` exists for non-live tasks."""

    #: ``Abort`` is Tencent's (here for WAITING and PROCESSING tasks alike); ``Redo`` is ours.
    OperationType: Literal["Abort", "Redo"]


class DescribeTasksRequest(WireModel):
    """DescribeTasks: ``Limit`` may arrive as a string (Tencent's own example sends ``"5"``)."""

    Status: TaskStatus
    Limit: int = Field(default=10, ge=1, le=100)
    ScrollToken: str = ""
    SubTaskHasFailed: bool | None = None
    StartTime: datetime | None = None
    EndTime: datetime | None = None

    @field_validator("StartTime", "EndTime")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        # A time without a zone is read as UTC, the zone of every time this API returns.
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def wire_time(value: datetime | None) -> str:
    """A task time on the wire: ISO 8601 UTC, or :data:`NOT_YET`."""
    return iso_time(value.astimezone(UTC)) if value is not None else NOT_YET


class TaskActions:
    """The task actions over one task store and broker.

    Parameters:
        services: the store, broker, templates and account id.
    """

    def __init__(self, services: ApiServices) -> None:
        self.services = services

    def actions(self) -> dict[str, Handler]:
        """Action name -> handler."""
        return {
            "ProcessMedia": self.process_media,
            "DescribeTaskDetail": self.describe_task_detail,
            "DescribeTasks": self.describe_tasks,
            "ManageTask": self.manage_task,
            "DescribeTaskHistory": self.describe_task_history,  # ours (orchestration.md §5)
        }

    def process_media(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        """``ProcessMedia``: store the task, queue its sub-tasks, answer its ``TaskId``.

        Raises:
            MpsError: as :func:`mps.workflow.submit.submit_task` documents.
        """
        request = parse_params(ProcessMediaRequest, params)
        s = self.services
        task_id, _ = submit_task(
            request, store=s.store, broker=s.broker, templates=s.templates, account_id=s.account_id,
            plan=s.settings.plan, allow_private_urls=s.settings.url_allow_private,
        )  # fmt: skip
        return {"TaskId": task_id}

    def describe_task_detail(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        """``DescribeTaskDetail``: the task with every sub-task entry, in request order.

        Raises:
            ResourceNotFoundError: ``ResourceNotFound.TaskNotFound``.
        """
        request = parse_params(TaskIdRequest, params)
        task, subtasks = self.services.store.get_task_detail(request.TaskId)
        record = merge_task(task, subtasks)
        schedule = isinstance(record, ScheduleTask)
        return {
            "TaskType": SCHEDULE_TASK if schedule else WORKFLOW_TASK,
            "Status": task.status,
            "CreateTime": wire_time(task.create_time),
            "BeginProcessTime": wire_time(task.begin_time),
            "FinishTime": wire_time(task.finish_time),
            "WorkflowTask": None if schedule else record.to_wire(),
            **dict.fromkeys(_OTHER_TASKS),
            "ScheduleTask": record.to_wire() if schedule else None,
            "TaskNotifyConfig": task.notify,
            "TasksPriority": task.priority,
            "SessionId": task.session_id or "",
            "SessionContext": task.session_context,
            "ExtInfo": "",
        }

    def describe_tasks(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        """``DescribeTasks``: one page of tasks in a state, newest first, and the next ScrollToken.

        ``TotalCount`` counts every task the filters match, over all pages. As Tencent's, the
        list covers the last :data:`LISTED_PERIOD` (7 days); older tasks stay readable with
        ``DescribeTaskDetail``.

        Raises:
            InvalidParameterError: a bad Status, Limit, time or ScrollToken.
        """
        request = parse_params(DescribeTasksRequest, params)
        store = self.services.store
        oldest = datetime.now(UTC) - LISTED_PERIOD
        failed = request.SubTaskHasFailed
        start = max(request.StartTime, oldest) if request.StartTime else oldest
        end = request.EndTime
        tasks, token = store.list_tasks(
            request.Status, limit=request.Limit, scroll_token=request.ScrollToken,
            sub_task_has_failed=failed, start_time=start, end_time=end,
        )  # fmt: skip
        total = store.count_tasks(request.Status, sub_task_has_failed=failed, start_time=start, end_time=end)
        return {"TaskSet": [simple_info(task) for task in tasks], "ScrollToken": token, "TotalCount": total}

    def manage_task(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        """``ManageTask``: ``Abort`` ends a WAITING or PROCESSING task at once (running ffmpeg is
        stopped within seconds, finished outputs are kept); ``Redo`` (ours) runs a FINISH task's
        failed sub-tasks again under the same TaskId.

        Raises:
            ResourceNotFoundError: ``ResourceNotFound.TaskNotFound``.
            MpsError: ``FailedOperation`` for an Abort of a finished task, or a Redo of a task that
                is running or has nothing that failed; ``InvalidParameterValue.OperationType``.
        """
        request = parse_params(ManageTaskRequest, params)
        if request.OperationType == "Redo":
            self.services.lifecycle.redo(request.TaskId)
        else:
            self.services.lifecycle.abort(request.TaskId)
        return {}

    def describe_task_history(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        """``DescribeTaskHistory`` (ours): every event of the task in order, each written by the
        store transaction that made its transition, so it never disagrees with DescribeTaskDetail.

        Raises:
            ResourceNotFoundError: ``ResourceNotFound.TaskNotFound``.
        """
        request = parse_params(TaskIdRequest, params)
        history = self.services.store.task_history(request.TaskId)
        return {"TaskId": request.TaskId, "Events": [history_event(record) for record in history]}


def history_event(record: HistoryRecord) -> dict[str, Any]:
    """One event of DescribeTaskHistory; ``Time`` in ISO 8601 UTC to the millisecond (events of
    one second are common and the console draws a timeline from them)."""
    time = record.time.astimezone(UTC)
    return {
        "Seq": record.seq,
        "Time": f"{time:%Y-%m-%dT%H:%M:%S}.{time.microsecond // 1000:03d}Z",
        "Event": record.event,
        "SubTaskIndex": record.index,
        "Attempt": record.attempt,
        "Detail": record.detail,
    }


def simple_info(task: TaskRecord) -> dict[str, Any]:
    """The TaskSimpleInfo of a task (DescribeTasks)."""
    if is_orchestration(task):
        types = [item.get("ActivityType") for item in task.request["Activities"]]
        kinds = [kind.activity_type for kind in KINDS if kind.activity_type in types]
        task_type = SCHEDULE_TASK
    else:
        sets = task.request.get("MediaProcessTask") or {}
        kinds = [kind.activity_type for kind in KINDS if kind.set_name and sets.get(kind.set_name)]
        task_type = WORKFLOW_TASK
    return {
        "TaskId": task.task_id,
        "TaskType": task_type,
        "CreateTime": wire_time(task.create_time),
        "BeginProcessTime": wire_time(task.begin_time),
        "FinishTime": wire_time(task.finish_time),
        # Tencent names sub-task types as its orchestration names activities (mps-api.md §8).
        "SubTaskTypes": kinds,
    }


__all__ = ["EXTENSION_ACTIONS", "NOT_YET", "TaskActions", "history_event", "simple_info", "wire_time"]
