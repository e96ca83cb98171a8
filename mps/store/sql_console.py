"""What the console and ``/metrics`` read from :class:`mps.store.sql.SqlTaskStore`: the filtered,
keyset-paged task list and a few aggregates, each a query or two served by an index (migration
``0002_console``; ``tests/integration/test_console_store.py`` checks the plans with EXPLAIN)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from mps.store.base import TaskPage, TaskQuery, TaskStats, TaskSummary
from mps.store.console_rules import looks_like_task_id
from mps.store.schema import outbox, subtasks, tasks
from mps.store.sqlbase import SqlBase

#: The columns of a list row: everything but the JSON documents.
_SUMMARY_COLUMNS = (
    tasks.c.seq,
    tasks.c.task_id,
    tasks.c.status,
    tasks.c.err_code,
    tasks.c.message,
    tasks.c.workflow_id,
    tasks.c.input_name,
    tasks.c.create_time,
    tasks.c.begin_time,
    tasks.c.finish_time,
)


def task_query_filters(query: TaskQuery) -> list[sa.ColumnElement[bool]]:
    """The WHERE clauses of a :class:`TaskQuery`."""
    where: list[sa.ColumnElement[bool]] = []
    if query.status is not None:
        where.append(tasks.c.status == query.status)
    if query.workflow_id is not None:
        where.append(tasks.c.workflow_id == query.workflow_id)
    if query.start_time is not None:
        where.append(tasks.c.create_time >= query.start_time)
    if query.end_time is not None:
        where.append(tasks.c.create_time < query.end_time)
    if query.failed is not None:
        # An uncorrelated IN: PostgreSQL hashes the (few) failed sub-tasks once, instead of probing
        # subtasks per task as a correlated EXISTS under OR would.
        failed_ids = sa.select(subtasks.c.task_id).where(subtasks.c.status == "FAIL")
        has_failed = sa.or_(tasks.c.err_code != 0, tasks.c.task_id.in_(failed_ids))
        where.append(has_failed if query.failed else sa.not_(has_failed))
    term = query.search.strip()
    if term:
        if looks_like_task_id(term):
            where.append(tasks.c.task_id == term)
        else:
            escaped = term.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            where.append(sa.func.lower(tasks.c.input_name).like(f"%{escaped}%", escape="\\"))
    return where


def task_list_query(query: TaskQuery, limit: int, before: int | None) -> sa.Select[Any]:
    """The list query of one page (one row more than ``limit``, to know whether a next page exists)."""
    select = sa.select(*_SUMMARY_COLUMNS).where(*task_query_filters(query))
    if before is not None:
        select = select.where(tasks.c.seq < before)
    return select.order_by(tasks.c.seq.desc()).limit(limit + 1)


class ConsoleMixin(SqlBase):
    """``find_tasks`` and ``task_stats`` (see :class:`mps.store.base.Tasks`)."""

    def find_tasks(self, query: TaskQuery, limit: int = 50, before: int | None = None) -> TaskPage:
        """One page of tasks matching ``query``, newest first, with their sub-tasks counted.

        Two queries: the page (by an index matching the filters, newest first, stopping after
        ``limit + 1`` rows), then one aggregate over the page's sub-tasks by primary key.
        """
        limit = max(limit, 1)
        with self._read() as conn:
            rows = list(conn.execute(task_list_query(query, limit, before)))
            page = rows[:limit]
            counts = self._subtask_counts(conn, [row.task_id for row in page])
        summaries = [_summary(row._mapping, counts.get(row.task_id)) for row in page]
        return TaskPage(summaries, page[-1].seq if len(rows) > limit else None)

    @staticmethod
    def _subtask_counts(conn: sa.Connection, task_ids: list[str]) -> dict[str, tuple[int, int, int, int]]:
        if not task_ids:
            return {}
        final = sa.case((subtasks.c.status.in_(("SUCCESS", "FAIL")), 1), else_=0)
        failed = sa.case((subtasks.c.status == "FAIL", 1), else_=0)
        query = (
            sa.select(
                subtasks.c.task_id,
                sa.func.count(),
                sa.func.sum(final),
                sa.func.sum(failed),
                sa.func.sum(subtasks.c.progress),
            )
            .where(subtasks.c.task_id.in_(task_ids))
            .group_by(subtasks.c.task_id)
        )
        return {
            row[0]: (int(row[1]), int(row[2] or 0), int(row[3] or 0), int(row[4] or 0))
            for row in conn.execute(query)
        }

    def task_stats(self) -> TaskStats:
        """Counts by status and ErrCode (one GROUP BY over the ``(status, err_code)`` index), the
        oldest unstarted sub-task's task and the oldest undelivered event (each one indexed row)."""
        unstarted = (
            sa.select(tasks.c.create_time)
            .join(subtasks, subtasks.c.task_id == tasks.c.task_id)
            .where(
                tasks.c.status.in_(("WAITING", "PROCESSING")),
                subtasks.c.status == "WAITING",
                subtasks.c.attempts == 0,
            )
            .order_by(tasks.c.seq)
            .limit(1)
        )
        unsent = sa.select(sa.func.min(outbox.c.created_at)).where(outbox.c.sent_at.is_(None))
        grouped = sa.select(tasks.c.status, tasks.c.err_code, sa.func.count()).group_by(
            tasks.c.status, tasks.c.err_code
        )
        by_status: dict[str, int] = {"WAITING": 0, "PROCESSING": 0, "FINISH": 0}
        by_err_code: dict[int, int] = {}
        with self._read() as conn:
            for status, err_code, count in conn.execute(grouped):
                by_status[status] = by_status.get(status, 0) + int(count)
                if status == "FINISH" and err_code:
                    by_err_code[int(err_code)] = by_err_code.get(int(err_code), 0) + int(count)
            oldest = conn.execute(unstarted).scalar()
            oldest_event = conn.execute(unsent).scalar()
        return TaskStats(by_status, by_err_code, oldest, _aware(oldest_event))


def _aware(value: Any) -> Any:
    """``MIN()`` loses the column type on some backends: make a naive UTC value aware again."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def _summary(m: Any, counts: tuple[int, int, int, int] | None) -> TaskSummary:
    n, finished, failed, progress = counts or (0, 0, 0, 0)
    return TaskSummary(
        position=m["seq"],
        task_id=m["task_id"],
        status=m["status"],
        err_code=m["err_code"],
        message=m["message"],
        workflow_id=m["workflow_id"],
        input_name=m["input_name"],
        create_time=m["create_time"],
        begin_time=m["begin_time"],
        finish_time=m["finish_time"],
        subtasks=n,
        finished=finished,
        failed=failed,
        progress=progress // n if n else 0,
    )
