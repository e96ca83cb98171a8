"""Tasks of :class:`mps.store.sql.SqlTaskStore`: creation with SessionId and trigger de-duplication,
keyset listing, start, abort (sub-task writes are in ``sql_subtasks``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from mps.store._rules import (
    decode_scroll_token,
    encode_scroll_token,
    task_not_found,
    trigger_taken,
)
from mps.store.base import (
    ABORTED_ERR_CODE,
    ABORTED_MESSAGE,
    FINAL_SUBTASK_STATUSES,
    SESSION_TTL,
    Completion,
    ConflictError,
    Followup,
    JsonDict,
    Merger,
    NewSubtask,
    NewTask,
    SubtaskRecord,
    TaskRecord,
    TaskStatus,
    UnstartedSubtask,
    input_name,
)
from mps.store.history import created_events, finished_detail, probed_detail
from mps.store.schema import UtcDateTime, as_utc, bucket_events, outbox, subtasks, task_history, tasks
from mps.store.sql_history import HistoryMixin, history_row
from mps.store.sql_outbox import insert_event
from mps.store.sqlbase import subtask_record, task_record
from mps.store.transitions import REDONE_FIELDS, aborted_fields, check_abortable, check_redoable

#: The final sub-task states, as a list for ``IN``.
FINAL = sorted(FINAL_SUBTASK_STATUSES)
#: Attempts at create_task: a conflict on an expired SessionId frees it and tries once more.
_CREATE_ATTEMPTS = 3


# Statements of the API's hot paths, built once: building one per call (and its cache key from
# the values in it) cost more than running it. Values are bound at execution.
_INSERT_TASK = sa.insert(tasks)
_INSERT_SUBTASKS = sa.insert(subtasks)
_TASK_BY_ID = sa.select(tasks).where(tasks.c.task_id == sa.bindparam("task_id"))
_SUBTASKS_OF = (
    sa.select(subtasks)
    .where(subtasks.c.task_id == sa.bindparam("task_id"))
    .order_by(subtasks.c.subtask_index)
)


def subtask_key(task_id: str, index: int) -> sa.ColumnElement[bool]:
    """The WHERE clause of one sub-task."""
    return sa.and_(subtasks.c.task_id == task_id, subtasks.c.subtask_index == index)


class TasksMixin(HistoryMixin):
    """Tasks (see :class:`mps.store.base.TaskStore` for the contract)."""

    def create_task(self, new: NewTask) -> tuple[TaskRecord, bool]:
        """Store a WAITING task, its sub-tasks and its trigger key in one transaction.

        The unique keys on ``session_id`` and on the trigger decide races: the loser's insert fails,
        and it returns the winner's task. A SessionId older than :data:`SESSION_TTL` is released
        from its old task and taken again.

        Returns:
            ``(task, True)`` when created; ``(existing task, False)`` for a repeat.

        Raises:
            ConflictError: the TaskId itself already exists.
        """
        for _ in range(_CREATE_ATTEMPTS):
            try:
                with self._write() as conn:
                    return self._insert_task(conn, new), True
            except ConflictError:
                existing = self._resolve_conflict(new)
                if existing is not None:
                    return existing, False
        raise ConflictError(f"could not create task {new.task_id!r}: its keys stay taken")

    def _insert_task(self, conn: Connection, new: NewTask) -> TaskRecord:
        now = as_utc(self._now())
        record = TaskRecord(
            task_id=new.task_id, status="WAITING", request=new.request, workflow_task=new.workflow_task,
            metadata=None, err_code=0, message="", session_id=new.session_id,
            session_context=new.session_context, notify=new.notify, priority=new.priority,
            workflow_id=new.workflow_id, create_time=now, begin_time=None, finish_time=None,
        )  # fmt: skip
        # The record is what the row holds (JSON columns hold what they were given): not read back.
        conn.execute(_INSERT_TASK, {
            "task_id": new.task_id, "status": "WAITING", "request": new.request,
            "workflow_task": new.workflow_task, "err_code": 0, "message": "", "session_id": new.session_id,
            "session_context": new.session_context, "notify": new.notify, "priority": new.priority,
            "deadline": new.deadline,
            "workflow_id": new.workflow_id, "create_time": now,
            "input_name": input_name(new.request),
        })  # fmt: skip
        self._insert_subtasks(conn, new.task_id, 0, new.subtasks)
        self._histories(conn, [history_row(new.task_id, e, now, i) for e, i in created_events(new.subtasks)])
        if new.trigger is not None:
            t = new.trigger
            conn.execute(
                sa.insert(bucket_events).values(
                    workflow_id=t.workflow_id,
                    bucket=t.bucket,
                    object_key=t.key,
                    etag=t.etag,
                    task_id=new.task_id,
                    create_time=now,
                )
            )
        return record

    @staticmethod
    def _insert_subtasks(conn: Connection, task_id: str, first: int, new: Sequence[NewSubtask]) -> None:
        if new:
            conn.execute(
                _INSERT_SUBTASKS,
                [
                    {
                        "task_id": task_id,
                        "subtask_index": first + i,
                        "kind": s.kind,
                        "status": s.status,
                        "input": s.input,
                        "result": None,
                        "progress": 0,
                        "attempts": 0,
                        "begin_time": None,
                        "finish_time": None,
                    }
                    for i, s in enumerate(new)
                ],
            )

    def _resolve_conflict(self, new: NewTask) -> TaskRecord | None:
        """After a failed insert: the task that holds the trigger or SessionId, or None to retry
        (an expired SessionId was just released)."""
        with self._write() as conn:
            if new.trigger is not None:
                t = new.trigger
                claimed = conn.execute(
                    sa.select(bucket_events.c.task_id).where(
                        bucket_events.c.workflow_id == t.workflow_id,
                        bucket_events.c.bucket == t.bucket,
                        bucket_events.c.object_key == t.key,
                        bucket_events.c.etag == t.etag,
                    )
                ).first()
                if claimed is not None:
                    if claimed.task_id is None:
                        raise trigger_taken(t)
                    return self._fetch_task(conn, claimed.task_id)
            if new.session_id is not None:
                row = conn.execute(sa.select(tasks).where(tasks.c.session_id == new.session_id)).first()
                if row is not None:
                    if row.create_time > self._now() - SESSION_TTL:
                        return task_record(row)
                    conn.execute(sa.update(tasks).where(tasks.c.seq == row.seq).values(session_id=None))
                    return None
            if conn.execute(sa.select(tasks.c.seq).where(tasks.c.task_id == new.task_id)).first() is not None:
                raise ConflictError(
                    f"task {new.task_id!r} already exists", code="InvalidParameterValue.TaskId"
                )
        return None

    @staticmethod
    def _fetch_task(conn: Connection, task_id: str, lock: bool = False) -> TaskRecord:
        if lock:
            row = conn.execute(sa.select(tasks).where(tasks.c.task_id == task_id).with_for_update()).first()
        else:
            row = conn.execute(_TASK_BY_ID, {"task_id": task_id}).first()
        if row is None:
            raise task_not_found(task_id)
        return task_record(row)

    def get_task(self, task_id: str) -> TaskRecord:
        """The task.

        Raises:
            ResourceNotFoundError: ``ResourceNotFound.TaskNotFound``.
        """
        with self._read() as conn:
            return self._fetch_task(conn, task_id)

    def get_subtasks(self, task_id: str) -> list[SubtaskRecord]:
        """The task's sub-tasks ordered by index ([] for an unknown task)."""
        with self._read() as conn:
            return self._fetch_subtasks(conn, task_id)

    def get_task_detail(self, task_id: str) -> tuple[TaskRecord, list[SubtaskRecord]]:
        """The task and its sub-tasks by index, read in one transaction (one snapshot).

        Raises:
            ResourceNotFoundError: ``ResourceNotFound.TaskNotFound``.
        """
        with self._read() as conn:
            return self._fetch_task(conn, task_id), self._fetch_subtasks(conn, task_id)

    def list_overdue_tasks(self, now: datetime, limit: int = 100) -> list[str]:
        """See :meth:`mps.store.base.Tasks.list_overdue_tasks`."""
        query = (
            sa.select(tasks.c.task_id)
            .where(
                tasks.c.deadline <= sa.literal(now, UtcDateTime),
                tasks.c.status.in_(("WAITING", "PROCESSING")),
            )
            .order_by(tasks.c.deadline)
            .limit(limit)
        )
        with self._read() as conn:
            return [row.task_id for row in conn.execute(query)]

    def list_unstarted_subtasks(self, created_before: datetime, limit: int = 1000) -> list[UnstartedSubtask]:
        """See :meth:`mps.store.base.TaskStore.list_unstarted_subtasks`."""
        query = (
            sa.select(subtasks.c.task_id, subtasks.c.subtask_index, tasks.c.priority)
            .join(tasks, tasks.c.task_id == subtasks.c.task_id)
            .where(
                tasks.c.status.in_(("WAITING", "PROCESSING")),
                sa.or_(
                    sa.and_(
                        tasks.c.create_time <= created_before,
                        subtasks.c.status == "WAITING",
                        subtasks.c.attempts == 0,
                    ),
                    sa.and_(
                        subtasks.c.status == "PROCESSING",
                        subtasks.c.lease_until <= sa.literal(self._now(), UtcDateTime),
                    ),
                ),
            )
            .order_by(tasks.c.seq, subtasks.c.subtask_index)
            .limit(limit)
        )
        with self._read() as conn:
            return [
                UnstartedSubtask(row.task_id, row.subtask_index, row.priority) for row in conn.execute(query)
            ]

    @staticmethod
    def _fetch_subtasks(conn: Connection, task_id: str) -> list[SubtaskRecord]:
        return [subtask_record(row) for row in conn.execute(_SUBTASKS_OF, {"task_id": task_id})]

    def list_tasks(
        self,
        status: TaskStatus,
        limit: int = 10,
        scroll_token: str = "",
        sub_task_has_failed: bool | None = None,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
    ) -> tuple[list[TaskRecord], str]:
        """One page of tasks in ``status``, newest first, and the next page's ScrollToken.

        The token holds the position of the page's last task, so tasks created meanwhile (which
        sort first) never shift a later page: no duplicates, no gaps.

        Raises:
            InvalidParameterError: ``InvalidParameterValue.ScrollToken`` for a token not ours.
        """
        query = sa.select(tasks).where(*_task_filters(status, sub_task_has_failed, start_time, end_time))
        after = decode_scroll_token(scroll_token)
        if after is not None:
            query = query.where(tasks.c.seq < after)
        with self._read() as conn:
            rows = list(conn.execute(query.order_by(tasks.c.seq.desc()).limit(max(limit, 1) + 1)))
        page = rows[: max(limit, 1)]
        token = encode_scroll_token(page[-1].seq) if len(rows) > len(page) else ""
        return [task_record(row) for row in page], token

    def count_tasks(
        self,
        status: TaskStatus,
        sub_task_has_failed: bool | None = None,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
    ) -> int:
        """How many tasks :meth:`list_tasks` lists over all its pages (one COUNT on the same filters)."""
        where = _task_filters(status, sub_task_has_failed, start_time, end_time)
        with self._read() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(tasks).where(*where)).scalar_one())

    def purge_tasks(self, finished_before: datetime, limit: int = 1000) -> int:
        """See :meth:`mps.store.base.TaskStore.purge_tasks`: one transaction, a batch at a time."""
        undelivered = sa.select(outbox.c.task_id).where(
            outbox.c.sent_at.is_(None), outbox.c.task_id.is_not(None)
        )
        expired = (
            sa.select(tasks.c.task_id)
            .where(tasks.c.status == "FINISH", tasks.c.finish_time < finished_before)
            .where(tasks.c.task_id.not_in(undelivered))
            .limit(max(limit, 0))
        )
        with self._write() as conn:
            task_ids = list(conn.execute(expired).scalars())
            if task_ids:
                conn.execute(sa.delete(subtasks).where(subtasks.c.task_id.in_(task_ids)))
                conn.execute(sa.delete(task_history).where(task_history.c.task_id.in_(task_ids)))
                conn.execute(sa.delete(tasks).where(tasks.c.task_id.in_(task_ids)))
            conn.execute(sa.delete(outbox).where(outbox.c.sent_at < finished_before))
        return len(task_ids)

    def start_task(self, task_id: str) -> bool:
        """WAITING -> PROCESSING with the begin time.

        Returns:
            True for the call that moved it; False if it had already started (idempotent).

        Raises:
            ResourceNotFoundError: ``ResourceNotFound.TaskNotFound``.
        """
        with self._write() as conn:
            if self._start(conn, task_id):
                return True
            self._fetch_task(conn, task_id)
            return False

    def _start(self, conn: Connection, task_id: str) -> bool:
        moved = conn.execute(
            sa.update(tasks)
            .where(tasks.c.task_id == task_id, tasks.c.status == "WAITING")
            .values(status="PROCESSING", begin_time=self._now())
        )
        return moved.rowcount == 1

    def set_metadata(self, task_id: str, metadata: JsonDict) -> None:
        """Store the source's MediaMetaData.

        Raises:
            ResourceNotFoundError: ``ResourceNotFound.TaskNotFound``.
        """
        with self._write() as conn:
            if (
                conn.execute(
                    sa.update(tasks).where(tasks.c.task_id == task_id).values(metadata=metadata)
                ).rowcount
                != 1
            ):
                raise task_not_found(task_id)
            self._history(conn, task_id, "probed", detail=probed_detail(metadata))

    def abort_task(self, task_id: str, completion: Completion | Merger) -> TaskRecord:
        """End a WAITING or PROCESSING task: FINISH with :data:`ABORTED_ERR_CODE`, its sub-tasks that
        are not final FAIL (with the completion's results), its merged record and outbox rows, all
        in one transaction; a Merger runs under the task's lock (see
        :meth:`mps.store.base.Tasks.abort_task`).

        Raises:
            ResourceNotFoundError: ``ResourceNotFound.TaskNotFound``.
            MpsError: ``FailedOperation`` when the task is already FINISH.
        """
        now = self._now()
        with self._write() as conn:
            task = self._fetch_task(conn, task_id, lock=self._postgres)
            check_abortable(task)
            subs = self._fetch_subtasks(conn, task_id)
            done = completion if isinstance(completion, Completion) else completion(task, subs)
            for sub in subs:
                if sub.status in FINAL_SUBTASK_STATUSES:
                    continue
                conn.execute(
                    sa.update(subtasks)
                    .where(subtask_key(task_id, sub.index), subtasks.c.status.not_in(FINAL))
                    .values(
                        status="FAIL", result=done.results.get(sub.index), finish_time=now,
                        lease_token=None, lease_until=None,
                    )
                )  # fmt: skip
                self._history(conn, task_id, "aborted", sub.index, sub.attempts or None)
            conn.execute(
                sa.update(tasks)
                .where(tasks.c.task_id == task_id)
                .values(**aborted_fields(task, now, done.workflow_task))
            )
            for target, payload in done.events:
                insert_event(conn, task_id, target, payload, now)
            self._history(
                conn, task_id, "finished", detail=finished_detail(ABORTED_ERR_CODE, ABORTED_MESSAGE)
            )
            return self._fetch_task(conn, task_id)

    def redo_task(
        self, task_id: str, planner: Callable[[TaskRecord, list[SubtaskRecord]], Followup]
    ) -> TaskRecord:
        """See :meth:`mps.store.base.Tasks.redo_task`.

        Raises:
            ResourceNotFoundError: ``ResourceNotFound.TaskNotFound``.
            MpsError: ``FailedOperation`` when the task is not FINISH or nothing failed.
        """
        now = self._now()
        with self._write() as conn:
            task = self._fetch_task(conn, task_id, lock=self._postgres)
            followup = planner(task, self._fetch_subtasks(conn, task_id))
            check_redoable(task, followup)
            for index, status in followup.updates.items():
                conn.execute(
                    sa.update(subtasks)
                    .where(subtask_key(task_id, index))
                    .values(
                        status=status, result=None, progress=0, finish_time=None,
                        lease_token=None, lease_until=None,
                    )
                )  # fmt: skip
                if status == "WAITING":
                    self._history(conn, task_id, "ready", index, detail={"Redo": True})
            conn.execute(sa.update(tasks).where(tasks.c.task_id == task_id).values(**REDONE_FIELDS))
            for target, payload in followup.events:
                insert_event(conn, task_id, target, payload, now)
            return self._fetch_task(conn, task_id)


def _task_filters(
    status: TaskStatus, failed: bool | None, start: datetime | None, end: datetime | None
) -> list[sa.ColumnElement[bool]]:
    """The WHERE clauses of DescribeTasks' filters (times on ``create_time``, start inclusive)."""
    where = [tasks.c.status == status]
    if start is not None:
        where.append(tasks.c.create_time >= start)
    if end is not None:
        where.append(tasks.c.create_time < end)
    if failed is not None:
        has_failed = sa.or_(
            tasks.c.err_code != 0,
            sa.exists().where(subtasks.c.task_id == tasks.c.task_id, subtasks.c.status == "FAIL"),
        )
        where.append(has_failed if failed else sa.not_(has_failed))
    return where
