"""Run an ImageSprite sub-task: thumbnails from one decode, pasted into sheets, indexed by WebVTT.

Sheets are composed with Pillow rather than ffmpeg's ``tile`` filter because the last sheet is
cropped to the rows it uses and the WebVTT must describe exactly the thumbnails that exist
(see :mod:`mps.media.ops.sprite` for the layout rules).
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from mps.errors import ProcessingError
from mps.media.geometry import Size
from mps.media.ops.sprite import (
    THUMBNAIL_FORMAT,
    THUMBNAIL_STEM,
    Tile,
    build_thumbnail_seeks,
    build_thumbnails,
    build_vtt,
    sheet_layout,
    sheet_sizes,
    thumbnail_sequence,
)
from mps.media.specs import SpriteSpec, Subtask
from mps.models.results import MediaImageSpriteItem
from mps.models.tasks import ImageSpriteTaskInput
from mps.workflow.context import OperationContext
from mps.workflow.operations.sample import clear_sequence, written_sequence
from mps.workflow.operations.snapshot import expect, run_in_order
from mps.workflow.outputs import wire_path

#: Share of a sprite's progress taken by decoding thumbnails; the rest is composing sheets.
_DECODE_SHARE = 0.8

#: Pillow's writer and options per sheet ``Format``.
_SHEET_WRITERS: dict[str, tuple[str, dict[str, object]]] = {
    "jpg": ("JPEG", {"quality": 90}),
    "png": ("PNG", {"optimize": False}),
    "webp": ("WEBP", {"quality": 90}),
}


def compose_sheets(
    thumbnails: Sequence[Path],
    layout: Sequence[Tile],
    sizes: Sequence[Size],
    outputs: Sequence[Path],
    fmt: str,
) -> None:
    """Paste ``thumbnails`` at their ``layout`` places onto black sheets of ``sizes``; save to ``outputs``.

    Raises:
        ProcessingError: a thumbnail cannot be read or a sheet cannot be written.
    """
    writer, options = _SHEET_WRITERS[fmt]
    sheets = [Image.new("RGB", (size.width, size.height), (0, 0, 0)) for size in sizes]
    try:
        for path, place in zip(thumbnails, layout, strict=True):
            with Image.open(path) as tile:
                sheets[place.sheet].paste(tile.convert("RGB"), (place.x, place.y))
        for sheet, output in zip(sheets, outputs, strict=True):
            sheet.save(output, writer, **options)
    except (OSError, ValueError) as exc:
        raise ProcessingError(f"could not compose the sprite sheets: {exc}") from exc
    finally:
        for sheet in sheets:
            sheet.close()


def vtt_key(ctx: OperationContext, request: ImageSpriteTaskInput) -> str:
    """The WebVTT's key: ``WebVttObjectName`` (relative to OutputDir only) or the default name."""
    custom = request.WebVttObjectName.lstrip("/") if request.WebVttObjectName else None
    return ctx.namer.key("imageSprite_vtt", "vtt", custom=custom or None)


def write_index(
    ctx: OperationContext,
    request: ImageSpriteTaskInput,
    times: Sequence[float],
    layout: Sequence[Tile],
    sheet_keys: Sequence[str],
    tile: Size,
) -> str:
    """Write the WebVTT of a sprite, referring to sheets relative to its own directory; return its key."""
    index_key = vtt_key(ctx, request)
    index_dir = posixpath.dirname(index_key) or "."
    names = [posixpath.relpath(key, index_dir) for key in sheet_keys]
    text = build_vtt(times, ctx.meta.media_duration, layout, names, tile)
    ctx.output_path(index_key).write_text(text, encoding="utf-8")
    return index_key


def run_sprite(subtask: Subtask, ctx: OperationContext) -> MediaImageSpriteItem:
    """Make the sheets and WebVTT of one ImageSprite sub-task.

    Sheets are ``{inputName}_imageSprite_{definition}_{number}.{format}`` (or from
    ``OutputObjectPath``), the index ``{inputName}_imageSprite_{definition}.vtt`` (or
    ``WebVttObjectName``); the VTT refers to sheets by paths relative to its own directory.

    Parameters:
        subtask: a sub-task whose spec is a :class:`SpriteSpec`.
        ctx: runner, probe, output root, scratch directory and progress callback.

    Returns:
        The result item: ``Width``/``Height`` of one thumbnail, ``TotalCount`` thumbnails per
        sheet (RowCount x ColumnCount), the sheets and the VTT (``Storage`` left for the executor).

    Raises:
        ProcessingError: ffmpeg failed, wrote nothing, or a sheet could not be written.
        SourceError: the source has no video stream.
    """
    spec = expect(subtask.spec, SpriteSpec, "an ImageSprite spec")
    request = expect(subtask.request, ImageSpriteTaskInput, "an ImageSprite input")
    template = spec.template
    if ctx.pictures_ready:
        _, times, tile = thumbnail_sequence(spec, ctx.meta, ctx.workdir)
    else:
        ctx.workdir.mkdir(parents=True, exist_ok=True)
        clear_sequence(ctx.workdir, THUMBNAIL_STEM, THUMBNAIL_FORMAT)
        if ctx.seek_pictures:
            commands, times, tile = build_thumbnail_seeks(spec, ctx.meta, ctx.source, ctx.workdir)
        else:
            command, times, tile = build_thumbnails(spec, ctx.meta, ctx.source, ctx.workdir)
            commands = [command]
        run_in_order(commands, ctx, _DECODE_SHARE)
    # The VTT and the sheets describe the thumbnails that exist, which can be one fewer than
    # planned when the probed duration is a little longer than the decodable video.
    thumbnails = written_sequence(ctx.workdir, THUMBNAIL_STEM, THUMBNAIL_FORMAT, len(times))
    layout = sheet_layout(len(thumbnails), template.RowCount, template.ColumnCount, tile)
    sizes = sheet_sizes(layout, template.ColumnCount, tile)
    sheet_keys = [
        ctx.namer.key(
            "imageSprite",
            template.Format,
            index=i,
            custom=request.OutputObjectPath,
            number_format=request.ObjectNumberFormat,
            numbered=True,
        )
        for i in range(len(sizes))
    ]
    compose_sheets(thumbnails, layout, sizes, [ctx.output_path(key) for key in sheet_keys], template.Format)
    index_key = write_index(ctx, request, times[: len(thumbnails)], layout, sheet_keys, tile)
    ctx.on_progress(1.0)
    return MediaImageSpriteItem(
        Definition=spec.definition,
        Width=tile.width,
        Height=tile.height,
        TotalCount=template.RowCount * template.ColumnCount,
        ImagePathSet=[wire_path(key) for key in sheet_keys],
        WebVttPath=wire_path(index_key),
    )
