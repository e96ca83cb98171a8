"""Run a whole task on this machine: probe once, run the sub-tasks in parallel, merge the results.

``mps process`` uses this; it is the shared :class:`~mps.workflow.executor.Executor` with a
workspace that writes straight into the output directory and reports to progress bars. An
orchestration (``mps process --schedule``) runs through the same executor, its DAG walked by
:func:`~mps.workflow.walk.walk_dag`, and ends as a ``ScheduleTask``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
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
from mps.models.schedules import Activity, ActivityResItem, ActivityResult, ScheduleTask
from mps.runner import Runner
from mps.settings import Settings
from mps.workflow.dag import SKIPPED, Dag, build_dag
from mps.workflow.execute import failed_result
from mps.workflow.executor import Executor, Placement, Run
from mps.workflow.kinds import KINDS
from mps.workflow.resolve import AssetFetcher, TemplateLookup, check_subtask
from mps.workflow.walk import walk_dag


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


@dataclass(frozen=True)
class ScheduleOutcome:
    """A finished orchestration: its ``ScheduleTask`` and, per activity index, how it ended.

    Attributes:
        task: the record, as ``result.json`` holds it.
        states: every activity's final state (``SUCCESS``, ``FAIL``, ``SKIPPED``).
        entries: the result entry of every activity that ran (or failed for want of a source).
    """

    task: ScheduleTask
    states: dict[int, str]
    entries: dict[int, MediaProcessTaskResult]

    @property
    def succeeded(self) -> bool:
        """No error on the task and no activity failed."""
        return not self.task.ErrCode and all(state != "FAIL" for state in self.states.values())


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
        run = self._run(task_id, items, meta, source, input_info, max(1, self.settings.concurrency))
        entries = self.executor.run(run, _LocalWorkspace(out_root, output_dir, output_storage, on_progress))
        return result.model_copy(
            update={
                "Status": "FINISH",
                "Message": "SUCCESS",
                "MetaData": meta,
                "MediaProcessResultSet": [entries[index] for index, _ in items],
            }
        )

    def check_schedule(self, activities: Sequence[Activity]) -> Dag:
        """The DAG of ``activities``, checked before any work: its shape (:func:`build_dag`), then
        each activity's templates and output names, as ``ProcessMedia`` checks them.

        Raises:
            InvalidParameterError: ``InvalidParameterValue.Activities`` naming the index (or the
                field an activity gets wrong).
            ResourceNotFoundError: an activity names a template that does not exist.
        """
        dag = build_dag(activities)
        for node in dag.work():
            assert node.kind is not None and node.para is not None  # work nodes have both
            check_subtask(node.kind, node.para, self.executor.templates)
        return dag

    def process_schedule(
        self,
        *,
        task_id: str,
        dag: Dag,
        input_info: MediaInputInfo,
        source: str,
        out_root: Path,
        output_dir: str | None = None,
        output_storage: TaskOutputStorage | None = None,
        on_progress: ProgressListener = _quiet,
    ) -> ScheduleOutcome:
        """Probe ``source`` once, then run the activities of ``dag`` as their predecessors (and
        rules) release them (:func:`~mps.workflow.walk.walk_dag`), writing outputs under ``out_root``.

        A source that cannot be probed gives the task its ``ErrCode`` and every activity FAIL; a
        failing activity fails alone and its successors are skipped.
        """
        work = dag.work()
        try:
            meta = self.probe(source)
        except MpsError as exc:
            entries = {node.index: self._failed(node.index, node.para, exc, on_progress) for node in work}
            states = {node.index: "FAIL" for node in work}
            task = _schedule_task(task_id, input_info, None, dag, states, entries)
            task = task.model_copy(update={"ErrCode": exc.err_code, "Message": exc.message})
            return ScheduleOutcome(task, states, entries)
        concurrency = max(1, self.settings.concurrency)
        workspace = _LocalWorkspace(out_root, output_dir, output_storage, on_progress)
        gop = functools.cache(lambda: self.executor.keyframe_interval(source))

        def run_batch(indexes: Sequence[int]) -> dict[int, MediaProcessTaskResult]:
            items = [(index, _para(dag, index)) for index in indexes]
            run = self._run(task_id, items, meta, source, input_info, 1, gop=gop)
            return self.executor.run(run, workspace)

        def skipped(index: int) -> None:
            on_progress(ProgressUpdate(index, _kind_name(dag, index), 0.0, SKIPPED))

        walked = walk_dag(dag, run_batch, at_once=concurrency, on_skip=skipped)
        task = _schedule_task(task_id, input_info, meta, dag, walked.states, walked.entries)
        return ScheduleOutcome(task, walked.states, walked.entries)

    def _run(
        self,
        task_id: str,
        items: Sequence[tuple[int, SubtaskInput]],
        meta: MediaMetaData,
        source: str,
        input_info: MediaInputInfo,
        steps_at_once: int,
        gop: Callable[[], float | None] | None = None,
    ) -> Run:
        """A run of ``items`` on this machine: ``steps_at_once`` steps of its plan at once, each
        sub-task with up to ``--concurrency`` ffmpeg runs (its batches of seeked pictures)."""
        concurrency = max(1, self.settings.concurrency)
        return Run(
            items=items,
            meta=meta,
            source=source,
            file_name=input_info.file_name,
            assets=lambda _directory: self.fetch,
            gop=gop or (lambda: self.executor.keyframe_interval(source)),
            steps_at_once=steps_at_once,
            parallel=concurrency,
            task_id=task_id,
        )

    @staticmethod
    def _failed(
        index: int, item: SubtaskInput | None, error: MpsError, on_progress: ProgressListener
    ) -> MediaProcessTaskResult:
        assert item is not None  # work nodes have parameters
        kind = KINDS.of_input(item).name
        on_progress(ProgressUpdate(index, kind, 1.0, "FAIL"))
        return failed_result(kind, item, error)


def _para(dag: Dag, index: int) -> SubtaskInput:
    para = dag.nodes[index].para
    assert para is not None  # only work nodes are ever ready
    return para


def _kind_name(dag: Dag, index: int) -> str:
    kind = dag.nodes[index].kind
    return kind.name if kind is not None else dag.nodes[index].type


def _schedule_task(
    task_id: str,
    input_info: MediaInputInfo,
    meta: MediaMetaData | None,
    dag: Dag,
    states: dict[int, str],
    entries: dict[int, MediaProcessTaskResult],
) -> ScheduleTask:
    """The finished ScheduleTask: the activities that ran, in index order (``input``, ``output``
    and the skipped ones left out, as :func:`~mps.workflow.merge.merge_schedule_task` does)."""
    results = []
    for node in dag.work():
        entry = entries.get(node.index)
        if node.kind is None or entry is None or states.get(node.index) == SKIPPED:
            continue
        member = entry.result.model_dump(mode="json")  # each result class says what it sends
        item = ActivityResItem.model_validate({node.kind.result_field: member})
        results.append(ActivityResult(ActivityType=node.kind.name, ActivityResItem=item))
    return ScheduleTask(
        TaskId=task_id,
        Status="FINISH",
        Message="SUCCESS",
        InputInfo=input_info,
        MetaData=meta,
        ActivityResultSet=results,
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
