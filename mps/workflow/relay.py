"""The outbox relay, and the redispatch sweep that keeps never-published work from being lost.

**Relay.** Completion events are committed to the outbox together with the ``FINISH`` state
(design.md, "State and delivery guarantees"); :class:`OutboxRelay` claims due rows, delivers each
(exchange, queue, topic through the broker with confirms; url by HTTP POST) and marks it sent. A
failure is kept with the row and retried after a capped exponential backoff with jitter, so a broker
or receiver that is down delays events and never loses them. Consumers may see an event twice (a
relay that dies between the publish and ``mark_sent``), never zero times. A target that is refused
(a ``NotifyUrl`` reaching a private address) is given up at once, its reason kept as the row's
``last_error``; once RabbitMQ is found unreachable, the round's other broker rows wait for the next
round untried, so an outage costs one connection attempt per round, not one per row.

**Redispatch.** ``submit_task`` commits a task before it publishes its work messages, and a publish
that fails is only logged. :class:`Redispatcher` finds sub-tasks of unfinished tasks that are still
WAITING with no attempt, older than ``older_than`` seconds, and publishes their message again. Such
a sub-task may also just sit behind a backlog: the republished copy is then a duplicate, which the
worker drops (it finds the sub-task PROCESSING or final); each sub-task is republished at most once
per doubling interval, so a long backlog gains a handful of copies, not one per sweep.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import httpx

from mps.broker.base import Broker, BrokerConnectionError
from mps.errors import InvalidParameterError, MpsError
from mps.store.base import OutboxRecord, TaskStore, UnstartedSubtask, utc_now
from mps.workflow.lifecycle import Lifecycle
from mps.workflow.messages import WorkMessage
from mps.workflow.notify import EXCHANGE, QUEUE, TOPIC, URL, WORK, post_callback

#: Seconds between two sweeps for tasks past their TimeoutSeconds (how late a timeout may fire).
DEADLINE_EVERY = 2.0

log = logging.getLogger("mps.workflow.relay")

Clock = Callable[[], datetime]
#: Rows claimed per round.
BATCH = 50
#: First retry delay and its cap, in seconds.
BASE_DELAY, MAX_DELAY = 1.0, 600.0
#: Delivery attempts before a row is parked (retried only after :data:`PARKED`).
MAX_ATTEMPTS = 50
#: How far in the future a parked row's next attempt is: effectively never, but kept for inspection.
PARKED = timedelta(days=36500)
#: Longest wait between two republishes of one sub-task.
MAX_REDISPATCH_INTERVAL = 3600.0
#: Lost sub-tasks looked at per sweep (oldest task first; the next sweep takes the rest).
SWEEP_LIMIT = 2000
#: Expired tasks deleted per retention sweep (one transaction each).
PURGE_BATCH = 500


def backoff(attempts: int, *, base: float = BASE_DELAY, cap: float = MAX_DELAY,
            rng: Callable[[], float] = random.random) -> float:  # fmt: skip
    """Seconds before the next delivery attempt, after ``attempts`` failed ones ("equal jitter").

    Parameters:
        attempts: failed attempts so far (>= 1).
        base: the delay after the first failure, before jitter.
        cap: the longest delay, before jitter.
        rng: a source of floats in [0, 1).

    Returns:
        A delay between half and all of ``min(base * 2**(attempts-1), cap)``: the jitter spreads
        out relays retrying after one shared outage.
    """
    delay = min(base * 2.0 ** max(attempts - 1, 0), cap)
    return delay / 2 + rng() * delay / 2


class OutboxRelay:
    """Delivers outbox rows.

    Parameters:
        store: the task store holding the outbox.
        broker: publishes exchange, queue and topic rows.
        http: the client for URL callbacks (default: a new one, closed by :meth:`close`).
        allow_private: let callbacks reach loopback and private addresses.
        batch: rows claimed per round.
        base_delay, max_delay: the backoff of failed rows, in seconds.
        max_attempts: attempts before a row is parked.
        clock: "now", replaceable in tests.
        rng: jitter source, replaceable in tests.
    """

    def __init__(
        self, store: TaskStore, broker: Broker, *, http: httpx.Client | None = None,
        allow_private: bool = False, batch: int = BATCH, base_delay: float = BASE_DELAY,
        max_delay: float = MAX_DELAY, max_attempts: int = MAX_ATTEMPTS, clock: Clock = utc_now,
        rng: Callable[[], float] = random.random,
    ) -> None:  # fmt: skip
        self.store, self.broker, self.allow_private, self.batch = store, broker, allow_private, batch
        self.base_delay, self.max_delay, self.max_attempts = base_delay, max_delay, max_attempts
        self.clock, self.rng = clock, rng
        self._own_http = http is None
        self.http = http if http is not None else httpx.Client(trust_env=False)

    def close(self) -> None:
        """Close the HTTP client if this relay made it."""
        if self._own_http:
            self.http.close()

    def run_once(self) -> int:
        """Claim the due rows and try each once.

        Returns:
            How many rows were claimed (0: nothing was due).

        Raises:
            StorageUnavailableError: the store did not answer (rows stay as they were).
        """
        rows = self.store.claim_outbox(self.batch, now=self.clock())
        unreachable: BrokerConnectionError | None = None
        for row in rows:
            if unreachable is not None and row.target.kind != URL:
                self._failed(row, unreachable, tried=False)
                continue
            try:
                self.deliver(row)
            except BrokerConnectionError as exc:
                unreachable = exc
                self._failed(row, exc)
            except MpsError as exc:
                self._failed(row, exc)
            else:
                self.store.mark_sent(row.id)
                log.info(
                    "event %d of task %s sent to %s %s", row.id, row.task_id, row.target.kind, row.target.name
                )
        return len(rows)

    def deliver(self, row: OutboxRecord) -> None:
        """Deliver one row to its target.

        Raises:
            MpsError: not delivered (broker or receiver down, refused URL, unknown target kind).
        """
        target, payload = row.target, row.payload
        if target.kind == EXCHANGE:
            self.broker.publish_event(target.name, target.key, payload)
        elif target.kind == QUEUE:
            self.broker.publish_to_queue(target.name, payload)
        elif target.kind == TOPIC:
            self.broker.publish_to_topic(target.name, payload, target.key)
        elif target.kind == URL:
            post_callback(self.http, target.name, payload, allow_private=self.allow_private)
        elif target.kind == WORK:
            self.broker.publish_work(
                payload["message"],
                priority=int(payload.get("priority") or 0),
                message_id=payload["message_id"],
            )
        else:
            raise MpsError(f"unknown outbox target kind {target.kind!r}")

    def _failed(self, row: OutboxRecord, exc: MpsError, *, tried: bool = True) -> None:
        """Keep the error and schedule the next attempt; ``tried=False``: not attempted, not logged."""
        now = self.clock()
        if isinstance(exc, InvalidParameterError):
            # The target itself is refused (a NotifyUrl on a private address...): it never will be.
            log.error("event %d of task %s given up: %s [%s]", row.id, row.task_id, exc, exc.code)
            self.store.mark_failed(row.id, f"given up: {exc} [{exc.code}]", now + PARKED)
            return
        if row.attempts >= self.max_attempts:
            log.error(
                "event %d of task %s parked after %d attempts: %s", row.id, row.task_id, row.attempts, exc
            )
            self.store.mark_failed(row.id, f"parked: {exc}", now + PARKED)
            return
        delay = backoff(row.attempts, base=self.base_delay, cap=self.max_delay, rng=self.rng)
        self.store.mark_failed(row.id, str(exc), now + timedelta(seconds=delay))
        if not tried:
            return
        log.warning(
            "event %d of task %s to %s %s failed (attempt %d), retry in %.1f s: %s",
            row.id,
            row.task_id,
            row.target.kind,
            row.target.name,
            row.attempts,
            delay,
            exc,
        )


class Redispatcher:
    """Republishes the work message of sub-tasks that were never started.

    Parameters:
        store: the task store.
        broker: where work messages go (its work queue).
        older_than: seconds a task must exist before its waiting sub-tasks count as lost.
        clock: "now", replaceable in tests.
    """

    def __init__(
        self, store: TaskStore, broker: Broker, *, older_than: float = 30.0, clock: Clock = utc_now
    ) -> None:
        self.store, self.broker, self.older_than, self.clock = store, broker, older_than, clock
        #: (task id, index) -> (when it may be republished next, the interval used last).
        self._next: dict[tuple[str, int], tuple[datetime, float]] = {}

    def sweep(self) -> int:
        """Republish every lost sub-task that is due.

        Returns:
            How many messages were published.

        Raises:
            StorageUnavailableError: the store or the broker did not answer.
        """
        now = self.clock()
        seen: set[tuple[str, int]] = set()
        published = 0
        created_before = now - timedelta(seconds=self.older_than)
        for lost in self.store.list_unstarted_subtasks(created_before, limit=SWEEP_LIMIT):
            key = (lost.task_id, lost.index)
            seen.add(key)
            due, interval = self._next.get(key, (now, self.older_than / 2))
            if due > now:
                continue
            self._publish(lost)
            interval = min(interval * 2, MAX_REDISPATCH_INTERVAL)
            self._next[key] = (now + timedelta(seconds=interval), interval)
            published += 1
        # Forget sub-tasks that started or finished, so the map stays as small as the backlog.
        self._next = {key: value for key, value in self._next.items() if key in seen}
        return published

    def _publish(self, lost: UnstartedSubtask) -> None:
        message = WorkMessage(task_id=lost.task_id, indexes=(lost.index,))
        self.broker.publish_work(
            message.model_dump(mode="json"), priority=lost.priority, message_id=f"{lost.task_id}:{lost.index}"
        )
        log.warning(
            "task %s sub-task %d was never started: work message published again", lost.task_id, lost.index
        )


class Retention:
    """Deletes FINISH tasks older than ``keep`` (``MPS_TASK_RETENTION_DAYS``), a batch per sweep.

    Tasks with an event not delivered yet stay (see :meth:`TaskStore.purge_tasks`); a full batch
    asks to be swept again at once, so a backlog drains without one long transaction.

    Parameters:
        store: the task store.
        keep: how long a finished task is kept.
        clock: "now", replaceable in tests.
    """

    def __init__(self, store: TaskStore, keep: timedelta, *, clock: Clock = utc_now) -> None:
        self.store, self.keep, self.clock = store, keep, clock

    def sweep(self) -> int:
        """Delete one batch of expired tasks; returns how many went.

        Raises:
            StorageUnavailableError: the store did not answer.
        """
        purged = self.store.purge_tasks(self.clock() - self.keep, limit=PURGE_BATCH)
        if purged:
            log.info("deleted %d finished tasks older than %s", purged, self.keep)
        return purged


class Deadlines:
    """Aborts the tasks that ran past their ``TimeoutSeconds`` (ours), one FINISH event each.

    Parameters:
        lifecycle: the transitions (the abort, with the timeout as its reason).
        clock: "now", replaceable in tests.
    """

    def __init__(self, lifecycle: Lifecycle, *, clock: Clock = utc_now) -> None:
        self.lifecycle, self.clock = lifecycle, clock

    def sweep(self) -> int:
        """Abort every overdue task; returns how many were aborted.

        Raises:
            StorageUnavailableError: the store did not answer.
        """
        aborted = 0
        for task_id in self.lifecycle.store.list_overdue_tasks(self.clock()):
            task = self.lifecycle.store.get_task(task_id)
            timeout = float(task.request.get("TimeoutSeconds") or 0)
            try:
                self.lifecycle.abort(task_id, timeout=timeout)
            except MpsError as exc:
                if exc.code != "FailedOperation":  # finished meanwhile: nothing to do
                    raise
                continue
            log.warning("task %s ran past its TimeoutSeconds (%g s): aborted", task_id, timeout)
            aborted += 1
        return aborted


def run_relay(
    relay: OutboxRelay, redispatcher: Redispatcher | None, stop: threading.Event, *,
    poll: float = 0.5, sweep_every: float = 10.0, retention: Retention | None = None,
    purge_every: float = 600.0, deadlines: Deadlines | None = None,
) -> None:  # fmt: skip
    """Relay events (and sweep for lost work, and delete expired tasks) until ``stop`` is set.

    Parameters:
        relay: delivers outbox rows.
        redispatcher: the sweep, or None for none.
        stop: set it to stop (checked at least every ``poll`` seconds).
        poll: seconds to wait when nothing was due.
        sweep_every: seconds between sweeps.
        retention: deletes expired tasks, or None to keep every task.
        purge_every: seconds between retention sweeps (a full batch sweeps again at once).
    """
    next_sweep = next_purge = next_deadline = time.monotonic()
    while not stop.is_set():
        busy = False
        try:
            busy = relay.run_once() > 0
            if redispatcher is not None and time.monotonic() >= next_sweep:
                next_sweep = time.monotonic() + sweep_every
                redispatcher.sweep()
            if deadlines is not None and time.monotonic() >= next_deadline:
                next_deadline = time.monotonic() + DEADLINE_EVERY
                deadlines.sweep()
            if retention is not None and time.monotonic() >= next_purge:
                full = retention.sweep() >= PURGE_BATCH
                next_purge = time.monotonic() + (0.0 if full else purge_every)
        except MpsError as exc:
            # The store or broker is down: everything stays in the store; try again shortly.
            log.warning("relay round failed: %s", exc)
        if not busy:
            stop.wait(poll)


__all__ = ["Deadlines", "OutboxRelay", "Redispatcher", "Retention", "backoff", "run_relay"]
