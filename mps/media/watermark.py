"""Watermarks as filter-graph fragments: image overlays and text (drawtext), each in a time window.

The signatures of :func:`watermark_input_args` and :func:`overlay_watermarks` are the contract the
snapshot operations rely on; keep them.

- Images are extra ffmpeg inputs read once: ``overlay`` repeats their last frame after it
  (``eof_action=repeat``), so a still logo lasts the whole video without decoding it per frame
  (``-loop 1`` would). An animated image plays once and then holds its last frame.
- Sizes and offsets in ``%`` are of the frame the watermark is drawn on (the scaled output), and
  are turned into pixels here, since that frame's size is known.
- User text reaches drawtext escaped for both parsing levels of the graph, with
  ``expansion=none``, so no character can end the option, start another filter, or expand as
  ``%{...}``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from mps.errors import InvalidParameterError, MpsError
from mps.media.command import input_args, seconds
from mps.media.filters import FilterGraph, escape_value
from mps.media.geometry import Size
from mps.media.specs import WatermarkSpec

_LENGTH = re.compile(r"^(-?\d+(?:\.\d+)?)(%|px)$")
_COLOR = re.compile(r"^0x[0-9A-Fa-f]{6}$")
_RIGHT = frozenset({"TopRight", "BottomRight"})
_BOTTOM = frozenset({"BottomLeft", "BottomRight"})
_ORIGINS = frozenset({"TopLeft", "TopRight", "BottomLeft", "BottomRight"})


def watermark_input_args(watermarks: Sequence[WatermarkSpec]) -> list[list[str]]:
    """The extra ffmpeg inputs the watermarks need, one argv fragment per image watermark.

    The caller appends them after its own inputs and passes the resulting input indexes to
    :func:`overlay_watermarks` as ``image_inputs`` (:func:`image_input_map` computes them).

    Raises:
        InvalidParameterError: an image watermark has no local image.
    """
    return [input_args(_image_of(mark)) for mark in watermarks if mark.kind == "image"]


def image_input_map(watermarks: Sequence[WatermarkSpec], first_input: int) -> dict[int, int]:
    """Index in ``watermarks`` -> ffmpeg input index, for images appended from input ``first_input`` on.

    Parameters:
        watermarks: as passed to :func:`watermark_input_args`.
        first_input: the input index of the first image (the number of inputs before them).
    """
    images = [index for index, mark in enumerate(watermarks) if mark.kind == "image"]
    return {index: first_input + offset for offset, index in enumerate(images)}


def overlay_watermarks(
    graph: FilterGraph,
    pad: str,
    frame: Size,
    watermarks: Sequence[WatermarkSpec],
    image_inputs: Mapping[int, int],
    *,
    duration: float,
    font_file: str | None = None,
) -> str:
    """Burn ``watermarks`` into the video at ``pad`` (already scaled to ``frame``); return the new pad.

    Parameters:
        graph: the graph to extend.
        pad: label of the video to draw on.
        frame: its size, against which ``%`` sizes and positions are computed.
        watermarks: in drawing order (later ones on top).
        image_inputs: index in ``watermarks`` -> ffmpeg input index of that watermark's image.
        duration: length of the output in seconds, to resolve negative window offsets.
        font_file: TrueType font for text watermarks that name none of their own.

    Returns:
        The label of the watermarked video (``pad`` itself when there is nothing to draw).

    Raises:
        InvalidParameterError: a bad position, size, colour, origin, window or kind.
        MpsError: ``InternalError.FontNotFound`` when a text watermark has no font.
    """
    for index, mark in enumerate(watermarks):
        window = _window(mark, duration)
        if mark.kind == "image":
            if index not in image_inputs:
                raise ValueError(f"watermark {index} is an image but has no input index")
            pad = _overlay_image(graph, pad, frame, mark, image_inputs[index], window)
        elif mark.kind == "text":
            if mark.text:
                pad = _draw_text(graph, pad, frame, mark, window, mark.font_file or font_file)
        else:
            raise InvalidParameterError.field("Type", f"watermark type {mark.kind!r} is not supported")
    return pad


def _image_of(mark: WatermarkSpec) -> Path:
    if mark.image is None:
        raise InvalidParameterError.field("ImageContent", f"image watermark {mark.definition} has no image")
    return mark.image


def _overlay_image(
    graph: FilterGraph, pad: str, frame: Size, mark: WatermarkSpec, input_index: int, window: str | None
) -> str:
    """Scale the image to its drawn size and overlay it at its position."""
    width = _pixels(mark.width, frame.width, "Width") or -1
    height = _pixels(mark.height, frame.height, "Height") or -1
    scale = [] if width == height == -1 else [f"scale={width}:{height}"]
    # yuva420p keeps a PNG's alpha through to the overlay; opaque images just gain an opaque plane.
    logo = graph.add(f"[{input_index}:v:0]", [*scale, "format=yuva420p"], graph.label("wm"))
    x, y = _position(mark, frame, right="W-w", bottom="H-h")
    options = [f"x={x}", f"y={y}", "eof_action=repeat", "format=auto"]
    if window:
        options.append(f"enable={escape_value(window)}")
    return graph.add([pad, logo], ["overlay=" + ":".join(options)])


def _draw_text(
    graph: FilterGraph, pad: str, frame: Size, mark: WatermarkSpec, window: str | None, font_file: str | None
) -> str:
    """One drawtext filter; every user-controlled value goes through :func:`escape_value`."""
    if not font_file:
        raise MpsError(
            "no font for text watermarks: set MPS_FONT_FILE or install DejaVu Sans",
            code="InternalError.FontNotFound",
        )
    if not _COLOR.match(mark.font_color):
        raise InvalidParameterError.field("FontColor", f"FontColor {mark.font_color!r} is not 0xRRGGBB")
    if not 0 < mark.font_alpha <= 1:
        raise InvalidParameterError.field("FontAlpha", f"FontAlpha {mark.font_alpha} is not in (0, 1]")
    if mark.font_size <= 0:
        raise InvalidParameterError.field("FontSize", f"FontSize {mark.font_size} is not positive")
    x, y = _position(mark, frame, right="W-tw", bottom="H-th")
    options = [
        f"fontfile={escape_value(font_file)}",
        f"text={escape_value(mark.text)}",
        "expansion=none",
        f"fontsize={int(mark.font_size)}",
        f"fontcolor={mark.font_color}@{mark.font_alpha:.3g}",
        f"x={x}",
        f"y={y}",
    ]
    if window:
        options.append(f"enable={escape_value(window)}")
    return graph.add(pad, ["drawtext=" + ":".join(options)])


def _pixels(value: str, extent: int, field: str) -> int:
    """``"10%"`` of ``extent`` or ``"64px"`` as whole pixels."""
    match = _LENGTH.match(value.strip())
    if match is None:
        raise InvalidParameterError.field(field, f"{field} {value!r} is neither '<n>px' nor '<n>%'")
    number = float(match.group(1))
    return round(extent * number / 100) if match.group(2) == "%" else round(number)


def _position(mark: WatermarkSpec, frame: Size, *, right: str, bottom: str) -> tuple[str, str]:
    """``x`` and ``y`` expressions for the mark's corner and offsets.

    Parameters:
        right, bottom: the expressions of the farthest position (frame minus mark size).
    """
    if mark.origin not in _ORIGINS:
        raise InvalidParameterError.field("CoordinateOrigin", f"CoordinateOrigin {mark.origin!r} is unknown")
    x = _pixels(mark.x, frame.width, "XPos")
    y = _pixels(mark.y, frame.height, "YPos")
    x_expr = (f"{right}{-x:+d}" if x else right) if mark.origin in _RIGHT else str(x)
    y_expr = (f"{bottom}{-y:+d}" if y else bottom) if mark.origin in _BOTTOM else str(y)
    return x_expr, y_expr


def _window(mark: WatermarkSpec, duration: float) -> str | None:
    """The ``enable`` expression of the mark's time window, or None when it is always shown.

    Start None/0 is the start and end None/0 the end of the output; negative values count back
    from ``duration``.

    Raises:
        InvalidParameterError: the window ends before it starts.
    """
    start = mark.start or 0.0
    if start < 0:
        start = max(duration + start, 0.0)
    end = mark.end or None
    if end is not None and end < 0:
        end = duration + end
    if end is not None and end <= start:
        raise InvalidParameterError.field(
            "EndTimeOffset",
            f"watermark EndTimeOffset {mark.end} is not after StartTimeOffset {mark.start or 0}",
        )
    if end is None:
        return f"gte(t,{seconds(start)})" if start > 0 else None
    return f"between(t,{seconds(start)},{seconds(end)})"
