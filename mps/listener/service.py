"""The listener process: consume the bucket-events queue, start tasks, reconcile now and then.

``mps listen`` (and ``mps up``) declare ``MPS_BUCKET_EVENTS_EXCHANGE`` (type
``MPS_BUCKET_EVENTS_EXCHANGE_TYPE``) and the durable queue ``{prefix}mps.bucket-events`` bound to
it, then consume. Two kinds of message arrive there: raw S3 notifications that MinIO (or Ceph RGW)
publishes to the exchange, and the envelopes ``POST /webhooks/bucket-events`` queues; both go
through :func:`~mps.workflow.intake.parse_bucket_message` into
:func:`~mps.workflow.intake.handle_object_created`.

A message is acked once every task it fires exists (the tasks' work is queued by then too). A
store, object store or broker that does not answer makes the handler fail with a retryable error:
the message comes back later, and the store's deduplication makes the retry harmless. A body that
is not a bucket event is dead-lettered at once (``{queue}.dlq``).

Alongside, a thread runs :func:`~mps.workflow.reconcile.reconcile` at start and then every
``MPS_RECONCILE_INTERVAL`` seconds (0: never), for stores without notifications and for events
lost while mps was down; and another checks every ``MPS_SCHEDULE_POLL_INTERVAL`` seconds (0:
never) for due ticks of timed (``Schedule``) triggers (:mod:`mps.workflow.ticks`: at most one
tick of a workflow runs at a time, whichever listener takes it).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from mps.broker.base import Broker, BrokerError, DecodeError, Delivery
from mps.broker.names import QueueNames
from mps.errors import InvalidParameterError
from mps.metrics import Metrics
from mps.settings import Settings
from mps.storage.base import Storage
from mps.store.base import TaskStore
from mps.workflow.intake import handle_object_created, parse_bucket_message
from mps.workflow.periodic import repeat_every
from mps.workflow.reconcile import reconcile
from mps.workflow.resolve import TemplateLookup
from mps.workflow.ticks import TickScheduler, WorkflowStarter, tick_loop

log = logging.getLogger("mps.listener.service")

#: Bucket events handled at once: each is mostly waiting on the store and a HEAD request.
PREFETCH = 4
#: Longest wait, in seconds, between attempts to declare the queue while RabbitMQ is down.
MAX_DECLARE_DELAY = 30.0


@dataclass(frozen=True)
class BucketEventHandler:
    """Turns one message of the bucket-events queue into tasks (the consumer's handler).

    Parameters:
        store: workflows and tasks.
        storage: the object store (``head`` for events without metadata, listings to reconcile).
        broker: the work queue.
        templates: template lookup for ProcessMedia's checks.
        account_id: first part of new TaskIds.
        plan: how sub-tasks are grouped into work messages (``MPS_PLAN``).
        metrics: counts the events received and deduplicated (None: not counted).
    """

    store: TaskStore
    storage: Storage
    broker: Broker
    templates: TemplateLookup
    account_id: str = "0"
    plan: str = "auto"
    metrics: Metrics | None = None

    def __call__(self, delivery: Delivery) -> None:
        """Handle one message: start the tasks of every object it announces.

        Raises:
            DecodeError: the body is not a bucket event (dead-lettered, never retried).
            MpsError: a retryable failure; the message is retried later.
        """
        try:
            events = parse_bucket_message(delivery.json())
        except InvalidParameterError as exc:
            raise DecodeError(f"not a bucket event: {exc.message}", delivery.body) from exc
        for event in events:
            started = handle_object_created(
                event, store=self.store, broker=self.broker, templates=self.templates,
                storage=self.storage, account_id=self.account_id, plan=self.plan, metrics=self.metrics,
            )  # fmt: skip
            if not started:
                log.debug("%s/%s (%s): no new task", event.bucket, event.key, event.source)

    def reconcile(self) -> int:
        """One reconcile pass with these services; returns how many tasks it created."""
        return reconcile(
            self.store, self.storage, broker=self.broker, templates=self.templates,
            account_id=self.account_id, plan=self.plan,
        )  # fmt: skip

    def starter(self) -> WorkflowStarter:
        """Starts workflow tasks with these services (timed ticks, run-once)."""
        return WorkflowStarter(
            self.store, self.storage, self.broker, self.templates, self.account_id, self.plan
        )

    def scheduler(self) -> TickScheduler:
        """The timed ticks of every Enabled workflow with a ``Schedule`` trigger."""
        return TickScheduler(self.store, self.storage, self.starter().timed_jobs)


def declare_queue(settings: Settings, broker: Broker) -> str:
    """Declare the bucket-events exchange and the listener's queue bound to it.

    Returns:
        The queue's name, ``{MPS_QUEUE_PREFIX}mps.bucket-events``.

    Raises:
        BrokerError: RabbitMQ is unavailable, or the exchange exists with another type.
    """
    queue = QueueNames(settings.queue_prefix).bucket_events
    broker.declare_bucket_events(settings.bucket_events_exchange, settings.bucket_events_exchange_type, queue)
    return queue


def run_listener(
    settings: Settings,
    stop: threading.Event,
    handler: BucketEventHandler,
    *,
    reconcile_interval: float | None = None,
) -> None:
    """Consume bucket events, and reconcile periodically, until ``stop`` is set.

    Parameters:
        settings: exchange, exchange type, queue prefix, ``reconcile_interval``.
        stop: set it to stop; the running handlers finish first.
        handler: the services events are handled with.
        reconcile_interval: seconds between scans (default: ``settings.reconcile_interval``; 0 = off).

    Raises:
        BrokerError: a failure reconnecting cannot fix (login refused, exchange of another type).
    """
    interval = settings.reconcile_interval if reconcile_interval is None else reconcile_interval
    queue = _declare_when_up(settings, handler.broker, stop)
    if queue is None:
        return
    loops = []
    if interval > 0:
        loops.append(threading.Thread(
            target=reconcile_loop, args=(handler, interval, stop), name="mps-reconcile", daemon=True
        ))  # fmt: skip
    if settings.schedule_poll_interval > 0:
        loops.append(threading.Thread(
            target=tick_loop, args=(handler.scheduler(), settings.schedule_poll_interval, stop),
            name="mps-ticks", daemon=True,
        ))  # fmt: skip
    for loop in loops:
        loop.start()
    exchange = f"{settings.bucket_events_exchange} ({settings.bucket_events_exchange_type})"
    log.info("listener consuming %s from %s; reconcile every %s s", queue, exchange, interval or "never")
    try:
        handler.broker.consume(queue, handler, prefetch=PREFETCH, stop=stop)
    finally:
        stop.set()  # the scans must not outlive the consumer (e.g. after a fatal broker error)
        for loop in loops:
            loop.join()
        handler.broker.close()
    log.info("listener stopped")


def _declare_when_up(settings: Settings, broker: Broker, stop: threading.Event) -> str | None:
    """:func:`declare_queue`, retried while RabbitMQ is unreachable (as the consumer reconnects);
    None if ``stop`` was set first."""
    delay = 1.0
    while not stop.is_set():
        try:
            return declare_queue(settings, broker)
        except BrokerError as exc:
            if not exc.retryable:
                raise
            log.warning("cannot declare the bucket-events queue (%s); retrying in %.0f s", exc, delay)
            stop.wait(delay)
            delay = min(delay * 2, MAX_DECLARE_DELAY)
    return None


def reconcile_loop(handler: BucketEventHandler, interval: float, stop: threading.Event) -> None:
    """Reconcile now, then every ``interval`` seconds, until ``stop`` is set; failures are logged."""
    repeat_every(interval, stop, handler.reconcile, log=log, failed="reconcile scan failed; next one in %s s")


__all__ = ["PREFETCH", "BucketEventHandler", "declare_queue", "reconcile_loop", "run_listener"]
