"""Run a whole task on this machine: probe once, run the sub-tasks in parallel, merge the results.

``mps process`` uses this directly; the service's workers reuse its pieces per sub-task.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from mps.errors import InvalidParameterError, MpsError
from mps.media.naming import Namer
from mps.media.plan import Step, needs_gop, plan_subtasks
from mps.media.specs import Subtask
from mps.models import (
    MediaInputInfo,
    MediaMetaData,
    MediaProcessTaskInput,
    MediaProcessTaskResult,
    TaskOutputStorage,
    WorkflowTask,
)
from mps.runner import Runner
from mps.settings import Settings
from mps.workflow.context import OperationContext
from mps.workflow.execute import failed_result
from mps.workflow.fused import run_step
from mps.workflow.resolve import KINDS, AssetFetcher, SubtaskResolver, TemplateLookup, check_request

log = logging.getLogger("mps.workflow.engine")


@dataclass(frozen=True)
class ProgressUpdate:
    """One sub-task's state, for progress bars: ``fraction`` 0.0 to 1.0, ``status`` as in results."""

    index: int
    kind: str
    fraction: float
    status: str


ProgressListener = Callable[[ProgressUpdate], None]


def _quiet(_update: ProgressUpdate) -> None:
    return None


class TaskEngine:
    """Runs tasks against local files with a bounded number of sub-tasks at once.

    Parameters:
        runner: starts ffmpeg/ffprobe.
        templates: presets plus custom templates.
        fetch: fetches watermark images.
        settings: limits, timeouts, encoder preset, font, concurrency, scratch directory.
    """

    def __init__(
        self, runner: Runner, templates: TemplateLookup, fetch: AssetFetcher, settings: Settings
    ) -> None:
        self.runner, self.templates, self.fetch, self.settings = runner, templates, fetch, settings

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
        if meta.media_duration > self.settings.max_input_duration:
            raise InvalidParameterError.field(
                "InputInfo",
                f"the input lasts {meta.media_duration:.0f} s, over the limit of "
                f"{self.settings.max_input_duration:.0f} s",
            )
        if meta.Width * meta.Height > self.settings.max_input_pixels:
            raise InvalidParameterError.field(
                "InputInfo",
                f"the input is {meta.Width}x{meta.Height}, over the limit of "
                f"{self.settings.max_input_pixels} pixels",
            )
        return meta

    def keyframe_interval(self, source: str) -> float | None:
        """The input's GOP in seconds, or None (the planner's default) when it cannot be measured."""
        try:
            return self.runner.keyframe_interval(source)
        except MpsError as exc:
            log.info("GOP of %s not measured (%s): assuming the planner's default", source, exc.message)
            return None

    def process(
        self,
        *,
        task_id: str,
        task: MediaProcessTaskInput,
        input_info: MediaInputInfo,
        source: str,
        out_root: Path,
        output_dir: str | None = None,
        output_storage: TaskOutputStorage | None = None,
        on_progress: ProgressListener = _quiet,
    ) -> WorkflowTask:
        """Run every sub-task of ``task`` on ``source``, writing outputs under ``out_root``.

        Returns the finished WorkflowTask. A source that cannot be probed gives ``ErrCode``
        60000 on the task and every sub-task FAIL; a failing sub-task fails alone.
        """
        self.check(task)
        result = WorkflowTask(TaskId=task_id, Status="PROCESSING", InputInfo=input_info)
        try:
            meta = self.probe(source)
        except MpsError as exc:
            failed = [failed_result(KINDS[type(item)], item, exc) for item in task.subtasks()]
            return result.model_copy(
                update={
                    "Status": "FINISH",
                    "ErrCode": exc.err_code,
                    "Message": exc.message,
                    "MediaProcessResultSet": failed,
                }
            )
        job = _Job(task, meta, input_info, source, out_root, output_dir, output_storage, on_progress)
        entries = self._run_all(job)
        return result.model_copy(
            update={
                "Status": "FINISH",
                "Message": "SUCCESS",
                "MetaData": meta,
                "MediaProcessResultSet": entries,
            }
        )

    def _run_all(self, job: _Job) -> list[MediaProcessTaskResult]:
        """Resolve every sub-task, plan them (:mod:`mps.media.plan`) and run the plan's steps in parallel."""
        settings = self.settings
        scratch = Path(tempfile.mkdtemp(prefix="mps-", dir=settings.work_dir))
        entries, subtasks = self._resolve(job)
        gop = self.keyframe_interval(job.source) if needs_gop(subtasks) else None
        plan = plan_subtasks(subtasks, job.meta, gop=gop, fuse=settings.plan != "split")
        by_index = {subtask.index: subtask for subtask in subtasks}

        def run(step: Step) -> list[tuple[int, MediaProcessTaskResult]]:
            group = [by_index[index] for index in step.indexes]
            contexts = [self._context(s, job, scratch, seek=s.index in plan.seek) for s in group]
            results = run_step(step, group, contexts, [job.output_storage] * len(group))
            for subtask, entry in zip(group, results, strict=True):
                job.on_progress(ProgressUpdate(subtask.index, subtask.kind, 1.0, entry.result.Status))
            return list(zip(step.indexes, results, strict=True))

        try:
            with ThreadPoolExecutor(
                max_workers=max(1, settings.concurrency), thread_name_prefix="mps-sub"
            ) as pool:
                for pairs in pool.map(run, plan.steps):
                    entries.update(pairs)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return [entries[index] for index in range(len(job.task.subtasks()))]

    def _resolve(self, job: _Job) -> tuple[dict[int, MediaProcessTaskResult], list[Subtask]]:
        """Every sub-task resolved; those that cannot be are already FAIL entries."""
        settings = self.settings
        resolver = SubtaskResolver(
            self.templates, job.meta, self.fetch, settings.x264_preset, settings.font_file
        )
        entries: dict[int, MediaProcessTaskResult] = {}
        subtasks: list[Subtask] = []
        for index, item in enumerate(job.task.subtasks()):
            kind = KINDS[type(item)]
            job.on_progress(ProgressUpdate(index, kind, 0.0, "PROCESSING"))
            try:
                subtasks.append(resolver.subtask(index, item))
            except MpsError as exc:
                entries[index] = failed_result(kind, item, exc)
                job.on_progress(ProgressUpdate(index, kind, 1.0, entries[index].result.Status))
        return entries, subtasks

    def _context(self, subtask: Subtask, job: _Job, scratch: Path, *, seek: bool = False) -> OperationContext:
        workdir = scratch / f"sub{subtask.index}"
        workdir.mkdir()

        def progress(fraction: float) -> None:
            job.on_progress(ProgressUpdate(subtask.index, subtask.kind, fraction, "PROCESSING"))

        return OperationContext(
            runner=self.runner,
            meta=job.meta,
            source=job.source,
            out_root=job.out_root,
            namer=Namer(job.input_info.file_name, job.output_dir, subtask.spec.definition),
            workdir=workdir,
            on_progress=progress,
            timeout=self.settings.ffmpeg_timeout,
            font_file=self.settings.font_file,
            seek_pictures=seek,
            parallel=max(1, self.settings.concurrency),
        )


@dataclass(frozen=True)
class _Job:
    """One task's run on this machine: what every sub-task of it shares."""

    task: MediaProcessTaskInput
    meta: MediaMetaData
    input_info: MediaInputInfo
    source: str
    out_root: Path
    output_dir: str | None
    output_storage: TaskOutputStorage | None
    on_progress: ProgressListener
