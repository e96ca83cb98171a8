"""The worker's message handler: one :class:`~mps.workflow.messages.WorkMessage` -> committed results.

For each sub-task index of the message: start it (a final sub-task is a redelivery: skipped),
produce the result (:class:`~mps.worker.produce.SubtaskProducer`), then finish it through the
lifecycle (:mod:`mps.workflow.lifecycle`): its result is committed once, and whichever handler
commits the last result finishes the task: the merged WorkflowTask, ``FINISH`` and the completion
events for ``MPS_EVENTS_EXCHANGE`` and the TaskNotifyConfig target are one transaction.

Acks: the handler returns (and the broker acks) only after the result is committed. Transient
failures are raised, so the broker retries the message; media failures are FAIL results. The handler
runs in the consumer's handler pool, off pika's I/O thread, and never touches the broker: events go
through the outbox, so heartbeats keep flowing however long ffmpeg runs.
"""

from __future__ import annotations

import logging
import time
from contextlib import nullcontext

from pydantic import ValidationError

from mps.broker.base import DecodeError, Delivery, RetryPolicy
from mps.metrics import Metrics
from mps.store.base import SubtaskRecord
from mps.worker.inputs import InputCache
from mps.worker.produce import Produced, SubtaskProducer
from mps.workflow.lifecycle import Lifecycle
from mps.workflow.messages import WorkMessage

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
        lifecycle: the task transitions (start, finish, the events they owe).
        producer: produces the sub-tasks' results.
        inputs: the producer's input cache (entries are dropped once their task finishes).
        max_attempts: the broker's attempts per message; on the last, a transient failure is recorded
            as a FAIL result rather than raised, so the task still finishes.
        metrics: busy slots, sub-task durations and ffmpeg speed are observed here (None: not).
    """

    def __init__(
        self, lifecycle: Lifecycle, producer: SubtaskProducer, inputs: InputCache, *,
        max_attempts: int = RetryPolicy().max_attempts, metrics: Metrics | None = None,
    ) -> None:  # fmt: skip
        self.lifecycle, self.producer, self.inputs = lifecycle, producer, inputs
        self.store = lifecycle.store
        self.max_attempts = max_attempts
        self.metrics = metrics

    def __call__(self, delivery: Delivery) -> None:
        """Handle one delivery; returning acks it.

        Raises:
            DecodeError: a bad payload.
            ResourceNotFoundError: an unknown task or sub-task (both permanent: DLQ).
            MpsError: a retryable failure; nothing of this sub-task was committed.
        """
        message = parse_message(delivery)
        with self.metrics.busy() if self.metrics is not None else nullcontext():
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
        self.lifecycle.changed(task)
        final = delivery.attempts >= self.max_attempts
        started = time.monotonic()
        produced = self.producer.produce_many(task, records, final_attempt=final)
        elapsed = time.monotonic() - started
        for record, result in zip(records, produced, strict=True):
            if self.lifecycle.finish(task, record.index, result.entry, result.source_error):
                self.inputs.discard(task_id)
        if self.metrics is not None:
            self._observe(task_id, records, produced, elapsed)

    def _observe(
        self, task_id: str, records: list[SubtaskRecord], produced: list[Produced], elapsed: float
    ) -> None:
        """Each sub-task of one run took the run's wall time (they shared its decode); its speed is
        the source's duration over that time."""
        assert self.metrics is not None
        metadata = self.store.get_task(task_id).metadata or {}
        duration = float(metadata.get("Duration") or 0.0)
        for record, result in zip(records, produced, strict=True):
            self.metrics.observe_subtask(record.kind, result.entry.result.Status, elapsed, duration)

    def _start(self, task_id: str, index: int, delivery: Delivery) -> SubtaskRecord | None:
        """Start the sub-task, or None when this delivery must not run it."""
        if self._duplicate(task_id, index, delivery):
            log.info("task %s sub-task %d is running elsewhere: duplicate message dropped", task_id, index)
            return None
        record = self.lifecycle.start(task_id, index)
        if record is None:
            log.info("task %s sub-task %d already final: message dropped", task_id, index)
            if self.store.get_task(task_id).status == "FINISH":
                self.inputs.discard(task_id)
            return None
        log.info("task %s sub-task %d (%s) started, attempt %d", task_id, index, record.kind, record.attempts)
        return record

    def _duplicate(self, task_id: str, index: int, delivery: Delivery) -> bool:
        """A first delivery for a sub-task already PROCESSING is a copy (the redispatch sweep's, or a
        repeated publish): the original's holder runs it. A crashed holder's message comes back
        redelivered (or as a retry copy), which is not dropped here."""
        if delivery.redelivered or delivery.attempts > 1:
            return False
        subtasks = self.store.get_subtasks(task_id)
        return 0 <= index < len(subtasks) and subtasks[index].status == "PROCESSING"


__all__ = ["WorkHandler", "parse_message"]
