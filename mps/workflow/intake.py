"""Bucket-event intake: one new object in, the tasks of the workflows (and schedules) it fires out.

Every source ends here: MinIO/Ceph/AWS notifications over AMQP, the ``POST /webhooks/bucket-events``
webhook (MinIO or SeaweedFS bodies, queued in an :func:`bucket_event_envelope`), and the reconcile
scan (:mod:`mps.workflow.reconcile`). All of them reduce to :class:`~mps.workflow.events.ObjectCreated`
and to :func:`handle_object_created`, so the guarantees hold whatever the path (design.md):

- one task per (workflow, bucket, key, ETag or version): the store deduplicates on the
  :func:`~mps.workflow.triggers.dedupe_key` inside ``create_task``, so an event announced by the
  webhook, three times over AMQP and again by a scan starts one task;
- objects written by mps (``mps-task`` metadata) never start anything. An event that carries no
  metadata (AWS-format records, SeaweedFS entries without user metadata) cannot tell, so the
  object is asked with ``Storage.head`` before anything starts;
- a workflow is read when the event is handled: edits apply to later uploads only.

Schedules (orchestrations, :mod:`mps.workflow.schedules`) sit in the same table as workflows and
fire the same way, under the same filters and deduplication (their ids never clash: one
sequence). What differs is the task request: ``{"InputInfo": <the object>, "ScheduleId": <id>}``
(:func:`schedule_task_request`), the rest (activities, outputs, notification) being read from the
stored schedule when the task is submitted.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol

from mps.broker.base import Broker
from mps.errors import InvalidParameterError, MpsError, ResourceNotFoundError
from mps.metrics import Metrics
from mps.models.common import CosOutputStorage, TaskOutputStorage
from mps.models.schedules import CreateScheduleRequest
from mps.models.validation import parse_wire
from mps.models.workflows import CreateWorkflowRequest
from mps.storage.base import Storage
from mps.store.base import BucketTrigger, ConflictError, TaskStore, WorkflowRecord
from mps.workflow.events import (
    ObjectCreated,
    is_written_by_mps,
    parse_s3_notification,
    parse_seaweedfs_event,
)
from mps.workflow.resolve import TemplateLookup
from mps.workflow.submit import ProcessMediaRequest, submit_task
from mps.workflow.triggers import TriggerRule, dedupe_key, input_info_for, matches, trigger_rule

logger = logging.getLogger(__name__)

#: ``source`` of a queued SeaweedFS filer webhook body.
SEAWEEDFS = "seaweedfs"
#: ``source`` of a queued S3 event notification (MinIO's webhook target, Ceph RGW, AWS).
S3 = "s3"
#: Version of the envelope the webhook queues; a listener refuses versions it does not know.
ENVELOPE_VERSION = 1
#: Workflows read per store call when looking for those of one bucket.
WORKFLOW_PAGE = 100
#: What ``_submit`` answers when the event had started its task already (a repeated event).
_REPEAT = "<repeat>"
#: A stored workflow's request (CreateWorkflow, or CreateSchedule for a schedule) and its trigger.
Parsed = tuple[CreateWorkflowRequest | CreateScheduleRequest, TriggerRule]


class SubmitTask(Protocol):
    """How the intake submits one task: :func:`~mps.workflow.submit.submit_task` (tests pass a
    function that records the request)."""

    def __call__(
        self,
        request: ProcessMediaRequest,
        *,
        store: TaskStore,
        broker: Broker,
        templates: TemplateLookup,
        account_id: str,
        workflow_id: int | None,
        trigger: BucketTrigger | None,
        plan: str,
        allow_private_urls: bool,
    ) -> tuple[str, bool]: ...


def bucket_event_envelope(source: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """The message the webhook queues for the listener: the body as received, and who sent it.

    Parameters:
        source: :data:`SEAWEEDFS` or :data:`S3`.
        body: the decoded JSON body of the webhook request.

    Returns:
        ``{"schema_version": 1, "source": source, "body": body}``.
    """
    return {"schema_version": ENVELOPE_VERSION, "source": source, "body": dict(body)}


def detect_source(data: Mapping[str, Any]) -> str | None:
    """Which format a raw bucket-event body is in, judged by its shape.

    Parameters:
        data: the decoded JSON object.

    Returns:
        :data:`S3` for ``{"Records": ...}`` (or AWS's ``s3:TestEvent``), :data:`SEAWEEDFS` for a
        filer event (``event_type`` and ``message``), None for anything else.
    """
    if "Records" in data or ("Event" in data and "Bucket" in data):
        return S3
    if "event_type" in data and "message" in data:
        return SEAWEEDFS
    return None


def parse_bucket_body(source: str, body: Mapping[str, Any]) -> list[ObjectCreated]:
    """The new objects announced by one body of a known format.

    Raises:
        InvalidParameterError: an unknown ``source``, or a body the format's parser refuses.
    """
    if source == S3:
        return parse_s3_notification(body)
    if source == SEAWEEDFS:
        return parse_seaweedfs_event(body)
    raise InvalidParameterError(f"bucket event: unknown source {source!r}")


def parse_bucket_message(data: Any) -> list[ObjectCreated]:
    """The new objects of one message on the bucket-events queue.

    Parameters:
        data: the decoded message: an envelope from the webhook, or a raw S3 notification as MinIO
            (or Ceph RGW) publishes it to the exchange; a raw SeaweedFS event is accepted too.

    Returns:
        The new objects, in order; ``[]`` for removals, test events, directories...

    Raises:
        InvalidParameterError: not a JSON object, not a recognised shape, or a malformed event.
    """
    if not isinstance(data, Mapping):
        raise InvalidParameterError("bucket event: the message is not a JSON object")
    if "source" in data and "body" in data:
        if data.get("schema_version", ENVELOPE_VERSION) != ENVELOPE_VERSION:
            raise InvalidParameterError(f"bucket event: envelope version {data['schema_version']!r}")
        body = data["body"]
        if not isinstance(body, Mapping):
            raise InvalidParameterError("bucket event: the envelope's body is not an object")
        return parse_bucket_body(str(data["source"]), body)
    source = detect_source(data)
    if source is None:
        raise InvalidParameterError("bucket event: neither an S3 notification nor a SeaweedFS event")
    return parse_bucket_body(source, data)


def enabled_workflows(store: TaskStore, bucket: str) -> list[WorkflowRecord]:
    """Every Enabled workflow and schedule whose trigger watches ``bucket``, by id (read now)."""
    return list(_pages(store, bucket))


def _pages(store: TaskStore, bucket: str | None) -> Iterator[WorkflowRecord]:
    offset = 0
    while True:
        total, page = store.list_workflows(
            status="Enabled", trigger_bucket=bucket, offset=offset, limit=WORKFLOW_PAGE, kind=None
        )
        yield from page
        offset += len(page)
        if not page or offset >= total:
            return


def all_enabled_workflows(store: TaskStore) -> list[WorkflowRecord]:
    """Every Enabled workflow and schedule of every bucket, by id."""
    return list(_pages(store, None))


def workflow_rule(record: WorkflowRecord) -> Parsed | None:
    """A stored workflow's (or schedule's) request and trigger rule; None (logged) if it no longer
    parses."""
    model: type[CreateWorkflowRequest | CreateScheduleRequest] = (
        CreateScheduleRequest if record.kind == "schedule" else CreateWorkflowRequest
    )
    try:
        request = parse_wire(model, record.body)
        return request, trigger_rule(request.Trigger)
    except InvalidParameterError as exc:
        # Only a store edited by hand gets here: the API checks both when the workflow is saved.
        logger.error(
            "%s %d is not valid any more (%s); it starts nothing", record.kind, record.workflow_id, exc
        )
        return None


def task_request(
    workflow: CreateWorkflowRequest, rule: TriggerRule, event: ObjectCreated
) -> ProcessMediaRequest:
    """The ProcessMedia request an upload makes for a workflow (mps-api.md §9).

    Parameters:
        workflow: the workflow as created (or last reset).
        rule: its trigger's rule.
        event: the upload.

    Returns:
        InputInfo ``COS {Bucket, Region, Object: "/key"}``; OutputStorage the workflow's, else the
        trigger bucket; OutputDir the workflow's, else the object's directory; the workflow's
        MediaProcessTask, TaskNotifyConfig and ``TaskPriority`` (as ``TasksPriority``).
    """
    default_storage = TaskOutputStorage(
        Type="COS", CosOutputStorage=CosOutputStorage(Bucket=rule.bucket, Region=rule.region or None)
    )
    directory = event.key.rpartition("/")[0]
    return ProcessMediaRequest(
        InputInfo=input_info_for(event, rule.region),
        OutputStorage=workflow.OutputStorage or default_storage,
        OutputDir=workflow.OutputDir or ("/" + directory + "/" if directory else "/"),
        MediaProcessTask=workflow.MediaProcessTask,
        TaskNotifyConfig=workflow.TaskNotifyConfig,
        TimeoutSeconds=workflow.TimeoutSeconds,
        TasksPriority=workflow.TaskPriority,
    )


def schedule_task_request(schedule_id: int, rule: TriggerRule, event: ObjectCreated) -> ProcessMediaRequest:
    """The ProcessMedia request an upload makes for a schedule: the object and the ScheduleId,
    nothing else (the activities, ``OutputStorage``, ``OutputDir`` and ``TaskNotifyConfig`` are the
    stored schedule's, read when the task is submitted; without them the outputs go next to the
    object, as a workflow's).

    Parameters:
        schedule_id: the schedule.
        rule: its trigger's rule (the region echoed into the input).
        event: the upload.
    """
    return ProcessMediaRequest(InputInfo=input_info_for(event, rule.region), ScheduleId=schedule_id)


def request_for(record: WorkflowRecord, parsed: Parsed, event: ObjectCreated) -> ProcessMediaRequest:
    """The task request an upload makes for a stored workflow or schedule (:func:`task_request`,
    :func:`schedule_task_request`)."""
    source, rule = parsed
    if isinstance(source, CreateScheduleRequest):
        return schedule_task_request(record.workflow_id, rule, event)
    return task_request(source, rule, event)


def handle_object_created(
    event: ObjectCreated,
    *,
    store: TaskStore,
    broker: Broker,
    templates: TemplateLookup,
    storage: Storage,
    workflows: Sequence[WorkflowRecord] | None = None,
    account_id: str = "0",
    plan: str = "auto",
    metrics: Metrics | None = None,
    run: str | None = None,
    submit: SubmitTask = submit_task,
) -> list[str]:
    """Start the task of every Enabled workflow (and schedule) this new object fires, once.

    Parameters:
        event: the new object, from any source.
        store: workflows are read from it, tasks created in it (deduplicated on the trigger key).
        broker: the work queue the new tasks' sub-tasks go to.
        templates: template lookup, for ProcessMedia's checks.
        storage: asked (``head``) for the object's metadata when the event carries none.
        workflows: the workflows to consider, whatever their trigger type (the reconcile scan
            and the timed ticks choose them); default: every Enabled workflow of ``event.bucket``
            with an upload trigger, read now (a timed trigger never fires on an upload).
        account_id: first part of new TaskIds.
        plan: how sub-tasks are grouped into work messages (``MPS_PLAN``).
        metrics: counts the event as received, and as deduplicated when a workflow it fires
            already had its task (None: not counted).
        run: a reprocessing run's id (:func:`~mps.workflow.triggers.dedupe_key`): objects that
            already have a task get a new one, once per run.
        submit: submits one task (:func:`~mps.workflow.submit.submit_task`).

    Returns:
        The TaskIds this call created; ``[]`` when nothing matched, mps wrote the object, or every
        match already had its task (a repeated event).

    Raises:
        MpsError: a retryable failure (store, object store or broker unavailable): handling the
            event again later is safe. Permanent failures of one workflow are logged and skipped.
    """
    candidates = enabled_workflows(store, event.bucket) if workflows is None else workflows
    on_upload_only = workflows is None
    fired = [(record, parsed) for record in candidates if (parsed := _fires(record, event, on_upload_only))]
    confirmed = confirm_object(event, storage) if fired else None
    started, repeats = [], 0
    for record, parsed in fired:
        if confirmed is None:
            break
        request = request_for(record, parsed, confirmed)
        trigger = dedupe_key(record.workflow_id, confirmed, run)
        task_id = _submit(trigger, request, confirmed, store, broker, templates, account_id, plan, submit)
        if task_id is _REPEAT:
            repeats += 1
        elif task_id is not None:
            started.append(task_id)
    if metrics is not None:
        metrics.bucket_event(event.source, duplicate=repeats > 0)
    return started


def _fires(record: WorkflowRecord, event: ObjectCreated, on_upload_only: bool) -> Parsed | None:
    if record.status != "Enabled":
        return None
    parsed = workflow_rule(record)
    if parsed is None or (on_upload_only and not parsed[1].on_upload):
        return None  # a timed trigger fires on its ticks, never on an upload
    return parsed if matches(parsed[1], event) else None


def confirm_object(event: ObjectCreated, storage: Storage) -> ObjectCreated | None:
    """The event, completed from the object store when it lacks metadata or an ETag.

    Parameters:
        event: the new object as announced.
        storage: asked with ``head`` only when needed.

    Returns:
        The event (with the object's metadata, and its ETag if the event had neither ETag nor
        version); None when mps wrote the object, or it is gone, or its bucket is unknown.

    Raises:
        MpsError: the object store did not answer (retryable).
    """
    if is_written_by_mps(event):
        return None
    if event.metadata and (event.etag or event.version_id):
        return event
    try:
        info = storage.head(event.bucket, event.key)
    except (ResourceNotFoundError, InvalidParameterError) as exc:
        logger.warning("bucket event for %s/%s: object store says %s; ignored", event.bucket, event.key, exc)
        return None
    if info is None:
        logger.info("bucket event for %s/%s: the object is gone; ignored", event.bucket, event.key)
        return None
    etag = event.etag or ("" if event.version_id else info.etag)
    confirmed = replace(event, metadata=dict(info.metadata), etag=etag, size=event.size or info.size)
    return None if is_written_by_mps(confirmed) else confirmed


def _submit(
    trigger: BucketTrigger,
    request: ProcessMediaRequest,
    event: ObjectCreated,
    store: TaskStore,
    broker: Broker,
    templates: TemplateLookup,
    account_id: str,
    plan: str,
    submit: SubmitTask,
) -> str | None:
    """Submit one workflow's (or schedule's) task; the new TaskId, :data:`_REPEAT` when the event's
    task already existed, or None for a permanent refusal."""
    workflow_id = trigger.workflow_id
    try:
        task_id, created = submit(
            request, store=store, broker=broker, templates=templates, account_id=account_id,
            workflow_id=workflow_id, trigger=trigger, plan=plan,
            allow_private_urls=True,  # judged when the workflow was saved, and again by the relay
        )  # fmt: skip
    except ConflictError:
        return _REPEAT  # claimed by claim_trigger without a task: that event was handled
    except MpsError as exc:
        if exc.retryable:
            raise
        # e.g. a template deleted since the workflow was saved: this workflow cannot run it, others may.
        logger.warning(
            "workflow %d refused %s/%s: %s [%s]", workflow_id, event.bucket, event.key, exc, exc.code
        )
        return None
    if created:
        logger.info("workflow %d: %s/%s (%s) started task %s", workflow_id, event.bucket, event.key,
                    event.source, task_id)  # fmt: skip
        return task_id
    return _REPEAT


__all__ = [
    "ENVELOPE_VERSION",
    "S3",
    "SEAWEEDFS",
    "all_enabled_workflows",
    "bucket_event_envelope",
    "confirm_object",
    "detect_source",
    "enabled_workflows",
    "handle_object_created",
    "parse_bucket_body",
    "parse_bucket_message",
    "Parsed",
    "SubmitTask",
    "request_for",
    "schedule_task_request",
    "task_request",
    "workflow_rule",
]
