"""Run a SnapshotByTimeOffset sub-task: pictures at given instants, written straight to their names."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

from mps.errors import ProcessingError
from mps.media.command import Command
from mps.media.ops.snapshot import build_snapshots, snapshot_times
from mps.media.specs import SnapshotSpec, Subtask
from mps.models.results import MediaSnapshotByTimeOffsetItem, MediaSnapshotByTimePicInfoItem
from mps.models.tasks import SnapshotByTimeOffsetTaskInput
from mps.workflow.context import OperationContext
from mps.workflow.outputs import wire_path

T = TypeVar("T")


def expect(value: object, kind: type[T], what: str) -> T:
    """``value`` as ``kind``, or a clear error when the executor routed the wrong sub-task here.

    Raises:
        TypeError: ``value`` is not a ``kind``.
    """
    if not isinstance(value, kind):
        raise TypeError(f"{what} must be a {kind.__name__}, not {type(value).__name__}")
    return value


def progress_span(ctx: OperationContext, start: float, end: float) -> Callable[[float], None]:
    """A progress callback mapping one step's 0..1 onto ``start..end`` of the whole sub-task."""

    def report(fraction: float) -> None:
        ctx.on_progress(start + (end - start) * min(max(fraction, 0.0), 1.0))

    return report


def run_in_order(commands: Sequence[Command], ctx: OperationContext, share: float) -> None:
    """Run ``commands`` (independent batches), their progress spread over ``0..share`` of the sub-task.

    Up to ``ctx.parallel`` run at once: a batch of seeks decodes on one thread, so a sprite of a
    long film on an otherwise idle machine finishes in about half the time on two cores. After
    a failure no further batch starts, and the error is raised once the running ones have ended.
    """
    if not commands:
        return
    done = [0.0] * len(commands)
    lock = threading.Lock()

    def run(index: int) -> None:
        def report(fraction: float) -> None:
            with lock:
                done[index] = min(max(fraction, 0.0), 1.0)
                ctx.on_progress(share * sum(done) / len(done))

        ctx.runner.run(commands[index], on_progress=report, timeout=ctx.timeout)
        report(1.0)

    workers = max(1, min(ctx.parallel, len(commands)))
    if workers == 1:
        for index in range(len(commands)):
            run(index)
        return
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mps-batch")
    try:
        for future in [pool.submit(run, index) for index in range(len(commands))]:
            future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # after a failure, batches not started never start


def _missing(paths: list[Path]) -> list[int]:
    return [i for i, path in enumerate(paths) if not path.is_file() or path.stat().st_size == 0]


def _retry_by_decoding(
    spec: SnapshotSpec, ctx: OperationContext, times: list[float], paths: list[Path]
) -> None:
    """Take the pictures a seek could not give by decoding from the start, or raise.

    A seek can land where nothing decodes (an MPEG-TS with one keyframe, a damaged index); ffmpeg
    then ends successfully with an empty output. Decoding is slower but does not depend on seeking.

    Raises:
        ProcessingError: still no picture at some instant.
    """
    missing = _missing(paths)
    if not missing:
        return
    retry = replace(spec, times=tuple(times[i] for i in missing))
    outputs = [paths[i] for i in missing]
    commands = build_snapshots(retry, ctx.meta, ctx.source, outputs, font_file=ctx.font_file, decode=True)
    for command in commands:
        ctx.runner.run(command, timeout=ctx.timeout)
    still = _missing(paths)
    if still:
        raise ProcessingError(f"ffmpeg wrote no picture at {times[still[0]]:g} s")


def run_snapshot(subtask: Subtask, ctx: OperationContext) -> MediaSnapshotByTimeOffsetItem:
    """Take the pictures of one SnapshotByTimeOffset sub-task.

    Files are named ``{inputName}_snapshotByTimeOffset_{definition}_{number}.{format}`` (or from
    ``OutputObjectPath``, numbered when there are several pictures), in request order.

    Parameters:
        subtask: a sub-task whose spec is a :class:`SnapshotSpec`.
        ctx: runner, probe, output root and progress callback.

    Returns:
        The result item; ``TimeOffset`` is the instant actually used (clamped to the last frame),
        and ``Storage`` is left for the executor.

    Raises:
        ProcessingError: ffmpeg failed or wrote no picture for an instant.
        SourceError: the source has no video stream.
    """
    spec = expect(subtask.spec, SnapshotSpec, "a SnapshotByTimeOffset spec")
    request = expect(subtask.request, SnapshotByTimeOffsetTaskInput, "a SnapshotByTimeOffset input")
    fmt = spec.template.Format
    keys = [
        ctx.namer.key(
            "snapshotByTimeOffset",
            fmt,
            index=i,
            custom=request.OutputObjectPath,
            number_format=request.ObjectNumberFormat,
            numbered=len(spec.times) > 1,
        )
        for i in range(len(spec.times))
    ]
    paths = [ctx.output_path(key) for key in keys]
    for path in paths:
        path.unlink(missing_ok=True)  # a picture left by an earlier attempt must not pass for a new one
    commands = build_snapshots(spec, ctx.meta, ctx.source, paths, font_file=ctx.font_file)
    run_in_order(commands, ctx, 1.0)
    times = snapshot_times(spec, ctx.meta)
    _retry_by_decoding(spec, ctx, times, paths)
    marks = [mark.definition for mark in spec.watermarks]
    pictures = [
        MediaSnapshotByTimePicInfoItem(
            TimeOffset=round(time, 3), Path=wire_path(key), WaterMarkDefinition=marks
        )
        for time, key in zip(times, keys, strict=True)
    ]
    return MediaSnapshotByTimeOffsetItem(Definition=spec.definition, PicInfoSet=pictures)
