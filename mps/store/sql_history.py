"""Task history of :class:`mps.store.sql.SqlTaskStore`: one ``task_history`` row per transition,
inserted by the transition's own transaction (so the history never disagrees with the task), and
the read of ``DescribeTaskHistory``. Which event and detail each transition records is decided in
:mod:`mps.store.history`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from mps.store._rules import task_not_found
from mps.store.base import EventTarget, HistoryEvent, HistoryRecord, JsonDict
from mps.store.history import delivered_detail, numbered
from mps.store.schema import outbox, task_history, tasks
from mps.store.sqlbase import SqlBase

#: Built once, values bound at execution (a hot path: every transition inserts).
_INSERT_HISTORY = sa.insert(task_history)
_HISTORY_OF = (
    sa.select(task_history)
    .where(task_history.c.task_id == sa.bindparam("task_id"))
    .order_by(task_history.c.seq)
)
_TASK_EXISTS = sa.select(tasks.c.seq).where(tasks.c.task_id == sa.bindparam("task_id"))
#: An outbox row's task and target, when its task is still stored (events outlive their tasks).
_SENT_ROW = (
    sa.select(outbox.c.task_id, outbox.c.target_kind, outbox.c.target_name, outbox.c.target_key)
    .join(tasks, tasks.c.task_id == outbox.c.task_id)
    .where(outbox.c.id == sa.bindparam("event_id"))
)


def history_row(
    task_id: str,
    event: HistoryEvent,
    now: datetime,
    index: int | None = None,
    attempt: int | None = None,
    detail: JsonDict | None = None,
) -> dict[str, Any]:
    """The values of one ``task_history`` row (for an INSERT of one or many)."""
    return {
        "task_id": task_id, "time": now, "event": event, "subtask_index": index, "attempt": attempt,
        "detail": detail or {},
    }  # fmt: skip


class HistoryMixin(SqlBase):
    """``_history`` (the write every transition makes) and ``task_history`` (the read)."""

    def _history(
        self,
        conn: Connection,
        task_id: str,
        event: HistoryEvent,
        index: int | None = None,
        attempt: int | None = None,
        detail: JsonDict | None = None,
    ) -> None:
        """Record one event of ``task_id`` inside the caller's transaction (``conn``), at the
        store's now. Call it from every transition, after its change is made and in the same
        ``with self._write() as conn`` block, so the event commits or rolls back with it.

        Parameters:
            conn: the transition's connection.
            task_id: the task (it must exist: the row references it).
            event: what happened (:data:`mps.store.base.HistoryEvent`), e.g. ``aborted``.
            index: the sub-task it is about (None for the task's own events).
            attempt: the sub-task's attempt (its ``attempts`` after the change), when it has one.
            detail: what else to say (``ErrCode``, ``Message``, ``Host``...); JSON.
        """
        conn.execute(_INSERT_HISTORY, history_row(task_id, event, self._now(), index, attempt, detail))

    def _delivered(self, conn: Connection, event_id: int) -> None:
        """Record ``delivered`` for outbox row ``event_id`` just marked sent, with its target
        (nothing for a row of no task, or of one purged meanwhile)."""
        row = conn.execute(_SENT_ROW, {"event_id": event_id}).first()
        if row is not None:
            target = EventTarget(row.target_kind, row.target_name, row.target_key)
            self._history(conn, row.task_id, "delivered", detail=delivered_detail(target))

    def _histories(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
        """Several :func:`history_row` rows in one statement (a task created with its sub-tasks)."""
        if rows:
            conn.execute(_INSERT_HISTORY, list(rows))

    def task_history(self, task_id: str) -> list[HistoryRecord]:
        """Every event of the task in order, numbered 1..n, in one read.

        Raises:
            ResourceNotFoundError: ``ResourceNotFound.TaskNotFound``.
        """
        with self._read() as conn:
            if conn.execute(_TASK_EXISTS, {"task_id": task_id}).first() is None:
                raise task_not_found(task_id)
            rows = conn.execute(_HISTORY_OF, {"task_id": task_id})
            return numbered(_record(row) for row in rows)


def _record(row: sa.Row[Any]) -> HistoryRecord:
    m = row._mapping
    return HistoryRecord(
        task_id=m["task_id"],
        seq=m["seq"],
        time=m["time"],
        event=m["event"],
        index=m["subtask_index"],
        attempt=m["attempt"],
        detail=m["detail"],
    )


__all__ = ["HistoryMixin", "history_row"]
