"""From a request to runnable sub-tasks: templates looked up, overrides merged, times resolved.

Two steps on purpose. :func:`check_request` needs no media and runs before any work starts, so
an unknown Definition is refused at once; :func:`resolve_subtasks` needs the probe (percent
offsets, negative trims) and the fetched watermark images.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from mps.errors import InvalidParameterError
from mps.media.naming import safe_key
from mps.media.ops.transcode import effective_parameters
from mps.media.specs import (
    AnimationSpec,
    SampleSpec,
    SnapshotSpec,
    SpriteSpec,
    Subtask,
    TranscodeSpec,
    WatermarkSpec,
)
from mps.media.timing import resolve_offsets
from mps.models import (
    AnimatedGraphicsTemplate,
    AnimatedGraphicTaskInput,
    ImageSpriteTaskInput,
    ImageSpriteTemplate,
    MediaInputInfo,
    MediaMetaData,
    MediaProcessTaskInput,
    RawTranscodeParameter,
    SampleSnapshotTaskInput,
    SampleSnapshotTemplate,
    SnapshotByTimeOffsetTaskInput,
    SnapshotByTimeOffsetTemplate,
    SubtaskInput,
    TranscodeTaskInput,
    TranscodeTemplate,
    WatermarkInput,
    WatermarkTemplate,
)


class TemplateLookup(Protocol):
    """Finds a template by family (Describe set key) and Definition; raises when there is none."""

    def get(self, family: str, definition: int) -> Any: ...


#: Fetches a watermark image (a template's ImageUrl, or an inline MediaInputInfo) to a local file.
AssetFetcher = Callable[[str | MediaInputInfo], Path]

#: Result ``Type`` tag for each sub-task input class.
KINDS: dict[type[SubtaskInput], str] = {
    TranscodeTaskInput: "Transcode",
    AnimatedGraphicTaskInput: "AnimatedGraphics",
    SnapshotByTimeOffsetTaskInput: "SnapshotByTimeOffset",
    SampleSnapshotTaskInput: "SampleSnapshot",
    ImageSpriteTaskInput: "ImageSprites",
}

_FAMILY_OF_KIND = {
    "AnimatedGraphics": "AnimatedGraphicsTemplateSet",
    "SnapshotByTimeOffset": "SnapshotByTimeOffsetTemplateSet",
    "SampleSnapshot": "SampleSnapshotTemplateSet",
    "ImageSprites": "ImageSpriteTemplateSet",
}


def check_request(task: MediaProcessTaskInput, templates: TemplateLookup) -> None:
    """Refuse a request naming a template that does not exist, before any work starts.

    Raises:
        ResourceNotFoundError: ``ResourceNotFound.TemplateNotExist`` for an unknown Definition.
        InvalidParameterError: a watermark template that does not suit where it is used.
    """
    for item in task.subtasks():
        kind = KINDS[type(item)]
        if kind == "Transcode":
            assert isinstance(item, TranscodeTaskInput)
            if item.Definition:
                templates.get("TranscodeTemplateSet", item.Definition)
        else:
            templates.get(_FAMILY_OF_KIND[kind], item.Definition)
        for watermark in getattr(item, "WatermarkSet", []):
            _watermark_template(watermark, templates, on_snapshot=kind != "Transcode")
        _check_names(item)


def _check_names(item: SubtaskInput) -> None:
    """Custom output names that climb (``..``) are refused now, not when their sub-task runs."""
    for field in ("OutputObjectPath", "SegmentObjectName", "WebVttObjectName"):
        value = getattr(item, field, None)
        if value:
            safe_key(value, field=field)


def _watermark_template(
    watermark: WatermarkInput, templates: TemplateLookup, *, on_snapshot: bool
) -> WatermarkTemplate | None:
    if watermark.Definition == 0:
        return None
    template = templates.get("WatermarkTemplateSet", watermark.Definition)
    assert isinstance(template, WatermarkTemplate)
    if template.Type == "svg":
        raise InvalidParameterError.field("WatermarkSet", "svg watermarks are not supported by this server")
    if on_snapshot and template.Type != "image":
        raise InvalidParameterError.field("WatermarkSet", "only image watermarks can be used on snapshots")
    return template


def resolve_subtasks(
    task: MediaProcessTaskInput,
    templates: TemplateLookup,
    meta: MediaMetaData,
    fetch: AssetFetcher,
    *,
    x264_preset: str = "veryfast",
    font_file: str | None = None,
) -> list[Subtask]:
    """Every sub-task of ``task`` as a runnable :class:`Subtask`, in request order."""
    resolver = SubtaskResolver(templates, meta, fetch, x264_preset, font_file)
    return [resolver.subtask(index, item) for index, item in enumerate(task.subtasks())]


class SubtaskResolver:
    """Resolves sub-task inputs one at a time, so one bad input can fail alone."""

    def __init__(
        self,
        templates: TemplateLookup,
        meta: MediaMetaData,
        fetch: AssetFetcher,
        preset: str,
        font: str | None,
    ) -> None:
        self.templates, self.meta, self.fetch = templates, meta, fetch
        self.preset, self.font = preset, font
        self._images: dict[str, Path] = {}

    def subtask(self, index: int, item: SubtaskInput) -> Subtask:
        """The runnable form of sub-task ``item`` at position ``index``.

        Raises:
            MpsError: a template is missing or unsuitable, or a watermark image cannot be fetched.
        """
        kind = KINDS[type(item)]
        spec: Any
        if isinstance(item, TranscodeTaskInput):
            spec = self.transcode(item)
        elif isinstance(item, SnapshotByTimeOffsetTaskInput):
            template = self.templates.get(_FAMILY_OF_KIND[kind], item.Definition)
            assert isinstance(template, SnapshotByTimeOffsetTemplate)
            times = resolve_offsets(
                item.ExtTimeOffsetSet, item.TimeOffsetSet, self.meta.media_duration, fps=self.meta.fps
            )
            spec = SnapshotSpec(item.Definition, template, tuple(times), self.watermarks(item.WatermarkSet))
        elif isinstance(item, SampleSnapshotTaskInput):
            template = self.templates.get(_FAMILY_OF_KIND[kind], item.Definition)
            assert isinstance(template, SampleSnapshotTemplate)
            spec = SampleSpec(item.Definition, template, self.watermarks(item.WatermarkSet))
        elif isinstance(item, ImageSpriteTaskInput):
            template = self.templates.get(_FAMILY_OF_KIND[kind], item.Definition)
            assert isinstance(template, ImageSpriteTemplate)
            spec = SpriteSpec(item.Definition, template)
        else:
            template = self.templates.get(_FAMILY_OF_KIND[kind], item.Definition)
            assert isinstance(template, AnimatedGraphicsTemplate)
            spec = AnimationSpec(item.Definition, template, item.StartTimeOffset, item.EndTimeOffset)
        return Subtask(index=index, kind=kind, spec=spec, request=item)

    def transcode(self, item: TranscodeTaskInput) -> TranscodeSpec:
        if item.Definition:
            template = self.templates.get("TranscodeTemplateSet", item.Definition)
            assert isinstance(template, TranscodeTemplate)
            base = RawTranscodeParameter.model_validate(
                template.model_dump(include=set(RawTranscodeParameter.model_fields))
            )
        else:
            assert item.RawParameter is not None
            base = item.RawParameter
        params = effective_parameters(base, item.OverrideParameter)
        return TranscodeSpec(
            definition=item.Definition,
            params=params,
            watermarks=self.watermarks(item.WatermarkSet),
            start=item.StartTimeOffset,
            end=item.EndTimeOffset,
            x264_preset=self.preset,
        )

    def watermarks(self, inputs: list[WatermarkInput]) -> tuple[WatermarkSpec, ...]:
        return tuple(self.watermark(w) for w in inputs)

    def watermark(self, item: WatermarkInput) -> WatermarkSpec:
        window = {"start": item.StartTimeOffset, "end": item.EndTimeOffset}
        if item.RawParameter is not None:
            raw = item.RawParameter
            image = raw.ImageTemplate
            return WatermarkSpec(
                definition=0,
                kind="image",
                origin=raw.CoordinateOrigin,
                x=raw.XPos,
                y=raw.YPos,
                image=self.image(image.ImageContent),
                width=image.Width,
                height=image.Height,
                **window,
            )
        template = _watermark_template(item, self.templates, on_snapshot=False)
        assert template is not None
        place = {"origin": template.CoordinateOrigin, "x": template.XPos, "y": template.YPos}
        if template.Type == "image":
            assert template.ImageTemplate is not None
            image = template.ImageTemplate
            return WatermarkSpec(
                definition=template.Definition,
                kind="image",
                image=self.image(image.ImageUrl),
                width=image.Width,
                height=image.Height,
                **place,
                **window,
            )
        assert template.TextTemplate is not None
        text = template.TextTemplate
        return WatermarkSpec(
            definition=template.Definition,
            kind="text",
            text=item.TextContent or text.TextContent,
            font_file=self.font,
            font_size=int(text.FontSize.removesuffix("px")),
            font_color=text.FontColor,
            font_alpha=text.FontAlpha,
            **place,
            **window,
        )

    def image(self, ref: str | MediaInputInfo) -> Path:
        """Fetch each distinct image once per task, however many watermarks use it."""
        key = ref if isinstance(ref, str) else ref.model_dump_json()
        if key not in self._images:
            self._images[key] = self.fetch(ref)
        return self._images[key]
