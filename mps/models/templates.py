"""The seven template families, in the shape of the Describe*Templates responses (mps-api.md §10).

Presets (``presets/*.json``) and custom templates (``--templates FILE``, later the task store)
are both parsed into these models, so everything downstream sees one shape.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, Field, ValidationInfo, field_validator, model_validator

from mps.models.base import UnsupportedFields, WireModel

AdaptiveMode = Literal["open", "close"]
FillMode = Literal["black", "white", "stretch", "gauss", "smarttailor"]
ImageFormat = Literal["jpg", "png", "webp"]
SampleKind = Literal["Percent", "Time"]
TemplateType = Literal["Preset", "Custom"]

#: Validation context for Tencent's own presets, some of whose values lie outside what a client may
#: ask for: sprite 10 is 142x80 (clients: 0 or 128-4096 px), 1100 is AAC 24 kbps and 1020 is MP3
#: 320 kbps (clients: 26-256).
#: Only the preset loader passes it; client input and custom template files never do.
PRESET_CONTEXT: dict[str, bool] = {"preset": True}


def _is_preset(info: ValidationInfo) -> bool:
    return bool(info.context and info.context.get("preset"))


#: Smallest width or height accepted. Tencent documents 128, yet its own sprite preset is 142x80
#: and sprite thumbnails of 160x90 are common, so mps accepts from 16 px: a superset, never a refusal
#: of something Tencent takes.
MIN_PIXEL_SIZE = 16


def _pixel_size(value: int, info: ValidationInfo) -> int:
    """0 (take it from the source) or 16 to 4096 px (presets: 1 to 4096)."""
    low = 1 if _is_preset(info) else MIN_PIXEL_SIZE
    if value != 0 and not low <= value <= 4096:
        raise ValueError(f"must be 0 or between {low} and 4096")
    return value


def _lower(value: str) -> str:
    return value.lower()


PixelSize = Annotated[int, AfterValidator(_pixel_size)]

#: Tuning fields of Tencent's VideoTemplateInfo (and its ForUpdate twin) that mps does not apply.
#: ``BitDepth: 8`` is what every encode here produces; ``Compress: -1`` means "automatic".
_VIDEO_UNSUPPORTED: UnsupportedFields = {
    "Stereo3dType": (),
    "Sar": (),
    "NoScenecut": (),
    "BitDepth": (8,),
    "RawPts": (),
    "Compress": (-1,),
    "SegmentSpecificInfo": (),
    "ScenarioBased": (),
    "SceneType": (),
    "CompressType": (),
    "ContentAdaptStream": (),
}
#: Multi-track fields of Tencent's AudioTemplateInfo (adaptive streaming) that mps does not apply.
_AUDIO_UNSUPPORTED: UnsupportedFields = {
    "TrackChannelInfo": (),
    "AudioLanguage": (),
    "AudioName": (),
    "DefaultTrack": (),
    "StreamSelects": (),
}
#: Codec and format names are compared in lower case; clients send ``H264`` too.
LowerStr = Annotated[str, AfterValidator(_lower)]


class TemplateMeta(WireModel):
    """Fields every template object carries; the times are the store's, never a request's."""

    response_only_fields: ClassVar[frozenset[str]] = frozenset({"CreateTime", "UpdateTime"})

    Name: str = ""
    Comment: str = ""
    CreateTime: str = ""
    UpdateTime: str = ""


class VideoTemplateInfo(WireModel):
    """Video stream parameters of a transcode template. ``Bitrate`` is in **kbps**."""

    unsupported_fields: ClassVar[UnsupportedFields] = _VIDEO_UNSUPPORTED

    Codec: LowerStr
    Fps: int = Field(default=0, ge=0, le=120)
    Bitrate: int = Field(default=0, ge=0, le=100000)
    ResolutionAdaptive: AdaptiveMode = "open"
    Width: PixelSize = 0
    Height: PixelSize = 0
    Gop: int = Field(default=0, ge=0, le=100000)
    GopUnit: Literal["frame", "second"] = "frame"
    FillType: FillMode = "black"
    Vcrf: int | None = Field(default=None, ge=0, le=51)
    Mode: str | None = None
    HlsTime: int | None = Field(default=None, ge=1, le=10)
    SegmentType: int | None = None
    FpsDenominator: int | None = Field(default=None, ge=1)
    VideoProfile: str | None = None
    VideoLevel: str | None = None
    Bframes: int | None = None

    @field_validator("Bitrate")
    @classmethod
    def _bitrate_range(cls, value: int) -> int:
        if value != 0 and value < 128:
            raise ValueError("must be 0 (same as source) or 128 to 100000 kbps")
        return value


class AudioTemplateInfo(WireModel):
    """Audio stream parameters of a transcode template. ``Bitrate`` is in **kbps**."""

    unsupported_fields: ClassVar[UnsupportedFields] = _AUDIO_UNSUPPORTED

    Codec: LowerStr
    Bitrate: int = Field(default=0, ge=0)
    SampleRate: int = Field(default=0, ge=0, le=192000)
    AudioChannel: int = Field(default=2, ge=0, le=8)

    @field_validator("Bitrate")
    @classmethod
    def _bitrate_range(cls, value: int, info: ValidationInfo) -> int:
        # Presets go past the client range both ways: 1100 is 24 kbps, 1020 (MP3) is 320 kbps.
        if _is_preset(info):
            if value > 320:
                raise ValueError("must be 0 (same as source) or up to 320 kbps")
        elif value != 0 and not 26 <= value <= 256:
            raise ValueError("must be 0 (same as source) or 26 to 256 kbps")
        return value


class VideoTemplateInfoForUpdate(WireModel):
    """A partial :class:`VideoTemplateInfo` for Modify and OverrideParameter; every field optional."""

    unsupported_fields: ClassVar[UnsupportedFields] = _VIDEO_UNSUPPORTED

    Codec: LowerStr | None = None
    Fps: int | None = Field(default=None, ge=0, le=120)
    Bitrate: int | None = Field(default=None, ge=0, le=100000)
    ResolutionAdaptive: AdaptiveMode | None = None
    Width: PixelSize | None = None
    Height: PixelSize | None = None
    Gop: int | None = Field(default=None, ge=0, le=100000)
    GopUnit: Literal["frame", "second"] | None = None
    FillType: FillMode | None = None
    Vcrf: int | None = Field(default=None, ge=0, le=100)
    Mode: str | None = None
    HlsTime: int | None = Field(default=None, ge=1, le=10)
    SegmentType: int | None = None
    FpsDenominator: int | None = Field(default=None, ge=1)
    VideoProfile: str | None = None
    VideoLevel: str | None = None
    Bframes: int | None = None


class AudioTemplateInfoForUpdate(WireModel):
    """A partial :class:`AudioTemplateInfo`."""

    unsupported_fields: ClassVar[UnsupportedFields] = _AUDIO_UNSUPPORTED

    Codec: LowerStr | None = None
    Bitrate: int | None = Field(default=None, ge=0, le=256)
    SampleRate: int | None = Field(default=None, ge=0, le=192000)
    AudioChannel: int | None = Field(default=None, ge=0, le=8)


ContainerName = Literal["mp4", "hls", "mp3", "m4a", "flv", "ts", "mkv", "mov", "webm", "ogg", "flac", "wav"]

#: Containers that carry no video stream.
AUDIO_CONTAINERS = frozenset({"mp3", "m4a", "ogg", "flac", "wav"})


#: Members of Tencent's transcode parameters that mps does not implement: TESHD (``TEHDConfig``
#: with a ``Type``), enhancement (denoise, super-resolution...), subtitles burned in, the
#: ``StdExtInfo`` escape hatch, extra audio streams. ``TEHDConfig: {"Type": ""}`` (off) is accepted.
_TRANSCODE_UNSUPPORTED: UnsupportedFields = {
    "TEHDConfig": (),
    "EnhanceConfig": (),
    "StdExtInfo": (),
    "SubtitleTemplate": (),
    "AddonAudioStream": (),
    "AddOnSubtitles": (),
}


class RawTranscodeParameter(WireModel):
    """An inline transcode template (``Definition = 0``)."""

    unsupported_fields: ClassVar[UnsupportedFields] = _TRANSCODE_UNSUPPORTED

    Container: Annotated[ContainerName, Field()]
    RemoveVideo: int = Field(default=0, ge=0, le=1)
    RemoveAudio: int = Field(default=0, ge=0, le=1)
    VideoTemplate: VideoTemplateInfo | None = None
    AudioTemplate: AudioTemplateInfo | None = None

    @field_validator("Container", mode="before")
    @classmethod
    def _container_lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _streams_present(self) -> RawTranscodeParameter:
        audio_only = self.Container in AUDIO_CONTAINERS
        if not audio_only and not self.RemoveVideo and self.VideoTemplate is None:
            raise ValueError("VideoTemplate is required unless RemoveVideo is 1")
        if not self.RemoveAudio and self.AudioTemplate is None:
            raise ValueError("AudioTemplate is required unless RemoveAudio is 1")
        if self.RemoveVideo and self.RemoveAudio:
            raise ValueError("RemoveVideo and RemoveAudio cannot both be 1")
        return self


class OverrideTranscodeParameter(WireModel):
    """A partial transcode template applied on top of the named one."""

    unsupported_fields: ClassVar[UnsupportedFields] = _TRANSCODE_UNSUPPORTED

    Container: str | None = None
    RemoveVideo: int | None = Field(default=None, ge=0, le=1)
    RemoveAudio: int | None = Field(default=None, ge=0, le=1)
    VideoTemplate: VideoTemplateInfoForUpdate | None = None
    AudioTemplate: AudioTemplateInfoForUpdate | None = None


class TranscodeTemplate(RawTranscodeParameter, TemplateMeta):
    """A transcode template. ``Definition`` is a **string** on this object only (Tencent's quirk)."""

    response_only_fields: ClassVar[frozenset[str]] = frozenset({"CreateTime", "UpdateTime", "ContainerType"})

    Definition: str
    Type: TemplateType = "Custom"
    ContainerType: Literal["Video", "PureAudio"] | None = None

    @field_validator("Definition", mode="before")
    @classmethod
    def _definition_as_str(cls, value: object) -> object:
        return str(value) if isinstance(value, int) else value


class ImageGeometry(WireModel):
    """Size and fill fields shared by the image templates (snapshots, sprites, GIFs)."""

    Width: PixelSize = 0
    Height: PixelSize = 0
    ResolutionAdaptive: AdaptiveMode = "open"
    FillType: FillMode = "black"


class SnapshotByTimeOffsetTemplate(ImageGeometry, TemplateMeta):
    """Screenshots at given times."""

    Definition: int
    Type: TemplateType = "Custom"
    Format: ImageFormat = "jpg"


class SampleSnapshotTemplate(ImageGeometry, TemplateMeta):
    """Screenshots every ``SampleInterval`` seconds (``Time``) or percent of the duration (``Percent``)."""

    Definition: int
    Type: TemplateType = "Custom"
    Format: ImageFormat = "jpg"
    SampleType: SampleKind
    SampleInterval: int = Field(ge=1)

    @model_validator(mode="after")
    def _percent_in_range(self) -> SampleSnapshotTemplate:
        if self.SampleType == "Percent" and self.SampleInterval > 100:
            raise ValueError("SampleInterval must be 1 to 100 when SampleType is Percent")
        return self


class ImageSpriteTemplate(ImageGeometry, TemplateMeta):
    """Thumbnail sheets of ``RowCount`` x ``ColumnCount`` with a WebVTT index."""

    Definition: int
    Type: TemplateType = "Custom"
    Format: ImageFormat = "jpg"
    SampleType: SampleKind
    SampleInterval: int = Field(ge=1)
    RowCount: int = Field(ge=1, le=128)
    ColumnCount: int = Field(ge=1, le=128)

    @model_validator(mode="after")
    def _percent_in_range(self) -> ImageSpriteTemplate:
        if self.SampleType == "Percent" and self.SampleInterval > 100:
            raise ValueError("SampleInterval must be 1 to 100 when SampleType is Percent")
        return self


class AnimatedGraphicsTemplate(ImageGeometry, TemplateMeta):
    """An animated GIF or WebP of a window of the video."""

    Definition: int
    Type: TemplateType = "Custom"
    Format: Literal["gif", "webp"] = "gif"
    Fps: int = Field(ge=1, le=30)
    #: Not in Tencent's contract for GIFs: kept internal (never sent) so the box is letterboxed.
    FillType: FillMode = Field("black", exclude=True)
    Quality: float = Field(default=75, ge=1, le=100)


WatermarkSize = Annotated[str, Field(pattern=r"^\d+(\.\d+)?(%|px)$")]
Position = Annotated[str, Field(pattern=r"^-?\d+(\.\d+)?(%|px)$")]


class ImageWatermarkTemplate(WireModel):
    """The image of a watermark template; ``ImageUrl``: http(s), ``file://``, ``s3://`` or a path.

    Requests send the image itself as ``ImageContent`` (base64), which the handler stores and
    replaces by ``ImageUrl``; a request cannot choose ``ImageUrl``. ``RepeatType`` only matters for
    animated images, and watermark images here are PNG or JPEG stills.
    """

    request_only_fields: ClassVar[frozenset[str]] = frozenset({"ImageContent"})
    response_only_fields: ClassVar[frozenset[str]] = frozenset({"ImageUrl"})

    ImageUrl: str
    Width: WatermarkSize = "10%"
    Height: WatermarkSize = "0px"
    RepeatType: str = "repeat"


class TextWatermarkTemplateInput(WireModel):
    """The text part of a watermark template."""

    FontType: str = "arial.ttf"
    FontSize: Annotated[str, Field(pattern=r"^\d+px$")] = "16px"
    FontColor: Annotated[str, Field(pattern=r"^0x[0-9A-Fa-f]{6}$")] = "0xFFFFFF"
    FontAlpha: float = Field(default=1.0, gt=0, le=1)
    TextContent: str = ""


Origin = Literal["TopLeft", "TopRight", "BottomLeft", "BottomRight"]


def _origin(value: object) -> object:
    """Tencent's own examples spell it ``topLeft``: accept any case."""
    if isinstance(value, str):
        for name in ("TopLeft", "TopRight", "BottomLeft", "BottomRight"):
            if value.lower() == name.lower():
                return name
    return value


class WatermarkPlacement(WireModel):
    """Where a watermark sits: a corner and an offset from it in px or %."""

    CoordinateOrigin: Origin = "TopLeft"
    XPos: Position = "0px"
    YPos: Position = "0px"

    @field_validator("CoordinateOrigin", mode="before")
    @classmethod
    def _any_case(cls, value: object) -> object:
        return _origin(value)


class WatermarkTemplate(WatermarkPlacement, TemplateMeta):
    """A watermark template. Here ``Type`` is the watermark kind, not Preset/Custom."""

    unsupported_fields: ClassVar[UnsupportedFields] = {"SvgTemplate": ()}

    Definition: int
    Type: Literal["image", "text", "svg"]
    ImageTemplate: ImageWatermarkTemplate | None = None
    TextTemplate: TextWatermarkTemplateInput | None = None

    @model_validator(mode="after")
    def _kind_matches(self) -> WatermarkTemplate:
        if self.Type == "image" and self.ImageTemplate is None:
            raise ValueError("an image watermark template needs ImageTemplate")
        if self.Type == "text" and self.TextTemplate is None:
            raise ValueError("a text watermark template needs TextTemplate")
        return self


#: Every ``SegmentType`` value Tencent documents for adaptive streaming.
SEGMENT_TYPES = (
    "ts-segment",
    "ts-byterange",
    "mp4-segment",
    "mp4-byterange",
    "ts-packed-audio",
    "mp4-packed-audio",
    "mp4-mp4-byterange",
)
#: The segment types mps makes, per ``Format``; the first is the default.
SUPPORTED_SEGMENT_TYPES: dict[str, tuple[str, ...]] = {
    "HLS": ("ts-segment", "ts-byterange", "mp4-segment", "mp4-byterange"),
    "MPEG-DASH": ("mp4-byterange", "mp4-mp4-byterange"),
}


class AdaptiveStreamTemplate(WireModel):
    """One rung of an adaptive ladder: its video and audio, or either removed.

    Fields are declared Remove* first so that the Video/Audio checks can see them.
    """

    #: Multi-track audio merging: not supported, refused by name when it asks for anything.
    unsupported_fields: ClassVar[UnsupportedFields] = {"AudioList": ()}

    RemoveAudio: int = Field(default=0, ge=0, le=1)
    RemoveVideo: int = Field(default=0, ge=0, le=1)
    Audio: AudioTemplateInfo | None = Field(default=None, validate_default=True)
    Video: VideoTemplateInfo | None = Field(default=None, validate_default=True)
    #: Refused by the key check, and here too for a template loaded from a file.
    AudioList: list[AudioTemplateInfo] | None = None

    @field_validator("Audio")
    @classmethod
    def _audio_unless_removed(cls, value: AudioTemplateInfo | None, info: ValidationInfo) -> object:
        if value is None and not info.data.get("RemoveAudio"):
            raise ValueError("Audio is required unless RemoveAudio is 1")
        return value

    @field_validator("Video")
    @classmethod
    def _video_unless_removed(cls, value: VideoTemplateInfo | None, info: ValidationInfo) -> object:
        if value is None and not info.data.get("RemoveVideo"):
            raise ValueError("Video is required unless RemoveVideo is 1")
        if info.data.get("RemoveVideo") and info.data.get("RemoveAudio"):
            raise ValueError("RemoveVideo and RemoveAudio cannot both be 1")
        return value

    @field_validator("AudioList")
    @classmethod
    def _no_audio_list(cls, value: list[AudioTemplateInfo] | None) -> object:
        if value:
            raise ValueError("AudioList (multi-track audio) is not supported by this server")
        return value


class AdaptiveDynamicStreamingTemplate(TemplateMeta):
    """An adaptive streaming template: a ladder of 1 to 10 streams behind one HLS or DASH manifest.

    ``SegmentType`` None means the format's default (``ts-segment`` for HLS, ``mp4-byterange`` for
    DASH, see :attr:`segment_type`). Fields are declared in an order that lets each check see the
    fields it depends on (``Format`` before ``SegmentType``, ``StreamInfos`` before ``PureAudio``).
    """

    Definition: int
    Type: TemplateType = "Custom"
    Format: Literal["HLS", "MPEG-DASH"]
    StreamInfos: list[AdaptiveStreamTemplate] = Field(min_length=1, max_length=10)
    DisableHigherVideoBitrate: int = Field(default=0, ge=0, le=1)
    DisableHigherVideoResolution: int = Field(default=0, ge=0, le=1)
    PureAudio: int = Field(default=0, ge=0, le=1)
    SegmentType: str | None = None

    @field_validator("Format", mode="before")
    @classmethod
    def _format_upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("PureAudio")
    @classmethod
    def _pure_audio_has_no_video(cls, value: int, info: ValidationInfo) -> int:
        streams: list[AdaptiveStreamTemplate] = info.data.get("StreamInfos") or []
        with_video = [s for s in streams if not s.RemoveVideo]
        if value and with_video:
            raise ValueError(
                "PureAudio is 1 but a stream keeps its video (set RemoveVideo 1 on every stream)"
            )
        if not value and streams and not with_video:
            raise ValueError("every stream removes its video: set PureAudio 1 for an audio-only ladder")
        return value

    @field_validator("SegmentType")
    @classmethod
    def _segment_type(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or value == "":
            return None
        if value not in SEGMENT_TYPES:
            raise ValueError(f"{value!r} is not one of {', '.join(SEGMENT_TYPES)}")
        fmt = info.data.get("Format")
        supported = SUPPORTED_SEGMENT_TYPES.get(fmt or "", ())
        if fmt and value not in supported:
            raise ValueError(f"{fmt} takes SegmentType {' or '.join(supported)} on this server, not {value}")
        return value

    @property
    def segment_type(self) -> str:
        """The effective segment type: the template's, or the format's default."""
        return self.SegmentType or SUPPORTED_SEGMENT_TYPES[self.Format][0]


#: Template families by the key of their Describe response set, and the model of one entry.
TEMPLATE_SETS: dict[str, type[WireModel]] = {
    "TranscodeTemplateSet": TranscodeTemplate,
    "SnapshotByTimeOffsetTemplateSet": SnapshotByTimeOffsetTemplate,
    "SampleSnapshotTemplateSet": SampleSnapshotTemplate,
    "ImageSpriteTemplateSet": ImageSpriteTemplate,
    "AnimatedGraphicsTemplateSet": AnimatedGraphicsTemplate,
    "WatermarkTemplateSet": WatermarkTemplate,
    "AdaptiveDynamicStreamingTemplateSet": AdaptiveDynamicStreamingTemplate,
}
