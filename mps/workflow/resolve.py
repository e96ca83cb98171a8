"""From a request to runnable sub-tasks: templates looked up, overrides merged, times resolved.

Two steps on purpose. :func:`check_request` needs no media and runs before any work starts, so
an unknown Definition is refused at once; :func:`resolve_subtasks` needs the probe (percent
offsets, negative trims) and the fetched watermark images.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from mps.errors import InvalidParameterError
from mps.media.naming import safe_key
from mps.media.specs import Subtask, WatermarkSpec
from mps.models import (
    MediaInputInfo,
    MediaMetaData,
    MediaProcessTaskInput,
    SubtaskInput,
    WatermarkInput,
    WatermarkTemplate,
)
from mps.workflow.kind import Kind, TemplateLookup
from mps.workflow.kinds import KINDS

#: Fetches a watermark image (a template's ImageUrl, or an inline MediaInputInfo) to a local file.
AssetFetcher = Callable[[str | MediaInputInfo], Path]


def check_request(task: MediaProcessTaskInput, templates: TemplateLookup) -> None:
    """Refuse a request naming a template that does not exist, before any work starts.

    Raises:
        ResourceNotFoundError: ``ResourceNotFound.TemplateNotExist`` for an unknown Definition.
        InvalidParameterError: a watermark template that does not suit where it is used.
    """
    for item in task.subtasks():
        check_subtask(KINDS.of_input(item), item, templates)


def check_subtask(kind: Kind, item: SubtaskInput, templates: TemplateLookup) -> None:
    """The checks of :func:`check_request` for one sub-task input of ``kind``."""
    if kind.template_family and (item.Definition or not kind.raw_parameter):
        templates.get(kind.template_family, item.Definition)
    for watermark in getattr(item, "WatermarkSet", []):
        _watermark_template(watermark, templates, on_snapshot=kind.watermarks == "image")
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
    """Resolves sub-task inputs one at a time, so one bad input can fail alone.

    What every kind needs is here (its template, the probe, watermarks with their images fetched
    once per task); what differs is each kind's own ``resolve`` (:class:`~mps.workflow.kind.Kind`).
    """

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
        kind = KINDS.of_input(item)
        return Subtask(index=index, kind=kind.name, spec=kind.resolve(self, item), request=item)

    def template(self, kind: Kind, definition: int, model: type[Any]) -> Any:
        """The template ``definition`` of ``kind``'s family, checked to be a ``model``."""
        template = self.templates.get(kind.template_family, definition)
        if not isinstance(template, model):
            raise TypeError(f"{kind.template_family} {definition} is a {type(template).__name__}")
        return template

    def watermarks(self, inputs: list[WatermarkInput]) -> tuple[WatermarkSpec, ...]:
        return tuple(self.watermark(w) for w in inputs)

    def watermark(self, item: WatermarkInput) -> WatermarkSpec:
        start, end = item.StartTimeOffset, item.EndTimeOffset
        if item.RawParameter is not None:
            raw = item.RawParameter
            inline = raw.ImageTemplate
            return WatermarkSpec(
                definition=0,
                kind="image",
                origin=raw.CoordinateOrigin,
                x=raw.XPos,
                y=raw.YPos,
                image=self.image(inline.ImageContent),
                width=inline.Width,
                height=inline.Height,
                start=start,
                end=end,
            )
        template = _watermark_template(item, self.templates, on_snapshot=False)
        assert template is not None
        if template.Type == "image":
            assert template.ImageTemplate is not None
            image = template.ImageTemplate
            return WatermarkSpec(
                definition=template.Definition,
                kind="image",
                origin=template.CoordinateOrigin,
                x=template.XPos,
                y=template.YPos,
                image=self.image(image.ImageUrl),
                width=image.Width,
                height=image.Height,
                start=start,
                end=end,
            )
        assert template.TextTemplate is not None
        text = template.TextTemplate
        return WatermarkSpec(
            definition=template.Definition,
            kind="text",
            origin=template.CoordinateOrigin,
            x=template.XPos,
            y=template.YPos,
            text=item.TextContent or text.TextContent,
            font_file=self.font,
            font_size=int(text.FontSize.removesuffix("px")),
            font_color=text.FontColor,
            font_alpha=text.FontAlpha,
            start=start,
            end=end,
        )

    def image(self, ref: str | MediaInputInfo) -> Path:
        """Fetch each distinct image once per task, however many watermarks use it."""
        key = ref if isinstance(ref, str) else ref.model_dump_json()
        if key not in self._images:
            self._images[key] = self.fetch(ref)
        return self._images[key]
