"""The console's task filters and list rows over records: the memory twin's answer to
``mps.store.sql_console``, kept apart so the two read the same :class:`TaskQuery` the same way."""

from __future__ import annotations

from collections.abc import Sequence

from mps.store.base import SubtaskRecord, TaskQuery, TaskRecord, TaskSummary, input_name


def looks_like_task_id(text: str) -> bool:
    """Whether a search term is a TaskId (then it is matched exactly)."""
    return "-WorkflowTask-" in text or "-ScheduleTask-" in text


def matches_query(task: TaskRecord, subtasks: Sequence[SubtaskRecord], query: TaskQuery) -> bool:
    """Whether ``task`` passes every filter of ``query`` (see :class:`TaskQuery`)."""
    if query.status is not None and task.status != query.status:
        return False
    if query.workflow_id is not None and task.workflow_id != query.workflow_id:
        return False
    if query.start_time is not None and task.create_time < query.start_time:
        return False
    if query.end_time is not None and task.create_time >= query.end_time:
        return False
    if query.failed is not None:
        has_failed = task.err_code != 0 or any(s.status == "FAIL" for s in subtasks)
        if has_failed != query.failed:
            return False
    term = query.search.strip()
    if not term:
        return True
    if looks_like_task_id(term):
        return task.task_id == term
    return term.lower() in input_name(task.request).lower()


def summarize(position: int, task: TaskRecord, subtasks: Sequence[SubtaskRecord]) -> TaskSummary:
    """The list row of a task."""
    n = len(subtasks)
    return TaskSummary(
        position=position,
        task_id=task.task_id,
        status=task.status,
        err_code=task.err_code,
        message=task.message,
        workflow_id=task.workflow_id,
        input_name=input_name(task.request),
        create_time=task.create_time,
        begin_time=task.begin_time,
        finish_time=task.finish_time,
        subtasks=n,
        finished=sum(s.status in ("SUCCESS", "FAIL") for s in subtasks),
        failed=sum(s.status == "FAIL" for s in subtasks),
        progress=sum(s.progress for s in subtasks) // n if n else 0,
    )


__all__ = ["looks_like_task_id", "matches_query", "summarize"]
