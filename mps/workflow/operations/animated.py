"""Run an AnimatedGraphics sub-task: one GIF or animated WebP of a window of the source."""

from __future__ import annotations

from pathlib import Path

from mps.errors import ProcessingError
from mps.media.ops.animated import animation_size, animation_window, build_animation
from mps.media.specs import AnimationSpec, Subtask
from mps.models.results import MediaAnimatedGraphicsItem
from mps.models.tasks import AnimatedGraphicTaskInput
from mps.workflow.context import OperationContext
from mps.workflow.operations.snapshot import expect
from mps.workflow.outputs import file_facts, wire_path


def _written(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 0


def run_animation(subtask: Subtask, ctx: OperationContext) -> MediaAnimatedGraphicsItem:
    """Make the animation of one AnimatedGraphics sub-task.

    The file is ``{inputName}_animatedGraphic_{definition}.{gif|webp}`` (or ``OutputObjectPath``).

    Parameters:
        subtask: a sub-task whose spec is an :class:`AnimationSpec`.
        ctx: runner, probe, output root and progress callback.

    Returns:
        The result item: size of the frames, file size and MD5, bitrate in bps (file bits over
        the window's length) and the window actually used (``Storage`` left for the executor).

    Raises:
        InvalidParameterError: the window lies outside the source.
        ProcessingError: ffmpeg failed or wrote nothing.
        SourceError: the source has no video stream.
    """
    spec = expect(subtask.spec, AnimationSpec, "an AnimatedGraphics spec")
    request = expect(subtask.request, AnimatedGraphicTaskInput, "an AnimatedGraphics input")
    fmt = spec.template.Format
    key = ctx.namer.key("animatedGraphic", fmt, custom=request.OutputObjectPath)
    path = ctx.output_path(key)
    path.unlink(missing_ok=True)  # a file left by an earlier attempt must not pass for a new one
    command = build_animation(spec, ctx.meta, ctx.source, path)
    ctx.runner.run(command, on_progress=ctx.on_progress, timeout=ctx.timeout)
    if not _written(path):
        # The seek landed where nothing decodes (see build_animation's ``decode``): decode instead.
        fallback = build_animation(spec, ctx.meta, ctx.source, path, decode=True)
        ctx.runner.run(fallback, timeout=ctx.timeout)
    if not _written(path):
        raise ProcessingError("ffmpeg wrote no animation")
    size, md5 = file_facts(path)
    start, end = animation_window(spec, ctx.meta)
    frame = animation_size(spec, ctx.meta)
    ctx.on_progress(1.0)
    return MediaAnimatedGraphicsItem(
        Path=wire_path(key),
        Definition=spec.definition,
        Container=fmt,
        Width=frame.width,
        Height=frame.height,
        Bitrate=round(size * 8 / (end - start)),
        Size=size,
        Md5=md5,
        StartTimeOffset=round(start, 3),
        EndTimeOffset=round(end, 3),
    )
