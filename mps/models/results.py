"""What a task produced: the WorkflowTask object of DescribeTaskDetail and of events (mps-api.md §7).

Traps kept on purpose: the sprite result tag is ``ImageSprites`` (plural) while its field is
``ImageSpriteTask``; snapshot and sprite items name their storage ``Storage`` while the transcode
item says ``OutputStorage``; bitrates are bps here, not the templates' kbps.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from mps.models.base import WireModel
from mps.models.common import MediaInputInfo, TaskOutputStorage
from mps.models.metadata import MediaAudioStreamItem, MediaMetaData, MediaVideoStreamItem

SubtaskStatus = Literal["WAITING", "PROCESSING", "SUCCESS", "FAIL"]
TaskStatus = Literal["WAITING", "PROCESSING", "FINISH"]


class MediaTranscodeItem(WireModel):
    """One transcode output: ``Path`` is an absolute key (``/out/a_transcode_100030.mp4``)."""

    OutputStorage: TaskOutputStorage | None = None
    Path: str
    Definition: int
    Bitrate: int = 0
    Height: int = 0
    Width: int = 0
    Size: int = 0
    Duration: float = 0.0
    Container: str = ""
    Md5: str = ""
    VideoStreamSet: list[MediaVideoStreamItem] = Field(default_factory=list)
    AudioStreamSet: list[MediaAudioStreamItem] = Field(default_factory=list)
    CallBackExtInfo: str = ""


class MediaSnapshotByTimePicInfoItem(WireModel):
    """One screenshot: its time in seconds, where it is, and which watermarks it carries."""

    TimeOffset: float
    Path: str
    WaterMarkDefinition: list[int] = Field(default_factory=list)


class MediaSnapshotByTimeOffsetItem(WireModel):
    Definition: int
    PicInfoSet: list[MediaSnapshotByTimePicInfoItem] = Field(default_factory=list)
    Storage: TaskOutputStorage | None = None


class MediaSampleSnapshotItem(WireModel):
    Definition: int
    SampleType: str
    Interval: int
    Storage: TaskOutputStorage | None = None
    ImagePathSet: list[str] = Field(default_factory=list)
    WaterMarkDefinition: list[int] = Field(default_factory=list)


class MediaImageSpriteItem(WireModel):
    """Sprite sheets; ``Width``/``Height`` are of one thumbnail, ``TotalCount`` thumbnails per sheet."""

    Definition: int
    Height: int
    Width: int
    TotalCount: int
    ImagePathSet: list[str] = Field(default_factory=list)
    WebVttPath: str = ""
    Storage: TaskOutputStorage | None = None


class MediaAnimatedGraphicsItem(WireModel):
    Storage: TaskOutputStorage | None = None
    Path: str
    Definition: int
    Container: str
    Height: int = 0
    Width: int = 0
    Bitrate: int = 0
    Size: int = 0
    Md5: str = ""
    StartTimeOffset: float = 0.0
    EndTimeOffset: float = 0.0


class AdaptiveDynamicStreamingInfoItem(WireModel):
    """An adaptive streaming output: ``Path`` is the manifest (``.m3u8`` master playlist or ``.mpd``)."""

    Definition: int
    Package: Literal["HLS", "MPEG-DASH"]
    Path: str
    Storage: TaskOutputStorage | None = None


class SubtaskResult(WireModel):
    """The fields every ``MediaProcessTask*Result`` has. ``Input`` echoes the sub-task input."""

    Status: SubtaskStatus = "WAITING"
    ErrCodeExt: str = ""
    ErrCode: int = 0
    Message: str = ""
    Input: dict[str, Any] = Field(default_factory=dict)
    #: Each kind's result class narrows this to its own output item.
    Output: WireModel | None = None


class TranscodeResult(SubtaskResult):
    """Transcodes report ``Progress`` and no begin/finish times."""

    Output: MediaTranscodeItem | None = None
    Progress: int = 0


class TimedResult(SubtaskResult):
    """Every other sub-task reports begin and finish times and no progress."""

    BeginProcessTime: str = ""
    FinishTime: str = ""


class AnimatedGraphicResult(TimedResult):
    Output: MediaAnimatedGraphicsItem | None = None


class SnapshotByTimeOffsetResult(TimedResult):
    Output: MediaSnapshotByTimeOffsetItem | None = None


class SampleSnapshotResult(TimedResult):
    Output: MediaSampleSnapshotItem | None = None


class ImageSpriteResult(TimedResult):
    Output: MediaImageSpriteItem | None = None


class AdaptiveDynamicStreamingResult(TimedResult):
    """``MediaProcessTaskAdaptiveDynamicStreamingResult``: begin and finish times, no progress."""

    Output: AdaptiveDynamicStreamingInfoItem | None = None


class ExecRuleTaskData(WireModel):
    """What a rule activity of an orchestration chose: the successors that run."""

    RearDriveIndex: list[int] = Field(default_factory=list)


class ScheduleExecRuleTaskResult(SubtaskResult):
    """The result of an orchestration's ``action-exec-rules`` activity. Tencent's has no ``ErrCode``:
    it is left out of the wire (``ErrCodeExt`` and ``Message`` say what went wrong)."""

    ErrCode: int = Field(default=0, exclude=True)
    Output: ExecRuleTaskData | None = None


class MediaProcessTaskResult(WireModel):
    """The tagged union: ``Type`` names the one member that is set; the others are explicit nulls.

    Which ``Type`` goes with which member is the registry of kinds' business
    (:mod:`mps.workflow.kinds`); this model only declares Tencent's members.
    """

    Type: str
    TranscodeTask: TranscodeResult | None = None
    AnimatedGraphicTask: AnimatedGraphicResult | None = None
    SnapshotByTimeOffsetTask: SnapshotByTimeOffsetResult | None = None
    SampleSnapshotTask: SampleSnapshotResult | None = None
    ImageSpriteTask: ImageSpriteResult | None = None
    AdaptiveDynamicStreamingTask: AdaptiveDynamicStreamingResult | None = None
    #: Ours, for the rule activities of orchestrations; never sent in a workflow task's results.
    ExecRuleTask: ScheduleExecRuleTaskResult | None = Field(default=None, exclude=True)

    @property
    def result(self) -> SubtaskResult:
        """The one filled-in result."""
        for name in _RESULT_MEMBERS:
            value = getattr(self, name)
            if isinstance(value, SubtaskResult):
                return value
        raise ValueError(f"a {self.Type} result entry holds no result")

    def to_wire(self) -> dict[str, Any]:
        """Tencent sends the unused members as nulls; so do we, with the result itself compact."""
        wire: dict[str, Any] = {"Type": self.Type}
        for name in _RESULT_MEMBERS:
            value = getattr(self, name)
            if value is None and name in _OWN_MEMBERS:
                continue  # not a member of Tencent's MediaProcessTaskResult
            wire[name] = value.model_dump(mode="json") if value is not None else None
        return wire


#: Every member of MediaProcessTaskResult but its ``Type`` tag, in declaration order.
_RESULT_MEMBERS = tuple(name for name in MediaProcessTaskResult.model_fields if name != "Type")
#: The members that are ours, sent only when set.
_OWN_MEMBERS = frozenset({"ExecRuleTask"})


class TaskResult(WireModel):
    """The fields every task object has, first and in this order: :class:`WorkflowTask` and
    :class:`~mps.models.schedules.ScheduleTask` differ only in the result sets after them."""

    TaskId: str
    Status: TaskStatus = "WAITING"
    ErrCode: int = 0
    Message: str = ""
    InputInfo: MediaInputInfo | None = None
    MetaData: MediaMetaData | None = None

    def _wire_head(self) -> dict[str, Any]:
        """The shared fields as Tencent sends them; each task object's ``to_wire`` goes on from here."""
        return {
            "TaskId": self.TaskId,
            "Status": self.Status,
            "ErrCode": self.ErrCode,
            "Message": self.Message,
            "InputInfo": self.InputInfo.to_wire() if self.InputInfo else None,
            "MetaData": self.MetaData.model_dump(mode="json") if self.MetaData else None,
        }


class WorkflowTask(TaskResult):
    """One task's state and results: DescribeTaskDetail's ``WorkflowTask`` and the event payload."""

    MediaProcessResultSet: list[MediaProcessTaskResult] = Field(default_factory=list)

    def to_wire(self) -> dict[str, Any]:
        """The object as Tencent sends it, AI members included as empty lists and nulls."""
        return {
            **self._wire_head(),
            "MediaProcessResultSet": [item.to_wire() for item in self.MediaProcessResultSet],
            "AiContentReviewResultSet": [],
            "AiAnalysisResultSet": [],
            "AiRecognitionResultSet": [],
            "AiQualityControlTaskResult": None,
            "SmartSubtitlesTaskResult": None,
            "SmartEraseTaskResult": None,
            "AiDubbingTaskResult": None,
        }
