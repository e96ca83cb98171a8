"""Run a fused step of a plan: several transcodes from one ffmpeg process, results per sub-task.

The step's outputs are named and prepared by each sub-task's own operation
(:func:`~mps.workflow.operations.transcode.prepare_transcode`), written by one ffmpeg run, and turned
into results by the same operation's collecting half, so files, names and result items are exactly
those of separate runs. If anything about the shared run fails, every sub-task of the step is run
again on its own: the good ones still succeed, and each failure is reported on its own sub-task.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from mps.errors import MpsError
from mps.media.ops.fused import FusedOutput, build_fused_transcodes
from mps.media.plan import Step
from mps.media.specs import Subtask
from mps.models import MediaProcessTaskResult, TaskOutputStorage
from mps.models.results import MediaTranscodeItem
from mps.workflow.context import OperationContext
from mps.workflow.execute import execute_subtask
from mps.workflow.operations.transcode import TranscodeJob, collect_transcode, prepare_transcode

log = logging.getLogger("mps.workflow.fused")


def run_fused(
    subtasks: Sequence[Subtask],
    contexts: Sequence[OperationContext],
    storage: TaskOutputStorage | None = None,
) -> list[MediaProcessTaskResult]:
    """Run whole-timeline transcodes from one decode; fall back to separate runs on any failure.

    Parameters:
        subtasks: Transcode sub-tasks the plan fused.
        contexts: one per sub-task (its namer, scratch directory and progress callback).
        storage: reported as each output's ``OutputStorage``.

    Returns:
        One result entry per sub-task, in order.
    """
    try:
        jobs = [prepare_transcode(subtask, ctx) for subtask, ctx in zip(subtasks, contexts, strict=True)]
        _run_shared(jobs, contexts)
    except MpsError as exc:
        log.warning("fused run of sub-tasks %s failed (%s): running them one by one",
                    [s.index for s in subtasks], exc.message)  # fmt: skip
        return [execute_subtask(s, ctx, storage) for s, ctx in zip(subtasks, contexts, strict=True)]
    return [
        execute_subtask(s, ctx, storage, operation=_collector(job))
        for s, ctx, job in zip(subtasks, contexts, jobs, strict=True)
    ]


def _run_shared(jobs: Sequence[TranscodeJob], contexts: Sequence[OperationContext]) -> None:
    """Build and run the one command; its progress is every sub-task's progress."""
    first = contexts[0]
    outputs = [FusedOutput(job.spec, job.output, job.segment_pattern, job.font_file) for job in jobs]
    command = build_fused_transcodes(outputs, first.meta, first.source, encoders=first.runner.encoders())

    def progress(fraction: float) -> None:
        for ctx in contexts:
            ctx.on_progress(fraction)

    first.runner.run(command, on_progress=progress, timeout=first.timeout)


def _collector(job: TranscodeJob) -> Callable[[Subtask, OperationContext], MediaTranscodeItem]:
    def collect(_subtask: Subtask, ctx: OperationContext) -> MediaTranscodeItem:
        return collect_transcode(job, ctx)

    return collect


def run_step(
    step: Step, subtasks: Sequence[Subtask], contexts: Sequence[OperationContext],
    storage: TaskOutputStorage | None = None,
) -> list[MediaProcessTaskResult]:  # fmt: skip
    """Run one step of a plan: fused, or each sub-task by its own operation.

    Parameters:
        step: the step (its ``indexes`` are the sub-tasks' indexes, in order).
        subtasks, contexts: the step's sub-tasks and one context each.
        storage: reported as each output's storage.

    Returns:
        One result entry per sub-task, in order; never raises for media errors.
    """
    if step.fused and len(subtasks) > 1:
        return run_fused(subtasks, contexts, storage)
    return [execute_subtask(s, ctx, storage) for s, ctx in zip(subtasks, contexts, strict=True)]
