"""The worker's message handler: one :class:`~mps.workflow.messages.WorkMessage` -> committed results.

For each sub-task index of the message: ``start_subtask`` (a final sub-task is a redelivery: skipped),
produce the result (:class:`~mps.worker.produce.SubtaskProducer`), commit it once with
``finish_subtask``, then ``try_finish_task``. Whichever handler commits the last result wins the
merge: the merged WorkflowTask, ``FINISH`` and the completion event for ``MPS_EVENTS_EXCHANGE`` are
committed in one transaction; the winner then queues the TaskNotifyConfig target's copy.

Acks: the handler returns (and the broker acks) only after the result is committed. Transient
failures are raised, so the broker retries the message; media failures are FAIL results. The handler
runs in the consumer's handler pool, off pika's I/O thread, and never touches the broker: events go
through the outbox, so heartbeats keep flowing however long ffmpeg runs.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError

from mps.broker.base import DecodeError, Delivery, RetryPolicy
from mps.errors import MpsError
from mps.store.base import Completion, EventTarget, SubtaskRecord, TaskRecord, TaskStore
from mps.worker.inputs import InputCache
from mps.worker.produce import Produced, SubtaskProducer
from mps.workflow.merge import merge_workflow_task, notification
from mps.workflow.messages import WorkMessage
from mps.workflow.notify import FINISH_KEY, PROCESSING_KEY, events_target, notify_target, wants_changes

log = logging.getLogger("mps.worker.WorkHandler")


def parse_message(delivery: Delivery) -> WorkMessage:
    """The work message in a delivery.

    Raises:
        DecodeError: the body is not a WorkMessage (permanent: the message goes to the DLQ).
    """
    try:
        return WorkMessage.model_validate(delivery.json())
    except ValidationError as exc:
        raise DecodeError(f"not a work message: {exc.errors()[0]['msg']}", delivery.body) from exc


class WorkHandler:
    """Runs the sub-tasks a work message names (the ``handler`` of ``Broker.consume``).

    Parameters:
        store: the task store.
        producer: produces one sub-task's result.
        inputs: the producer's input cache (entries are dropped once their task finishes).
        events_exchange: ``MPS_EVENTS_EXCHANGE``; every finished task gets an event there.
        max_attempts: the broker's attempts per message; on the last, a transient failure is recorded
            as a FAIL result rather than raised, so the task still finishes.
    """

    def __init__(
        self, store: TaskStore, producer: SubtaskProducer, inputs: InputCache, *, events_exchange: str,
        max_attempts: int = RetryPolicy().max_attempts,
    ) -> None:  # fmt: skip
        self.store, self.producer, self.inputs = store, producer, inputs
        self.events_exchange, self.max_attempts = events_exchange, max_attempts

    def __call__(self, delivery: Delivery) -> None:
        """Handle one delivery; returning acks it.

        Raises:
            DecodeError: a bad payload.
            ResourceNotFoundError: an unknown task or sub-task (both permanent: DLQ).
            MpsError: a retryable failure; nothing of this sub-task was committed.
        """
        message = parse_message(delivery)
        self.run_subtasks(message.task_id, message.indexes, delivery)

    def run_subtask(self, task_id: str, index: int, delivery: Delivery) -> None:
        """Run, commit and (if last) finish one sub-task; skip it when a redelivery made it moot."""
        self.run_subtasks(task_id, (index,), delivery)

    def run_subtasks(self, task_id: str, indexes: tuple[int, ...], delivery: Delivery) -> None:
        """Run the sub-tasks ``indexes`` together (one plan, :mod:`mps.media.plan`), committing each alone.

        Each index is started on its own (a final one, finished by an earlier delivery, is skipped),
        and each result is committed on its own, so a redelivered message only redoes what was not
        committed.
        """
        records = [record for index in indexes if (record := self._start(task_id, index, delivery))]
        if not records:
            return
        task = self.store.get_task(task_id)
        self._change_event(task)
        final = delivery.attempts >= self.max_attempts
        produced = self.producer.produce_many(task, records, final_attempt=final)
        for record, result in zip(records, produced, strict=True):
            self._commit(task, record.index, result)

    def _start(self, task_id: str, index: int, delivery: Delivery) -> SubtaskRecord | None:
        """``start_subtask``, or None when this delivery must not run the sub-task."""
        if self._duplicate(task_id, index, delivery):
            log.info("task %s sub-task %d is running elsewhere: duplicate message dropped", task_id, index)
            return None
        record = self.store.start_subtask(task_id, index)
        if record is None:
            self._skipped(task_id, index, delivery)
            return None
        log.info("task %s sub-task %d (%s) started, attempt %d", task_id, index, record.kind, record.attempts)
        return record

    def _commit(self, task: TaskRecord, index: int, produced: Produced) -> None:
        """Commit one sub-task's result once, then finish the task if it was the last."""
        status = produced.entry.result.Status
        committed = self.store.finish_subtask(task.task_id, index, produced.entry.to_wire(), status)
        if committed:
            log.info("task %s sub-task %d %s", task.task_id, index, status)
        if not self._try_finish(task.task_id, produced.source_error) and committed:
            self._change_event(task)

    def _duplicate(self, task_id: str, index: int, delivery: Delivery) -> bool:
        """A first delivery for a sub-task already PROCESSING is a copy (the redispatch sweep's, or a
        repeated publish): the original's holder runs it. A crashed holder's message comes back
        redelivered (or as a retry copy), which is not dropped here."""
        if delivery.redelivered or delivery.attempts > 1:
            return False
        subtasks = self.store.get_subtasks(task_id)
        return 0 <= index < len(subtasks) and subtasks[index].status == "PROCESSING"

    def _skipped(self, task_id: str, index: int, delivery: Delivery) -> None:
        log.info("task %s sub-task %d already final: message dropped", task_id, index)
        task = self.store.get_task(task_id)
        if task.status == "FINISH":
            self.inputs.discard(task_id)
            if delivery.redelivered or delivery.attempts > 1:
                # The winner may have died between FINISH and queueing the notify copy: make sure.
                self._ensure_notify_event(task)

    def _try_finish(self, task_id: str, source_error: MpsError | None) -> bool:
        """Finish the task if every sub-task is final; True for the one call that did."""
        built: dict[str, Any] = {}

        def merger(task: TaskRecord, subtasks: list[SubtaskRecord]) -> Completion:
            workflow_task = merge_workflow_task(task, subtasks, finished=True)
            if source_error is not None:
                # ErrCode on the task only when the source failed (mps-api.md §7).
                message = f"{source_error.code}: {source_error.message}"
                workflow_task = workflow_task.model_copy(
                    update={"ErrCode": source_error.err_code, "Message": message}
                )
            built["event"] = notification(workflow_task, task)
            built["task"] = task
            return Completion(workflow_task=workflow_task.to_wire(), event=built["event"])

        if self.store.try_finish_task(task_id, merger, events_target(self.events_exchange, FINISH_KEY)):
            task: TaskRecord = built["task"]
            target = notify_target(task.notify, FINISH_KEY)
            if target is not None:
                self.store.add_event(task_id, target, built["event"])
            self.inputs.discard(task_id)
            log.info("task %s FINISH", task_id)
            return True
        return False

    def _ensure_notify_event(self, task: TaskRecord) -> None:
        target = notify_target(task.notify, FINISH_KEY)
        if target is None:
            return
        events = self.store.list_events(task.task_id)
        finish = [e for e in events if e.payload.get("WorkflowTaskEvent", {}).get("Status") == "FINISH"]
        if finish and not any(e.target == target for e in finish):
            self.store.add_event(task.task_id, target, finish[0].payload)
            log.warning("task %s: notify event was missing after FINISH; queued now", task.task_id)

    def _change_event(self, task: TaskRecord) -> None:
        """NotifyMode ``Change``: a PROCESSING event to the notify target and the events exchange."""
        if not wants_changes(task.notify):
            return
        fresh = self.store.get_task(task.task_id)
        if fresh.status == "FINISH":
            return
        workflow_task = merge_workflow_task(fresh, self.store.get_subtasks(task.task_id))
        event = notification(workflow_task, fresh)
        targets: list[EventTarget | None] = [
            events_target(self.events_exchange, PROCESSING_KEY),
            notify_target(fresh.notify, PROCESSING_KEY),
        ]
        for target in targets:
            if target is not None:
                self.store.add_event(task.task_id, target, event)


__all__ = ["WorkHandler", "parse_message"]
