"""Watermarks as filter-graph fragments: image overlays and text (drawtext), each in a time window.

OWNER: transcode/watermark helper. The signatures below are the contract the snapshot operations
rely on; keep them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from mps.media.filters import FilterGraph
from mps.media.geometry import Size
from mps.media.specs import WatermarkSpec


def watermark_input_args(watermarks: Sequence[WatermarkSpec]) -> list[list[str]]:
    """The extra ffmpeg inputs the watermarks need, one argv fragment per image watermark.

    The caller appends them after its own inputs and passes the resulting input indexes to
    :func:`overlay_watermarks` as ``image_inputs``.
    """
    raise NotImplementedError


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
        font_file: TrueType font for text watermarks.
    """
    raise NotImplementedError
