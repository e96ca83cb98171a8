"""The task lifecycle: every transition of a task and its sub-tasks, in one place.

=============================  ============================================  ==========================
transition                     state change                                  outbox rows, same commit
=============================  ============================================  ==========================
:func:`create_task`           a WAITING task and its WAITING sub-tasks      none
:meth:`Lifecycle.start`        a sub-task PROCESSING (attempt + 1), and the  none
                               task PROCESSING with it
:meth:`Lifecycle.probed`       the input's MetaData                          none
:meth:`Lifecycle.progress`     a sub-task's Progress                         none
:meth:`Lifecycle.split`        a transcode PENDING, its chunk sub-tasks      the chunks' work messages
                               appended (:mod:`mps.workflow.chunks`)
:meth:`Lifecycle.changed`      none (NotifyMode ``Change``)                  the PROCESSING event to
                                                                             the events exchange and
                                                                             the notify target
:meth:`Lifecycle.finish`       a sub-task SUCCESS or FAIL, once; when it     the FINISH event to the
                               was the last, the task FINISH with the        events exchange and the
                               merged record                                 notify target
:meth:`Lifecycle.finish_chunk` a chunk SUCCESS or FAIL, once; when it was    the transcode's work
                               its transcode's last, the transcode WAITING   message (the join)
:meth:`Lifecycle.abort`        a WAITING or PROCESSING task FINISH with the  the FINISH event to both
                               abort code, its unfinished sub-tasks FAIL     targets
:meth:`Lifecycle.redo`         a FINISH task PROCESSING again, its failed    the work messages of the
                               sub-tasks WAITING (or PENDING, in a DAG)      ones that can run
=============================  ============================================  ==========================

Each row is one transaction of the store: a transition and the events it owes are committed
together or not at all, so no crash, no database blip between two writes, can leave a finished
task without its events. Consumers may see an event twice (the relay's at-least-once), never zero
times.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

from mps.errors import MpsError
from mps.models import MediaProcessTaskResult
from mps.models.schedules import RetryPolicy
from mps.store.base import (
    ABORTED_ERR_CODE,
    ABORTED_MESSAGE,
    FINAL_SUBTASK_STATUSES,
    Completion,
    EventTarget,
    Followup,
    JsonDict,
    NewTask,
    SubtaskRecord,
    SubtaskStatus,
    TaskRecord,
    Tasks,
    TaskStore,
)
from mps.workflow.chunks import ChunkJob, chunk_progress, chunk_rows, is_hidden, release_parents, visible
from mps.workflow.execute import failed_result
from mps.workflow.kinds import KINDS
from mps.workflow.merge import is_orchestration, merge_task, notification
from mps.workflow.messages import work_row
from mps.workflow.notify import FINISH_KEY, PROCESSING_KEY, events_target, notify_target, wants_changes
from mps.workflow.orchestration import (
    SCHEDULE_TASK,
    activity_retry,
    advance,
    core_outcome,
    redo_activities,
    retryable,
)

log = logging.getLogger("mps.workflow.lifecycle")


def create_task(store: Tasks, new: NewTask) -> tuple[TaskRecord, bool]:
    """The first transition: a WAITING task and its WAITING sub-tasks (it owes no event).

    Returns:
        The task, and False when a repeated SessionId or bucket trigger named an existing one.
    """
    return store.create_task(new)


class Lifecycle:
    """The transitions of tasks in one store.

    Parameters:
        store: the task store; every transition is one of its transactions.
        events_exchange: ``MPS_EVENTS_EXCHANGE``, where every task's events go besides its own
            ``TaskNotifyConfig`` target.
    """

    def __init__(
        self, store: TaskStore, events_exchange: str, *, default_retry: RetryPolicy | None = None
    ) -> None:
        self.store, self.events_exchange = store, events_exchange
        #: The retries of workflow sub-tasks (``MPS_SUBTASK_RETRIES``); activities have their own.
        self.default_retry = default_retry

    def targets(self, task: TaskRecord, routing_key: str) -> list[EventTarget]:
        """Where an event of ``task`` goes: the events exchange, and its notify target if it has one.

        ``routing_key`` is a workflow task's (``WorkflowTask.FINISH``); an orchestration's events
        go out as ``ScheduleTask.FINISH`` (and ``.PROCESSING``), after their ``EventType``.
        """
        if is_orchestration(task):
            routing_key = routing_key.replace("WorkflowTask.", f"{SCHEDULE_TASK}.", 1)
        notify = notify_target(task.notify, routing_key, task.task_id)
        return [events_target(self.events_exchange, routing_key), *([notify] if notify else [])]

    def release(self, task_id: str, index: int, token: str) -> bool:
        """Attempt ``token`` gives its sub-task up (it failed; its message will be retried)."""
        return self.store.release_subtask_lease(task_id, index, token)

    def probed(self, task_id: str, metadata: JsonDict) -> None:
        """Record the probe of the task's input (its ``MetaData``)."""
        self.store.set_metadata(task_id, metadata)

    def start(
        self,
        task_id: str,
        index: int,
        token: str | None = None,
        lease: timedelta | None = None,
        host: str = "",
    ) -> SubtaskRecord | None:
        """Sub-task ``index`` (and its task) to PROCESSING, held by attempt ``token`` for ``lease``,
        its ``started`` event naming ``host`` (the worker: host name and process id); None when it
        is final already (a redelivery, an aborted task) or a live attempt holds it (a copy): the
        caller must not run it."""
        return self.store.start_subtask(task_id, index, token, lease, host)

    def renew(self, task_id: str, index: int, token: str, lease: timedelta) -> bool:
        """Extend attempt ``token``'s hold; False when the attempt is fenced off (see
        :mod:`mps.worker.fence`)."""
        return self.store.renew_subtask_lease(task_id, index, token, lease)

    def split(self, task_id: str, index: int, token: str, jobs: Sequence[ChunkJob], priority: int) -> bool:
        """Attempt ``token``'s transcode ``index`` is cut into chunk sub-tasks ``jobs``, their work
        messages in the same transaction; False when the attempt was fenced off (nothing changed)."""

        def work(indexes: list[int]) -> list[tuple[EventTarget, JsonDict]]:
            return [work_row(task_id, (chunk,), priority) for chunk in indexes]

        first = self.store.split_subtask(task_id, index, token, chunk_rows(jobs), work)
        if first is None:
            return False
        log.info(
            "task %s sub-task %d split into chunk sub-tasks %d-%d",
            task_id,
            index,
            first,
            first + len(jobs) - 1,
        )
        return True

    def finish_chunk(
        self,
        task: TaskRecord,
        index: int,
        parent: int,
        result: JsonDict,
        status: SubtaskStatus,
        token: str,
        attempt: int,
    ) -> bool:
        """Commit chunk sub-task ``index`` of transcode ``parent`` once; the commit of the
        transcode's last chunk releases it (its join) in the same transaction. A failure the
        transcode's retry policy covers runs the chunk again instead. False when nothing was
        committed (a redelivery, or fenced off).
        """
        if status == "FAIL" and self._retried(task, index, result, token, attempt, policy_of=parent):
            return False
        committed = self.store.finish_subtask(task.task_id, index, result, status, token, release_parents)
        if committed:
            subtasks = self.store.get_subtasks(task.task_id)
            self.progress(task.task_id, parent, chunk_progress(subtasks, parent))
            log.info("task %s chunk sub-task %d (of %d) %s", task.task_id, index, parent, status)
        return committed

    def progress(self, task_id: str, index: int, percent: int) -> bool:
        """Record a running sub-task's progress (advisory: False once it is final)."""
        return self.store.update_progress(task_id, index, percent)

    def changed(self, task: TaskRecord) -> None:
        """NotifyMode ``Change``: a PROCESSING event with the task as it is now, to every target.

        Parameters:
            task: the task as the caller last read it (re-read only when it wants the event).
        """
        if not wants_changes(task.notify):
            return
        fresh = self.store.get_task(task.task_id)
        if fresh.status == "FINISH":
            return
        event = notification(merge_task(fresh, self.store.get_subtasks(task.task_id)), fresh)
        targets = self.targets(fresh, PROCESSING_KEY)
        self.store.add_events(task.task_id, [(target, event) for target in targets])

    def finish(
        self,
        task: TaskRecord,
        index: int,
        entry: MediaProcessTaskResult,
        source_error: MpsError | None = None,
        token: str | None = None,
        attempt: int = 1,
    ) -> bool:
        """Commit sub-task ``index``'s result once, then finish the task if it was the last.

        A failure its retry policy covers (the activity's ``RetryPolicy``, or the service default
        for workflow sub-tasks) is not committed: the sub-task goes back to WAITING and its work
        message is queued after the policy's delay (the *retried* transition).

        Parameters:
            task: the task.
            index: the sub-task.
            entry: its result entry (SUCCESS or FAIL).
            source_error: the input's own failure, when the sub-task failed because of it: the
                task's ErrCode says so (mps-api.md §7).
            token: the attempt committing: only the attempt that holds the sub-task can.
            attempt: which run of the sub-task this was (1 for the first).

        Returns:
            True when this call finished the task.
        """
        status = entry.result.Status
        wire = entry.to_wire()
        if status == "FAIL" and source_error is None and self._retried(task, index, wire, token, attempt):
            return False
        then = advance if is_orchestration(task) else None  # an activity may release its successors
        committed = self.store.finish_subtask(task.task_id, index, wire, status, token, then)
        if committed:
            log.info("task %s sub-task %d %s", task.task_id, index, status)
        if self.try_finish(task.task_id, source_error):
            return True
        if committed:
            self.changed(task)
        return False

    def _retried(
        self,
        task: TaskRecord,
        index: int,
        result: JsonDict,
        token: str | None,
        attempt: int,
        *,
        policy_of: int | None = None,
    ) -> bool:
        """Queue another run of a failed sub-task when its policy covers the failure; True if queued.

        ``policy_of``: the sub-task whose policy applies (a chunk runs under its transcode's).
        """
        owner = index if policy_of is None else policy_of
        policy = activity_retry(task, owner) if is_orchestration(task) else self.default_retry
        code = str(_inner(result).get("ErrCodeExt") or "")
        if policy is None or attempt >= policy.MaxAttempts or not retryable(policy, code):
            return False
        delay = timedelta(seconds=policy.IntervalSeconds * policy.BackoffRate ** (attempt - 1))
        event = work_row(task.task_id, (index,), task.priority)
        if not self.store.retry_subtask(task.task_id, index, token, event, delay):
            return False
        log.warning(
            "task %s sub-task %d failed (%s), run %d of %d: runs again in %.0f s",
            task.task_id, index, code, attempt, policy.MaxAttempts, delay.total_seconds(),
        )  # fmt: skip
        return True

    def try_finish(self, task_id: str, source_error: MpsError | None = None) -> bool:
        """Finish the task if every sub-task is final: the merged record, FINISH and its events in
        one transaction. True for the one call (of all workers racing) that did."""

        def merger(task: TaskRecord, subtasks: list[SubtaskRecord]) -> Completion:
            workflow_task = merge_task(task, subtasks, finished=True)
            if source_error is not None:
                message = f"{source_error.code}: {source_error.message}"
                workflow_task = workflow_task.model_copy(
                    update={"ErrCode": source_error.err_code, "Message": message}
                )
            elif is_orchestration(task):
                workflow_task = workflow_task.model_copy(update=core_outcome(task, subtasks))
            event = notification(workflow_task, task)
            owed = [(target, event) for target in self.targets(task, FINISH_KEY)]
            return Completion(workflow_task=workflow_task.to_wire(), events=owed)

        finished = self.store.try_finish_task(task_id, merger)
        if finished:
            log.info("task %s FINISH", task_id)
        return finished

    def abort(self, task_id: str, *, timeout: float | None = None) -> TaskRecord:
        """End a WAITING or PROCESSING task (``ManageTask`` ``Abort``), with one FINISH event.

        In one transaction: every sub-task (or activity) not final fails with
        ``FailedOperation.Aborted``, the outputs of finished ones are kept, the task is FINISH with
        the abort's ErrCode, and its FINISH event goes to every target. Queued work is dropped when
        it arrives (its task is FINISH); running work stops within a lease renewal: its holder's
        renewal is refused, which kills its ffmpeg and forbids its upload and commit.

        Parameters:
            timeout: the task's ``TimeoutSeconds`` when it is aborted for running past them: its
                unfinished parts fail with ``FailedOperation.Timeout`` and its Message says so.

        Raises:
            ResourceNotFoundError: ``ResourceNotFound.TaskNotFound``.
            MpsError: ``FailedOperation`` when the task has already finished.
        """
        if timeout is None:
            error = MpsError("the task was aborted (ManageTask Abort)", code="FailedOperation.Aborted")
            message = ABORTED_MESSAGE
        else:
            message = f"the task timed out after {timeout:g} s (TimeoutSeconds)"
            error = MpsError(message, code="FailedOperation.Timeout")

        def merger(task: TaskRecord, subtasks: list[SubtaskRecord]) -> Completion:
            aborted = replace(task, status="FINISH", err_code=ABORTED_ERR_CODE, message=message)
            results = {
                s.index: failed_result(
                    s.kind, KINDS.named(s.kind).input_model.model_validate(s.input), error
                ).to_wire()
                for s in subtasks
                if s.status not in FINAL_SUBTASK_STATUSES
                and s.kind not in ("input", "output")
                and not is_hidden(s)
            }
            ended = [
                replace(s, status="FAIL", result=results.get(s.index))
                if s.status not in FINAL_SUBTASK_STATUSES
                else s
                for s in subtasks
            ]
            record = merge_task(aborted, ended, finished=True)
            event = notification(record, aborted)
            owed = [(target, event) for target in self.targets(task, FINISH_KEY)]
            return Completion(workflow_task=record.to_wire(), events=owed, results=results)

        record = self.store.abort_task(task_id, merger)
        log.info("task %s aborted", task_id)
        return record

    def redo(self, task_id: str) -> TaskRecord:
        """Run a FINISH task's failed (or aborted) sub-tasks or activities again, under the same
        TaskId (``ManageTask`` ``Redo``, our extension); what succeeded is kept. A new completion
        event follows when it finishes again.

        For an orchestration, failed activities and those skipped because of a failure wait again
        for their predecessors (rules still choose the same branches); the ones whose
        predecessors are done go out at once. Their work messages are outbox rows of the same
        transaction.

        Raises:
            ResourceNotFoundError: ``ResourceNotFound.TaskNotFound``.
            MpsError: ``FailedOperation`` when the task has not finished or nothing failed.
        """

        def planner(task: TaskRecord, subtasks: list[SubtaskRecord]) -> Followup:
            if is_orchestration(task):
                updates = redo_activities(task, subtasks)
            else:
                # A failed transcode that was split is split again when it runs (chunks stay as they were).
                updates = {s.index: "WAITING" for s in visible(subtasks) if s.status == "FAIL"}
            ready = sorted(index for index, status in updates.items() if status == "WAITING")
            events = [work_row(task.task_id, (index,), task.priority) for index in ready]
            return Followup(updates=updates, events=events)  # type: ignore[arg-type]

        record = self.store.redo_task(task_id, planner)
        log.info("task %s redone", task_id)
        return record


def _inner(result: JsonDict) -> dict[str, Any]:
    """The one ``*Task`` member of a stored result (its ErrCodeExt says what failed)."""
    return next((v for k, v in result.items() if k.endswith("Task") and isinstance(v, dict)), {})


__all__ = ["Lifecycle", "create_task"]
