"""The task lifecycle: every transition of a task and its sub-tasks, in one place.

=============================  ============================================  ==========================
transition                     state change                                  outbox rows, same commit
=============================  ============================================  ==========================
:func:`create_task`           a WAITING task and its WAITING sub-tasks      none
:meth:`Lifecycle.start`        a sub-task PROCESSING (attempt + 1), and the  none
                               task PROCESSING with it
:meth:`Lifecycle.probed`       the input's MetaData                          none
:meth:`Lifecycle.progress`     a sub-task's Progress                         none
:meth:`Lifecycle.changed`      none (NotifyMode ``Change``)                  the PROCESSING event to
                                                                             the events exchange and
                                                                             the notify target
:meth:`Lifecycle.finish`       a sub-task SUCCESS or FAIL, once; when it     the FINISH event to the
                               was the last, the task FINISH with the        events exchange and the
                               merged record                                 notify target
:meth:`Lifecycle.abort`        a WAITING task FINISH with the abort code,    the FINISH event to both
                               its waiting sub-tasks FAIL                    targets
=============================  ============================================  ==========================

Each row is one transaction of the store: a transition and the events it owes are committed
together or not at all, so no crash, no database blip between two writes, can leave a finished
task without its events. Consumers may see an event twice (the relay's at-least-once), never zero
times.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta

from mps.errors import MpsError
from mps.models import MediaProcessTaskResult
from mps.store.base import (
    FINAL_SUBTASK_STATUSES,
    Completion,
    EventTarget,
    JsonDict,
    NewTask,
    SubtaskRecord,
    TaskRecord,
    Tasks,
    TaskStore,
)
from mps.workflow.merge import is_orchestration, merge_task, notification
from mps.workflow.notify import FINISH_KEY, PROCESSING_KEY, events_target, notify_target, wants_changes
from mps.workflow.orchestration import SCHEDULE_TASK, advance

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

    def __init__(self, store: TaskStore, events_exchange: str) -> None:
        self.store, self.events_exchange = store, events_exchange

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
    ) -> bool:
        """Commit sub-task ``index``'s result once, then finish the task if it was the last.

        Parameters:
            task: the task.
            index: the sub-task.
            entry: its result entry (SUCCESS or FAIL).
            source_error: the input's own failure, when the sub-task failed because of it: the
                task's ErrCode says so (mps-api.md §7).
            token: the attempt committing: only the attempt that holds the sub-task can.

        Returns:
            True when this call finished the task.
        """
        status = entry.result.Status
        then = advance if is_orchestration(task) else None  # an activity may release its successors
        committed = self.store.finish_subtask(task.task_id, index, entry.to_wire(), status, token, then)
        if committed:
            log.info("task %s sub-task %d %s", task.task_id, index, status)
        if self.try_finish(task.task_id, source_error):
            return True
        if committed:
            self.changed(task)
        return False

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
            event = notification(workflow_task, task)
            owed = [(target, event) for target in self.targets(task, FINISH_KEY)]
            return Completion(workflow_task=workflow_task.to_wire(), events=owed)

        finished = self.store.try_finish_task(task_id, merger)
        if finished:
            log.info("task %s FINISH", task_id)
        return finished

    def abort(self, task_id: str) -> TaskRecord:
        """End a WAITING task (``ManageTask`` ``Abort``) with its FINISH event to every target.

        The event is built before the abort from what the abort will store (FINISH, the abort
        ErrCode, waiting sub-tasks FAIL): a WAITING task has no running sub-task that could change
        it meanwhile, and if one started, the abort is refused and the event discarded with it.

        Raises:
            ResourceNotFoundError: ``ResourceNotFound.TaskNotFound``.
            InvalidParameterError: ``InvalidParameterValue.TaskId`` when the task is not WAITING.
        """
        from mps.store.base import ABORTED_ERR_CODE, ABORTED_MESSAGE

        task = self.store.get_task(task_id)
        aborted = replace(task, status="FINISH", err_code=ABORTED_ERR_CODE, message=ABORTED_MESSAGE)
        subtasks = [
            s if s.status in FINAL_SUBTASK_STATUSES else replace(s, status="FAIL")
            for s in self.store.get_subtasks(task_id)
        ]
        event = notification(merge_task(aborted, subtasks, finished=True), aborted)
        record = self.store.abort_task(
            task_id, [(target, event) for target in self.targets(task, FINISH_KEY)]
        )
        log.info("task %s aborted", task_id)
        return record


__all__ = ["Lifecycle", "create_task"]
