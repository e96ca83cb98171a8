"""``MemoryTaskStore``: the in-memory twin of :class:`mps.store.sql.SqlTaskStore`, with the same
semantics (one lock instead of transactions and unique keys), for unit tests of upper layers.
JSON goes in and comes out as deep copies, as it would through a database."""

from __future__ import annotations

import copy
import itertools
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from mps.store._rules import (
    check_subtask_status,
    decode_scroll_token,
    encode_scroll_token,
    subtask_not_found,
    task_not_found,
    trigger_taken,
)
from mps.store.base import (
    ABORTED_ERR_CODE,
    ABORTED_MESSAGE,
    DEFAULT_OUTBOX_LEASE,
    FINAL_SUBTASK_STATUSES,
    SESSION_TTL,
    Advance,
    Clock,
    Completion,
    ConflictError,
    EventTarget,
    Followup,
    JsonDict,
    Merger,
    NewSubtask,
    NewTask,
    OutboxRecord,
    SubtaskRecord,
    SubtaskStatus,
    TaskPage,
    TaskQuery,
    TaskRecord,
    TaskStats,
    TaskStatus,
    UnstartedSubtask,
    utc_now,
)
from mps.store.console_rules import matches_query, summarize
from mps.store.history import (
    created_events,
    delivered_detail,
    finish_detail,
    finished_detail,
    followup_detail,
    probed_detail,
    split_detail,
    started_detail,
    status_event,
)
from mps.store.memory_catalog import MemoryCatalog
from mps.store.memory_history import MemoryHistory
from mps.store.memory_leases import MemoryLeases
from mps.store.transitions import (
    REDONE_FIELDS,
    OwedEvent,
    aborted_fields,
    can_finish,
    can_start,
    check_abortable,
    check_redoable,
    finished_fields,
    lease_fields,
)


def _copy(value: Any) -> Any:
    return copy.deepcopy(value)


class MemoryTaskStore(MemoryCatalog, MemoryLeases, MemoryHistory):
    """The :class:`mps.store.base.TaskStore` in dicts behind one lock.

    Parameters:
        clock: the source of "now" (UTC), replaceable in tests.
    """

    def __init__(self, clock: Clock = utc_now) -> None:
        super().__init__(threading.RLock(), clock)
        MemoryLeases.__init__(self, self._lock, clock)
        MemoryHistory.__init__(self, self._lock, clock)
        self._tasks: dict[str, TaskRecord] = {}
        self._positions: dict[str, int] = {}
        self._sessions: dict[str, str] = {}
        self._subtasks: dict[str, list[SubtaskRecord]] = {}
        self._outbox: dict[int, OutboxRecord] = {}
        self._counter = itertools.count(1)
        self._deadlines: dict[str, datetime] = {}

    def close(self) -> None:
        """Nothing to release (present for symmetry with ``SqlTaskStore``)."""

    # -- tasks ---------------------------------------------------------------------------------

    def create_task(self, new: NewTask) -> tuple[TaskRecord, bool]:
        """See :meth:`mps.store.sql_tasks.TasksMixin.create_task`."""
        with self._lock:
            existing = self._repeat_of(new)
            if existing is not None:
                return _copy(existing), False
            if new.task_id in self._tasks:
                raise ConflictError(
                    f"task {new.task_id!r} already exists", code="InvalidParameterValue.TaskId"
                )
            now = self._now()
            task = TaskRecord(
                task_id=new.task_id,
                status="WAITING",
                request=_copy(new.request),
                workflow_task=_copy(new.workflow_task),
                metadata=None,
                err_code=0,
                message="",
                session_id=new.session_id,
                session_context=new.session_context,
                notify=_copy(new.notify),
                priority=new.priority,
                workflow_id=new.workflow_id,
                create_time=now,
                begin_time=None,
                finish_time=None,
            )
            self._tasks[task.task_id] = task
            if new.deadline is not None:
                self._deadlines[task.task_id] = new.deadline
            self._positions[task.task_id] = next(self._counter)
            self._subtasks[task.task_id] = []
            self._append_subtasks(task.task_id, new.subtasks)
            for event, index in created_events(new.subtasks):
                self._history(task.task_id, event, index)
            if new.session_id is not None:
                self._sessions[new.session_id] = task.task_id
            if new.trigger is not None:
                self._triggers[new.trigger] = task.task_id
            return _copy(task), True

    def _repeat_of(self, new: NewTask) -> TaskRecord | None:
        """The task already answering this trigger or (live) SessionId; frees an expired one."""
        if new.trigger is not None and new.trigger in self._triggers:
            holder_id = self._triggers[new.trigger]
            if holder_id is None or holder_id not in self._tasks:
                raise trigger_taken(new.trigger)
            return self._tasks[holder_id]
        if new.session_id is None or new.session_id not in self._sessions:
            return None
        holder = self._tasks[self._sessions[new.session_id]]
        if holder.create_time > self._now() - SESSION_TTL:
            return holder
        self._tasks[holder.task_id] = replace(holder, session_id=None)
        del self._sessions[new.session_id]
        return None

    def _append_subtasks(self, task_id: str, new: Sequence[NewSubtask]) -> int:
        subs = self._subtasks[task_id]
        first = len(subs)
        for i, spec in enumerate(new):
            subs.append(
                SubtaskRecord(
                    task_id=task_id,
                    index=first + i,
                    kind=spec.kind,
                    status=spec.status,
                    input=_copy(spec.input),
                    result=None,
                    progress=0,
                    attempts=0,
                    begin_time=None,
                    finish_time=None,
                )
            )
        return first

    def _task(self, task_id: str) -> TaskRecord:
        try:
            return self._tasks[task_id]
        except KeyError:
            raise task_not_found(task_id) from None

    def get_task(self, task_id: str) -> TaskRecord:
        """See :meth:`mps.store.sql_tasks.TasksMixin.get_task`."""
        with self._lock:
            return _copy(self._task(task_id))

    def get_subtasks(self, task_id: str) -> list[SubtaskRecord]:
        """See :meth:`mps.store.sql_tasks.TasksMixin.get_subtasks`."""
        with self._lock:
            return _copy(self._subtasks.get(task_id, []))

    def get_task_detail(self, task_id: str) -> tuple[TaskRecord, list[SubtaskRecord]]:
        """See :meth:`mps.store.sql_tasks.TasksMixin.get_task_detail`."""
        with self._lock:
            return _copy(self._task(task_id)), _copy(self._subtasks.get(task_id, []))

    def list_overdue_tasks(self, now: datetime, limit: int = 100) -> list[str]:
        """See :meth:`mps.store.base.Tasks.list_overdue_tasks`."""
        with self._lock:
            overdue = [
                (deadline, task_id)
                for task_id, task in self._tasks.items()
                if task.status != "FINISH" and (deadline := self._deadlines.get(task_id)) and deadline <= now
            ]
        return [task_id for _, task_id in sorted(overdue)[:limit]]

    def list_unstarted_subtasks(self, created_before: datetime, limit: int = 1000) -> list[UnstartedSubtask]:
        """See :meth:`mps.store.base.TaskStore.list_unstarted_subtasks`."""
        now = self._now()
        with self._lock:
            found = [
                UnstartedSubtask(task.task_id, sub.index, task.priority)
                for task in self._tasks.values()  # insertion order: oldest task first
                if task.status in ("WAITING", "PROCESSING")
                for sub in self._subtasks.get(task.task_id, [])
                if (sub.status == "WAITING" and sub.attempts == 0 and task.create_time <= created_before)
                or (sub.status == "PROCESSING" and sub.lease_until is not None and sub.lease_until <= now)
            ]
        return found[:limit]

    def list_tasks(
        self,
        status: TaskStatus,
        limit: int = 10,
        scroll_token: str = "",
        sub_task_has_failed: bool | None = None,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
    ) -> tuple[list[TaskRecord], str]:
        """See :meth:`mps.store.sql_tasks.TasksMixin.list_tasks`."""
        after = decode_scroll_token(scroll_token)
        limit = max(limit, 1)
        with self._lock:
            found = [
                (pos, task)
                for task_id, pos in sorted(self._positions.items(), key=lambda item: -item[1])
                if (after is None or pos < after)
                and self._matches(
                    task := self._tasks[task_id], status, sub_task_has_failed, start_time, end_time
                )
            ]
            page = found[:limit]
            token = encode_scroll_token(page[-1][0]) if len(found) > limit else ""
            return [_copy(task) for _, task in page], token

    def count_tasks(
        self,
        status: TaskStatus,
        sub_task_has_failed: bool | None = None,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
    ) -> int:
        """See :meth:`mps.store.sql_tasks.TasksMixin.count_tasks`."""
        with self._lock:
            return sum(
                self._matches(task, status, sub_task_has_failed, start_time, end_time)
                for task in self._tasks.values()
            )

    def _matches(
        self, task: TaskRecord, status: str, failed: bool | None, start: datetime | None, end: datetime | None
    ) -> bool:
        if task.status != status or (start is not None and task.create_time < start):
            return False
        if end is not None and task.create_time >= end:
            return False
        has_failed = task.err_code != 0 or any(s.status == "FAIL" for s in self._subtasks[task.task_id])
        return failed is None or failed == has_failed

    def find_tasks(self, query: TaskQuery, limit: int = 50, before: int | None = None) -> TaskPage:
        """See :meth:`mps.store.sql_console.ConsoleMixin.find_tasks`."""
        limit = max(limit, 1)
        with self._lock:
            found = [
                summarize(pos, self._tasks[task_id], self._subtasks[task_id])
                for task_id, pos in sorted(self._positions.items(), key=lambda item: -item[1])
                if (before is None or pos < before)
                and matches_query(self._tasks[task_id], self._subtasks[task_id], query)
            ]
        page = found[:limit]
        return TaskPage(page, page[-1].position if len(found) > limit else None)

    def task_stats(self) -> TaskStats:
        """See :meth:`mps.store.sql_console.ConsoleMixin.task_stats`."""
        by_status: dict[str, int] = {"WAITING": 0, "PROCESSING": 0, "FINISH": 0}
        by_err_code: dict[int, int] = {}
        with self._lock:
            for task in self._tasks.values():
                by_status[task.status] += 1
                if task.status == "FINISH" and task.err_code:
                    by_err_code[task.err_code] = by_err_code.get(task.err_code, 0) + 1
            waiting = self.list_unstarted_subtasks(self._now(), limit=1)
            oldest = self._tasks[waiting[0].task_id].create_time if waiting else None
            unsent = [e.created_at for e in self._outbox.values() if e.sent_at is None]
        return TaskStats(by_status, by_err_code, oldest, min(unsent, default=None))

    def purge_tasks(self, finished_before: datetime, limit: int = 1000) -> int:
        """See :meth:`mps.store.base.TaskStore.purge_tasks`."""
        with self._lock:
            undelivered = {e.task_id for e in self._outbox.values() if e.sent_at is None}
            expired = [
                task_id for task_id, task in self._tasks.items()
                if task.status == "FINISH" and task.finish_time is not None
                and task.finish_time < finished_before and task_id not in undelivered
            ][: max(limit, 0)]  # fmt: skip
            for task_id in expired:
                task = self._tasks.pop(task_id)
                self._subtasks.pop(task_id, None)
                self._positions.pop(task_id, None)
                self._forget_history(task_id)
                if task.session_id is not None and self._sessions.get(task.session_id) == task_id:
                    del self._sessions[task.session_id]
            for event_id, event in list(self._outbox.items()):
                if event.sent_at is not None and event.sent_at < finished_before:
                    del self._outbox[event_id]
            return len(expired)

    def start_task(self, task_id: str) -> bool:
        """See :meth:`mps.store.sql_tasks.TasksMixin.start_task`."""
        with self._lock:
            task = self._task(task_id)
            if task.status != "WAITING":
                return False
            self._tasks[task_id] = replace(task, status="PROCESSING", begin_time=self._now())
            return True

    def set_metadata(self, task_id: str, metadata: JsonDict) -> None:
        """See :meth:`mps.store.sql_tasks.TasksMixin.set_metadata`."""
        with self._lock:
            self._tasks[task_id] = replace(self._task(task_id), metadata=_copy(metadata))
            self._history(task_id, "probed", detail=probed_detail(metadata))

    def abort_task(self, task_id: str, completion: Completion | Merger) -> TaskRecord:
        """See :meth:`mps.store.sql_tasks.TasksMixin.abort_task`."""
        with self._lock:
            task = self._task(task_id)
            check_abortable(task)
            now = self._now()
            subs = self._subtasks[task_id]
            done = completion if isinstance(completion, Completion) else completion(_copy(task), _copy(subs))
            self._subtasks[task_id] = [
                s
                if s.status in FINAL_SUBTASK_STATUSES
                else replace(
                    s,
                    status="FAIL",
                    result=_copy(done.results.get(s.index)),
                    finish_time=now,
                    **lease_fields(None, None, now),
                )  # fmt: skip
                for s in subs
            ]
            for s in subs:
                if s.status not in FINAL_SUBTASK_STATUSES:
                    self._history(task_id, "aborted", s.index, s.attempts or None)
            self._tasks[task_id] = replace(task, **aborted_fields(task, now, _copy(done.workflow_task)))
            for target, payload in done.events:
                self._insert_event(task_id, target, payload)
            self._history(task_id, "finished", detail=finished_detail(ABORTED_ERR_CODE, ABORTED_MESSAGE))
            return _copy(self._tasks[task_id])

    def redo_task(
        self, task_id: str, planner: Callable[[TaskRecord, list[SubtaskRecord]], Followup]
    ) -> TaskRecord:
        """See :meth:`mps.store.sql_tasks.TasksMixin.redo_task`."""
        with self._lock:
            task = self._task(task_id)
            followup = planner(_copy(task), _copy(self._subtasks[task_id]))
            check_redoable(task, followup)
            subs = self._subtasks[task_id]
            for index, status in followup.updates.items():
                subs[index] = replace(
                    subs[index], status=status, result=None, progress=0, finish_time=None,
                    **lease_fields(None, None, self._now()),
                )  # fmt: skip
                if status == "WAITING":
                    self._history(task_id, "ready", index, detail={"Redo": True})
            self._tasks[task_id] = replace(task, **REDONE_FIELDS)
            for target, payload in followup.events:
                self._insert_event(task_id, target, payload)
            return _copy(self._tasks[task_id])

    # -- sub-tasks -----------------------------------------------------------------------------

    def add_subtasks(self, task_id: str, new: Sequence[NewSubtask]) -> int:
        """See :meth:`mps.store.sql_subtasks.SubtasksMixin.add_subtasks`."""
        with self._lock:
            self._task(task_id)
            first = self._append_subtasks(task_id, new)
            for event, at in created_events(new, first, created=False):
                self._history(task_id, event, at)
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
        with self._lock:
            self._task(task_id)
            sub = self._subtask(task_id, index)
            if sub.status != "PROCESSING" or sub.lease_token != token:
                return None
            self._subtasks[task_id][index] = replace(
                sub, status="PENDING", progress=0, **lease_fields(None, None, self._now())
            )
            first = self._append_subtasks(task_id, parts)
            self._history(task_id, "split", index, detail=split_detail(first, len(parts)))
            for event, at in created_events(parts, first, created=False):
                self._history(task_id, event, at)
            for target, payload in work(list(range(first, first + len(parts)))):
                self._insert_event(task_id, target, payload)
            return first

    def _subtask(self, task_id: str, index: int) -> SubtaskRecord:
        subs = self._subtasks.get(task_id, [])
        if not 0 <= index < len(subs):
            raise subtask_not_found(task_id, index)
        return subs[index]

    def start_subtask(
        self,
        task_id: str,
        index: int,
        token: str | None = None,
        lease: timedelta | None = None,
        host: str = "",
    ) -> SubtaskRecord | None:
        """See :meth:`mps.store.sql_subtasks.SubtasksMixin.start_subtask`."""
        with self._lock:
            if self._task(task_id).status == "FINISH":
                return None
            sub = self._subtask(task_id, index)
            now = self._now()
            if not can_start(sub, now):
                return None
            sub = replace(
                sub,
                status="PROCESSING",
                attempts=sub.attempts + 1,
                begin_time=sub.begin_time or now,
                **lease_fields(token, lease, now),
            )
            self._subtasks[task_id][index] = sub
            self.start_task(task_id)
            self._history(task_id, "started", index, sub.attempts, started_detail(host))
            return _copy(sub)

    def renew_subtask_lease(self, task_id: str, index: int, token: str, lease: timedelta) -> bool:
        """See :meth:`mps.store.sql_subtasks.SubtasksMixin.renew_subtask_lease`."""
        with self._lock:
            sub = self._subtask(task_id, index)
            if sub.status != "PROCESSING" or sub.lease_token != token:
                return False
            self._subtasks[task_id][index] = replace(sub, lease_until=self._now() + lease)
            return True

    def retry_subtask(
        self,
        task_id: str,
        index: int,
        token: str | None,
        event: tuple[EventTarget, JsonDict],
        delay: timedelta,
    ) -> bool:
        """See :meth:`mps.store.base.Tasks.retry_subtask`."""
        with self._lock:
            sub = self._subtask(task_id, index)
            if sub.status in FINAL_SUBTASK_STATUSES or (token is not None and sub.lease_token != token):
                return False
            self._subtasks[task_id][index] = replace(
                sub, status="WAITING", **lease_fields(None, None, self._now())
            )
            self._insert_event(task_id, event[0], event[1], due=self._now() + delay)
            self._history(task_id, "retried", index, detail={"InSeconds": delay.total_seconds()})
            return True

    def release_subtask_lease(self, task_id: str, index: int, token: str) -> bool:
        """See :meth:`mps.store.base.Tasks.release_subtask_lease`."""
        with self._lock:
            sub = self._subtask(task_id, index)
            if sub.status != "PROCESSING" or sub.lease_token != token:
                return False
            self._subtasks[task_id][index] = replace(sub, lease_until=None)
            return True

    def update_progress(self, task_id: str, index: int, progress: int) -> bool:
        """See :meth:`mps.store.sql_subtasks.SubtasksMixin.update_progress`."""
        with self._lock:
            subs = self._subtasks.get(task_id, [])
            if not 0 <= index < len(subs) or subs[index].status in FINAL_SUBTASK_STATUSES:
                return False
            subs[index] = replace(subs[index], progress=min(max(int(progress), 0), 100))
            return True

    def finish_subtask(
        self,
        task_id: str,
        index: int,
        result: JsonDict,
        status: SubtaskStatus,
        token: str | None = None,
        then: Advance | None = None,
    ) -> bool:
        """See :meth:`mps.store.sql_subtasks.SubtasksMixin.finish_subtask`."""
        check_subtask_status(status)
        with self._lock:
            sub = self._subtask(task_id, index)
            if sub.status in FINAL_SUBTASK_STATUSES or (token is not None and sub.lease_token != token):
                return False
            progress = 100 if status == "SUCCESS" else sub.progress
            self._subtasks[task_id][index] = replace(
                sub,
                status=status,
                result=_copy(result),
                progress=progress,
                finish_time=self._now(),
                **lease_fields(None, None, self._now()),
            )
            self._history(task_id, status_event(status), index, sub.attempts, finish_detail(status, result))
            if then is not None:
                followup = then(_copy(self._task(task_id)), _copy(self._subtasks[task_id]))
                self._follow(task_id, followup, (index, status))
            return True

    def _follow(self, task_id: str, followup: Followup, by: tuple[int, str] = (-1, "")) -> None:
        """See :meth:`mps.store.sql_subtasks.SubtasksMixin._follow`."""
        subs = self._subtasks[task_id]
        for other, new_status in followup.updates.items():
            if subs[other].status == "PENDING":
                final = new_status in FINAL_SUBTASK_STATUSES
                subs[other] = replace(
                    subs[other], status=new_status, finish_time=self._now() if final else None
                )
                self._history(
                    task_id, status_event(new_status), other, detail=followup_detail(new_status, *by)
                )
        for target, payload in followup.events:
            self._insert_event(task_id, target, payload)

    def try_finish_task(self, task_id: str, completion: Completion | Merger) -> bool:
        """See :meth:`mps.store.sql_subtasks.SubtasksMixin.try_finish_task`."""
        with self._lock:
            task = self._task(task_id)
            subs = self._subtasks[task_id]
            if not can_finish(task, subs):
                return False
            done = completion if isinstance(completion, Completion) else completion(_copy(task), _copy(subs))
            fields = finished_fields(task, _copy(done), self._now())
            self._tasks[task_id] = replace(task, **fields)
            self._history(task_id, "finished", detail=finished_detail(fields["err_code"], fields["message"]))
            for target, payload in done.events:
                self._insert_event(task_id, target, payload)
            return True

    # -- outbox --------------------------------------------------------------------------------

    def _insert_event(
        self, task_id: str | None, target: EventTarget, payload: JsonDict, due: datetime | None = None
    ) -> int:
        event_id = next(self._counter)
        now = self._now()
        self._outbox[event_id] = OutboxRecord(
            id=event_id,
            task_id=task_id,
            target=target,
            payload=_copy(payload),
            created_at=now,
            attempts=0,
            next_attempt_at=due or now,
            sent_at=None,
            last_error="",
        )
        return event_id

    def add_event(self, task_id: str | None, target: EventTarget, payload: JsonDict) -> int:
        """See :meth:`mps.store.sql_outbox.OutboxMixin.add_event`."""
        return self.add_events(task_id, [(target, payload)])[0]

    def add_events(self, task_id: str | None, events: Sequence[OwedEvent]) -> list[int]:
        """See :meth:`mps.store.sql_outbox.OutboxMixin.add_events`."""
        with self._lock:
            return [self._insert_event(task_id, target, payload) for target, payload in events]

    def claim_outbox(
        self, limit: int, now: datetime | None = None, lease: timedelta = DEFAULT_OUTBOX_LEASE
    ) -> list[OutboxRecord]:
        """See :meth:`mps.store.sql_outbox.OutboxMixin.claim_outbox`."""
        now = now or self._now()
        with self._lock:
            due = [
                e for _, e in sorted(self._outbox.items()) if e.sent_at is None and e.next_attempt_at <= now
            ]
            claimed = [replace(e, attempts=e.attempts + 1, next_attempt_at=now + lease) for e in due[:limit]]
            self._outbox.update((e.id, e) for e in claimed)
            return _copy(claimed)

    def mark_sent(self, event_id: int) -> None:
        """See :meth:`mps.store.sql_outbox.OutboxMixin.mark_sent`."""
        with self._lock:
            event = self._outbox.get(event_id)
            if event is not None and event.sent_at is None:
                self._outbox[event_id] = replace(event, sent_at=self._now())
                if event.task_id is not None and event.task_id in self._tasks:
                    self._history(event.task_id, "delivered", detail=delivered_detail(event.target))

    def mark_failed(self, event_id: int, error: str, retry_at: datetime) -> None:
        """See :meth:`mps.store.sql_outbox.OutboxMixin.mark_failed`."""
        with self._lock:
            event = self._outbox.get(event_id)
            if event is not None and event.sent_at is None:
                self._outbox[event_id] = replace(event, last_error=error[:4000], next_attempt_at=retry_at)

    def list_events(self, task_id: str) -> list[OutboxRecord]:
        """See :meth:`mps.store.sql_outbox.OutboxMixin.list_events`."""
        with self._lock:
            return _copy([e for _, e in sorted(self._outbox.items()) if e.task_id == task_id])
