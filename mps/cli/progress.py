"""Rich rendering for ``mps process``: a progress bar per sub-task (or activity) and a table of outputs."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from mps.models import MediaProcessTaskResult, SubtaskInput, SubtaskResult, WireModel, WorkflowTask
from mps.workflow.dag import SKIPPED, Dag
from mps.workflow.engine import ProgressUpdate, ScheduleOutcome
from mps.workflow.kinds import KINDS


def _label(item: SubtaskInput) -> str:
    return f"{KINDS.of_input(item).name} {item.Definition}"


def activity_labels(dag: Dag) -> dict[int, str]:
    """Each activity's label, by index: ``2 Transcode 100030``; a rule has no Definition (``1 ExecRules``)."""
    labels = {}
    for node in dag.work():
        assert node.kind is not None and node.para is not None  # work nodes have both
        definition = f" {node.para.Definition}" if node.kind.template_family else ""
        labels[node.index] = f"{node.index} {node.kind.name}{definition}"
    return labels


class SubtaskBars:
    """One bar per sub-task or activity (keyed by its index), updated from worker threads.

    Parameters:
        console: where the bars are drawn (a quiet console draws nothing).
        labels: each bar's label, by index, in the order the bars are shown.
        statuses: each bar's first status (default ``WAITING``).
    """

    def __init__(
        self, console: Console, labels: Mapping[int, str], statuses: Mapping[int, str] | None = None
    ) -> None:
        self._progress = Progress(
            TextColumn("{task.description:<28}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[status]:<10}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        first = statuses or {}
        self._ids: dict[int, TaskID] = {
            # Each clock starts when its work does, not while it waits for a free core or a predecessor.
            index: self._progress.add_task(label, total=100, status=first.get(index, "WAITING"), start=False)
            for index, label in labels.items()
        }
        self._started: set[int] = set()
        self._lock = threading.Lock()

    @classmethod
    def for_task(cls, console: Console, items: list[SubtaskInput]) -> SubtaskBars:
        """The bars of a workflow task's sub-tasks, in request order."""
        return cls(console, {index: _label(item) for index, item in enumerate(items)})

    @classmethod
    def for_schedule(cls, console: Console, dag: Dag) -> SubtaskBars:
        """The bars of an orchestration's activities: the first ones ``WAITING``, the others ``PENDING``."""
        initial = dag.initial()
        return cls(console, activity_labels(dag), {index: initial[index] for index in initial})

    def __enter__(self) -> SubtaskBars:
        self._progress.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._progress.stop()

    def update(self, update: ProgressUpdate) -> None:
        with self._lock:
            task = self._ids.get(update.index)
            if task is None:
                return
            if update.status != SKIPPED and update.index not in self._started:
                self._started.add(update.index)
                self._progress.start_task(task)
            self._progress.update(task, completed=round(update.fraction * 100), status=update.status)
            if update.index in self._started and update.status not in ("WAITING", "PROCESSING"):
                self._progress.stop_task(task)  # its clock stops when it is final


def result_table(result: WorkflowTask, root: str | Path) -> Table:
    """What each sub-task produced: status, files and their key facts."""
    table = _table(f"{result.TaskId}: {result.Status} (outputs under {root})", "sub-task")
    for index, entry in enumerate(result.MediaProcessResultSet):
        sub = entry.result
        _add_row(table, str(index), f"{entry.Type} {sub.Input.get('Definition')}", entry)
    return table


def schedule_table(outcome: ScheduleOutcome, dag: Dag, root: str | Path) -> Table:
    """What each activity produced, in index order; the skipped ones say so."""
    task = outcome.task
    table = _table(f"{task.TaskId}: {task.Status} (outputs under {root})", "activity")
    for index, label in activity_labels(dag).items():
        entry = outcome.entries.get(index)
        name = label.split(" ", 1)[1]
        if entry is None or outcome.states.get(index) == SKIPPED:
            table.add_row(str(index), name, outcome.states.get(index, SKIPPED), "", "")
        else:
            _add_row(table, str(index), name, entry)
    return table


def _table(title: str, what: str) -> Table:
    table = Table(title=title)
    table.add_column("#", justify="right")
    table.add_column(what, no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("outputs", overflow="fold")
    table.add_column("details")
    return table


def _add_row(table: Table, index: str, label: str, entry: MediaProcessTaskResult) -> None:
    sub: SubtaskResult = entry.result
    paths, details = _describe(entry.Type, sub.Output)
    paths = [path.rsplit("/", 1)[-1] for path in paths]
    if sub.Status != "SUCCESS":
        details = f"{sub.ErrCodeExt}: {sub.Message}"
    table.add_row(
        index,
        label,
        sub.Status,
        "\n".join(paths[:2] + ([f"... {len(paths) - 2} more"] if len(paths) > 2 else [])),
        details,
    )


def _describe(kind: str, output: WireModel | None) -> tuple[list[str], str]:
    if output is None:
        return [], ""
    return KINDS.named(kind).summary(output.model_dump())
