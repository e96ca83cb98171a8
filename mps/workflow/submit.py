"""Submitting a task: validate a ProcessMedia request, store it, put its sub-tasks on the work queue.

Free of HTTP on purpose: the ``ProcessMedia`` handler calls :func:`submit_task`, and so does the
bucket listener when an upload fires a workflow.

Order matters. Everything that can be refused is checked before the task exists (so a bad request
leaves nothing behind), the task is committed, and only then are the work messages published. A
publish that fails is logged and not raised: the task is stored and WAITING, and the outbox relay's
redispatch sweep republishes sub-tasks that were never started.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, Field

from mps.broker.base import Broker
from mps.errors import InvalidParameterError, MpsError, ResourceNotFoundError
from mps.models import MediaInputInfo, MediaProcessTaskInput, TaskOutputStorage, parse_wire
from mps.models import TaskNotifyConfig as _NotifyConfig
from mps.models.schedules import MAX_ACTIVITIES, Activity
from mps.models.tasks import TaskWorkRequest
from mps.storage.locations import input_location, output_location
from mps.store.base import BucketTrigger, NewSubtask, NewTask, TaskStore, new_task_id, utc_now
from mps.workflow.dag import Dag, build_dag
from mps.workflow.kinds import KINDS
from mps.workflow.lifecycle import create_task
from mps.workflow.messages import WorkMessage
from mps.workflow.notify import check_notify_url
from mps.workflow.orchestration import (
    check_activities,
    new_activities,
    new_schedule_task_id,
    ready_indexes,
    stored_activities,
)
from mps.workflow.resolve import TemplateLookup, check_request

logger = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)

#: Request members of Tencent's API that this server does not run (AI, orchestrations...).
UNSUPPORTED_FIELDS = (
    "AiContentReviewTask",
    "AiAnalysisTask",
    "AiRecognitionTask",
    "AiQualityControlTask",
    "SmartSubtitlesTask",
    "SmartEraseTask",
    "AIDubbingTask",
)
#: NotifyType values with a delivery here: CMQ-style queues/topics on RabbitMQ, and URL callbacks.
NOTIFY_TYPES = frozenset({"", "TDMQ-CMQ", "CMQ", "URL"})
#: Wire code of a request member this server does not implement.
UNSUPPORTED = "UnsupportedOperation"


class ProcessMediaRequest(TaskWorkRequest):
    """The ``ProcessMedia`` request (mps-api.md §5).

    ``TaskType`` is accepted and not acted on: Offline tasks run like Online ones. ``ResourceId``
    (billing) is ignored. The out-of-scope members are kept as raw values so :func:`submit_task`
    can refuse them by name instead of silently ignoring them.
    """

    InputInfo: MediaInputInfo
    TasksPriority: int = Field(default=0, ge=-10, le=10)
    SessionId: str | None = Field(default=None, max_length=50)
    SessionContext: str = Field(default="", max_length=1000)
    TaskType: Literal["Online", "Offline"] | None = None
    SkipMateData: int = Field(default=0, ge=0, le=1)
    ResourceId: str | None = None
    AiContentReviewTask: Any = None
    AiAnalysisTask: Any = None
    AiRecognitionTask: Any = None
    AiQualityControlTask: Any = None
    SmartSubtitlesTask: Any = None
    SmartEraseTask: Any = None
    AIDubbingTask: Any = None
    #: An orchestration: a stored schedule, or an inline DAG (which wins over ``ScheduleId``).
    Activities: list[Activity] | None = Field(default=None, max_length=MAX_ACTIVITIES)
    ScheduleId: int | None = None


def submit_task(
    request: ProcessMediaRequest | Mapping[str, Any],
    *,
    store: TaskStore,
    broker: Broker,
    templates: TemplateLookup,
    account_id: str = "0",
    workflow_id: int | None = None,
    trigger: BucketTrigger | None = None,
    plan: str = "auto",
    allow_private_urls: bool = False,
) -> tuple[str, bool]:
    """Validate, store and dispatch one ProcessMedia request.

    Parameters:
        request: the request, as a model or as decoded wire JSON.
        store: where the task and its sub-tasks are created (WAITING).
        broker: the work queue; :class:`WorkMessage` s grouped by ``plan``, at the task's priority.
        templates: presets and custom templates, to refuse unknown Definitions now.
        account_id: the first part of the TaskId.
        workflow_id: the workflow that fired the task, if any.
        trigger: the bucket event that fired it: a redelivered event returns the same task.
        plan: ``MPS_PLAN``, how sub-tasks are grouped into messages (:func:`group_subtasks`).
        allow_private_urls: ``MPS_URL_ALLOW_PRIVATE`` (a loopback or private ``NotifyUrl`` is refused).

    Returns:
        ``(TaskId, created)``: ``created`` is False when the SessionId (or trigger) named an
        existing task, in which case nothing is published.

    Raises:
        InvalidParameterError: the request is malformed (``InvalidParameterValue.<Field>``), names
            an unsupported member (``UnsupportedOperation``), lacks an output bucket for a URL input
            (``InvalidParameter.OutputStorage``), or names climbing output paths.
        ResourceNotFoundError: ``ResourceNotFound.TemplateNotExist`` for an unknown Definition.
        StorageUnavailableError: the task store did not answer (nothing was published).
    """
    if not isinstance(request, ProcessMediaRequest):
        request = parse_wire(ProcessMediaRequest, dict(request))
    if request.Activities or request.ScheduleId is not None:
        request = with_schedule(request, store)
        return _submit_orchestration(
            request, store, broker, templates, account_id, workflow_id, trigger, allow_private_urls
        )
    task = validate_request(request, templates, allow_private_urls=allow_private_urls)
    subtasks = [NewSubtask(kind=KINDS.of_input(item).name, input=item.to_wire()) for item in task.subtasks()]
    new = _new_task(request, new_task_id(account_id), request.to_wire(), subtasks, workflow_id, trigger)
    record, created = create_task(store, new)
    if created:
        dispatch(broker, record.task_id, len(new.subtasks), record.priority,
                 groups=group_subtasks(new.subtasks, plan))  # fmt: skip
    else:
        logger.info(
            "task %s already exists for this SessionId or trigger: not dispatched again", record.task_id
        )
    return record.task_id, created


def _submit_orchestration(
    request: ProcessMediaRequest,
    store: TaskStore,
    broker: Broker,
    templates: TemplateLookup,
    account_id: str,
    workflow_id: int | None,
    trigger: BucketTrigger | None,
    allow_private_urls: bool,
) -> tuple[str, bool]:
    """:func:`submit_task` for an orchestration: the DAG checked, every activity a sub-task at its
    index, the activities ``input`` leads to published (the others wait for their predecessors)."""
    dag = validate_orchestration(request, templates, allow_private_urls=allow_private_urls)
    wire = request.to_wire()
    wire["Activities"] = stored_activities(request.Activities or [])
    new = _new_task(
        request, new_schedule_task_id(account_id), wire, new_activities(dag), workflow_id, trigger
    )
    record, created = create_task(store, new)
    if created:
        ready = ready_indexes(new.subtasks)
        dispatch(broker, record.task_id, len(ready), record.priority, groups=[(index,) for index in ready])
    return record.task_id, created


def validate_orchestration(
    request: ProcessMediaRequest, templates: TemplateLookup, *, allow_private_urls: bool = False
) -> Dag:
    """Every check of an orchestration request that needs no media: the DAG, each activity's
    templates and output names, the locations and the notification.

    Raises:
        InvalidParameterError, ResourceNotFoundError: as :func:`submit_task` documents.
    """
    _refuse_unsupported(request)
    if request.MediaProcessTask is not None:
        raise InvalidParameterError.field(
            "MediaProcessTask", "give MediaProcessTask or an orchestration (Activities, ScheduleId), not both"
        )
    dag = build_dag(request.Activities or [])
    check_input(request.InputInfo)
    check_activities(dag, request.InputInfo, request.OutputStorage, request.OutputDir, templates)
    check_notify(request.TaskNotifyConfig, allow_private_urls)
    return dag


def with_schedule(request: ProcessMediaRequest, store: TaskStore) -> ProcessMediaRequest:
    """The request with a stored schedule's parts filled in: its ``Activities`` unless the request
    has its own (they win), its output location unless the request names one, its
    ``TaskNotifyConfig`` unless the request has one (the request's replaces it).

    Raises:
        ResourceNotFoundError: ``ResourceNotFound.Schedule`` for a ScheduleId that names no schedule.
    """
    if request.Activities or request.ScheduleId is None:
        return request
    try:
        record = store.get_workflow(request.ScheduleId)
    except ResourceNotFoundError:
        record = None
    if record is None or getattr(record, "kind", "workflow") != "schedule":
        raise ResourceNotFoundError(
            f"schedule {request.ScheduleId} does not exist", code="ResourceNotFound.Schedule"
        )
    schedule = record.body
    own_location = request.OutputStorage is not None or request.OutputDir is not None
    return request.model_copy(
        update={
            "Activities": [Activity.model_validate(item) for item in schedule.get("Activities") or []],
            "OutputStorage": request.OutputStorage
            if own_location
            else _parsed(TaskOutputStorage, schedule.get("OutputStorage")),
            "OutputDir": request.OutputDir if own_location else (schedule.get("OutputDir") or None),
            "TaskNotifyConfig": request.TaskNotifyConfig
            or _parsed(_NotifyConfig, schedule.get("TaskNotifyConfig")),
            "TimeoutSeconds": request.TimeoutSeconds or schedule.get("TimeoutSeconds"),
        }
    )


def _new_task(
    request: ProcessMediaRequest,
    task_id: str,
    wire: dict[str, Any],
    subtasks: list[NewSubtask],
    workflow_id: int | None,
    trigger: BucketTrigger | None,
) -> NewTask:
    """The task to store for ``request``: what every task takes from its request, in one place
    for flat tasks and orchestrations alike."""
    return NewTask(
        task_id=task_id,
        request=wire,
        session_id=request.SessionId or None,
        session_context=request.SessionContext,
        notify=_notify(request.TaskNotifyConfig),
        priority=request.TasksPriority,
        deadline=_deadline(request),
        workflow_id=workflow_id,
        subtasks=subtasks,
        trigger=trigger,
    )


def _deadline(request: ProcessMediaRequest) -> datetime | None:
    """When a task given ``TimeoutSeconds`` (ours) must be over."""
    return utc_now() + timedelta(seconds=request.TimeoutSeconds) if request.TimeoutSeconds else None


def _parsed(model: type[M], value: Any) -> M | None:
    return model.model_validate(value) if value else None


def validate_request(
    request: ProcessMediaRequest, templates: TemplateLookup, *, allow_private_urls: bool = False
) -> MediaProcessTaskInput:
    """Every check that needs no media: members, locations, templates, output names, notification.

    Returns:
        The request's ``MediaProcessTask``.

    Raises:
        InvalidParameterError, ResourceNotFoundError: as :func:`submit_task` documents.
    """
    _refuse_unsupported(request)
    task = request.MediaProcessTask
    if task is None:
        raise InvalidParameterError("MediaProcessTask is required", code="MissingParameter")
    check_input(request.InputInfo)
    output_location(request.InputInfo, request.OutputStorage, None, request.OutputDir)
    for item in task.subtasks():
        output_location(request.InputInfo, request.OutputStorage, item.OutputStorage, request.OutputDir)
    check_request(task, templates)
    check_notify(request.TaskNotifyConfig, allow_private_urls)
    return task


def group_subtasks(subtasks: Sequence[NewSubtask], plan: str = "auto") -> list[tuple[int, ...]]:
    """How the sub-tasks of one task travel: the indexes of each work message.

    - ``split``: one message per sub-task, so idle workers share them out.
    - ``fused``: one message with every sub-task: one worker runs the whole plan (one input fetch,
      one decode shared by the transcodes).
    - ``auto``: sub-tasks that share a decode on one worker travel together (each kind's
      ``message_group``): the transcodes that read the whole timeline go in one message, because on one
      worker they share a decode (the planner fuses exactly these), which saves the same work
      whatever the queue holds, while x264 already keeps every core of that worker busy; spreading
      them would only finish sooner with idle workers to spare, and costs one full decode per
      extra worker. Sampled snapshots and sprites go in one message for the same reason: once one
      of them decodes the timeline, the others ride along (a whole decode saved when both would
      decode; when both seek, the worker runs them one after the other, short runs either way).
      Every other sub-task (time-point snapshots, GIFs: short seek-based runs that share nothing)
      gets its own message, so idle workers finish them while the transcodes run.

    Returns:
        Index tuples in sub-task order (a group is placed at its first index).
    """
    indexes = list(range(len(subtasks)))
    if plan == "split" or not indexes:
        return [(index,) for index in indexes]
    if plan == "fused":
        return [tuple(indexes)]
    shared: dict[str, list[int]] = {}
    for index in indexes:
        name = KINDS.named(subtasks[index].kind).message_group(subtasks[index].input)
        if name is not None:
            shared.setdefault(name, []).append(index)
    groups = [tuple(group) for group in shared.values() if len(group) > 1]
    grouped = {index for group in groups for index in group}
    return sorted(groups + [(index,) for index in indexes if index not in grouped])


def dispatch(
    broker: Broker,
    task_id: str,
    count: int,
    priority: int,
    *,
    groups: Sequence[tuple[int, ...]] | None = None,
) -> int:
    """Publish the work messages of sub-tasks ``0..count-1``; failures are logged, not raised.

    Parameters:
        groups: the indexes of each message (default: one message per sub-task).

    Returns:
        How many messages were published (the rest are left to the relay's redispatch sweep).
    """
    published = 0
    for indexes in groups if groups is not None else [(index,) for index in range(count)]:
        message = WorkMessage(task_id=task_id, indexes=indexes)
        message_id = f"{task_id}:{'+'.join(map(str, indexes))}"
        try:
            broker.publish_work(message.model_dump(mode="json"), priority=priority, message_id=message_id)
            published += 1
        except MpsError as exc:
            # The task is committed and WAITING: the redispatch sweep will publish it later.
            logger.warning(
                "task %s sub-tasks %s not published (%s); left to redispatch", task_id, indexes, exc
            )
    return published


def _refuse_unsupported(request: ProcessMediaRequest) -> None:
    # An empty object ({}), as an SDK model with nothing set serializes, asks for nothing.
    for name in UNSUPPORTED_FIELDS:
        value = getattr(request, name)
        if value is not None and value != {} and value != []:
            raise InvalidParameterError(f"{name} is not supported by this server", code=UNSUPPORTED)


def check_input(info: MediaInputInfo) -> None:
    """Refuse an input that names no file: a URL that is not http(s), a bucket without a key.

    Raises:
        InvalidParameterError: ``InvalidParameterValue.InputInfo``.
    """
    if info.Type == "URL":
        url = info.UrlInputInfo.Url if info.UrlInputInfo is not None else ""
        if not url.lower().startswith(("http://", "https://")):
            raise InvalidParameterError(
                "UrlInputInfo.Url must be an http(s) URL", "InvalidParameterValue.InputInfo"
            )
    else:
        input_location(info)


def check_notify(notify: _NotifyConfig | None, allow_private: bool = False) -> None:
    """Refuse a TaskNotifyConfig mps cannot deliver: an unsupported NotifyType or NotifyMode, a
    URL target without an http(s) NotifyUrl, or one on a private address (unless allowed).

    Raises:
        InvalidParameterError: ``UnsupportedOperation``, ``InvalidParameterValue.NotifyMode`` or
            ``.NotifyUrl``.
    """
    if notify is None:
        return
    kind = notify.NotifyType or ""
    if kind not in NOTIFY_TYPES:
        raise InvalidParameterError(f"NotifyType {kind!r} is not supported by this server", code=UNSUPPORTED)
    if notify.NotifyMode not in (None, "", "Finish", "Change"):
        raise InvalidParameterError.field("NotifyMode", "NotifyMode must be Finish or Change")
    if kind == "URL" and not (notify.NotifyUrl or "").lower().startswith(("http://", "https://")):
        raise InvalidParameterError.field("NotifyUrl", "NotifyType URL needs an http(s) NotifyUrl")
    if kind == "URL":  # literal addresses only: the relay checks what the name resolves to when sending
        check_notify_url(notify.NotifyUrl or "", allow_private=allow_private, resolve=False)


def _notify(notify: _NotifyConfig | None) -> dict[str, Any] | None:
    wire = notify.to_wire() if notify is not None else {}
    return wire or None


__all__ = [
    "ProcessMediaRequest",
    "check_input",
    "check_notify",
    "dispatch",
    "group_subtasks",
    "submit_task",
    "validate_request",
]
