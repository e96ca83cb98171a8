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
import os
import socket
import time
import uuid
from contextlib import nullcontext
from datetime import timedelta

from pydantic import ValidationError

from mps.broker.base import DecodeError, Delivery, RetryPolicy
from mps.errors import MpsError
from mps.metrics import Metrics
from mps.store.base import SubtaskRecord, SubtaskStatus, TaskRecord
from mps.worker.fence import AttemptFencedError, Fence
from mps.worker.inputs import InputCache
from mps.worker.produce import Produced, SubtaskProducer
from mps.worker.retrying import Retrying
from mps.workflow.chunks import CHUNK_KIND, ChunkJob, chunk_failure
from mps.workflow.lifecycle import Lifecycle
from mps.workflow.messages import WorkMessage

log = logging.getLogger("mps.worker.WorkHandler")

#: How long an attempt holds a sub-task between two renewals of its lease (``MPS_SUBTASK_LEASE``).
DEFAULT_LEASE = timedelta(seconds=30)


def worker_host() -> str:
    """Who runs an attempt, for the task's history: ``<host name>:<process id>`` (read per call:
    a forked worker process has a pid of its own)."""
    return f"{socket.gethostname()}:{os.getpid()}"


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
        self,
        lifecycle: Lifecycle,
        producer: SubtaskProducer,
        inputs: InputCache,
        *,
        max_attempts: int = RetryPolicy().max_attempts,
        lease: timedelta = DEFAULT_LEASE,
        retry: Retrying | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.lifecycle, self.producer, self.inputs = lifecycle, producer, inputs
        self.store = lifecycle.store
        self.max_attempts, self.lease = max_attempts, lease
        self.retry = retry if retry is not None else Retrying()
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
        token = uuid.uuid4().hex
        records = [r for index in indexes if (r := self._start(task_id, index, token))]
        if not records:
            return
        task = self.store.get_task(task_id)
        self.lifecycle.changed(task)
        final = delivery.attempts >= self.max_attempts
        with Fence(self.lifecycle, task_id, [r.index for r in records], token, self.lease) as fence:
            chunks = [record for record in records if record.kind == CHUNK_KIND]
            for record in chunks:  # a chunk's message names it alone (mps.workflow.chunks)
                self._run_chunk(task, record, fence, final)
            records = [record for record in records if record.kind != CHUNK_KIND]
            if not records:
                return
            started = time.monotonic()
            try:
                produced = self.producer.produce_many(task, records, final_attempt=final, fence=fence)
            except AttemptFencedError as exc:
                log.warning("task %s: %s; its results are another attempt's to commit", task_id, exc.message)
                return
            elapsed = time.monotonic() - started
            for record, result in zip(records, produced, strict=True):
                if result.entry is None:  # split into chunks: the split was its commit
                    continue
                if self._commit(task, record.index, result, token, fence, record.attempts):
                    self.inputs.discard(task_id)
                if result.joined is not None and result.entry.result.Status == "SUCCESS":
                    self.producer.chunks.discard(result.joined)
        if self.metrics is not None:
            self._observe(task_id, records, produced, elapsed)

    def _run_chunk(self, task: TaskRecord, record: SubtaskRecord, fence: Fence, final: bool) -> None:
        """Encode one chunk sub-task and commit it (the last one releases its transcode's join).

        A media failure is committed as the chunk's FAIL (its transcode then fails with it, unless
        the retry policy runs it again); a transient one is raised, so the message is retried.
        """
        job = ChunkJob.from_input(record.input)
        parent = next(s for s in self.store.get_subtasks(task.task_id) if s.index == job.parent)
        status: SubtaskStatus = "SUCCESS"
        try:
            result = self.producer.encode_chunk(task, job, parent, fence)
        except AttemptFencedError as exc:
            log.warning("task %s chunk %d: %s", task.task_id, record.index, exc.message)
            return
        except MpsError as exc:
            if exc.retryable and not final:
                raise
            log.warning("task %s chunk %d failed: %s [%s]", task.task_id, record.index, exc.message, exc.code)
            result, status = chunk_failure(exc.code, exc.err_code, exc.message), "FAIL"

        def commit() -> bool:
            fence.check()
            return self.lifecycle.finish_chunk(
                task, record.index, job.parent, result, status, fence.token, record.attempts
            )

        try:
            self.retry.call(commit, what=f"task {task.task_id} chunk {record.index}: commit")
        except AttemptFencedError as exc:
            log.warning("task %s chunk %d: not committed: %s", task.task_id, record.index, exc.message)
            return
        fence.release(record.index)

    def _observe(
        self, task_id: str, records: list[SubtaskRecord], produced: list[Produced], elapsed: float
    ) -> None:
        """Each sub-task of one run took the run's wall time (they shared its decode); its speed is
        the source's duration over that time."""
        assert self.metrics is not None
        metadata = self.store.get_task(task_id).metadata or {}
        duration = float(metadata.get("Duration") or 0.0)
        for record, result in zip(records, produced, strict=True):
            if result.entry is not None:  # a split is no run
                self.metrics.observe_subtask(record.kind, result.entry.result.Status, elapsed, duration)

    def _start(self, task_id: str, index: int, token: str) -> SubtaskRecord | None:
        """Start the sub-task for attempt ``token``, or None when this delivery must not run it."""
        record = self.lifecycle.start(task_id, index, token, self.lease, worker_host())
        if record is None:
            log.info(
                "task %s sub-task %d is final or held by a live attempt: message dropped", task_id, index
            )
            if self.store.get_task(task_id).status == "FINISH":
                self.inputs.discard(task_id)
            return None
        log.info("task %s sub-task %d (%s) started, attempt %d", task_id, index, record.kind, record.attempts)
        return record

    def _commit(
        self, task: TaskRecord, index: int, produced: Produced, token: str, fence: Fence, attempt: int
    ) -> bool:
        """Commit one result as attempt ``token``, retrying a store that does not answer (bounded)
        with the result already made rather than redoing the work; True when it finished the task.

        Raises:
            MpsError: the store still did not answer after the retries (the message is retried).
        """

        entry = produced.entry
        assert entry is not None

        def commit() -> bool:
            fence.check()
            return self.lifecycle.finish(task, index, entry, produced.source_error, token, attempt)

        try:
            finished = self.retry.call(commit, what=f"task {task.task_id} sub-task {index}: commit")
        except AttemptFencedError as exc:
            log.warning("task %s sub-task %d: not committed: %s", task.task_id, index, exc.message)
            return False
        fence.release(index)
        return finished


__all__ = ["WorkHandler", "parse_message", "worker_host"]
