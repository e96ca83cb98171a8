"""Sub-tasks of :class:`mps.store.sql.SqlTaskStore` and the once-only commits that make redelivery
harmless: a sub-task result is stored once, a task finishes once with its outbox event."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from mps.store._rules import check_subtask_status, subtask_not_found
from mps.store.base import (
    Advance,
    Completion,
    EventTarget,
    Followup,
    JsonDict,
    Merger,
    NewSubtask,
    SubtaskRecord,
    SubtaskStatus,
    TaskRecord,
)
from mps.store.history import (
    created_events,
    finish_detail,
    finished_detail,
    followup_detail,
    split_detail,
    started_detail,
    status_event,
)
from mps.store.schema import UtcDateTime, subtasks, tasks
from mps.store.sql_outbox import insert_event
from mps.store.sql_tasks import FINAL, TasksMixin, subtask_key
from mps.store.sqlbase import subtask_record
from mps.store.transitions import can_finish, finished_fields, lease_fields


class SubtasksMixin(TasksMixin):
    """Sub-tasks and finishing (see :class:`mps.store.base.TaskStore` for the contract)."""

    def add_subtasks(self, task_id: str, new: Sequence[NewSubtask]) -> int:
        """Append sub-tasks after the existing ones (e.g. planned after the probe).

        Returns:
            The index of the first sub-task added.

        Raises:
            ResourceNotFoundError: ``ResourceNotFound.TaskNotFound``.
        """
        with self._write() as conn:
            # The task row lock orders this against try_finish_task, which must not finish a task
            # while sub-tasks are being added to it.
            self._fetch_task(conn, task_id, lock=self._postgres)
            last = conn.execute(
                sa.select(sa.func.max(subtasks.c.subtask_index)).where(subtasks.c.task_id == task_id)
            ).scalar()
            first = 0 if last is None else last + 1
            self._insert_subtasks(conn, task_id, first, new)
            for event, at in created_events(new, first, created=False):
                self._history(conn, task_id, event, at)
            return first

    def split_subtask(
        self,
        task_id: str,
        index: int,
        token: str,
        parts: Sequence[NewSubtask],
        work: Callable[[list[int]], Sequence[tuple[EventTarget, JsonDict]]],
    ) -> int | None:
        """See :meth:`mps.store.base.Tasks.split_subtask`."""
        now = self._now()
        with self._write() as conn:
            # The task row lock orders this against the finishes of the task's other sub-tasks.
            self._fetch_task(conn, task_id, lock=self._postgres)
            parked = conn.execute(
                sa.update(subtasks)
                .where(
                    subtask_key(task_id, index),
                    subtasks.c.status == "PROCESSING",
                    subtasks.c.lease_token == token,
                )
                .values(status="PENDING", progress=0, lease_token=None, lease_until=None)
            )
            if parked.rowcount != 1:
                return None
            last = conn.execute(
                sa.select(sa.func.max(subtasks.c.subtask_index)).where(subtasks.c.task_id == task_id)
            ).scalar()
            first = int(last or 0) + 1  # the parent itself is a row: never None
            self._insert_subtasks(conn, task_id, first, parts)
            self._history(conn, task_id, "split", index, detail=split_detail(first, len(parts)))
            for event, at in created_events(parts, first, created=False):
                self._history(conn, task_id, event, at)
            for target, payload in work(list(range(first, first + len(parts)))):
                insert_event(conn, task_id, target, payload, now)
            return first

    def start_subtask(
        self,
        task_id: str,
        index: int,
        token: str | None = None,
        lease: timedelta | None = None,
        host: str = "",
    ) -> SubtaskRecord | None:
        """Mark a sub-task PROCESSING (attempts + 1), held by attempt ``token`` until now + ``lease``,
        and its task PROCESSING if it was WAITING; its history records ``started`` on ``host``.

        Returns:
            The sub-task as started, or None when it or its task is already final, or another
            attempt holds a lease that has not run out: the message that asked for it is a
            redelivery or a copy, to be acked and skipped.

        Raises:
            ResourceNotFoundError: unknown task or sub-task.
        """
        now = self._now()
        # The same rule as transitions.can_start, as one conditional UPDATE (no check-then-act).
        free = sa.or_(
            subtasks.c.status != "PROCESSING",
            subtasks.c.lease_until.is_(None),
            subtasks.c.lease_until <= sa.literal(now, UtcDateTime),
        )
        ready = subtasks.c.status != "PENDING"
        with self._write() as conn:
            if self._fetch_task(conn, task_id).status == "FINISH":
                return None
            started = conn.execute(
                sa.update(subtasks)
                .where(subtask_key(task_id, index), subtasks.c.status.not_in(FINAL), free, ready)
                .values(
                    status="PROCESSING",
                    attempts=subtasks.c.attempts + 1,
                    begin_time=sa.func.coalesce(subtasks.c.begin_time, sa.literal(now, UtcDateTime)),
                    **lease_fields(token, lease, now),
                )
            )
            row = conn.execute(sa.select(subtasks).where(subtask_key(task_id, index))).first()
            if row is None:
                raise subtask_not_found(task_id, index)
            if started.rowcount != 1:
                return None
            self._start(conn, task_id)
            self._history(conn, task_id, "started", index, row.attempts, started_detail(host))
            return subtask_record(row)

    def renew_subtask_lease(self, task_id: str, index: int, token: str, lease: timedelta) -> bool:
        """Extend attempt ``token``'s hold on a running sub-task to now + ``lease``.

        Returns:
            False when the sub-task is no longer that attempt's: another attempt took it over, it
            is final, or its task was aborted.
        """
        now = self._now()
        with self._write() as conn:
            renewed = conn.execute(
                sa.update(subtasks)
                .where(
                    subtask_key(task_id, index),
                    subtasks.c.status == "PROCESSING",
                    subtasks.c.lease_token == token,
                )
                .values(lease_until=now + lease)
            )
            return renewed.rowcount == 1

    def retry_subtask(
        self,
        task_id: str,
        index: int,
        token: str | None,
        event: tuple[EventTarget, JsonDict],
        delay: timedelta,
    ) -> bool:
        """See :meth:`mps.store.base.Tasks.retry_subtask`."""
        now = self._now()
        held = subtasks.c.lease_token == token if token is not None else sa.true()
        with self._write() as conn:
            retried = conn.execute(
                sa.update(subtasks)
                .where(subtask_key(task_id, index), subtasks.c.status.not_in(FINAL), held)
                .values(status="WAITING", lease_token=None, lease_until=None)
            )
            if retried.rowcount != 1:
                return False
            insert_event(conn, task_id, event[0], event[1], now, due=now + delay)
            self._history(conn, task_id, "retried", index, detail={"InSeconds": delay.total_seconds()})
            return True

    def release_subtask_lease(self, task_id: str, index: int, token: str) -> bool:
        """See :meth:`mps.store.base.Tasks.release_subtask_lease`."""
        with self._write() as conn:
            released = conn.execute(
                sa.update(subtasks)
                .where(
                    subtask_key(task_id, index),
                    subtasks.c.status == "PROCESSING",
                    subtasks.c.lease_token == token,
                )
                .values(lease_until=None)
            )
            return released.rowcount == 1

    def update_progress(self, task_id: str, index: int, progress: int) -> bool:
        """Store progress (clamped to 0-100) of a sub-task that is not final.

        Returns:
            True if stored; False for a final (or unknown) sub-task, which keeps its state.
        """
        with self._write() as conn:
            result = conn.execute(
                sa.update(subtasks)
                .where(subtask_key(task_id, index), subtasks.c.status.not_in(FINAL))
                .values(progress=min(max(int(progress), 0), 100))
            )
            return result.rowcount == 1

    def finish_subtask(
        self,
        task_id: str,
        index: int,
        result: JsonDict,
        status: SubtaskStatus,
        token: str | None = None,
        then: Advance | None = None,
    ) -> bool:
        """Commit a sub-task's result, once.

        Parameters:
            result: the MediaProcessTaskResult wire dict.
            status: ``SUCCESS`` or ``FAIL``.
            token: the attempt committing; when given, only the attempt holding the sub-task can.
            then: what the commit changes besides this sub-task (an orchestration's successors),
                decided under the task's lock and applied in the same transaction.

        Returns:
            True for the commit that stored it; False when it was already final (a redelivery) or
            another attempt holds it (this one was fenced off).

        Raises:
            ResourceNotFoundError: unknown sub-task.
            ValueError: ``status`` is not final.
        """
        check_subtask_status(status)
        values: dict[str, Any] = {"status": status, "result": result, "finish_time": self._now()}
        values.update(lease_token=None, lease_until=None)
        if status == "SUCCESS":
            values["progress"] = 100
        held = subtasks.c.lease_token == token if token is not None else sa.true()
        with self._write() as conn:
            # The task row lock orders concurrent finishes of one task, so each Advance sees the others.
            task = self._fetch_task(conn, task_id, lock=self._postgres and then is not None)
            stored = conn.execute(
                sa.update(subtasks)
                .where(subtask_key(task_id, index), subtasks.c.status.not_in(FINAL), held)
                .values(**values)
            )
            if stored.rowcount == 1:
                attempt = conn.execute(
                    sa.select(subtasks.c.attempts).where(subtask_key(task_id, index))
                ).scalar()
                self._history(
                    conn, task_id, status_event(status), index, attempt, finish_detail(status, result)
                )
                if then is not None:
                    self._follow(conn, task, then(task, self._fetch_subtasks(conn, task_id)), (index, status))
                return True
            if conn.execute(sa.select(subtasks.c.status).where(subtask_key(task_id, index))).first() is None:
                raise subtask_not_found(task_id, index)
            return False

    def _follow(
        self, conn: Connection, task: TaskRecord, followup: Followup, by: tuple[int, str] = (-1, "")
    ) -> None:
        """Apply a finish's Followup: only PENDING sub-tasks change (each change in the history, as
        caused by sub-task ``by`` = (index, status)); then its outbox rows."""
        now = self._now()
        for other, new_status in followup.updates.items():
            values: dict[str, Any] = {"status": new_status}
            if new_status in FINAL:
                values["finish_time"] = now
            changed = conn.execute(
                sa.update(subtasks)
                .where(subtask_key(task.task_id, other), subtasks.c.status == "PENDING")
                .values(**values)
            )
            if changed.rowcount == 1:
                detail = followup_detail(new_status, *by)
                self._history(conn, task.task_id, status_event(new_status), other, detail=detail)
        for target, payload in followup.events:
            insert_event(conn, task.task_id, target, payload, now)

    def try_finish_task(self, task_id: str, completion: Completion | Merger) -> bool:
        """Finish the task if every sub-task is final, exactly once however many workers race.

        The task row is locked (PostgreSQL ``FOR UPDATE``; SQLite's write lock), so the losers wait,
        then see FINISH and return False; the final UPDATE is conditional too and its row count is
        checked. A :data:`Merger` runs under that lock, after the last result is in.

        Parameters:
            completion: the merged WorkflowTask and the outbox rows it owes, or a function building
                them from the task and its sub-tasks (preferred: it cannot miss a result committed
                meanwhile).

        Returns:
            True only for the call that finished the task.

        Raises:
            ResourceNotFoundError: ``ResourceNotFound.TaskNotFound``.
        """
        with self._write() as conn:
            task = self._fetch_task(conn, task_id, lock=self._postgres)
            subs = self._fetch_subtasks(conn, task_id)
            if not can_finish(task, subs):
                return False
            done = completion if isinstance(completion, Completion) else completion(task, subs)
            now = self._now()
            fields = finished_fields(task, done, now)
            finished = conn.execute(
                sa.update(tasks)
                .where(tasks.c.task_id == task_id, tasks.c.status != "FINISH")
                .values(**fields)
            )
            if finished.rowcount != 1:
                return False
            self._history(
                conn, task_id, "finished", detail=finished_detail(fields["err_code"], fields["message"])
            )
            for target, payload in done.events:
                insert_event(conn, task_id, target, payload, now)
            return True
