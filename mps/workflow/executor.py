"""The one executor: resolve sub-tasks, plan them, run the plan's steps, report each result.

``mps process`` (:class:`~mps.workflow.engine.TaskEngine`) and the service's workers
(:class:`~mps.worker.produce.SubtaskProducer`) both run sub-tasks through :meth:`Executor.run`;
what differs between them is only *where* a sub-task writes and *what happens* to what it made,
and that is a :class:`Workspace`:

- on one machine, outputs are written straight into ``--output-dir`` and progress goes to bars;
- on a worker, each sub-task writes into its own staging directory, its files are uploaded to the
  bucket once it succeeded, progress goes to the task store, and a retryable failure is raised
  (so the broker redelivers) instead of being recorded.

Same resolver, same planner, same operations in both modes, by construction.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from mps.errors import InvalidParameterError, MpsError
from mps.media.naming import Namer
from mps.media.plan import Step, needs_gop, plan_subtasks
from mps.media.specs import Subtask
from mps.models import MediaMetaData, MediaProcessTaskInput, MediaProcessTaskResult, SubtaskInput
from mps.models.common import TaskOutputStorage
from mps.runner import CancellableRunner, Runner
from mps.settings import Settings
from mps.workflow.assets import default_font_file
from mps.workflow.context import OperationContext
from mps.workflow.execute import Operation, execute_subtask
from mps.workflow.fused import run_step
from mps.workflow.kind import TemplateLookup
from mps.workflow.resolve import AssetFetcher, SubtaskResolver, check_request

log = logging.getLogger("mps.workflow.executor")


@dataclass(frozen=True)
class Placement:
    """Where one sub-task writes and how it reports.

    Attributes:
        out_root: the local directory standing for the output root; output keys are relative to it.
        directory: the output directory the namer puts before file names (``/out/``).
        storage: reported as the output's ``OutputStorage``/``Storage`` (None: a local disk).
        on_progress: called with a fraction 0.0 to 1.0 while the sub-task runs.
        bucket: the bucket the outputs go to, when they are uploaded afterwards.
    """

    out_root: Path
    directory: str | None
    storage: TaskOutputStorage | None
    on_progress: Callable[[float], None]
    bucket: str = ""


class Workspace(Protocol):
    """What a mode of running does around the shared executor (see the module docstring)."""

    def place(self, subtask: Subtask, scratch: Path) -> Placement:
        """Where ``subtask`` writes; ``scratch`` is the run's private directory."""
        ...

    def deliver(
        self, subtask: Subtask, placement: Placement, entry: MediaProcessTaskResult
    ) -> MediaProcessTaskResult:
        """What becomes of a finished sub-task's outputs (kept, or uploaded); its final entry.

        Raises:
            MpsError: a retryable failure the caller must retry rather than record.
        """
        ...

    def failed(self, index: int, item: SubtaskInput, error: MpsError) -> MediaProcessTaskResult:
        """The entry of a sub-task that failed before it could run (its input, its templates).

        Raises:
            MpsError: ``error`` itself, when it is retryable and the caller retries.
        """
        ...


@dataclass(frozen=True)
class Run:
    """One run of some sub-tasks of a task on one input.

    Attributes:
        items: ``(index, input)`` of each sub-task to run.
        meta: the probe of the input.
        source: what ffmpeg opens (a local path).
        file_name: the input's file name, for output names.
        assets: the fetcher of watermark images, given a directory private to the run.
        gop: the input's keyframe interval, measured only when the plan needs it.
        steps_at_once: how many steps of the plan run in parallel.
        parallel: ffmpeg runs one sub-task may have at once (its batches of seeked pictures).
        cancel: set from another thread to stop the run: its ffmpeg processes are killed and the
            sub-tasks still running fail with ``FailedOperation.Cancelled``.
        task_id: the task, for log lines.
        timeouts: seconds each sub-task's ffmpeg may run, by index, when shorter than
            ``MPS_FFMPEG_TIMEOUT`` (an activity's ``TimeoutSeconds``).
        operations: sub-tasks produced by another operation than their kind's, by index, each run
            alone (the join of a chunked transcode, :mod:`mps.workflow.chunks`).
    """

    items: Sequence[tuple[int, SubtaskInput]]
    meta: MediaMetaData
    source: str
    file_name: str
    assets: Callable[[Path], AssetFetcher]
    gop: Callable[[], float | None]
    steps_at_once: int = 1
    parallel: int = 1
    cancel: threading.Event = field(default_factory=threading.Event)
    task_id: str = ""
    timeouts: Mapping[int, float] = field(default_factory=dict)
    operations: Mapping[int, Operation] = field(default_factory=dict)


class Executor:
    """Resolves, plans and runs sub-tasks; one instance per process.

    Parameters:
        runner: starts ffmpeg and ffprobe.
        templates: presets plus custom templates.
        settings: limits, timeouts, encoder preset, font, plan, scratch directory.
    """

    def __init__(self, runner: Runner, templates: TemplateLookup, settings: Settings) -> None:
        self.runner, self.templates = runner, templates
        if settings.font_file is None:  # text watermarks need a font: DejaVu Sans unless configured
            settings = settings.model_copy(update={"font_file": default_font_file()})
        self.settings = settings

    def check(self, task: MediaProcessTaskInput) -> None:
        """Refuse unknown templates before any work (see :func:`check_request`)."""
        check_request(task, self.templates)

    def probe(self, source: str) -> MediaMetaData:
        """Probe ``source`` and enforce the input limits.

        Raises:
            SourceError: the source cannot be read as media.
            InvalidParameterError: it is longer or larger than the configured limits.
        """
        meta = self.runner.probe(source)
        limits = self.settings
        if meta.media_duration > limits.max_input_duration:
            raise InvalidParameterError.field(
                "InputInfo",
                f"the input lasts {meta.media_duration:.0f} s, over the limit of "
                f"{limits.max_input_duration:.0f} s",
            )
        if meta.Width * meta.Height > limits.max_input_pixels:
            raise InvalidParameterError.field(
                "InputInfo",
                f"the input is {meta.Width}x{meta.Height}, over the limit of "
                f"{limits.max_input_pixels} pixels",
            )
        return meta

    def keyframe_interval(self, source: str) -> float | None:
        """The input's GOP in seconds, or None (the planner's default) when it cannot be measured."""
        try:
            return self.runner.keyframe_interval(source)
        except MpsError as exc:
            log.info("GOP of %s not measured (%s): assuming the planner's default", source, exc.message)
            return None

    def run(self, run: Run, workspace: Workspace) -> dict[int, MediaProcessTaskResult]:
        """Run ``run``'s sub-tasks as one plan (:mod:`mps.media.plan`); one entry per index.

        A sub-task that fails fails alone (its entry says why); only what ``workspace`` raises
        (a retryable failure, on a worker) escapes.
        """
        settings = self.settings
        settings.work_dir.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix="mps-run-", dir=settings.work_dir))
        try:
            entries, subtasks = self._resolve(run, workspace, scratch)
            planned = [subtask for subtask in subtasks if subtask.index not in run.operations]
            gop = run.gop() if needs_gop(planned, run.meta) else None
            plan = plan_subtasks(planned, run.meta, gop=gop, fuse=settings.plan != "split")
            alone = tuple(Step((s.index,)) for s in subtasks if s.index in run.operations)
            by_index = {subtask.index: subtask for subtask in subtasks}

            def run_one(step: Step) -> dict[int, MediaProcessTaskResult]:
                group = [by_index[index] for index in step.indexes]
                places = [workspace.place(subtask, scratch) for subtask in group]
                contexts = [
                    self._context(run, subtask, place, scratch, seek=subtask.index in plan.seek)
                    for subtask, place in zip(group, places, strict=True)
                ]
                if (operation := run.operations.get(step.indexes[0])) is not None:
                    results = [execute_subtask(group[0], contexts[0], places[0].storage, operation=operation)]
                else:
                    results = run_step(step, group, contexts, [place.storage for place in places])
                return {
                    subtask.index: workspace.deliver(subtask, place, entry)
                    for subtask, place, entry in zip(group, places, results, strict=True)
                }

            steps = (*plan.steps, *alone)
            workers = max(1, min(run.steps_at_once, len(steps)))
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mps-step") as pool:
                for done in pool.map(run_one, steps):
                    entries.update(done)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return entries

    def _resolve(
        self, run: Run, workspace: Workspace, scratch: Path
    ) -> tuple[dict[int, MediaProcessTaskResult], list[Subtask]]:
        """Every sub-task resolved; those that cannot be are already entries (FAIL)."""
        settings = self.settings
        fetch = run.assets(scratch / "assets")
        resolver = SubtaskResolver(self.templates, run.meta, fetch, settings.x264_preset, settings.font_file)
        entries: dict[int, MediaProcessTaskResult] = {}
        subtasks: list[Subtask] = []
        for index, item in run.items:
            try:
                subtasks.append(resolver.subtask(index, item))
            except MpsError as exc:
                entries[index] = workspace.failed(index, item, exc)
        return entries, subtasks

    def _context(
        self, run: Run, subtask: Subtask, place: Placement, scratch: Path, *, seek: bool
    ) -> OperationContext:
        workdir = scratch / f"work{subtask.index}"
        workdir.mkdir()
        return OperationContext(
            runner=CancellableRunner(self.runner, run.cancel),
            meta=run.meta,
            source=run.source,
            out_root=place.out_root,
            namer=Namer(run.file_name, place.directory, subtask.spec.definition),
            workdir=workdir,
            on_progress=place.on_progress,
            timeout=min(
                self.settings.ffmpeg_timeout, run.timeouts.get(subtask.index, self.settings.ffmpeg_timeout)
            ),
            font_file=self.settings.font_file,
            seek_pictures=seek,
            parallel=max(1, run.parallel),
            task_id=run.task_id,
        )


__all__ = ["Executor", "Placement", "Run", "Workspace"]
