"""Rich rendering for ``mps process``: a progress bar per sub-task and a table of outputs."""

from __future__ import annotations

import threading
from pathlib import Path
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from mps.models import SubtaskInput, WireModel, WorkflowTask
from mps.workflow.engine import ProgressUpdate
from mps.workflow.kinds import KINDS


def _label(item: SubtaskInput) -> str:
    return f"{KINDS.of_input(item).name} {item.Definition}"


class SubtaskBars:
    """One bar per sub-task, updated from worker threads."""

    def __init__(self, console: Console, items: list[SubtaskInput]) -> None:
        self._progress = Progress(
            TextColumn("{task.description:<28}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[status]:<10}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self._ids: list[TaskID] = [
            self._progress.add_task(_label(item), total=100, status="WAITING") for item in items
        ]
        self._lock = threading.Lock()

    def __enter__(self) -> SubtaskBars:
        self._progress.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._progress.stop()

    def update(self, update: ProgressUpdate) -> None:
        with self._lock:
            self._progress.update(
                self._ids[update.index], completed=round(update.fraction * 100), status=update.status
            )


def result_table(result: WorkflowTask, root: str | Path) -> Table:
    """What each sub-task produced: status, files and their key facts."""
    table = Table(title=f"{result.TaskId}: {result.Status} (outputs under {root})")
    table.add_column("#", justify="right")
    table.add_column("sub-task", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("outputs", overflow="fold")
    table.add_column("details")
    for index, entry in enumerate(result.MediaProcessResultSet):
        sub = entry.result
        paths, details = _describe(entry.Type, sub.Output)
        paths = [path.rsplit("/", 1)[-1] for path in paths]
        if sub.Status != "SUCCESS":
            details = f"{sub.ErrCodeExt}: {sub.Message}"
        table.add_row(
            str(index),
            f"{entry.Type} {sub.Input.get('Definition')}",
            sub.Status,
            "\n".join(paths[:2] + ([f"... {len(paths) - 2} more"] if len(paths) > 2 else [])),
            details,
        )
    return table


def _describe(kind: str, output: WireModel | None) -> tuple[list[str], str]:
    if output is None:
        return [], ""
    return KINDS.named(kind).summary(output.model_dump())
