"""Output sizes and the scale/fill filters that produce them.

Rules (Tencent's, plus one of ours):

- ``ResolutionAdaptive=open``: ``Width`` is the long side and ``Height`` the short side, so one
  template serves landscape and portrait sources. ``close``: literal width and height.
- Both 0: the source size. One 0: that side follows the source's aspect ratio.
- **Never upscale** (ours): when the requested box is larger than the source on either side, it is
  shrunk, keeping its own aspect ratio, until it fits inside the source. A 720p template on a 360p
  source gives 360p, not a blurry 720p.
- Sizes are rounded to even numbers, which 4:2:0 encoders require.
- ``FillType`` says what happens when the box's aspect ratio differs from the source's: ``stretch``
  distorts, ``black``/``white`` letterbox, ``gauss`` letterboxes over a blurred copy, and
  ``smarttailor`` crops the middle.
"""

from __future__ import annotations

from dataclasses import dataclass

from mps.media.filters import FilterGraph


@dataclass(frozen=True)
class Size:
    width: int
    height: int


def _even(value: float) -> int:
    return max(2, int(round(value / 2.0)) * 2)


def target_size(
    source: Size, width: int, height: int, adaptive: str = "open", *, upscale: bool = False
) -> Size:
    """The output size for a template's ``Width``/``Height``/``ResolutionAdaptive`` on ``source``.

    Parameters:
        source: the displayed size of the source (after rotation).
        width, height: the template values (0 = from the source).
        adaptive: ``open`` or ``close``.
        upscale: allow a box larger than the source (off everywhere by default).
    """
    if adaptive == "open" and source.height > source.width:
        width, height = height, width
    if not width and not height:
        box_w, box_h = float(source.width), float(source.height)
    elif not height:
        box_w, box_h = float(width), width * source.height / source.width
    elif not width:
        box_w, box_h = height * source.width / source.height, float(height)
    else:
        box_w, box_h = float(width), float(height)
    if not upscale and (box_w > source.width or box_h > source.height):
        factor = min(source.width / box_w, source.height / box_h)
        box_w, box_h = box_w * factor, box_h * factor
    return Size(_even(box_w), _even(box_h))


def fill_filters(graph: FilterGraph, pad: str, size: Size, fill: str) -> str:
    """Add filters turning the video at ``pad`` into exactly ``size``; return the output pad.

    Parameters:
        graph: the graph to extend.
        pad: the input label, e.g. ``[0:v]``.
        size: the output size.
        fill: ``stretch``, ``black``, ``white``, ``gauss`` or ``smarttailor``.
    """
    w, h = size.width, size.height
    if fill == "stretch":
        return graph.add(pad, [f"scale={w}:{h}", "setsar=1"])
    if fill == "smarttailor":
        return graph.add(
            pad, [f"scale={w}:{h}:force_original_aspect_ratio=increase", f"crop={w}:{h}", "setsar=1"]
        )
    fitted = f"scale={w}:{h}:force_original_aspect_ratio=decrease:force_divisible_by=2"
    if fill == "gauss":
        back, front = graph.label("bg"), graph.label("fg")
        graph.add(pad, ["split=2"], [back, front])
        blurred = graph.add(
            back, [f"scale={w}:{h}:force_original_aspect_ratio=increase", f"crop={w}:{h}", "boxblur=20:2"]
        )
        scaled = graph.add(front, [fitted])
        return graph.add([blurred, scaled], ["overlay=(W-w)/2:(H-h)/2", "setsar=1"])
    color = "white" if fill == "white" else "black"
    return graph.add(pad, [fitted, f"pad={w}:{h}:(ow-iw)/2:(oh-ih)/2:color={color}", "setsar=1"])
