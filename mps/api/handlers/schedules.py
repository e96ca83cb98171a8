"""Schedule actions (orchestrations, orchestration.md §1): Create/Modify/Describe/Enable/Disable/
DeleteSchedule, and our RunSchedule.

A schedule is a named trigger plus a DAG of activities, stored in the workflows table with
``kind="schedule"`` (:mod:`mps.workflow.schedules`): ScheduleIds and WorkflowIds come from one
sequence, and the bucket-event intake, the reconcile scan and the timed ticks serve both. What is
stored:

- ``body``: the CreateSchedule request as wire JSON, with every activity's ``PredriveIndex``
  computed (what the caller sent there is ignored), so DescribeSchedules echoes the DAG as given;
- ``trigger_bucket`` / ``trigger_dir``: the trigger's bucket and normalised directory.

A schedule that could never run is refused before anything is stored: the DAG
(:func:`mps.workflow.dag.build_dag`: ``InvalidParameterValue.Activities`` naming the index, an AI
activity ``UnsupportedOperation``), each activity's parameters (an unknown Definition is
``ResourceNotFound.TemplateNotExist``), the trigger (as a workflow's, our ``Schedule`` type
included), the output locations and the notification.

Rules, Tencent's where it has them, else the ones mps applies to workflows (README, "Schedules"):

- new schedules are Disabled; ``ScheduleName`` is unique among schedules (a workflow may share it);
- ModifySchedule takes any create field, replaces ``Activities`` whole, clears ``OutputDir`` with
  ``""``, and like DeleteSchedule needs a Disabled schedule (``FailedOperation`` otherwise; the
  status is checked in the same conditional store statement as the change), as mps does for
  ResetWorkflow/DeleteWorkflow;
- EnableSchedule checks the stored schedule again (a template may have been deleted since);
- an unknown ScheduleId (a WorkflowId included) is ``ResourceNotFound.Schedule``: Tencent names
  no code for it, so this one is ours;
- DescribeSchedules answers in Tencent's shapes only: a ``Schedule`` trigger is described as
  DescribeWorkflows describes it (``Type: "Schedule"`` with the location as a
  ``CosFileUploadTrigger``).

Ours, beyond Tencent's API (orchestration.md §4): ``RunSchedule`` (``ScheduleId``, optional
``Reprocess``), one tick now, as ``RunWorkflow``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import Field

from mps.api.actions import ActionRegistry, Handler, RequestContext
from mps.api.handlers import ApiServices, parse_params
from mps.errors import MpsError, ResourceNotFoundError
from mps.models import WireModel
from mps.models.schedules import CreateScheduleRequest, ModifyScheduleRequest, SchedulesInfo
from mps.models.validation import parse_wire
from mps.store.base import WorkflowRecord, WorkflowStatusError
from mps.workflow.schedules import (
    SCHEDULE,
    check_schedule,
    schedule_body,
    schedule_not_found,
    stored_schedule,
)
from mps.workflow.templates import iso_time
from mps.workflow.ticks import WorkflowStarter, run_once
from mps.workflow.triggers import TriggerRule

#: Wire code of ModifySchedule/DeleteSchedule on an Enabled schedule, and of RunSchedule on a
#: Disabled one (Tencent's "operation failed", as for workflows).
SCHEDULE_STATE = "FailedOperation"
#: The actions of this module that are ours, not Tencent's (no SDK request class exists for them).
EXTENSION_ACTIONS = frozenset({"RunSchedule"})
#: Schedules read per store call when DescribeSchedules filters by trigger type.
_PAGE = 100


class ScheduleIdRequest(WireModel):
    """Enable/Disable/DeleteSchedule."""

    ScheduleId: int = Field(ge=1)


class RunScheduleRequest(WireModel):
    """``RunSchedule`` (ours): one tick of the schedule now; ``Reprocess`` starts a new task for
    objects that already have one too."""

    ScheduleId: int = Field(ge=1)
    Reprocess: bool = False


class DescribeSchedulesRequest(WireModel):
    """DescribeSchedules filters and paging; ``[]`` and ``""`` filter nothing, as absent ones."""

    ScheduleIds: list[int] | None = Field(default=None, max_length=100)
    TriggerType: Literal["CosFileUpload", "AwsS3FileUpload", "Schedule", ""] | None = None
    Status: Literal["Enabled", "Disabled", ""] | None = None
    Offset: int = Field(default=0, ge=0)
    Limit: int = Field(default=10, ge=1, le=100)


class ScheduleActions:
    """The schedule actions over the task store (the workflows table) and the template lookup.

    Parameters:
        services: the store, templates (to refuse unknown Definitions), and for RunSchedule the
            object store and broker.
    """

    def __init__(self, services: ApiServices) -> None:
        self.services = services

    def actions(self) -> dict[str, Handler]:
        """Action name -> handler."""
        return {
            "CreateSchedule": self.create_schedule,
            "ModifySchedule": self.modify_schedule,
            "DescribeSchedules": self.describe_schedules,
            "EnableSchedule": self.enable_schedule,
            "DisableSchedule": self.disable_schedule,
            "DeleteSchedule": self.delete_schedule,
            "RunSchedule": self.run_schedule,
        }

    def create_schedule(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        """``CreateSchedule``: check the DAG, its activities and the trigger, store it Disabled,
        answer ``ScheduleId``.

        Raises:
            InvalidParameterError: ``InvalidParameterValue.Activities`` naming the index of an
                activity that cannot run (or ``.Rules``), ``UnsupportedOperation`` for an AI
                activity, a bad trigger (``.Dir``, ``.Formats``, ``.Trigger``), a taken
                ``ScheduleName`` (``InvalidParameterValue.ScheduleName``), a malformed field.
            ResourceNotFoundError: ``ResourceNotFound.TemplateNotExist`` for an unknown Definition.
        """
        request = parse_params(CreateScheduleRequest, params)
        rule = self._checked_rule(request)
        record = self.services.store.create_workflow(
            request.ScheduleName, schedule_body(request), rule.bucket, rule.dir, kind=SCHEDULE
        )
        return {"ScheduleId": record.workflow_id}

    def modify_schedule(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        """``ModifySchedule``: change the fields given (``Activities`` replaced whole, ``OutputDir: ""``
        cleared); the result is checked as a new schedule would be. Disabled only.

        Raises:
            InvalidParameterError, ResourceNotFoundError: as :meth:`create_schedule`, and
                ``ResourceNotFound.Schedule`` for an unknown ScheduleId.
            MpsError: ``FailedOperation`` while it is Enabled.
        """
        request = parse_params(ModifyScheduleRequest, params)
        record, current = stored_schedule(self.services.store, request.ScheduleId)
        if record.status != "Disabled":  # refused before the new DAG and templates are judged
            raise _not_disabled(record.workflow_id, record.status, "modified")
        changes = request.to_wire()
        changes.pop("ScheduleId")
        modified = parse_wire(CreateScheduleRequest, {**current.to_wire(), **changes})
        rule = self._checked_rule(modified)
        with _known(record.workflow_id), _disabled_only("modified"):
            self.services.store.update_workflow(
                record.workflow_id,
                name=modified.ScheduleName,
                body=schedule_body(modified),
                trigger_bucket=rule.bucket,
                trigger_dir=rule.dir,
                if_status="Disabled",
                kind=SCHEDULE,
            )
        return {}

    def describe_schedules(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        """``DescribeSchedules``: the matching total and one page of SchedulesInfo, by ScheduleId.

        Raises:
            InvalidParameterError: more than 100 ScheduleIds, a bad TriggerType, Status, Offset or
                Limit.
        """
        request = parse_params(DescribeSchedulesRequest, params)
        ids, status = request.ScheduleIds or None, request.Status or None
        store = self.services.store
        if not request.TriggerType:
            total, records = store.list_workflows(
                workflow_ids=ids, status=status, offset=request.Offset, limit=request.Limit, kind=SCHEDULE
            )
        else:  # the trigger type is inside the body: filter every match, then page
            matching = [r for r in self._all(ids, status) if r.body["Trigger"]["Type"] == request.TriggerType]
            total, records = len(matching), matching[request.Offset : request.Offset + request.Limit]
        return {"TotalCount": total, "ScheduleInfoSet": [schedule_info(r) for r in records]}

    def enable_schedule(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        """``EnableSchedule``: uploads (or its ticks) fire it from now on. Enabling an Enabled one
        is a no-op. The stored schedule is checked again first (a template it names may be gone).

        Raises:
            ResourceNotFoundError: ``ResourceNotFound.Schedule`` (unknown ScheduleId), or
                ``ResourceNotFound.TemplateNotExist`` for a template deleted since.
        """
        schedule_id = parse_params(ScheduleIdRequest, params).ScheduleId
        _, request = stored_schedule(self.services.store, schedule_id)
        self._checked_rule(request)
        with _known(schedule_id):
            self.services.store.update_workflow(schedule_id, status="Enabled", kind=SCHEDULE)
        return {}

    def disable_schedule(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        """``DisableSchedule``: nothing fires it any more; tasks already started run to the end.

        Raises:
            ResourceNotFoundError: ``ResourceNotFound.Schedule`` for an unknown ScheduleId.
        """
        schedule_id = parse_params(ScheduleIdRequest, params).ScheduleId
        with _known(schedule_id):
            self.services.store.update_workflow(schedule_id, status="Disabled", kind=SCHEDULE)
        return {}

    def delete_schedule(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        """``DeleteSchedule``: only a Disabled schedule can be deleted.

        Raises:
            ResourceNotFoundError: ``ResourceNotFound.Schedule`` for an unknown ScheduleId.
            MpsError: ``FailedOperation`` while it is Enabled.
        """
        schedule_id = parse_params(ScheduleIdRequest, params).ScheduleId
        with _known(schedule_id), _disabled_only("deleted"):
            self.services.store.delete_workflow(schedule_id, if_status="Disabled", kind=SCHEDULE)
        return {}

    def run_schedule(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        """``RunSchedule`` (ours): list the trigger's directory now and start a task for every
        matching object that has none for its ETag (every matching object with ``Reprocess``), as
        ``RunWorkflow`` does for a workflow.

        Returns:
            ``{"TaskCount": n}``, the tasks this run started.

        Raises:
            ResourceNotFoundError: ``ResourceNotFound.Schedule`` for an unknown ScheduleId.
            MpsError: ``FailedOperation`` for a Disabled schedule; ``ResourceInUse`` while a tick
                of it runs elsewhere; a retryable error when a store did not answer.
        """
        request = parse_params(RunScheduleRequest, params)
        record, _ = stored_schedule(self.services.store, request.ScheduleId)
        if record.status != "Enabled":
            message = f"schedule {record.workflow_id} is Disabled; enable it before it can be run"
            raise MpsError(message, code=SCHEDULE_STATE)
        s = self.services
        job = WorkflowStarter(s.store, s.storage, s.broker, s.templates, s.account_id, s.settings.plan).job(
            record
        )
        if job is None:
            raise MpsError(f"schedule {record.workflow_id} is not valid any more", code=SCHEDULE_STATE)
        return {"TaskCount": run_once(job, s.store, s.storage, reprocess=request.Reprocess)}

    def _all(
        self, ids: list[int] | None, status: Literal["Enabled", "Disabled"] | None
    ) -> Iterator[WorkflowRecord]:
        offset = 0
        while True:
            total, page = self.services.store.list_workflows(
                workflow_ids=ids, status=status, offset=offset, limit=_PAGE, kind=SCHEDULE
            )
            yield from page
            offset += len(page)
            if not page or offset >= total:
                return

    def _checked_rule(self, request: CreateScheduleRequest) -> TriggerRule:
        allow_private = self.services.settings.url_allow_private
        rule, _ = check_schedule(request, self.services.templates, allow_private_urls=allow_private)
        return rule


def register_schedule_handlers(registry: ActionRegistry, services: ApiServices) -> ActionRegistry:
    """Register the schedule actions in ``registry`` (Tencent's six and our RunSchedule; called by
    :func:`mps.api.handlers.register_handlers`).

    Returns:
        ``registry``, for chaining.

    Raises:
        ValueError: one of them is already registered.
    """
    for name, handler in ScheduleActions(services).actions().items():
        registry.add(name, handler)
    return registry


def schedule_info(record: WorkflowRecord) -> dict[str, Any]:
    """The SchedulesInfo of a stored schedule, as wire JSON in Tencent's shape (the trigger as
    :meth:`~mps.models.workflows.WorkflowTrigger.described` gives it; ``PredriveIndex`` on every
    activity, as stored)."""
    request = parse_wire(CreateScheduleRequest, record.body)
    info = SchedulesInfo(
        ScheduleId=record.workflow_id,
        ScheduleName=request.ScheduleName,
        Status=record.status,
        Trigger=request.Trigger,
        Activities=request.Activities,
        OutputStorage=request.OutputStorage,
        OutputDir=request.OutputDir or "",
        TaskNotifyConfig=request.TaskNotifyConfig,
        CreateTime=iso_time(_utc(record.create_time)),
        UpdateTime=iso_time(_utc(record.update_time)),
        ResourceId=request.ResourceId or "",
    )
    return {
        **info.to_wire(),
        "Trigger": request.Trigger.described().to_wire(),
        # Our members of an activity (retries, failure branches...) are never in Tencent's answer.
        "Activities": [activity.described() for activity in info.Activities],
    }


def _utc(value: datetime) -> datetime:
    # Stores hand back aware UTC times, but iso_time formats whatever zone it is given.
    return value.astimezone(UTC)


@contextmanager
def _disabled_only(verb: str) -> Iterator[None]:
    """Answer the store's status check (``if_status="Disabled"``) with Tencent's FailedOperation:
    the check and the change are one atomic step, so a racing Enable comes first or finds it changed."""
    try:
        yield
    except WorkflowStatusError as exc:
        raise _not_disabled(exc.workflow_id, exc.status, verb) from None


def _not_disabled(schedule_id: int, status: str, verb: str) -> MpsError:
    message = f"schedule {schedule_id} is {status}; disable it before it can be {verb}"
    return MpsError(message, code=SCHEDULE_STATE)


@contextmanager
def _known(schedule_id: int) -> Iterator[None]:
    """Answer the store's not-found (an unknown id, or a workflow's) with ``ResourceNotFound.Schedule``."""
    try:
        yield
    except ResourceNotFoundError:
        raise schedule_not_found(schedule_id) from None


__all__ = [
    "EXTENSION_ACTIONS",
    "SCHEDULE_STATE",
    "DescribeSchedulesRequest",
    "RunScheduleRequest",
    "ScheduleActions",
    "ScheduleIdRequest",
    "register_schedule_handlers",
    "schedule_info",
]
