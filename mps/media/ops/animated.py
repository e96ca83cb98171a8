"""Animated graphics (AnimatedGraphics): a GIF or animated WebP of a window of the video.

The window is read with an input-side seek and ``-t``, so only that stretch is decoded. Frames are
resampled to the template's ``Fps`` before scaling (fewer frames to scale). A GIF gets its own
256-colour palette built from the very frames it shows, in the same process: ``split`` feeds
``palettegen`` (``stats_mode=diff`` favours what moves) and ``paletteuse`` (ordered ``bayer``
dithering, which compresses far better in GIF's LZW than error diffusion). ``Quality`` applies to
WebP only; a GIF's quality is its palette. Both loop forever, as players expect, and carry no audio.
"""

from __future__ import annotations

from pathlib import Path

from mps.errors import InvalidParameterError
from mps.media.command import Command, input_args, seconds
from mps.media.filters import FilterGraph
from mps.media.geometry import Size, fill_filters
from mps.media.ops.snapshot import image_size, output_arg
from mps.media.specs import AnimationSpec
from mps.models.metadata import MediaMetaData

#: The one-process palette pipeline of a GIF.
GIF_PALETTE = ("palettegen=stats_mode=diff", "paletteuse=dither=bayer")


def animation_window(spec: AnimationSpec, meta: MediaMetaData) -> tuple[float, float]:
    """The source seconds ``(start, end)`` actually turned into the animation.

    ``end`` 0 means the end of the source, and an ``end`` past it is cut there.

    Raises:
        InvalidParameterError: ``InvalidParameterValue.StartTimeOffset`` when the window starts
            at or after the end of the source, or ends before it starts.
    """
    duration = meta.media_duration
    start = max(0.0, spec.start)
    end = duration if spec.end <= 0 or spec.end > duration else spec.end
    if start >= duration or end <= start:
        message = f"the window {spec.start:g}-{spec.end:g} s lies outside the {duration:g} s source"
        raise InvalidParameterError.field("StartTimeOffset", message)
    return start, end


def animation_size(spec: AnimationSpec, meta: MediaMetaData) -> Size:
    """The frame size of the animation (template size on the display size, never upscaled).

    Raises:
        SourceError: the source has no video stream.
    """
    return image_size(spec.template, meta)


def build_animation(
    spec: AnimationSpec, meta: MediaMetaData, source: str | Path, output: Path, *, decode: bool = False
) -> Command:
    """The run that writes the animation of ``spec`` to ``output``.

    Parameters:
        spec: the window and the template (Fps, size, Format ``gif``/``webp``, Quality).
        meta: the probe of the source.
        source: a local path or URL.
        output: the file to write.
        decode: instead of seeking to the window, decode from the start and ``trim`` it out:
            the fallback for inputs whose seek lands where nothing decodes (an MPEG-TS with a
            single keyframe, a damaged index).

    Raises:
        InvalidParameterError: the window is outside the source.
        SourceError: the source has no video stream.
    """
    start, end = animation_window(spec, meta)
    size = animation_size(spec, meta)
    graph = FilterGraph()
    window = [f"setpts=PTS-STARTPTS,trim=start={seconds(start)}:end={seconds(end)}"] if decode else []
    pad = graph.add("[0:v:0]", [*window, "setpts=PTS-STARTPTS", f"fps={spec.template.Fps}"])
    pad = fill_filters(graph, pad, size, spec.template.FillType)
    if spec.template.Format == "gif":
        frames, palette_in = graph.label("f"), graph.label("p")
        graph.add(pad, ["split"], [frames, palette_in])
        palette = graph.add(palette_in, [GIF_PALETTE[0]], graph.label("pal"))
        pad = graph.add([frames, palette], [GIF_PALETTE[1]])
        codec = ["-loop", "0", "-f", "gif"]
    else:
        quality = str(round(spec.template.Quality))
        codec = ["-c:v", "libwebp_anim", "-lossless", "0", "-quality", quality, "-loop", "0", "-f", "webp"]
    opened = input_args(source) if decode else input_args(source, seek=start, duration=end - start)
    argv = [
        *opened,
        "-filter_complex",
        graph.render(),
        "-map",
        pad,
        "-an",
        "-sn",
        "-dn",
        *codec,
        output_arg(output),
    ]
    return Command(argv=argv, duration=end - start, outputs=[output])
