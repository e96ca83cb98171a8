"""Workflows bound to buckets: the CreateWorkflow / ResetWorkflow requests and WorkflowInfo (mps-api.md §9).

Field names are those of ``tencentcloud.mps.v20190612.models`` (``CreateWorkflowRequest``,
``WorkflowTrigger``, ``CosFileUploadTrigger``, ``AwsS3FileUploadTrigger``, ``ResetWorkflowRequest``,
``WorkflowInfo``). These models check shapes only; what a trigger's ``Dir`` and ``Formats`` mean
(and whether they are valid) is decided in :mod:`mps.workflow.triggers`, which the handlers call.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, ValidationError, ValidatorFunctionWrapHandler, model_validator

from mps.models.base import UnsupportedFields, WireModel
from mps.models.common import TaskNotifyConfig, TaskOutputStorage
from mps.models.tasks import MediaProcessTaskInput, TaskWorkRequest

#: ``WorkflowTrigger.Type`` values and the member each one needs.
TRIGGER_TYPES: dict[str, str] = {
    "CosFileUpload": "CosFileUploadTrigger",
    "AwsS3FileUpload": "AwsS3FileUploadTrigger",
    "Schedule": "ScheduleTrigger",  # ours (orchestration.md §4): a timed backfill, not an upload
}
#: The sub-task sets Tencent echoes in ``WorkflowInfo.MediaProcessTask``, as ``[]`` when empty.
ECHOED_TASK_SETS = (
    "TranscodeTaskSet",
    "AnimatedGraphicTaskSet",
    "SnapshotByTimeOffsetTaskSet",
    "SampleSnapshotTaskSet",
    "ImageSpriteTaskSet",
    "AdaptiveDynamicStreamingTaskSet",
)
#: Members of the request that this server does not run; kept raw so handlers can refuse them by name.
UNSUPPORTED_WORKFLOW_FIELDS = ("AiContentReviewTask", "AiAnalysisTask", "AiRecognitionTask")


class CosFileUploadTrigger(WireModel):
    """Uploads to a COS bucket (for mps, a bucket of the configured S3 store) that fire the workflow."""

    Bucket: str = Field(min_length=1)
    #: Accepted and ignored: mps has one object store.
    Region: str = ""
    #: The watched directory, ``/…/``; ``/`` (the whole bucket) when absent.
    Dir: str | None = None
    #: Extensions that fire, dot optional; ``*`` = any; absent, ``[]`` or ``[""]`` = the built-in set.
    Formats: list[str] | None = None


class AwsS3FileUploadTrigger(WireModel):
    """Uploads to an AWS-S3-style bucket; for mps, the same store as a COS trigger.

    mps hears of uploads from its own bucket events, never from an SQS queue: ``AwsSQS`` is refused.
    """

    unsupported_fields: ClassVar[UnsupportedFields] = {"AwsSQS": ()}

    S3Bucket: str = Field(min_length=1)
    S3Region: str = ""
    Dir: str | None = None
    Formats: list[str] | None = None
    S3SecretId: str | None = None
    S3SecretKey: str | None = None


class ScheduleTrigger(WireModel):
    """Ours, not Tencent's (orchestration.md §4): a bucket directory backfilled on a timer.

    At each tick, every object under ``Dir`` whose extension is in ``Formats`` and that has no task
    of this workflow yet for its ETag starts one. Exactly one of ``Cron`` (five fields, UTC) and
    ``IntervalSeconds`` is given; :func:`mps.workflow.schedule.parse_schedule` checks them.
    """

    Cron: str | None = None
    IntervalSeconds: int | None = None
    Bucket: str = Field(min_length=1)
    Region: str = ""
    Dir: str | None = None
    Formats: list[str] | None = None


# Field names equal class names in Tencent's contract; the aliases keep annotations resolvable.
_CosTrigger = CosFileUploadTrigger
_S3Trigger = AwsS3FileUploadTrigger
_ScheduleTrigger = ScheduleTrigger


class WorkflowTrigger(WireModel):
    """What fires a workflow: ``Type`` says which trigger object is set.

    ``CosFileUpload`` and ``AwsS3FileUpload`` are Tencent's (an upload fires); ``Schedule`` is
    ours (a timer fires, :class:`ScheduleTrigger`), sent as raw JSON since the SDK's typed models
    drop fields they do not know. Every problem of a ``ScheduleTrigger`` is
    ``InvalidParameterValue.Trigger``.
    """

    #: Members that are ours, not Tencent's (never in an answer: see :meth:`described`).
    extension_fields: ClassVar[frozenset[str]] = frozenset({"ScheduleTrigger"})

    Type: Literal["CosFileUpload", "AwsS3FileUpload", "Schedule"]
    CosFileUploadTrigger: _CosTrigger | None = None
    AwsS3FileUploadTrigger: _S3Trigger | None = None
    ScheduleTrigger: _ScheduleTrigger | None = None

    @model_validator(mode="wrap")
    @classmethod
    def _schedule_errors_name_the_trigger(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        # A bad ScheduleTrigger member is reported on Trigger itself (InvalidParameterValue.Trigger):
        # the extension has one error code, not one per member.
        try:
            return handler(data)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            if not first["loc"] or first["loc"][0] != "ScheduleTrigger":
                raise
            path = ".".join(str(part) for part in first["loc"])
            raise ValueError(f"{path}: {first['msg'].removeprefix('Value error, ')}") from None

    @model_validator(mode="after")
    def _matching_trigger_is_set(self) -> WorkflowTrigger:
        member = TRIGGER_TYPES[self.Type]
        if getattr(self, member) is None:
            raise ValueError(f"Type {self.Type} needs {member}")
        return self

    @property
    def _active(self) -> _CosTrigger | _S3Trigger | _ScheduleTrigger:
        active = getattr(self, TRIGGER_TYPES[self.Type])
        assert active is not None  # checked by the validator
        return active

    @property
    def bucket(self) -> str:
        """The watched bucket (``Bucket`` or ``S3Bucket``, whichever ``Type`` names)."""
        active = self._active
        return active.S3Bucket if isinstance(active, _S3Trigger) else active.Bucket

    @property
    def region(self) -> str:
        """The region as given (``Region`` or ``S3Region``), echoed into the task's input."""
        active = self._active
        return active.S3Region if isinstance(active, _S3Trigger) else active.Region

    @property
    def dir(self) -> str | None:
        """``Dir`` as given (not normalised)."""
        return self._active.Dir

    @property
    def formats(self) -> list[str] | None:
        """``Formats`` as given (not normalised)."""
        return self._active.Formats

    def described(self) -> WorkflowTrigger:
        """The trigger in Tencent's response shape.

        Tencent's ``WorkflowTrigger`` has no ``ScheduleTrigger`` member (the SDK warns on it and
        drops it), so a ``Schedule`` trigger is described by ``Type: "Schedule"`` and the watched
        location as a ``CosFileUploadTrigger`` (Bucket, Region, Dir, Formats); the schedule itself
        is answered by our ``DescribeWorkflowTrigger``. Tencent's types are returned as they are.
        """
        if self.ScheduleTrigger is None:
            return self
        timed = self.ScheduleTrigger
        location = _CosTrigger(Bucket=timed.Bucket, Region=timed.Region, Dir=timed.Dir, Formats=timed.Formats)
        # Built without validation: this shape is an answer, not a trigger anyone could create.
        return WorkflowTrigger.model_construct(Type="Schedule", CosFileUploadTrigger=location)


_Trigger = WorkflowTrigger
_OutputStorage = TaskOutputStorage
_NotifyConfig = TaskNotifyConfig
_TaskInput = MediaProcessTaskInput


class CreateWorkflowRequest(TaskWorkRequest):
    """``CreateWorkflow``: a named trigger plus the ProcessMedia-like work it starts.

    Note ``TaskPriority`` (singular) here, where ProcessMedia says ``TasksPriority``.
    """

    WorkflowName: str = Field(min_length=1, max_length=128)
    Trigger: _Trigger
    AiContentReviewTask: Any = None
    AiAnalysisTask: Any = None
    AiRecognitionTask: Any = None
    TaskPriority: int = Field(default=0, ge=-10, le=10)


class ResetWorkflowRequest(CreateWorkflowRequest):
    """``ResetWorkflow``: a full replacement of a Disabled workflow."""

    WorkflowId: int


class WorkflowInfo(WireModel):
    """One workflow as ``DescribeWorkflows`` returns it (``WorkflowInfoSet`` items)."""

    WorkflowId: int
    WorkflowName: str
    Status: Literal["Enabled", "Disabled"]
    Trigger: _Trigger
    OutputStorage: _OutputStorage | None = None
    OutputDir: str = ""
    #: Raw, so that every ``…TaskSet`` can be echoed, as Tencent does, even when empty.
    MediaProcessTask: dict[str, Any] | None = None
    AiContentReviewTask: Any = None
    AiAnalysisTask: Any = None
    AiRecognitionTask: Any = None
    TaskNotifyConfig: _NotifyConfig | None = None
    TaskPriority: int = 0
    CreateTime: str = ""
    UpdateTime: str = ""

    @classmethod
    def from_request(
        cls,
        request: CreateWorkflowRequest,
        *,
        workflow_id: int,
        status: Literal["Enabled", "Disabled"],
        create_time: str,
        update_time: str,
    ) -> WorkflowInfo:
        """The WorkflowInfo of a stored CreateWorkflow/ResetWorkflow request.

        Parameters:
            request: the request the workflow was created (or last reset) with.
            workflow_id: its ``WorkflowId``.
            status: ``Enabled`` or ``Disabled``.
            create_time, update_time: ISO 8601 UTC, e.g. ``2019-07-26T02:58:16Z``.

        Returns:
            the info, with all six ``…TaskSet`` keys in ``MediaProcessTask``.
        """
        tasks = request.MediaProcessTask.to_wire() if request.MediaProcessTask is not None else {}
        return cls(
            WorkflowId=workflow_id,
            WorkflowName=request.WorkflowName,
            Status=status,
            Trigger=request.Trigger,
            OutputStorage=request.OutputStorage,
            OutputDir=request.OutputDir or "",
            MediaProcessTask={name: tasks.get(name) or [] for name in ECHOED_TASK_SETS},
            TaskNotifyConfig=request.TaskNotifyConfig,
            TaskPriority=request.TaskPriority,
            CreateTime=create_time,
            UpdateTime=update_time,
        )

    def to_wire(self) -> dict[str, Any]:
        """The JSON object, with Tencent's ``null`` for the AI members this server never sets, and
        the trigger in Tencent's shape (:meth:`WorkflowTrigger.described`)."""
        wire = {**super().to_wire(), "Trigger": self.Trigger.described().to_wire()}
        return {**wire, **{name: wire.get(name) for name in UNSUPPORTED_WORKFLOW_FIELDS}}


__all__ = [
    "AwsS3FileUploadTrigger",
    "CosFileUploadTrigger",
    "CreateWorkflowRequest",
    "ECHOED_TASK_SETS",
    "ResetWorkflowRequest",
    "ScheduleTrigger",
    "TRIGGER_TYPES",
    "UNSUPPORTED_WORKFLOW_FIELDS",
    "WorkflowInfo",
    "WorkflowTrigger",
]
