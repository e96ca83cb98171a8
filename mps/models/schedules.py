"""Orchestrations (Tencent's *Schedules*): a DAG of activities on one input (orchestration.md §1-§3).

Field names are those of ``tencentcloud.mps.v20190612.models`` (``Activity``, ``ActivityPara``,
``ExecRulesTask``, ``Rules``, ``RuleConditionItem``, ``CreateScheduleRequest``, ``SchedulesInfo``,
``ActivityResult``, ``ActivityResItem``, ``ScheduleTask``, ``ScheduleExecRuleTaskResult``,
``ExecRuleTaskData``). These models check shapes; whether a DAG can run (cycles, reachability, the
``ActivityPara`` member matching the type) is :mod:`mps.workflow.dag`'s business, and what a rule's
condition means is :mod:`mps.workflow.rules`'.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from mps.models.base import UnsupportedFields, WireModel
from mps.models.common import TaskNotifyConfig, TaskOutputStorage
from mps.models.results import ExecRuleTaskData, ScheduleExecRuleTaskResult, TaskResult
from mps.models.tasks import (
    AdaptiveDynamicStreamingTaskInput,
    AnimatedGraphicTaskInput,
    ImageSpriteTaskInput,
    SampleSnapshotTaskInput,
    SnapshotByTimeOffsetTaskInput,
    SubtaskInput,
    TranscodeTaskInput,
)
from mps.models.workflows import WorkflowTrigger

#: Activity types that are Tencent's AI services: refused with ``UnsupportedOperation``.
AI_ACTIVITY_TYPES = frozenset(
    {
        "action-AIAnalysis",
        "action-AIRecognition",
        "action-aiReview",
        "action-AIQualityControl",
        "action-SmartSubtitles",
        "action-SmartErase",
    }
)
#: Most activities one orchestration may have (orchestration.md §2).
MAX_ACTIVITIES = 50


class RuleConditionItem(WireModel):
    """One condition: a metadata ``Key`` and a ``Value`` with an optional operator (``>=720``)."""

    Key: str = Field(min_length=1, max_length=64)
    Value: str = Field(max_length=256)


class Rules(WireModel):
    """One rule of an ``action-exec-rules`` activity: when its conditions hold, its successors run."""

    Id: str | None = None
    Conditions: list[RuleConditionItem] = Field(default_factory=list, max_length=32)
    Linker: Literal["&&", "||"] = "&&"
    RearDriveIndexs: list[int] = Field(default_factory=list, max_length=MAX_ACTIVITIES)


_Rule = Rules


class ExecRulesTask(SubtaskInput):
    """The rules of an ``action-exec-rules`` activity, tried in list order; the first that holds wins.

    It has no template: ``Definition`` is always 0 (the base input's field, never sent).
    """

    Definition: int = Field(default=0, ge=0, le=0, exclude=True)
    OutputStorage: TaskOutputStorage | None = Field(default=None, exclude=True)
    OutputObjectPath: str | None = Field(default=None, exclude=True)
    Rules: list[_Rule] = Field(default_factory=list, max_length=32)


_ExecRulesInput = ExecRulesTask


class ActivityPara(WireModel):
    """The parameters of one activity: exactly the member its ``ActivityType`` names."""

    unsupported_fields: ClassVar[UnsupportedFields] = dict.fromkeys(
        (
            "AiContentReviewTask",
            "AiAnalysisTask",
            "AiRecognitionTask",
            "QualityControlTask",
            "SmartSubtitlesTask",
            "SmartEraseTask",
            "AIDubbingTask",
        ),
        (),
    )

    TranscodeTask: TranscodeTaskInput | None = None
    AnimatedGraphicTask: AnimatedGraphicTaskInput | None = None
    SnapshotByTimeOffsetTask: SnapshotByTimeOffsetTaskInput | None = None
    SampleSnapshotTask: SampleSnapshotTaskInput | None = None
    ImageSpriteTask: ImageSpriteTaskInput | None = None
    AdaptiveDynamicStreamingTask: AdaptiveDynamicStreamingTaskInput | None = None
    ExecRulesTask: _ExecRulesInput | None = None

    def members(self) -> dict[str, SubtaskInput]:
        """The members that are set, by name."""
        return {name: value for name in type(self).model_fields if (value := getattr(self, name)) is not None}


_Para = ActivityPara


class RetryPolicy(WireModel):
    """Ours (ASW's Retry): run a failed activity again, up to ``MaxAttempts`` runs in all, waiting
    ``IntervalSeconds`` x ``BackoffRate`` ^ (retry - 1) between runs, when its error code is one of
    ``ErrorCodes`` (prefixes: ``FailedOperation.Timeout`` matches exactly that code, ``InternalError``
    every ``InternalError.*``); no ``ErrorCodes``: the retryable ones (store, object store, broker,
    timeouts and stalls)."""

    MaxAttempts: int = Field(default=3, ge=1, le=10)
    IntervalSeconds: float = Field(default=5.0, ge=0, le=3600)
    BackoffRate: float = Field(default=2.0, ge=1, le=10)
    ErrorCodes: list[str] = Field(default_factory=list, max_length=32)


_RetryPolicy = RetryPolicy


class Activity(WireModel):
    """One node of the DAG; its id is its position in ``Activities``.

    ``PredriveIndex`` is computed by the server (ignored on input, returned by Describe). The
    members after ``ActivityPara`` are ours (orchestration.md §4), sent as raw JSON (the SDK's typed
    models drop them) and never added to an answer.
    """

    #: Members that are ours, not Tencent's: left out of every answer.
    extension_fields: ClassVar[frozenset[str]] = frozenset(
        {"OnFailureIndex", "RetryPolicy", "JoinMode", "Core", "TimeoutSeconds"}
    )

    ActivityType: str = Field(min_length=1, max_length=64)
    ReardriveIndex: list[int] = Field(default_factory=list, max_length=MAX_ACTIVITIES)
    PredriveIndex: list[int] = Field(default_factory=list, max_length=MAX_ACTIVITIES)
    ActivityPara: _Para | None = None
    #: Successors that run only when this activity fails (after its retries); its ReardriveIndex
    #: successors are skipped then, and these are skipped when it succeeds.
    OnFailureIndex: list[int] | None = Field(default=None, max_length=MAX_ACTIVITIES)
    RetryPolicy: _RetryPolicy | None = None
    #: ``All``: run when every predecessor that ran succeeded; ``Any``: run once, when the first does.
    JoinMode: Literal["All", "Any"] | None = None
    #: When any activity is core, the task's ErrCode is decided by the core activities alone.
    Core: bool | None = None
    #: The activity fails with ``FailedOperation.Timeout`` when it runs longer (ffmpeg killed).
    TimeoutSeconds: float | None = Field(default=None, gt=0, le=7 * 24 * 3600)

    def described(self) -> dict[str, Any]:
        """The activity in Tencent's shape: our members left out."""
        return {k: v for k, v in self.to_wire().items() if k not in self.extension_fields}


_Activities = list[Activity]
_Trigger = WorkflowTrigger
_OutputStorage = TaskOutputStorage
_NotifyConfig = TaskNotifyConfig


class CreateScheduleRequest(WireModel):
    """``CreateSchedule``: a named trigger and a DAG of activities."""

    ScheduleName: str = Field(min_length=1, max_length=128)
    Trigger: _Trigger
    Activities: _Activities = Field(min_length=1, max_length=MAX_ACTIVITIES)
    OutputStorage: _OutputStorage | None = None
    OutputDir: str | None = None
    TaskNotifyConfig: _NotifyConfig | None = None
    ResourceId: str | None = None
    #: Ours: each task of the schedule is aborted (``FailedOperation.Timeout``) after this long.
    TimeoutSeconds: float | None = Field(default=None, gt=0, le=7 * 24 * 3600)


class ModifyScheduleRequest(WireModel):
    """``ModifySchedule``: any create field; ``Activities`` replaced whole; ``OutputDir: ""`` clears it."""

    ScheduleId: int
    ScheduleName: str | None = Field(default=None, min_length=1, max_length=128)
    Trigger: _Trigger | None = None
    Activities: _Activities | None = Field(default=None, min_length=1, max_length=MAX_ACTIVITIES)
    OutputStorage: _OutputStorage | None = None
    OutputDir: str | None = None
    TaskNotifyConfig: _NotifyConfig | None = None
    ResourceId: str | None = None


class SchedulesInfo(WireModel):
    """One schedule as ``DescribeSchedules`` returns it (``ScheduleInfoSet`` items)."""

    ScheduleId: int
    ScheduleName: str
    Type: Literal["Preset", "Custom"] = "Custom"
    Status: Literal["Enabled", "Disabled"]
    Trigger: _Trigger
    Activities: _Activities
    OutputStorage: _OutputStorage | None = None
    OutputDir: str = ""
    TaskNotifyConfig: _NotifyConfig | None = None
    CreateTime: str = ""
    UpdateTime: str = ""
    ResourceId: str = ""


class ActivityResItem(WireModel):
    """One activity's result: exactly the member of its kind is set (the others are not sent)."""

    TranscodeTask: dict[str, Any] | None = None
    AnimatedGraphicTask: dict[str, Any] | None = None
    SnapshotByTimeOffsetTask: dict[str, Any] | None = None
    SampleSnapshotTask: dict[str, Any] | None = None
    ImageSpriteTask: dict[str, Any] | None = None
    AdaptiveDynamicStreamingTask: dict[str, Any] | None = None
    ExecRuleTask: dict[str, Any] | None = None


class ActivityResult(WireModel):
    """``ActivityType`` is the result tag (``Transcode``, ``ExecRules``...) of its ``ActivityResItem``."""

    ActivityType: str
    ActivityResItem: ActivityResItem


class ScheduleTask(TaskResult):
    """One orchestration task's state and results: DescribeTaskDetail's ``ScheduleTask`` and the
    ``ScheduleTaskEvent`` of its completion event. Activities skipped by a rule are left out (Tencent
    has no skipped status); ``input`` and ``output`` are never listed."""

    ActivityResultSet: list[ActivityResult] = Field(default_factory=list)

    def to_wire(self) -> dict[str, Any]:
        """The object as Tencent sends it."""
        return {
            **self._wire_head(),
            "ActivityResultSet": [item.to_wire() for item in self.ActivityResultSet],
        }


__all__ = [
    "AI_ACTIVITY_TYPES",
    "MAX_ACTIVITIES",
    "Activity",
    "ActivityPara",
    "ActivityResItem",
    "ActivityResult",
    "CreateScheduleRequest",
    "ExecRuleTaskData",
    "ExecRulesTask",
    "ModifyScheduleRequest",
    "RuleConditionItem",
    "Rules",
    "ScheduleExecRuleTaskResult",
    "ScheduleTask",
    "SchedulesInfo",
]
