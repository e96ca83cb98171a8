"""What a client asks for: MediaProcessTaskInput and its sub-task inputs (mps-api.md §6)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal, get_args, get_origin

from pydantic import (
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from mps.models.base import MAX_FLOAT, UnsupportedFields, WireModel
from mps.models.common import MediaInputInfo, NumberFormat, TaskNotifyConfig, TaskOutputStorage
from mps.models.templates import (
    AdaptiveStreamTemplate,
    OverrideTranscodeParameter,
    Position,
    RawTranscodeParameter,
    WatermarkPlacement,
)

_Input = MediaInputInfo


class RawImageWatermarkInput(WireModel):
    """The image of an inline watermark: where it comes from and how big it is drawn."""

    ImageContent: _Input
    Width: str = Field(default="10%", pattern=r"^\d+(\.\d+)?(%|px)$")
    Height: str = Field(default="0px", pattern=r"^\d+(\.\d+)?(%|px)$")
    RepeatType: str = "repeat"


class RawWatermarkParameter(WatermarkPlacement):
    """An inline image watermark (``WatermarkInput.Definition = 0``)."""

    Type: Literal["image"]
    ImageTemplate: RawImageWatermarkInput


class WatermarkInput(WireModel):
    """One watermark on a transcode or snapshot, with its visibility window."""

    unsupported_fields: ClassVar[UnsupportedFields] = {"SvgContent": ()}

    Definition: int = Field(ge=0)
    RawParameter: RawWatermarkParameter | None = None
    TextContent: str | None = Field(default=None, max_length=100)
    StartTimeOffset: float | None = None
    EndTimeOffset: float | None = None

    @model_validator(mode="after")
    def _raw_when_zero(self) -> WatermarkInput:
        if self.Definition == 0 and self.RawParameter is None:
            raise ValueError("RawParameter is required when Definition is 0")
        return self


class SubtaskInput(WireModel):
    """What every sub-task input has: a template ``Definition`` and, optionally, its own output
    bucket. Each kind of work (:mod:`mps.workflow.kinds`) has its own subclass."""

    Definition: int = Field(ge=0)
    OutputStorage: TaskOutputStorage | None = None
    OutputObjectPath: str | None = None


#: ``ExtInfo`` of the picture sub-tasks: Tencent's reserved "extension" string, with no effect here.
_EXT_INFO: UnsupportedFields = {"ExtInfo": ()}


class TranscodeTaskInput(SubtaskInput):
    """One transcode: a template (or ``RawParameter``), overrides, watermarks and trimming."""

    #: Sub-inputs of the contract that mps does not implement: refused, never skipped.
    unsupported_fields: ClassVar[UnsupportedFields] = {
        "MosaicSet": (),
        "BlindWatermark": (),
        "HeadTailParameter": (),
    }

    Definition: int = Field(ge=0)
    RawParameter: RawTranscodeParameter | None = None
    OverrideParameter: OverrideTranscodeParameter | None = None
    WatermarkSet: list[WatermarkInput] = Field(default_factory=list, max_length=10)
    StartTimeOffset: float | None = None
    EndTimeOffset: float | None = None
    OutputStorage: TaskOutputStorage | None = None
    OutputObjectPath: str | None = None
    SegmentObjectName: str | None = None
    ObjectNumberFormat: NumberFormat | None = None

    @model_validator(mode="after")
    def _raw_when_zero(self) -> TranscodeTaskInput:
        if self.Definition == 0 and self.RawParameter is None:
            raise ValueError("RawParameter is required when Definition is 0")
        return self


class SnapshotByTimeOffsetTaskInput(SubtaskInput):
    """Screenshots at given times: ``ExtTimeOffsetSet`` (``"3.5s"``, ``"10%"``) and ``TimeOffsetSet``."""

    unsupported_fields: ClassVar[UnsupportedFields] = _EXT_INFO

    Definition: int = Field(ge=1)
    ExtTimeOffsetSet: list[str] = Field(default_factory=list)
    TimeOffsetSet: list[float] = Field(default_factory=list)
    WatermarkSet: list[WatermarkInput] = Field(default_factory=list, max_length=10)
    OutputStorage: TaskOutputStorage | None = None
    OutputObjectPath: str | None = None
    ObjectNumberFormat: NumberFormat | None = None

    @field_validator("ExtTimeOffsetSet")
    @classmethod
    def _offsets_are_seconds_or_percent(cls, values: list[str]) -> list[str]:
        for value in values:
            text = value.strip()
            number = text[:-1]
            try:
                amount = float(number)
            except ValueError:
                amount = -1.0
            # NaN and infinities fail the range test too: float("inf") parses.
            if text[-1:] not in ("s", "%") or number.strip() != number or not 0 <= amount <= MAX_FLOAT:
                raise ValueError(f"{value!r} is neither '<seconds>s' nor '<percent>%'")
        return values

    @model_validator(mode="after")
    def _some_offset(self) -> SnapshotByTimeOffsetTaskInput:
        if not self.ExtTimeOffsetSet and not self.TimeOffsetSet:
            raise ValueError("ExtTimeOffsetSet or TimeOffsetSet must name at least one time")
        if any(t < 0 for t in self.TimeOffsetSet):
            raise ValueError("TimeOffsetSet values cannot be negative")
        _no_text_or_raw_watermark(self.WatermarkSet)
        return self


def _no_text_or_raw_watermark(watermarks: list[WatermarkInput]) -> None:
    """Tencent allows only template image watermarks on screenshots; so do we, minus the image rule."""
    for watermark in watermarks:
        if watermark.RawParameter is not None:
            raise ValueError("RawParameter watermarks are not allowed on snapshots")


class SampleSnapshotTaskInput(SubtaskInput):
    """Screenshots at a regular interval, set by the template."""

    unsupported_fields: ClassVar[UnsupportedFields] = _EXT_INFO

    Definition: int = Field(ge=1)
    WatermarkSet: list[WatermarkInput] = Field(default_factory=list, max_length=10)
    OutputStorage: TaskOutputStorage | None = None
    OutputObjectPath: str | None = None
    ObjectNumberFormat: NumberFormat | None = None

    @model_validator(mode="after")
    def _watermarks(self) -> SampleSnapshotTaskInput:
        _no_text_or_raw_watermark(self.WatermarkSet)
        return self


class ImageSpriteTaskInput(SubtaskInput):
    """Thumbnail sheets and their WebVTT index."""

    unsupported_fields: ClassVar[UnsupportedFields] = _EXT_INFO

    Definition: int = Field(ge=1)
    OutputStorage: TaskOutputStorage | None = None
    OutputObjectPath: str | None = None
    WebVttObjectName: str | None = None
    ObjectNumberFormat: NumberFormat | None = None


class AnimatedGraphicTaskInput(SubtaskInput):
    """An animated GIF/WebP of the window ``StartTimeOffset`` to ``EndTimeOffset`` (seconds)."""

    unsupported_fields: ClassVar[UnsupportedFields] = _EXT_INFO

    Definition: int = Field(ge=1)
    StartTimeOffset: float = Field(ge=0)
    EndTimeOffset: float = Field(ge=0)
    OutputStorage: TaskOutputStorage | None = None
    OutputObjectPath: str | None = None

    @model_validator(mode="after")
    def _window(self) -> AnimatedGraphicTaskInput:
        if self.EndTimeOffset and self.EndTimeOffset <= self.StartTimeOffset:
            raise ValueError("EndTimeOffset must be after StartTimeOffset (or 0 for the end of the source)")
        return self


#: Fields of an adaptive streaming task that need what mps does not have (DRM, subtitles, ...):
#: refused with ``InvalidParameterValue.<Field>`` when set, never silently dropped.
_UNSUPPORTED_ADAPTIVE_FIELDS = (
    "BlindWatermark",
    "AddOnSubtitles",
    "DrmInfo",
    "SubtitleTemplate",
    "StdExtInfo",
    "KeyPTSList",
    "AddOnAudios",
)


class AdaptiveDynamicStreamingTaskInput(SubtaskInput):
    """One adaptive streaming ladder: a template, watermarks, and how its files are named.

    ``StdExtStreamInfos`` (when not empty) replaces the template's ``StreamInfos``, as Tencent
    documents. Name placeholders: ``{inputName}``, ``{definition}``, ``{format}``, and
    ``{subStreamNumber}``/``{segmentNumber}`` for sub-streams and segments.
    """

    #: Refused by name before anything else is looked at (they need DRM, subtitles, ...).
    unsupported_fields: ClassVar[UnsupportedFields] = dict.fromkeys(_UNSUPPORTED_ADAPTIVE_FIELDS, ())

    Definition: int = Field(ge=1)
    WatermarkSet: list[WatermarkInput] = Field(default_factory=list, max_length=10)
    OutputStorage: TaskOutputStorage | None = None
    OutputObjectPath: str | None = None
    SubStreamObjectName: str | None = None
    SegmentObjectName: str | None = None
    DefinitionType: Literal["Common", "PureAudio"] | None = None
    StdExtStreamInfos: list[AdaptiveStreamTemplate] | None = Field(default=None, max_length=10)
    BlindWatermark: dict[str, Any] | None = None
    AddOnSubtitles: list[Any] | None = None
    DrmInfo: dict[str, Any] | None = None
    SubtitleTemplate: dict[str, Any] | None = None
    StdExtInfo: str | None = None
    KeyPTSList: list[Any] | None = None
    AddOnAudios: list[Any] | None = None

    @field_validator(*_UNSUPPORTED_ADAPTIVE_FIELDS, mode="before")
    @classmethod
    def _refuse_unsupported(cls, value: object, info: ValidationInfo) -> object:
        if value not in (None, "", [], {}):
            raise ValueError(f"{info.field_name} is not supported by this server")
        return value

    @field_validator("SubStreamObjectName", "SegmentObjectName")
    @classmethod
    def _relative(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value and value.startswith("/"):
            raise ValueError(f"{info.field_name} must be a relative name (it sits beside the manifest)")
        return value


class MediaProcessTaskInput(WireModel):
    """The sub-tasks of one task; every member is an optional list."""

    TranscodeTaskSet: list[TranscodeTaskInput] = Field(default_factory=list)
    AnimatedGraphicTaskSet: list[AnimatedGraphicTaskInput] = Field(default_factory=list)
    SnapshotByTimeOffsetTaskSet: list[SnapshotByTimeOffsetTaskInput] = Field(default_factory=list)
    SampleSnapshotTaskSet: list[SampleSnapshotTaskInput] = Field(default_factory=list)
    ImageSpriteTaskSet: list[ImageSpriteTaskInput] = Field(default_factory=list)
    AdaptiveDynamicStreamingTaskSet: list[AdaptiveDynamicStreamingTaskInput] = Field(default_factory=list)
    #: The order in which the request named the sets; results follow it.
    _set_order: list[str] = PrivateAttr(default_factory=list)

    @model_validator(mode="wrap")
    @classmethod
    def _remember_order(cls, data: Any, handler: ModelWrapValidatorHandler[MediaProcessTaskInput]) -> Any:
        model = handler(data)
        if isinstance(data, dict):
            model._set_order = [key for key in data if key in _SET_NAMES]
        return model

    @model_validator(mode="after")
    def _supported_and_not_empty(self) -> MediaProcessTaskInput:
        if not self.subtasks():
            raise ValueError("MediaProcessTask names no sub-task")
        return self

    def to_wire(self) -> dict[str, Any]:
        """The request as JSON, its sets in the order they were named, so a stored copy keeps it."""
        wire = super().to_wire()
        first = {name: wire.pop(name) for name in self._set_order if name in wire}
        return {**first, **wire}

    def subtasks(self) -> list[SubtaskInput]:
        """Every sub-task input in request order: the sets in the order the request named them."""
        order = self._set_order + [name for name in _SET_NAMES if name not in self._set_order]
        return [item for name in order for item in getattr(self, name)]


def _set_names(model: type[WireModel]) -> tuple[str, ...]:
    """The members of ``model`` that are lists of sub-task inputs, in declaration order: derived,
    so a kind of work added to the model is run without another table to update."""
    names = []
    for name, field in model.model_fields.items():
        args = get_args(field.annotation)
        if get_origin(field.annotation) is list and isinstance(args[0], type):
            if issubclass(args[0], SubtaskInput):
                names.append(name)
    return tuple(names)


#: The sub-task sets mps runs, in the order used when the request order is unknown.
_SET_NAMES = _set_names(MediaProcessTaskInput)


_Notify = TaskNotifyConfig


class TaskWorkRequest(WireModel):
    """The work part shared by ``ProcessMedia`` and ``CreateWorkflow``/``ResetWorkflow``: where
    outputs go, what to run and whom to tell."""

    #: Members that are ours, not Tencent's (orchestration.md §4): never in an answer.
    extension_fields: ClassVar[frozenset[str]] = frozenset({"TimeoutSeconds"})

    OutputStorage: TaskOutputStorage | None = None
    OutputDir: str | None = None
    MediaProcessTask: MediaProcessTaskInput | None = None
    TaskNotifyConfig: _Notify | None = None
    #: Ours: the task is aborted (``FailedOperation.Timeout``) once it has run this long.
    TimeoutSeconds: float | None = Field(default=None, gt=0, le=7 * 24 * 3600)

    @field_validator("OutputDir")
    @classmethod
    def _directory(cls, value: str | None) -> str | None:
        if value is not None and value != "" and not (value.startswith("/") and value.endswith("/")):
            raise ValueError("must start and end with /")
        return value

    def to_wire(self) -> dict[str, Any]:
        """The request as JSON (what is stored); the sub-task sets keep the order they were named in."""
        wire = super().to_wire()
        if self.MediaProcessTask is not None:
            wire["MediaProcessTask"] = self.MediaProcessTask.to_wire()
        return wire


__all__ = [
    "AdaptiveDynamicStreamingTaskInput",
    "AnimatedGraphicTaskInput",
    "ImageSpriteTaskInput",
    "MediaProcessTaskInput",
    "Position",
    "RawImageWatermarkInput",
    "RawWatermarkParameter",
    "SampleSnapshotTaskInput",
    "SnapshotByTimeOffsetTaskInput",
    "SubtaskInput",
    "TaskWorkRequest",
    "TranscodeTaskInput",
    "WatermarkInput",
]
