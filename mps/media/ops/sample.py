"""Sampled snapshots (SampleSnapshot): a picture every N seconds or every N % of the duration.

The whole source is decoded once and ``select`` keeps, for each sample instant ``k * step``, the
first frame at or after it: ``gte(t, selected_n * step)``. The expression compares against the
*count of pictures already taken*, not against the previous picture's time, so a frame that lands
a little late does not push every later sample back (no drift), and ``-frames:v`` caps the count at
the number of planned instants. Timestamps are rebased with ``setpts=PTS-STARTPTS`` first, because
containers such as MPEG-TS start far from 0.

Pictures are written as a numbered sequence (``%06d``) into scratch space; the operation renames
them to their final names. Sprites reuse :func:`build_frame_sequences` for their thumbnails, and
when both decode on one worker, a sampled snapshot and a sprite share one decode (one ``split``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mps.media.command import Command, input_args
from mps.media.filters import FilterGraph, escape_value
from mps.media.geometry import Size, fill_filters
from mps.media.ops.snapshot import (
    Pictures,
    add_watermark_inputs,
    build_seeked_pictures,
    image_codec_args,
    image_size,
    output_arg,
)
from mps.media.specs import SampleSpec, WatermarkSpec
from mps.media.timing import clamp_time, sample_step, sample_times
from mps.media.watermark import overlay_watermarks
from mps.models.metadata import MediaMetaData

#: A frame whose time is this much before an instant still counts as at it: sample steps such as
#: 0.4 s are not exact in binary floating point, and a 1 ms slack is far below any frame interval.
_SELECT_SLACK = 0.0005

#: Digits of the scratch sequence numbers; image2 starts the sequence at 0 with ``-start_number``.
SEQUENCE_PATTERN = "%06d"
#: Scratch names of sampled pictures: ``sample_000000.jpg``... (see :func:`sequence_file`).
SAMPLE_STEM = "sample"


def select_filters(step: float) -> list[str]:
    """The filters that keep the first frame at or after each instant ``k * step`` (``k`` = 0, 1...).

    Parameters:
        step: seconds between instants (> 0).
    """
    expr = f"gte(t,selected_n*{step:.6f}-{_SELECT_SLACK})"
    return ["setpts=PTS-STARTPTS", f"select={escape_value(expr)}"]


def sequence_file(directory: Path, stem: str, fmt: str, index: int) -> Path:
    """The ``index``-th (0-based) file of a sequence written to ``directory/stem_%06d.fmt``."""
    return directory / f"{stem}_{index:06d}.{fmt}"


@dataclass(frozen=True)
class FrameSequence:
    """One numbered sequence of pictures taken from a decode: one every ``step`` seconds.

    Attributes:
        pattern: the output files, with ``%06d`` where the 0-based number goes.
        step: seconds between pictures.
        count: pictures planned (from :func:`mps.media.timing.sample_times`).
        size: the picture size.
        fill: ``FillType``.
        codec_args: encoder arguments for the pictures.
        watermarks: burned in after scaling, on the source timeline.
    """

    pattern: Path
    step: float
    count: int
    size: Size
    fill: str
    codec_args: tuple[str, ...]
    watermarks: tuple[WatermarkSpec, ...] = ()


def build_frame_sequences(
    sequences: Sequence[FrameSequence],
    meta: MediaMetaData,
    source: str | Path,
    *,
    font_file: str | None = None,
) -> Command:
    """One decode of ``source`` writing every sequence of ``sequences`` (``split`` into one branch each).

    Every branch is low-rate (a picture every few seconds at most) and keeps only the frames it
    selects, so frames waiting for the slowest branch are few and small: unlike a ``split`` shared
    with encoders, this does not grow with the input's length (see :mod:`mps.media.plan`).

    Raises:
        ValueError: ``sequences`` is empty.
    """
    if not sequences:
        raise ValueError("no picture sequence to write")
    argv = input_args(source)
    graph = FilterGraph()
    heads = ["[0:v:0]"]
    if len(sequences) > 1:
        heads = [graph.label("p") for _ in sequences]
        graph.add("[0:v:0]", [f"split={len(sequences)}"], heads)
    outputs: list[str] = []
    for sequence, head in zip(sequences, heads, strict=True):
        pad = graph.add(head, select_filters(sequence.step))
        pad = fill_filters(graph, pad, sequence.size, sequence.fill)
        if sequence.watermarks:
            mapping = add_watermark_inputs(argv, sequence.watermarks, argv.count("-i"))
            pad = overlay_watermarks(graph, pad, sequence.size, sequence.watermarks, mapping,
                                     duration=meta.media_duration, font_file=font_file)  # fmt: skip
        outputs += ["-map", pad, "-an", "-sn", "-dn", "-fps_mode", "vfr", "-frames:v", str(sequence.count),
                    *sequence.codec_args, "-f", "image2", "-start_number", "0",
                    output_arg(sequence.pattern)]  # fmt: skip
    argv += ["-filter_complex", graph.render(), *outputs]
    return Command(argv=argv, duration=meta.media_duration, outputs=[])


def sample_sequence(
    spec: SampleSpec, meta: MediaMetaData, workdir: Path
) -> tuple[FrameSequence, list[float]]:
    """The picture sequence of a sampled snapshot, written into ``workdir``, and its planned instants."""
    template = spec.template
    duration = meta.media_duration
    times = sample_times(template.SampleType, template.SampleInterval, duration, meta.fps)
    sequence = FrameSequence(
        workdir / f"{SAMPLE_STEM}_{SEQUENCE_PATTERN}.{template.Format}",
        step=sample_step(template.SampleType, template.SampleInterval, duration) or 1.0,
        count=len(times), size=image_size(template, meta), fill=template.FillType,
        codec_args=tuple(image_codec_args(template.Format)), watermarks=tuple(spec.watermarks),
    )  # fmt: skip
    return sequence, times


def build_sample(
    spec: SampleSpec, meta: MediaMetaData, source: str | Path, workdir: Path, *, font_file: str | None = None
) -> tuple[Command, list[float]]:
    """The run that writes a sampled snapshot's pictures into ``workdir``.

    Parameters:
        spec: template (SampleType, SampleInterval, size, Format) and watermarks.
        meta: the probe of the source.
        source: a local path or URL.
        workdir: scratch directory; the ``i``-th picture is
            ``sequence_file(workdir, SAMPLE_STEM, Format, i)``.
        font_file: TrueType font for text watermarks.

    Returns:
        The command, and the planned instants in seconds (the files written may be fewer
        if the video ends early; count the files).

    Raises:
        SourceError: the source has no video stream.
    """
    sequence, times = sample_sequence(spec, meta, workdir)
    return build_frame_sequences([sequence], meta, source, font_file=font_file), times


def build_sequence_seeks(
    times: Sequence[float],
    meta: MediaMetaData,
    source: str | Path,
    directory: Path,
    stem: str,
    pictures: Pictures,
    *,
    fmt: str,
    font_file: str | None = None,
) -> list[Command]:
    """The same numbered sequence as :func:`build_frame_sequences`, each picture from its own seek.

    Picture ``i`` is the first frame at or after ``times[i]`` (clamped to the last frame), written
    to ``sequence_file(directory, stem, fmt, i)``: the file a full decode would have written.
    """
    jobs = [
        (clamp_time(time, meta.media_duration, meta.fps), sequence_file(directory, stem, fmt, index))
        for index, time in enumerate(times)
    ]
    return build_seeked_pictures(jobs, meta, source, pictures, font_file=font_file)


def build_sample_seeks(
    spec: SampleSpec, meta: MediaMetaData, source: str | Path, workdir: Path, *, font_file: str | None = None
) -> tuple[list[Command], list[float]]:
    """:func:`build_sample` by seeking: the runs that write the same pictures, and the instants.

    Raises:
        SourceError: the source has no video stream.
    """
    template = spec.template
    times = sample_times(template.SampleType, template.SampleInterval, meta.media_duration, meta.fps)
    pictures = Pictures(image_size(template, meta), template.FillType, image_codec_args(template.Format),
                        spec.watermarks)  # fmt: skip
    commands = build_sequence_seeks(times, meta, source, workdir, SAMPLE_STEM, pictures,
                                    fmt=template.Format, font_file=font_file)  # fmt: skip
    return commands, times
