"""Time-point snapshots (SnapshotByTimeOffset): one picture per requested instant.

Each instant is its own input, opened with an input-side seek (``-ss`` before ``-i``), so only the
GOP around that instant is decoded, however long the source. Several seeked inputs share one
ffmpeg process, each mapped to its own one-frame output; that saves a process start and a probe of
the container per picture while keeping every seek independent.

The helpers for still images (codec arguments, output size, watermark inputs) live here too and
are shared with sampled snapshots and sprites.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from mps.errors import SourceError
from mps.media.command import Command, input_args, seconds
from mps.media.filters import FilterGraph, escape_value
from mps.media.geometry import Size, fill_filters, target_size
from mps.media.specs import SnapshotSpec, WatermarkSpec
from mps.media.timing import clamp_time
from mps.media.watermark import overlay_watermarks, watermark_input_args
from mps.models.metadata import MediaMetaData
from mps.models.templates import ImageGeometry

#: At most this many seeked inputs (and pictures) per ffmpeg process: enough to amortise the
#: process start (a 60-tile sprite of a 720p film takes 4 processes), few enough that open
#: decoders and file handles stay modest.
BATCH_SIZE = 16

#: Memory the decoders of one process of seeked pictures may take. Every seeked input has its own
#: decoder and frame pool: measured on ffmpeg 5.1 with a 1080p H.264 source and one decoder
#: thread per input, ~48 MiB per input (a batch of 8 peaked at 402 MiB; 527 MiB with frame
#: threads); batches are sized to stay under this budget.
SEEK_MEMORY_BUDGET = 320 * 2**20
#: Decoded frames one seeked input keeps alive (references, frame pool), from that measurement.
_FRAMES_PER_INPUT = 16


def seek_batch_size(meta: MediaMetaData) -> int:
    """Seeked inputs per process for this source: :data:`BATCH_SIZE`, fewer for large frames."""
    frame_bytes = max(meta.Width * meta.Height, 1) * 1.5  # 4:2:0, 8 bits
    return max(1, min(BATCH_SIZE, int(SEEK_MEMORY_BUDGET // (frame_bytes * _FRAMES_PER_INPUT))))


#: Encoder arguments per image ``Format``. JPEG ``-q:v 2`` is near-lossless for mjpeg's 2-31 scale;
#: WebP at quality 90 is visibly clean at a fraction of PNG's size.
IMAGE_CODEC_ARGS: dict[str, tuple[str, ...]] = {
    "jpg": ("-c:v", "mjpeg", "-q:v", "2"),
    "png": ("-c:v", "png"),
    "webp": ("-c:v", "libwebp", "-quality", "90"),
}


def image_codec_args(fmt: str) -> list[str]:
    """Encoder arguments for one still image format (``jpg``, ``png``, ``webp``).

    Raises:
        KeyError: an unknown format (templates only allow the three above).
    """
    return list(IMAGE_CODEC_ARGS[fmt])


def image_size(template: ImageGeometry, meta: MediaMetaData) -> Size:
    """The picture size for a template on this source (display size, never upscaled).

    Raises:
        SourceError: the source has no video stream.
    """
    if not meta.has_video or not meta.display_width or not meta.display_height:
        raise SourceError("the source has no video stream to take pictures from")
    source = Size(meta.display_width, meta.display_height)
    return target_size(source, template.Width, template.Height, template.ResolutionAdaptive)


def output_arg(path: Path) -> str:
    """An output file for ffmpeg's command line: absolute, so no name can read as an option or protocol."""
    return str(path.absolute())


def add_watermark_inputs(
    argv: list[str], watermarks: Sequence[WatermarkSpec], next_input: int
) -> dict[int, int]:
    """Append the watermark images' inputs to ``argv``.

    Parameters:
        argv: the command being built; extended in place.
        watermarks: the watermarks of one picture chain.
        next_input: the ffmpeg input index the first appended input will get.

    Returns:
        Index in ``watermarks`` -> ffmpeg input index, as :func:`overlay_watermarks` expects.
    """
    if not watermarks:
        return {}
    fragments = watermark_input_args(watermarks)
    image_positions = [i for i, mark in enumerate(watermarks) if mark.kind == "image"]
    mapping: dict[int, int] = {}
    for position, fragment in zip(image_positions, fragments, strict=True):
        argv.extend(fragment)
        mapping[position] = next_input
        next_input += 1
    return mapping


def _timeless(watermarks: Sequence[WatermarkSpec]) -> tuple[WatermarkSpec, ...]:
    # A seeked snapshot's own timeline starts at 0 whatever the instant, and Tencent applies
    # watermark windows to video only: every watermark of a snapshot is simply always shown.
    return tuple(replace(mark, start=None, end=None) for mark in watermarks)


def build_snapshots(
    spec: SnapshotSpec,
    meta: MediaMetaData,
    source: str | Path,
    outputs: Sequence[Path],
    *,
    font_file: str | None = None,
    batch_size: int | None = None,
    decode: bool = False,
) -> list[Command]:
    """The ffmpeg runs that write one picture per instant of ``spec.times`` to ``outputs``.

    Parameters:
        spec: times (seconds), template and watermarks.
        meta: the probe of the source.
        source: a local path or URL.
        outputs: one file per time, in the same order.
        font_file: TrueType font for text watermarks.
        batch_size: pictures per process (default: :func:`seek_batch_size`).
        decode: instead of seeking, decode from the start in one process and keep the first
            frame at or after each instant. Slow on long sources; the fallback for inputs whose
            seek lands where nothing decodes (an MPEG-TS with a single keyframe, a broken index).

    Returns:
        Commands to run in order; their ``outputs`` together are ``outputs``.

    Raises:
        ValueError: ``outputs`` and ``spec.times`` differ in length.
        SourceError: the source has no video stream.
    """
    if len(outputs) != len(spec.times):
        raise ValueError(f"{len(spec.times)} snapshot times but {len(outputs)} output files")
    size = image_size(spec.template, meta)
    times = snapshot_times(spec, meta)
    watermarks = _timeless(spec.watermarks)
    jobs = list(zip(times, outputs, strict=True))
    pictures = Pictures(size, spec.template.FillType, image_codec_args(spec.template.Format), watermarks)
    if decode:
        return [_batch_command(jobs, meta, source, pictures, font_file, decode=True)]
    return build_seeked_pictures(jobs, meta, source, pictures, font_file=font_file, batch_size=batch_size)


@dataclass(frozen=True)
class Pictures:
    """How each picture of a run looks: size, ``FillType``, encoder arguments, watermarks."""

    size: Size
    fill: str
    codec_args: Sequence[str]
    watermarks: Sequence[WatermarkSpec] = ()


def build_seeked_pictures(
    jobs: Sequence[tuple[float, Path]],
    meta: MediaMetaData,
    source: str | Path,
    pictures: Pictures,
    *,
    font_file: str | None = None,
    batch_size: int | None = None,
) -> list[Command]:
    """One picture per ``(instant, file)`` of ``jobs``, each from its own input-side seek.

    Used by time-point snapshots, and by sampled snapshots and sprites when the plan seeks
    (:mod:`mps.media.plan`): an exact seek keeps the first frame at or after the instant, the same
    frame a full decode's ``select`` keeps.

    Returns:
        Commands of at most ``batch_size`` pictures each (default :func:`seek_batch_size`), in order.
    """
    batch_size = batch_size or seek_batch_size(meta)
    return [
        _batch_command(jobs[i : i + batch_size], meta, source, pictures, font_file)
        for i in range(0, len(jobs), batch_size)
    ]


def snapshot_times(spec: SnapshotSpec, meta: MediaMetaData) -> list[float]:
    """``spec.times`` clamped to this source's last frame (see :mod:`mps.media.timing`)."""
    return [clamp_time(t, meta.media_duration, meta.fps) for t in spec.times]


def _batch_command(
    jobs: Sequence[tuple[float, Path]],
    meta: MediaMetaData,
    source: str | Path,
    pictures: Pictures,
    font_file: str | None,
    *,
    decode: bool = False,
) -> Command:
    argv: list[str] = []
    graph = FilterGraph()
    times = [time for time, _path in jobs]
    frames = _decoded_frames(graph, argv, source, times) if decode else _seeked_frames(argv, source, times)
    outputs: list[str] = []
    next_input = 1 if decode else len(jobs)
    size, watermarks = pictures.size, pictures.watermarks
    for frame, (_time, path) in zip(frames, jobs, strict=True):
        pad = fill_filters(graph, frame, size, pictures.fill)
        if watermarks:
            mapping = add_watermark_inputs(argv, watermarks, next_input)
            next_input += len(mapping)
            pad = overlay_watermarks(
                graph, pad, size, watermarks, mapping, duration=meta.media_duration, font_file=font_file
            )
        outputs += [
            "-map",
            pad,
            "-frames:v",
            "1",
            *pictures.codec_args,
            "-f",
            "image2",
            "-update",
            "1",
            output_arg(path),
        ]
    argv += ["-filter_complex", graph.render(), *outputs]
    duration = max(times) if decode else 0.0
    return Command(argv=argv, duration=duration, outputs=[path for _time, path in jobs])


def _seeked_frames(argv: list[str], source: str | Path, times: Sequence[float]) -> list[str]:
    """One input per instant, seeked before opening; its first frame is the picture.

    Each input decodes with one thread: it decodes half a GOP on average, which frame threads
    cannot speed up (they add frames in flight and a frame pool each), and the inputs of a batch,
    and the other runs of the plan, already keep the cores busy.
    """
    for time in times:
        argv += ["-threads", "1", *input_args(source, seek=time)]
    return [f"[{index}:v:0]" for index in range(len(times))]


def _decoded_frames(
    graph: FilterGraph, argv: list[str], source: str | Path, times: Sequence[float]
) -> list[str]:
    """One decoded input split per instant; each branch keeps its first frame at or after the instant.

    ``trim=end_frame=1`` ends a branch after its frame, and ``split`` stops feeding ended
    branches, so no frames pile up for pictures already taken.
    """
    argv += input_args(source)
    base = graph.add("[0:v:0]", ["setpts=PTS-STARTPTS"])
    branches = [graph.label("s") for _time in times]
    graph.add(base, [f"split={len(times)}"], branches)
    return [
        graph.add(branch, [f"select={escape_value(f'gte(t,{seconds(time)})')}", "trim=end_frame=1"])
        for branch, time in zip(branches, times, strict=True)
    ]
