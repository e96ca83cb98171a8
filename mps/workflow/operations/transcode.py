"""Run a Transcode sub-task: one ffmpeg run, then the result item from a probe of what it wrote.

HLS is written in two steps: ffmpeg puts the segments in the sub-task's scratch directory under
names of our own, then each is moved to its Tencent name beside the playlist
(``{inputName}_transcode_{definition}_{number}.ts``, or ``SegmentObjectName`` with
``ObjectNumberFormat``) and the playlist is rewritten to point at them. That keeps user-chosen
names out of ffmpeg's ``%d`` patterns (a ``%`` in a name could not break anything) and supports
every ``NumberFormat`` (increments, place holders), which ffmpeg's numbering cannot.
"""

from __future__ import annotations

import posixpath
import shutil
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from mps.errors import InvalidParameterError, ProcessingError
from mps.media.ops.transcode import build_transcode, output_format
from mps.media.specs import Subtask, TranscodeSpec
from mps.models.metadata import MediaMetaData
from mps.models.results import MediaTranscodeItem
from mps.models.tasks import TranscodeTaskInput
from mps.workflow.assets import default_font_file
from mps.workflow.context import OperationContext
from mps.workflow.outputs import file_facts, total_size, wire_path

#: ffmpeg's own name pattern for HLS segments in the scratch directory.
_SCRATCH_SEGMENTS = "segment%d.ts"


def run_transcode(subtask: Subtask, ctx: OperationContext) -> MediaTranscodeItem:
    """Transcode the source as one Transcode sub-task asks.

    Parameters:
        subtask: a sub-task whose spec is a :class:`TranscodeSpec` and request a
            :class:`TranscodeTaskInput`.
        ctx: runner, probe, output root, scratch directory, progress callback and font.

    Returns:
        The result item: ``Path``, sizes, duration, bitrate (bps), ``Size`` (for HLS the playlist
        plus its segments), ``Md5`` of the main file, ``Container`` as ffprobe names it, and the
        streams. ``OutputStorage`` is left for the executor.

    Raises:
        InvalidParameterError: bad names, codecs or offsets.
        SourceError: the source lacks the streams the output needs.
        ProcessingError: ffmpeg failed, or wrote nothing usable.
    """
    job = prepare_transcode(subtask, ctx)
    command = build_transcode(
        job.spec, ctx.meta, ctx.source, job.output, encoders=ctx.runner.encoders(),
        segment_pattern=job.segment_pattern, font_file=job.font_file,
    )  # fmt: skip
    ctx.runner.run(command, on_progress=ctx.on_progress, timeout=ctx.timeout)
    return collect_transcode(job, ctx)


@dataclass(frozen=True)
class TranscodeJob:
    """A transcode's names and files, decided before ffmpeg runs (alone or fused with others)."""

    spec: TranscodeSpec
    request: TranscodeTaskInput
    key: str
    output: Path
    scratch: Path | None
    font_file: str | None

    @property
    def segment_pattern(self) -> Path | None:
        """Where ffmpeg writes HLS segments (None for other containers)."""
        return self.scratch / _SCRATCH_SEGMENTS if self.scratch else None


def prepare_transcode(subtask: Subtask, ctx: OperationContext) -> TranscodeJob:
    """Name the output of one Transcode sub-task and prepare its scratch space.

    Raises:
        InvalidParameterError: ``OutputObjectPath`` has the wrong extension.
    """
    spec, request = _inputs(subtask)
    container = spec.params.Container
    fmt = output_format(container)
    key = ctx.namer.key("transcode", fmt, custom=request.OutputObjectPath)
    if request.OutputObjectPath and not key.endswith(f".{fmt}"):
        raise InvalidParameterError.field("OutputObjectPath", f"OutputObjectPath must end in .{fmt}")
    output = ctx.output_path(key)
    scratch = _scratch_dir(ctx) if container == "hls" else None
    text_marks = any(mark.kind == "text" and not mark.font_file for mark in spec.watermarks)
    font = (ctx.font_file or default_font_file()) if text_marks else ctx.font_file
    return TranscodeJob(spec, request, key, output, scratch, font)


def collect_transcode(job: TranscodeJob, ctx: OperationContext) -> MediaTranscodeItem:
    """The result item of a transcode ffmpeg has written (HLS segments renamed first).

    Raises:
        ProcessingError: the output cannot be probed, or HLS segments are missing.
    """
    spec, key, output = job.spec, job.key, job.output
    if job.scratch is None:
        return _item(spec, key, output, [], ctx.runner.probe(output))
    segments, duration = publish_segments(output, key, job.scratch, ctx, job.request)
    probe = ctx.runner.probe(segments[0])
    bitrate = round(total_size(segments) * 8 / duration) if duration else 0
    hls = probe.model_copy(update={"Container": "hls", "Duration": duration, "Bitrate": bitrate})
    return _item(spec, key, output, segments, hls)


def _inputs(subtask: Subtask) -> tuple[TranscodeSpec, TranscodeTaskInput]:
    if not isinstance(subtask.spec, TranscodeSpec) or not isinstance(subtask.request, TranscodeTaskInput):
        raise TypeError(f"run_transcode got a {type(subtask.spec).__name__} sub-task")
    return subtask.spec, subtask.request


def _scratch_dir(ctx: OperationContext) -> Path:
    """An empty directory for ffmpeg's segments (emptied in case a redelivered run left some)."""
    scratch = ctx.workdir / "hls-segments"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    return scratch


def publish_segments(
    playlist: Path, playlist_key: str, scratch: Path, ctx: OperationContext, request: TranscodeTaskInput
) -> tuple[list[Path], float]:
    """Move HLS segments from ``scratch`` to their output names and rewrite the playlist to match.

    Parameters:
        playlist: the local ``.m3u8`` ffmpeg wrote.
        playlist_key: its output key; segments go in the same directory.
        scratch: where ffmpeg wrote the segments.
        ctx: gives the namer and output paths.
        request: ``SegmentObjectName`` and ``ObjectNumberFormat``.

    Returns:
        The segments' local paths in playlist order, and the sum of their durations.

    Raises:
        InvalidParameterError: ``SegmentObjectName`` is absolute or climbs out.
        ProcessingError: the playlist names no segment, or one ffmpeg did not write.
    """
    if request.SegmentObjectName and request.SegmentObjectName.startswith("/"):
        raise InvalidParameterError.field("SegmentObjectName", "SegmentObjectName must be a relative name")
    folder = posixpath.dirname(playlist_key)
    namer = replace(ctx.namer, output_dir=f"/{folder}/" if folder else "/")
    lines: list[str] = []
    segments: list[Path] = []
    duration = 0.0
    for line in playlist.read_text(encoding="utf-8").splitlines():
        if line.startswith("#EXTINF:"):
            duration += float(line[len("#EXTINF:") :].split(",", 1)[0])
        elif line and not line.startswith("#"):
            written = scratch / PurePosixPath(line).name
            if not written.is_file():
                raise ProcessingError(f"ffmpeg listed HLS segment {line!r} but did not write it")
            key = namer.key("transcode_segment", "ts", index=len(segments), custom=request.SegmentObjectName,
                            number_format=request.ObjectNumberFormat, numbered=True)  # fmt: skip
            segments.append(Path(shutil.move(written, ctx.output_path(key))))
            line = quote(posixpath.relpath(key, folder or "."))
        lines.append(line)
    if not segments:
        raise ProcessingError("ffmpeg wrote an HLS playlist without segments")
    playlist.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return segments, duration


def _item(
    spec: TranscodeSpec, key: str, output: Path, extra: list[Path], probe: MediaMetaData
) -> MediaTranscodeItem:
    """The result item from the probe of the output (and the sizes of its other files)."""
    size, md5 = file_facts(output)
    return MediaTranscodeItem(
        Path=wire_path(key),
        Definition=spec.definition,
        Bitrate=probe.Bitrate,
        Width=probe.Width,
        Height=probe.Height,
        Size=size + total_size(extra),
        Duration=round(probe.Duration, 3),
        Container=probe.Container,
        Md5=md5,
        VideoStreamSet=probe.VideoStreamSet,
        AudioStreamSet=probe.AudioStreamSet,
    )
