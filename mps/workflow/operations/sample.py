"""Run a SampleSnapshot sub-task: one decode writes a numbered sequence, then files get their names."""

from __future__ import annotations

import shutil
from pathlib import Path

from mps.errors import ProcessingError
from mps.media.ops.sample import SAMPLE_STEM, build_sample, build_sample_seeks, sample_sequence, sequence_file
from mps.media.specs import SampleSpec, Subtask
from mps.models.results import MediaSampleSnapshotItem
from mps.models.tasks import SampleSnapshotTaskInput
from mps.workflow.context import OperationContext
from mps.workflow.operations.snapshot import expect, run_in_order
from mps.workflow.outputs import wire_path

#: Share of a sampled snapshot's progress taken by ffmpeg; the rest is moving files.
_DECODE_SHARE = 0.95


def clear_sequence(directory: Path, stem: str, fmt: str) -> None:
    """Remove a sequence left in ``directory`` by an earlier attempt, so it cannot be counted again."""
    for stale in directory.glob(f"{stem}_*.{fmt}"):
        stale.unlink()


def written_sequence(directory: Path, stem: str, fmt: str, planned: int) -> list[Path]:
    """The files of a sequence ffmpeg actually wrote: consecutive from 0, at most ``planned``.

    Raises:
        ProcessingError: not even the first picture exists.
    """
    files = []
    for index in range(planned):
        path = sequence_file(directory, stem, fmt, index)
        if not path.is_file():
            break
        files.append(path)
    if not files:
        raise ProcessingError("ffmpeg wrote no picture")
    return files


def run_sample(subtask: Subtask, ctx: OperationContext) -> MediaSampleSnapshotItem:
    """Take the pictures of one SampleSnapshot sub-task.

    Files are named ``{inputName}_sampleSnapshot_{definition}_{number}.{format}`` (or from
    ``OutputObjectPath``, with ``_{number}`` added if it has none), numbered by
    ``ObjectNumberFormat``.

    Parameters:
        subtask: a sub-task whose spec is a :class:`SampleSpec`.
        ctx: runner, probe, output root, scratch directory and progress callback.

    Returns:
        The result item (``Storage`` left for the executor).

    Raises:
        ProcessingError: ffmpeg failed or wrote nothing.
        SourceError: the source has no video stream.
    """
    spec = expect(subtask.spec, SampleSpec, "a SampleSnapshot spec")
    request = expect(subtask.request, SampleSnapshotTaskInput, "a SampleSnapshot input")
    fmt = spec.template.Format
    if ctx.pictures_ready:
        _, times = sample_sequence(spec, ctx.meta, ctx.workdir)
    else:
        ctx.workdir.mkdir(parents=True, exist_ok=True)
        clear_sequence(ctx.workdir, SAMPLE_STEM, fmt)
        if ctx.seek_pictures:
            commands, times = build_sample_seeks(
                spec, ctx.meta, ctx.source, ctx.workdir, font_file=ctx.font_file
            )
        else:
            command, times = build_sample(spec, ctx.meta, ctx.source, ctx.workdir, font_file=ctx.font_file)
            commands = [command]
        run_in_order(commands, ctx, _DECODE_SHARE)
    paths = []
    for index, written in enumerate(written_sequence(ctx.workdir, SAMPLE_STEM, fmt, len(times))):
        key = ctx.namer.key(
            "sampleSnapshot",
            fmt,
            index=index,
            custom=request.OutputObjectPath,
            number_format=request.ObjectNumberFormat,
            numbered=True,
        )
        shutil.move(written, ctx.output_path(key))
        paths.append(wire_path(key))
    ctx.on_progress(1.0)
    return MediaSampleSnapshotItem(
        Definition=spec.definition,
        SampleType=spec.template.SampleType,
        Interval=spec.template.SampleInterval,
        ImagePathSet=paths,
        WaterMarkDefinition=[mark.definition for mark in spec.watermarks],
    )
