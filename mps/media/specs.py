"""Resolved sub-task specs: a request's input with its templates looked up and merged.

The operations take these, never raw requests: everything a builder needs is here, checked and
with local paths for any asset (watermark images) already fetched.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from mps.models.tasks import SubtaskInput
from mps.models.templates import (
    AdaptiveDynamicStreamingTemplate,
    AnimatedGraphicsTemplate,
    ImageSpriteTemplate,
    RawTranscodeParameter,
    SampleSnapshotTemplate,
    SnapshotByTimeOffsetTemplate,
)


@dataclass(frozen=True)
class WatermarkSpec:
    """One watermark to burn in.

    Attributes:
        definition: the watermark template ID (0 for an inline one).
        kind: ``image`` or ``text``.
        origin: ``TopLeft``, ``TopRight``, ``BottomLeft`` or ``BottomRight``.
        x, y: offset from that corner, ``"10px"`` or ``"5%"`` (of the output frame).
        image: local path of the image (image watermarks).
        width, height: drawn size of the image, ``"10%"`` (of the output width/height) or
            ``"64px"``; ``"0px"`` keeps the aspect ratio.
        text, font_file, font_size, font_color, font_alpha: text watermarks; the colour is
            ``0xRRGGBB`` and the alpha in (0, 1].
        start, end: visibility window in seconds of the output; negative counts from the end;
            None or 0 for end means "until the end".
    """

    definition: int
    kind: Literal["image", "text"]
    origin: str = "TopLeft"
    x: str = "0px"
    y: str = "0px"
    image: Path | None = None
    width: str = "10%"
    height: str = "0px"
    text: str = ""
    font_file: str | None = None
    font_size: int = 16
    font_color: str = "0xFFFFFF"
    font_alpha: float = 1.0
    start: float | None = None
    end: float | None = None


@dataclass(frozen=True)
class TranscodeSpec:
    """A transcode: the effective template (named one + OverrideParameter), watermarks, trim.

    ``start``/``end`` are Start/EndTimeOffset in source seconds: 0 or None means the start or
    end of the source; a negative value counts back from the end.
    """

    definition: int
    params: RawTranscodeParameter
    watermarks: tuple[WatermarkSpec, ...] = ()
    start: float | None = None
    end: float | None = None
    x264_preset: str = "veryfast"


@dataclass(frozen=True)
class SnapshotSpec:
    """Screenshots at ``times`` (seconds, already resolved from ``"3.5s"``/``"10%"``)."""

    definition: int
    template: SnapshotByTimeOffsetTemplate
    times: tuple[float, ...]
    watermarks: tuple[WatermarkSpec, ...] = ()


@dataclass(frozen=True)
class SampleSpec:
    """Screenshots every ``template.SampleInterval`` seconds or percent."""

    definition: int
    template: SampleSnapshotTemplate
    watermarks: tuple[WatermarkSpec, ...] = ()


@dataclass(frozen=True)
class SpriteSpec:
    """Sprite sheets and their WebVTT."""

    definition: int
    template: ImageSpriteTemplate


@dataclass(frozen=True)
class AnimationSpec:
    """An animated GIF/WebP of source seconds ``start`` to ``end`` (``end`` 0 = end of source)."""

    definition: int
    template: AnimatedGraphicsTemplate
    start: float
    end: float


class Spec(Protocol):
    """What every resolved spec has: the template it came from (0 for inline parameters)."""

    @property
    def definition(self) -> int: ...


@dataclass(frozen=True)
class AdaptiveSpec:
    """An adaptive streaming ladder: the effective template and the watermarks burned into every rung.

    Attributes:
        definition: the template ID (``{definition}`` in names, ``Definition`` in the result).
        template: the template, with ``StreamInfos`` already replaced by the task's
            ``StdExtStreamInfos`` when it gave some.
        watermarks: drawn on every video rung, sized against each rung's own frame.
        x264_preset: the x264 speed preset (``MPS_X264_PRESET``).
    """

    definition: int
    template: AdaptiveDynamicStreamingTemplate
    watermarks: tuple[WatermarkSpec, ...] = ()
    x264_preset: str = "veryfast"


@dataclass(frozen=True)
class Subtask:
    """One sub-task of a task, in request order, with its kind and resolved spec.

    Attributes:
        index: position in MediaProcessResultSet.
        kind: the result ``Type`` tag (``Transcode``, ``ImageSprites``...).
        spec: the resolved spec.
        request: the sub-task input as the client sent it: echoed in the result's ``Input``, and
            the source of the naming fields (``OutputObjectPath``, ``ObjectNumberFormat``...).
    """

    index: int
    kind: str
    spec: Spec
    request: SubtaskInput
