"""Workflow actions: Create/Describe/Enable/Disable/Delete/ResetWorkflow (mps-api.md §9).

A workflow is a named bucket trigger plus the ProcessMedia-like work each matching upload starts.
What is stored is what the bucket listener reads (``list_workflows(status="Enabled",
trigger_bucket=...)``):

- ``body``: the CreateWorkflow request as wire JSON (for ResetWorkflow, the same minus
  ``WorkflowId``), exactly as sent once validated, so DescribeWorkflows echoes what the caller gave;
- ``trigger_bucket`` / ``trigger_dir``: the trigger's bucket and *normalised* directory
  (:func:`mps.workflow.triggers.trigger_rule`), the columns the listener filters on.

A workflow that could never run is refused when it is created (or reset): the trigger goes through
``trigger_rule`` and the task part through ProcessMedia's own checks
(:func:`mps.workflow.submit.validate_request`), with an upload in the trigger's directory standing
in for the input. New workflows are Disabled; Delete and Reset need a Disabled one.

Error codes (none of Tencent's ``errorcodes.py`` is workflow-specific, so the nearest real ones):

- unknown WorkflowId: ``ResourceNotFound`` (the store's ``ResourceNotFound.Workflow`` is not a
  code Tencent lists, so it is answered with the family code the SDK knows);
- Delete or Reset of an Enabled workflow: ``FailedOperation`` (Tencent's "operation failed"; the
  message says to disable it first). ``UnsupportedOperation`` is kept for features this server
  lacks, so a client can tell "not now" from "never".

Ours, beyond Tencent's API (orchestration.md §4): ``Trigger.Type: "Schedule"`` (a timed backfill,
:mod:`mps.workflow.ticks`), which DescribeWorkflows answers in Tencent's shape
(:meth:`~mps.models.workflows.WorkflowTrigger.described`); ``RunWorkflow`` (one tick now, answering
``TaskCount``: ``FailedOperation`` for a Disabled workflow, ``ResourceInUse`` while another tick of
it runs); ``DescribeWorkflowTrigger`` (the trigger as given, with the last and next tick times).
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
from mps.models import CosInputInfo, MediaInputInfo, WireModel
from mps.models.workflows import CreateWorkflowRequest, ResetWorkflowRequest, WorkflowInfo
from mps.store.base import WorkflowRecord, WorkflowStatusError
from mps.workflow.submit import ProcessMediaRequest, validate_request
from mps.workflow.templates import iso_time
from mps.workflow.ticks import WorkflowStarter, last_tick, run_once, workflow_lease
from mps.workflow.triggers import TriggerRule, trigger_rule

#: Wire code of an unknown WorkflowId (the generic one of Tencent's ``errorcodes.py``).
WORKFLOW_NOT_FOUND = "ResourceNotFound"
#: Wire code of Delete/Reset on an Enabled workflow.
WORKFLOW_ENABLED = "FailedOperation"
#: Wire code of RunWorkflow on a Disabled workflow.
WORKFLOW_DISABLED = "FailedOperation"
#: The actions of this module that are ours, not Tencent's (no SDK request class exists for them).
EXTENSION_ACTIONS = frozenset({"RunWorkflow", "DescribeWorkflowTrigger"})
#: The file name an upload is imagined with when a workflow's task part is validated.
_SAMPLE_UPLOAD = "upload.mp4"


class WorkflowIdRequest(WireModel):
    """Enable/Disable/DeleteWorkflow."""

    WorkflowId: int = Field(ge=1)


class RunWorkflowRequest(WireModel):
    """``RunWorkflow`` (ours): one tick of the workflow now; ``Reprocess`` starts a new task for
    objects that already have one too."""

    WorkflowId: int = Field(ge=1)
    Reprocess: bool = False


class DescribeWorkflowsRequest(WireModel):
    """DescribeWorkflows filters and paging; ``[]`` and ``""`` filter nothing, as absent ones."""

    WorkflowIds: list[int] | None = Field(default=None, max_length=100)
    Status: Literal["Enabled", "Disabled", ""] | None = None
    Offset: int = Field(default=0, ge=0)
    Limit: int = Field(default=10, ge=1, le=100)


class WorkflowActions:
    """The workflow actions over the task store, the object store and the template lookup.

    Parameters:
        services: the store (workflows) and templates (to refuse unknown Definitions).
    """

    def __init__(self, services: ApiServices) -> None:
        self.services = services

    def actions(self) -> dict[str, Handler]:
        """Action name -> handler."""
        return {
            "CreateWorkflow": self.create_workflow,
            "DescribeWorkflows": self.describe_workflows,
            "EnableWorkflow": self.enable_workflow,
            "DisableWorkflow": self.disable_workflow,
            "DeleteWorkflow": self.delete_workflow,
            "ResetWorkflow": self.reset_workflow,
            "RunWorkflow": self.run_workflow,
            "DescribeWorkflowTrigger": self.describe_workflow_trigger,
        }

    def create_workflow(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        """``CreateWorkflow``: validate the trigger and the work, store it Disabled, answer ``WorkflowId``.

        Raises:
            InvalidParameterError: a malformed field (``InvalidParameterValue.<Field>``, including
                ``.Dir``/``.Formats`` of the trigger), a taken ``WorkflowName``, an unsupported
                member (``UnsupportedOperation``), no ``MediaProcessTask`` (``MissingParameter``).
            ResourceNotFoundError: ``ResourceNotFound.TemplateNotExist`` for an unknown Definition.
        """
        request = parse_params(CreateWorkflowRequest, params)
        rule = self._checked_rule(request)
        record = self.services.store.create_workflow(
            request.WorkflowName, _body(request), rule.bucket, rule.dir
        )
        return {"WorkflowId": record.workflow_id}

    def describe_workflows(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        """``DescribeWorkflows``: the matching total and one page of WorkflowInfo, by WorkflowId.

        Raises:
            InvalidParameterError: more than 100 WorkflowIds, a bad Status, Offset or Limit.
        """
        request = parse_params(DescribeWorkflowsRequest, params)
        total, records = self.services.store.list_workflows(
            workflow_ids=request.WorkflowIds or None,
            status=request.Status or None,
            offset=request.Offset,
            limit=request.Limit,
        )
        return {"TotalCount": total, "WorkflowInfoSet": [workflow_info(r).to_wire() for r in records]}

    def enable_workflow(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        """``EnableWorkflow``: uploads from now on fire it. Enabling an Enabled one is a no-op.

        The stored workflow is checked again first: a template it names may have been deleted
        since it was created, and an enabled workflow that fails every upload helps nobody.

        Raises:
            ResourceNotFoundError: ``ResourceNotFound`` (unknown WorkflowId), or
                ``ResourceNotFound.TemplateNotExist`` for a template deleted since.
        """
        workflow_id = parse_params(WorkflowIdRequest, params).WorkflowId
        record = self._get(workflow_id)
        self._checked_rule(CreateWorkflowRequest.model_validate(record.body))
        with _known(workflow_id):
            self.services.store.update_workflow(workflow_id, status="Enabled", kind="workflow")
        return {}

    def disable_workflow(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        """``DisableWorkflow``: uploads stop firing it; tasks already started run to the end.

        Raises:
            ResourceNotFoundError: ``ResourceNotFound`` for an unknown WorkflowId.
        """
        workflow_id = parse_params(WorkflowIdRequest, params).WorkflowId
        with _known(workflow_id):
            self.services.store.update_workflow(workflow_id, status="Disabled", kind="workflow")
        return {}

    def delete_workflow(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        """``DeleteWorkflow``: only a Disabled workflow can be deleted.

        Raises:
            ResourceNotFoundError: ``ResourceNotFound`` for an unknown WorkflowId.
            MpsError: ``FailedOperation`` while it is Enabled.
        """
        workflow_id = parse_params(WorkflowIdRequest, params).WorkflowId
        with _known(workflow_id), _disabled_only("deleted"):
            self.services.store.delete_workflow(workflow_id, if_status="Disabled", kind="workflow")
        return {}

    def reset_workflow(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        """``ResetWorkflow``: replace everything but the id, status and create time; Disabled only.

        Raises:
            InvalidParameterError, ResourceNotFoundError: as :meth:`create_workflow`, and
                ``ResourceNotFound`` for an unknown WorkflowId.
            MpsError: ``FailedOperation`` while it is Enabled.
        """
        request = parse_params(ResetWorkflowRequest, params)
        _require_disabled(self._get(request.WorkflowId), "reset")  # refused before templates are checked
        rule = self._checked_rule(request)
        with _known(request.WorkflowId), _disabled_only("reset"):
            self.services.store.update_workflow(
                request.WorkflowId,
                name=request.WorkflowName,
                body=_body(request),
                trigger_bucket=rule.bucket,
                trigger_dir=rule.dir,
                if_status="Disabled",
                kind="workflow",
            )
        return {}

    def run_workflow(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        """``RunWorkflow`` (ours): list the trigger's directory now and start a task for every
        matching object that has none for its ETag (every matching object with ``Reprocess``).

        Works for every trigger type (for an upload trigger, a backfill of its directory) and
        leaves a timed trigger's schedule as it was.

        Returns:
            ``{"TaskCount": n}``, the tasks this run started.

        Raises:
            ResourceNotFoundError: ``ResourceNotFound`` for an unknown WorkflowId.
            MpsError: ``FailedOperation`` for a Disabled workflow; ``ResourceInUse`` while a tick
                of it runs elsewhere; a retryable error when a store did not answer.
        """
        request = parse_params(RunWorkflowRequest, params)
        record = self._get(request.WorkflowId)
        if record.status != "Enabled":
            message = f"workflow {record.workflow_id} is Disabled; enable it before it can be run"
            raise MpsError(message, code=WORKFLOW_DISABLED)
        job = self._starter().job(record)
        if job is None:
            raise MpsError(f"workflow {record.workflow_id} is not valid any more", code=WORKFLOW_DISABLED)
        s = self.services
        return {"TaskCount": run_once(job, s.store, s.storage, reprocess=request.Reprocess)}

    def describe_workflow_trigger(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        """``DescribeWorkflowTrigger`` (ours): the trigger as given (a ``Schedule`` one included,
        which DescribeWorkflows answers in Tencent's shape), and for a timed trigger the time its
        last tick was due and the next one (``""`` when none, or while Disabled).

        Raises:
            ResourceNotFoundError: ``ResourceNotFound`` for an unknown WorkflowId.
        """
        workflow_id = parse_params(WorkflowIdRequest, params).WorkflowId
        record = self._get(workflow_id)
        request = CreateWorkflowRequest.model_validate(record.body)
        answer: dict[str, Any] = {"WorkflowId": workflow_id, "Trigger": request.Trigger.to_wire()}
        job = self._starter().job(record)
        schedule = job.rule.schedule if job is not None else None
        if job is None or schedule is None:
            return answer
        lease = self.services.store.get_lease(workflow_lease(workflow_id))
        stored = lease.last_tick if lease is not None else None
        following = schedule.next_after(last_tick(job, lease))
        enabled = record.status == "Enabled"
        return {
            **answer,
            "LastTickTime": iso_time(_utc(stored)) if stored is not None else "",
            "NextTickTime": iso_time(_utc(following)) if enabled else "",
        }

    def _starter(self) -> WorkflowStarter:
        s = self.services
        return WorkflowStarter(s.store, s.storage, s.broker, s.templates, s.account_id, s.settings.plan)

    def _get(self, workflow_id: int) -> WorkflowRecord:
        with _known(workflow_id):
            record = self.services.store.get_workflow(workflow_id)
        if record.kind != "workflow":  # a ScheduleId: the two kinds share one id sequence
            raise ResourceNotFoundError(f"workflow {workflow_id} does not exist", code=WORKFLOW_NOT_FOUND)
        return record

    def _checked_rule(self, request: CreateWorkflowRequest) -> TriggerRule:
        """The trigger's rule, once the work it would start has passed ProcessMedia's checks."""
        rule = trigger_rule(request.Trigger)
        sample, allow_private = sample_task(request, rule), self.services.settings.url_allow_private
        validate_request(sample, self.services.templates, allow_private_urls=allow_private)
        return rule


def register_workflow_handlers(registry: ActionRegistry, services: ApiServices) -> ActionRegistry:
    """Register the workflow actions in ``registry`` (Tencent's six and our two; called by
    :func:`mps.api.handlers.register_handlers`).

    Returns:
        ``registry``, for chaining.

    Raises:
        ValueError: one of them is already registered.
    """
    for name, handler in WorkflowActions(services).actions().items():
        registry.add(name, handler)
    return registry


def sample_task(request: CreateWorkflowRequest, rule: TriggerRule) -> ProcessMediaRequest:
    """The ProcessMedia request an upload into the trigger's directory would make.

    Parameters:
        request: the workflow.
        rule: its trigger's normalised rule (the upload's bucket, region and directory).

    Returns:
        The request, with the workflow's outputs, work, notification and priority; the AI members
        are carried over so that ProcessMedia's checks refuse them by name.
    """
    upload = CosInputInfo(Bucket=rule.bucket, Region=rule.region, Object=rule.dir + _SAMPLE_UPLOAD)
    return ProcessMediaRequest(
        InputInfo=MediaInputInfo(Type="COS", CosInputInfo=upload),
        OutputStorage=request.OutputStorage,
        OutputDir=request.OutputDir,
        MediaProcessTask=request.MediaProcessTask,
        TaskNotifyConfig=request.TaskNotifyConfig,
        TasksPriority=request.TaskPriority,
        AiContentReviewTask=request.AiContentReviewTask,
        AiAnalysisTask=request.AiAnalysisTask,
        AiRecognitionTask=request.AiRecognitionTask,
    )


def workflow_info(record: WorkflowRecord) -> WorkflowInfo:
    """The WorkflowInfo of a stored workflow (its body is a CreateWorkflow request)."""
    return WorkflowInfo.from_request(
        CreateWorkflowRequest.model_validate(record.body),
        workflow_id=record.workflow_id,
        status=record.status,
        create_time=iso_time(_utc(record.create_time)),
        update_time=iso_time(_utc(record.update_time)),
    )


def _utc(value: datetime) -> datetime:
    # Stores hand back aware UTC times, but iso_time formats whatever zone it is given.
    return value.astimezone(UTC)


def _body(request: CreateWorkflowRequest) -> dict[str, Any]:
    """What the store keeps: the CreateWorkflow request as wire JSON (never a Reset's WorkflowId)."""
    body = request.to_wire()
    body.pop("WorkflowId", None)
    return body


@contextmanager
def _disabled_only(verb: str) -> Iterator[None]:
    """Answer the store's status check (``if_status="Disabled"``) with Tencent's FailedOperation.

    The check and the change are one atomic step in the store, so an Enable racing with a Delete
    or Reset either comes first (and the change is refused) or finds the workflow already changed.
    """
    try:
        yield
    except WorkflowStatusError as exc:
        raise _not_disabled(exc.workflow_id, exc.status, verb) from None


def _require_disabled(record: WorkflowRecord, verb: str) -> None:
    if record.status != "Disabled":
        raise _not_disabled(record.workflow_id, record.status, verb)


def _not_disabled(workflow_id: int, status: str, verb: str) -> MpsError:
    message = f"workflow {workflow_id} is {status}; disable it before it can be {verb}"
    return MpsError(message, code=WORKFLOW_ENABLED)


@contextmanager
def _known(workflow_id: int) -> Iterator[None]:
    """Answer the store's not-found for this workflow with :data:`WORKFLOW_NOT_FOUND`."""
    try:
        yield
    except ResourceNotFoundError:
        raise ResourceNotFoundError(
            f"workflow {workflow_id} does not exist", code=WORKFLOW_NOT_FOUND
        ) from None


__all__ = [
    "EXTENSION_ACTIONS",
    "WORKFLOW_DISABLED",
    "WORKFLOW_ENABLED",
    "WORKFLOW_NOT_FOUND",
    "DescribeWorkflowsRequest",
    "RunWorkflowRequest",
    "WorkflowActions",
    "WorkflowIdRequest",
    "register_workflow_handlers",
    "sample_task",
    "workflow_info",
]
