"""Stored orchestrations (Tencent's *Schedules*): what is checked before one is stored, what is
stored, and how it is read back (orchestration.md §1-§2).

A schedule is a row of the workflows table with ``kind="schedule"`` (one id sequence with the
workflows, so a ScheduleId is never a WorkflowId and one bucket-event intake serves both). Its
``body`` is the whole ``CreateSchedule`` request as wire JSON, with every activity's
``PredriveIndex`` computed by the server (:func:`schedule_body`); ``trigger_bucket`` and
``trigger_dir`` are the trigger's normalised location, as for a workflow.

An unknown ScheduleId, or a WorkflowId given as one, is ``ResourceNotFound.Schedule``
(:data:`SCHEDULE_NOT_FOUND`): neither Tencent's SDK error codes nor its API documentation name a
code for it, so the code is ours, in the shape of Tencent's ``ResourceNotFound.<Thing>`` codes.
"""

from __future__ import annotations

from typing import Any, Final

from mps.errors import ResourceNotFoundError
from mps.models import CosInputInfo, MediaInputInfo
from mps.models.schedules import CreateScheduleRequest
from mps.models.validation import parse_wire
from mps.store.base import WorkflowRecord, WorkflowStore
from mps.workflow.dag import Dag, build_dag, predrive_indexes
from mps.workflow.orchestration import check_activities
from mps.workflow.resolve import TemplateLookup
from mps.workflow.submit import check_input, check_notify
from mps.workflow.triggers import TriggerRule, trigger_rule

#: The ``kind`` of a schedule's row in the workflows table.
SCHEDULE: Final = "schedule"
#: Wire code of an unknown ScheduleId (ours: Tencent names none).
SCHEDULE_NOT_FOUND = "ResourceNotFound.Schedule"
#: The file name an upload is imagined with when a schedule's outputs are checked.
_SAMPLE_UPLOAD = "upload.mp4"


def schedule_not_found(schedule_id: int) -> ResourceNotFoundError:
    """The error for an unknown ScheduleId (:data:`SCHEDULE_NOT_FOUND`)."""
    return ResourceNotFoundError(f"schedule {schedule_id} does not exist", code=SCHEDULE_NOT_FOUND)


def stored_schedule(store: WorkflowStore, schedule_id: int) -> tuple[WorkflowRecord, CreateScheduleRequest]:
    """A stored schedule and its request (the body: ``Activities`` with ``PredriveIndex``).

    Parameters:
        store: the workflows table.
        schedule_id: the ScheduleId.

    Returns:
        The record (``kind == "schedule"``) and its ``CreateSchedule`` request.

    Raises:
        ResourceNotFoundError: :data:`SCHEDULE_NOT_FOUND` for an unknown id or a workflow's id.
        InvalidParameterError: a body that no longer parses (only a store edited by hand).
    """
    try:
        record = store.get_workflow(schedule_id)
    except ResourceNotFoundError:
        raise schedule_not_found(schedule_id) from None
    if record.kind != SCHEDULE:
        raise schedule_not_found(schedule_id)
    return record, parse_wire(CreateScheduleRequest, record.body)


def schedule_body(request: CreateScheduleRequest) -> dict[str, Any]:
    """What the store keeps: the request as wire JSON, ``PredriveIndex`` computed on every activity
    (whatever the caller sent there is ignored), ``OutputDir: ""`` left out."""
    body = request.to_wire()
    for activity, predecessors in zip(body["Activities"], predrive_indexes(request.Activities), strict=True):
        activity["PredriveIndex"] = predecessors
    if not body.get("OutputDir"):
        body.pop("OutputDir", None)
    return body


def check_schedule(
    request: CreateScheduleRequest, templates: TemplateLookup, *, allow_private_urls: bool = False
) -> tuple[TriggerRule, Dag]:
    """Every check a schedule passes before it is stored (or enabled): the trigger, the DAG, each
    activity's parameters, the output locations and the notification.

    Parameters:
        request: the schedule as it would be stored.
        templates: presets and custom templates (an unknown Definition is refused now).
        allow_private_urls: ``MPS_URL_ALLOW_PRIVATE`` (a loopback or private ``NotifyUrl``).

    Returns:
        The trigger's rule (its ``bucket`` and ``dir`` are the store's columns) and the DAG.

    Raises:
        InvalidParameterError: ``InvalidParameterValue.Activities`` (or ``.Rules``) naming the
            index of an activity that cannot run; ``UnsupportedOperation`` for an AI activity;
            ``InvalidParameterValue.Dir``/``.Formats``/``.Trigger`` for the trigger; climbing
            output paths; a bad notification.
        ResourceNotFoundError: ``ResourceNotFound.TemplateNotExist`` for an unknown Definition.
    """
    rule = trigger_rule(request.Trigger)
    dag = build_dag(request.Activities)
    upload = CosInputInfo(Bucket=rule.bucket, Region=rule.region, Object=rule.dir + _SAMPLE_UPLOAD)
    sample = MediaInputInfo(Type="COS", CosInputInfo=upload)
    check_input(sample)
    check_activities(dag, sample, request.OutputStorage, request.OutputDir, templates)
    check_notify(request.TaskNotifyConfig, allow_private_urls)
    return rule, dag


__all__ = [
    "SCHEDULE",
    "SCHEDULE_NOT_FOUND",
    "check_schedule",
    "schedule_body",
    "schedule_not_found",
    "stored_schedule",
]
