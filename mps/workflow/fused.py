"""Run a fused step of a plan: several sub-tasks from one ffmpeg process, results per sub-task.

Two kinds of step share a decode (:mod:`mps.media.plan`):

- **Transcodes**: the outputs are named and prepared by each sub-task's own operation
  (:func:`~mps.workflow.operations.transcode.prepare_transcode`), written by one ffmpeg run, and
  turned into results by the same operation's collecting half.
- **Pictures** (sampled snapshots and sprites that decode the timeline): one run writes every
  sub-task's picture sequence into its own scratch directory, exactly the files its own run
  would write; then each operation runs with ``pictures_ready`` and only names, composes and
  collects them.

Files, names and result items are those of separate runs. If anything about the shared run
fails, every sub-task of the step is run again on its own: the good ones still succeed, and each
failure is reported on its own sub-task.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace

from mps.errors import MpsError
from mps.media.ops.fused import FusedOutput, build_fused_transcodes
from mps.media.ops.sample import SAMPLE_STEM, FrameSequence, build_frame_sequences, sample_sequence
from mps.media.ops.sprite import THUMBNAIL_FORMAT, THUMBNAIL_STEM, thumbnail_sequence
from mps.media.plan import Step
from mps.media.specs import SampleSpec, SpriteSpec, Subtask, TranscodeSpec
from mps.models import MediaProcessTaskResult, TaskOutputStorage
from mps.models.results import MediaTranscodeItem
from mps.workflow.context import OperationContext
from mps.workflow.execute import execute_subtask
from mps.workflow.operations.sample import clear_sequence
from mps.workflow.operations.transcode import TranscodeJob, collect_transcode, prepare_transcode

log = logging.getLogger("mps.workflow.fused")

#: Share of a picture sub-task's progress taken by the shared decode; the rest is naming and sheets.
_PICTURES_DECODE_SHARE = 0.8


def run_fused(
    subtasks: Sequence[Subtask],
    contexts: Sequence[OperationContext],
    storages: Sequence[TaskOutputStorage | None] | None = None,
) -> list[MediaProcessTaskResult]:
    """Run whole-timeline transcodes from one decode; fall back to separate runs on any failure.

    Parameters:
        subtasks: Transcode sub-tasks the plan fused.
        contexts: one per sub-task (its namer, scratch directory and progress callback).
        storages: reported as each sub-task's ``OutputStorage`` (None: a local disk).

    Returns:
        One result entry per sub-task, in order.
    """
    stores = list(storages) if storages is not None else [None] * len(subtasks)
    jobs = [_prepared(subtask, ctx) for subtask, ctx in zip(subtasks, contexts, strict=True)]
    shared = [i for i, job in enumerate(jobs) if job is not None]
    if len(shared) < 2 or not _ran_shared([jobs[i] for i in shared], [contexts[i] for i in shared]):
        return [execute_subtask(*args) for args in zip(subtasks, contexts, stores, strict=True)]
    # A sub-task that could not even be prepared runs alone, to fail with its own error.
    return [
        execute_subtask(s, ctx, store, operation=_collector(job) if job is not None else None)
        for s, ctx, store, job in zip(subtasks, contexts, stores, jobs, strict=True)
    ]


def _ran_shared(jobs: Sequence[TranscodeJob | None], contexts: Sequence[OperationContext]) -> bool:
    """Run the shared command; False (logged) when it failed and each sub-task must run alone."""
    try:
        _run_shared([job for job in jobs if job is not None], contexts)
    except MpsError as exc:
        log.warning("task %s: a fused run of %d transcodes failed (%s): running them one by one",
                    contexts[0].task_id, len(jobs), exc.message)  # fmt: skip
        return False
    return True


def _prepared(subtask: Subtask, ctx: OperationContext) -> TranscodeJob | None:
    """The transcode's job, or None when naming its output already fails (bad name, bad spec)."""
    try:
        return prepare_transcode(subtask, ctx)
    except MpsError:
        return None


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


def run_shared_pictures(
    subtasks: Sequence[Subtask],
    contexts: Sequence[OperationContext],
    storages: Sequence[TaskOutputStorage | None] | None = None,
) -> list[MediaProcessTaskResult]:
    """Take the pictures of sampled snapshots and sprites from one decode; separate runs on failure.

    Parameters:
        subtasks: SampleSnapshot and ImageSprites sub-tasks the plan gave one decode.
        contexts: one per sub-task (its scratch directory receives its picture sequence).
        storages: reported as each sub-task's ``OutputStorage`` (None: a local disk).

    Returns:
        One result entry per sub-task, in order.
    """
    stores = list(storages) if storages is not None else [None] * len(subtasks)
    try:
        sequences = [_picture_sequence(s, ctx) for s, ctx in zip(subtasks, contexts, strict=True)]
        _run_pictures(sequences, contexts)
    except MpsError as exc:
        log.warning("task %s: a shared decode of %d picture sub-tasks failed (%s): running them one by one",
                    contexts[0].task_id, len(subtasks), exc.message)  # fmt: skip
        return [execute_subtask(*args) for args in zip(subtasks, contexts, stores, strict=True)]
    return [
        execute_subtask(s, replace(ctx, pictures_ready=True), store)
        for s, ctx, store in zip(subtasks, contexts, stores, strict=True)
    ]


def _picture_sequence(subtask: Subtask, ctx: OperationContext) -> FrameSequence:
    """The sequence the sub-task's own decoding run would write, into its scratch directory (cleared)."""
    ctx.workdir.mkdir(parents=True, exist_ok=True)
    spec = subtask.spec
    if isinstance(spec, SampleSpec):
        sequence, _ = sample_sequence(spec, ctx.meta, ctx.workdir)
        clear_sequence(ctx.workdir, SAMPLE_STEM, spec.template.Format)
    elif isinstance(spec, SpriteSpec):
        sequence, _, _ = thumbnail_sequence(spec, ctx.meta, ctx.workdir)
        clear_sequence(ctx.workdir, THUMBNAIL_STEM, THUMBNAIL_FORMAT)
    else:
        raise TypeError(f"{subtask.kind} has no picture sequence to share")
    return sequence


def _run_pictures(sequences: Sequence[FrameSequence], contexts: Sequence[OperationContext]) -> None:
    """One decode writes every sequence; its progress is every sub-task's (up to the decode's share)."""
    first = contexts[0]
    command = build_frame_sequences(sequences, first.meta, first.source, font_file=first.font_file)

    def progress(fraction: float) -> None:
        for ctx in contexts:
            ctx.on_progress(fraction * _PICTURES_DECODE_SHARE)

    first.runner.run(command, on_progress=progress, timeout=first.timeout)


def run_step(
    step: Step, subtasks: Sequence[Subtask], contexts: Sequence[OperationContext],
    storages: Sequence[TaskOutputStorage | None] | None = None,
) -> list[MediaProcessTaskResult]:  # fmt: skip
    """Run one step of a plan: fused, or each sub-task by its own operation.

    Parameters:
        step: the step (its ``indexes`` are the sub-tasks' indexes, in order).
        subtasks, contexts: the step's sub-tasks and one context each.
        storages: reported as each sub-task's output storage (None: a local disk).

    Returns:
        One result entry per sub-task, in order; never raises for media errors.
    """
    if step.fused and len(subtasks) > 1:
        if all(isinstance(s.spec, TranscodeSpec) for s in subtasks):
            return run_fused(subtasks, contexts, storages)
        return run_shared_pictures(subtasks, contexts, storages)
    stores = list(storages) if storages is not None else [None] * len(subtasks)
    return [execute_subtask(*args) for args in zip(subtasks, contexts, stores, strict=True)]
