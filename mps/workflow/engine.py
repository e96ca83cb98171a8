"""Run a whole task on this machine: probe once, run the sub-tasks in parallel, merge the results.

``mps process`` uses this; it is the shared :class:`~mps.workflow.executor.Executor` with a
workspace that writes straight into the output directory and reports to progress bars.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mps.errors import MpsError
from mps.media.specs import Subtask
from mps.models import (
    MediaInputInfo,
    MediaMetaData,
    MediaProcessTaskInput,
    MediaProcessTaskResult,
    SubtaskInput,
    TaskOutputStorage,
    WorkflowTask,
)
from mps.runner import Runner
from mps.settings import Settings
from mps.workflow.execute import failed_result
from mps.workflow.executor import Executor, Placement, Run
from mps.workflow.kinds import KINDS
from mps.workflow.resolve import AssetFetcher, TemplateLookup


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
    """Runs whole tasks against local files with a bounded number of sub-tasks at once.

    Parameters:
        runner: starts ffmpeg/ffprobe.
        templates: presets plus custom templates.
        fetch: fetches watermark images.
        settings: limits, timeouts, encoder preset, font, concurrency, scratch directory.
    """

    def __init__(
        self, runner: Runner, templates: TemplateLookup, fetch: AssetFetcher, settings: Settings
    ) -> None:
        self.executor = Executor(runner, templates, settings)
        self.fetch, self.settings = fetch, settings

    def check(self, task: MediaProcessTaskInput) -> None:
        """Refuse unknown templates before any work (see :func:`~mps.workflow.resolve.check_request`)."""
        self.executor.check(task)

    def probe(self, source: str) -> MediaMetaData:
        """Probe ``source`` within the input limits (:meth:`Executor.probe`)."""
        return self.executor.probe(source)

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
        items = list(enumerate(task.subtasks()))
        try:
            meta = self.probe(source)
        except MpsError as exc:
            failed = [failed_result(KINDS.of_input(item).name, item, exc) for _, item in items]
            return result.model_copy(
                update={
                    "Status": "FINISH",
                    "ErrCode": exc.err_code,
                    "Message": exc.message,
                    "MediaProcessResultSet": failed,
                }
            )
        concurrency = max(1, self.settings.concurrency)
        run = Run(
            items=items,
            meta=meta,
            source=source,
            file_name=input_info.file_name,
            assets=lambda _directory: self.fetch,
            gop=lambda: self.executor.keyframe_interval(source),
            steps_at_once=concurrency,
            parallel=concurrency,
            task_id=task_id,
        )
        entries = self.executor.run(run, _LocalWorkspace(out_root, output_dir, output_storage, on_progress))
        return result.model_copy(
            update={
                "Status": "FINISH",
                "Message": "SUCCESS",
                "MetaData": meta,
                "MediaProcessResultSet": [entries[index] for index, _ in items],
            }
        )


@dataclass(frozen=True)
class _LocalWorkspace:
    """Outputs written where they belong (the output directory), progress to the listener."""

    out_root: Path
    output_dir: str | None
    output_storage: TaskOutputStorage | None
    on_progress: ProgressListener

    def place(self, subtask: Subtask, scratch: Path) -> Placement:
        def progress(fraction: float) -> None:
            self.on_progress(ProgressUpdate(subtask.index, subtask.kind, fraction, "PROCESSING"))

        progress(0.0)
        return Placement(self.out_root, self.output_dir, self.output_storage, progress)

    def deliver(
        self, subtask: Subtask, placement: Placement, entry: MediaProcessTaskResult
    ) -> MediaProcessTaskResult:
        self.on_progress(ProgressUpdate(subtask.index, subtask.kind, 1.0, entry.result.Status))
        return entry

    def failed(self, index: int, item: SubtaskInput, error: MpsError) -> MediaProcessTaskResult:
        kind = KINDS.of_input(item).name
        entry = failed_result(kind, item, error)
        self.on_progress(ProgressUpdate(index, kind, 1.0, entry.result.Status))
        return entry
