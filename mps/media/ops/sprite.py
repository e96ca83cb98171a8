"""Image sprites (ImageSprite): thumbnail sheets of ``RowCount`` x ``ColumnCount`` plus a WebVTT index.

The thumbnails come from one decode, exactly like sampled snapshots (same instants, same
``select``); the operation then pastes them into sheets. This module holds the pure parts: the
thumbnail command, where each tile goes, and the WebVTT text.

Layout rules (ours, documented in the result too):

- Tiles fill a sheet row by row, left to right; a sheet holds ``RowCount * ColumnCount`` tiles.
- **The last sheet is cropped to the rows it uses** (its width stays ``ColumnCount`` tiles, so
  every sheet has the same width and a tile's position depends only on its index on the sheet).
  Unused cells of its last row are black. A 10x10 preset on a 30 s clip gives one 1420x80 sheet,
  not a 1420x800 one that is 97 % black.
- WebVTT cues are contiguous: cue ``i`` runs from tile ``i``'s instant to tile ``i+1``'s, the first
  from ``00:00:00.000`` and the last to the media duration, so every instant of the video maps to a
  tile. The payload is ``<sheet path relative to the VTT's directory>#xywh=x,y,w,h``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mps.media.command import Command
from mps.media.geometry import Size
from mps.media.ops.sample import (
    SEQUENCE_PATTERN,
    FrameSequence,
    build_frame_sequences,
    build_sequence_seeks,
    sequence_file,
)
from mps.media.ops.snapshot import Pictures, image_size
from mps.media.specs import SpriteSpec
from mps.media.timing import sample_step, sample_times
from mps.models.metadata import MediaMetaData

#: Thumbnails are kept lossless in scratch space and compressed once, as whole sheets. BMP, not PNG:
#: uncompressed, so neither ffmpeg writing them nor Pillow reading them spends time on compression
#: (0.2 s of a 5 s dense sprite of 100 tiles).
THUMBNAIL_FORMAT = "bmp"
#: Scratch names of the thumbnails: ``tile_000000.png``... (see :func:`sequence_file`).
THUMBNAIL_STEM = "tile"


@dataclass(frozen=True)
class Tile:
    """Where one thumbnail sits: sheet number (0-based) and top-left pixel on that sheet."""

    sheet: int
    x: int
    y: int


def sheet_layout(count: int, rows: int, cols: int, tile: Size) -> list[Tile]:
    """The position of each of ``count`` thumbnails on sheets of ``rows`` x ``cols``.

    Parameters:
        count: thumbnails written.
        rows, cols: the template's RowCount and ColumnCount (>= 1).
        tile: the size of one thumbnail.

    Returns:
        One :class:`Tile` per thumbnail, in order.

    Raises:
        ValueError: ``rows`` or ``cols`` is below 1.
    """
    if rows < 1 or cols < 1:
        raise ValueError(f"a sprite grid needs at least one row and column, not {rows}x{cols}")
    per_sheet = rows * cols
    tiles = []
    for index in range(count):
        cell = index % per_sheet
        tiles.append(Tile(index // per_sheet, (cell % cols) * tile.width, (cell // cols) * tile.height))
    return tiles


def sheet_sizes(layout: Sequence[Tile], cols: int, tile: Size) -> list[Size]:
    """The pixel size of each sheet: ``cols`` tiles wide, as many rows high as it uses."""
    heights: dict[int, int] = {}
    for place in layout:
        heights[place.sheet] = max(heights.get(place.sheet, 0), place.y + tile.height)
    return [Size(cols * tile.width, heights[sheet]) for sheet in sorted(heights)]


def vtt_timestamp(seconds: float) -> str:
    """``HH:MM:SS.mmm`` for a WebVTT cue, rounded to the millisecond."""
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def build_vtt(
    times: Sequence[float], duration: float, layout: Sequence[Tile], sheet_names: Sequence[str], tile: Size
) -> str:
    """The WebVTT index of a sprite: one cue per thumbnail, covering ``[0, duration]`` without gaps.

    Parameters:
        times: the instant of each thumbnail (seconds, increasing, the first being 0).
        duration: the media duration; the last cue ends there (or at its own start if later).
        layout: the position of each thumbnail (:func:`sheet_layout`), same length as ``times``.
        sheet_names: how the VTT refers to each sheet (relative to the VTT's directory).
        tile: the size of one thumbnail.

    Returns:
        The file's text, ``WEBVTT`` header first, ending with a newline.

    Raises:
        ValueError: ``times`` and ``layout`` differ in length.
    """
    if len(times) != len(layout):
        raise ValueError(f"{len(times)} thumbnail times but {len(layout)} tiles")
    stamps = [vtt_timestamp(0.0 if i == 0 else t) for i, t in enumerate(times)]
    stamps.append(vtt_timestamp(max(duration, times[-1] if times else 0.0)))
    lines = ["WEBVTT", ""]
    for index, place in enumerate(layout):
        lines.append(f"{stamps[index]} --> {stamps[index + 1]}")
        lines.append(f"{sheet_names[place.sheet]}#xywh={place.x},{place.y},{tile.width},{tile.height}")
        lines.append("")
    return "\n".join(lines)


def build_thumbnails(
    spec: SpriteSpec, meta: MediaMetaData, source: str | Path, workdir: Path
) -> tuple[Command, list[float], Size]:
    """The run that writes a sprite's thumbnails into ``workdir`` as ``tile_000000.png``...

    The thumbnail size is the template's Width/Height (for sprites: the size of one tile) on the
    display size of the source, never upscaled; FillType ``stretch`` distorts, anything else
    letterboxes (Tencent allows only ``stretch`` and ``black`` for sprites).

    Parameters:
        spec: the sprite template.
        meta: the probe of the source.
        source: a local path or URL.
        workdir: scratch directory.

    Returns:
        The command, the planned instants, and the thumbnail size.

    Raises:
        SourceError: the source has no video stream.
    """
    sequence, times, size = thumbnail_sequence(spec, meta, workdir)
    return build_frame_sequences([sequence], meta, source), times, size


def thumbnail_sequence(
    spec: SpriteSpec, meta: MediaMetaData, workdir: Path
) -> tuple[FrameSequence, list[float], Size]:
    """:func:`build_thumbnails` as a sequence (to share a decode), with the instants and tile size."""
    template = spec.template
    times, size, fill = _tiles(spec, meta)
    sequence = FrameSequence(
        workdir / f"{THUMBNAIL_STEM}_{SEQUENCE_PATTERN}.{THUMBNAIL_FORMAT}",
        step=sample_step(template.SampleType, template.SampleInterval, meta.media_duration) or 1.0,
        count=len(times), size=size, fill=fill, codec_args=("-c:v", THUMBNAIL_FORMAT),
    )  # fmt: skip
    return sequence, times, size


def build_thumbnail_seeks(
    spec: SpriteSpec, meta: MediaMetaData, source: str | Path, workdir: Path
) -> tuple[list[Command], list[float], Size]:
    """:func:`build_thumbnails` by seeking to each tile's instant: the same tiles, the same files.

    Raises:
        SourceError: the source has no video stream.
    """
    times, size, fill = _tiles(spec, meta)
    pictures = Pictures(size, fill, ["-c:v", THUMBNAIL_FORMAT])
    commands = build_sequence_seeks(
        times, meta, source, workdir, THUMBNAIL_STEM, pictures, fmt=THUMBNAIL_FORMAT
    )
    return commands, times, size


def _tiles(spec: SpriteSpec, meta: MediaMetaData) -> tuple[list[float], Size, str]:
    """The tiles' instants, size and fill (``stretch`` distorts, anything else letterboxes)."""
    template = spec.template
    times = sample_times(template.SampleType, template.SampleInterval, meta.media_duration, meta.fps)
    fill = "stretch" if template.FillType == "stretch" else "black"
    return times, image_size(template, meta), fill


def thumbnail_file(workdir: Path, index: int) -> Path:
    """The scratch file of the ``index``-th (0-based) thumbnail written by :func:`build_thumbnails`."""
    return sequence_file(workdir, THUMBNAIL_STEM, THUMBNAIL_FORMAT, index)
