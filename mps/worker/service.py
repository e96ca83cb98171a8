"""Composition of the service processes: ``mps worker``, ``mps relay`` and ``mps up`` (which runs
``mps listen`` too, :func:`run_listen_loop`).

Everything is built from one :class:`~mps.settings.Settings`; tests pass their own store, storage and
broker instead. Stopping: the first SIGINT/SIGTERM sets a stop event (the worker stops taking
messages, lets running handlers finish and acks them; the relay ends its round; the API closes), a
second one exits at once (unacked messages are redelivered to another worker).

RabbitMQ before 3.12 ignores the work queue's ``x-consumer-timeout``: its ``consumer_timeout``
(30 min by default) then closes the channel of a handler running longer, and the message is run
again elsewhere. On such servers set ``consumer_timeout`` in ``rabbitmq.conf`` above the longest
sub-task (``MPS_FFMPEG_TIMEOUT`` plus the upload); the worker logs a warning at start when it sees one.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from types import FrameType
from typing import Any

from mps.broker.base import Broker, RetryPolicy
from mps.runner import Runner
from mps.settings import Settings
from mps.storage.base import Storage
from mps.store.base import TaskStore
from mps.worker.handler import WorkHandler
from mps.worker.inputs import InputCache, make_fetch
from mps.worker.produce import SubtaskProducer
from mps.workflow.relay import OutboxRelay, Redispatcher, Retention, run_relay

log = logging.getLogger("mps.worker.service")


@dataclass
class Components:
    """The adapters one process uses (built from settings, or given by a test)."""

    store: TaskStore
    storage: Storage
    broker: Broker


def build_components(settings: Settings, name: str) -> Components:
    """The production adapters: SQL store, S3 storage, RabbitMQ.

    Raises:
        StorageUnavailableError: the database cannot be reached.
    """
    from mps.broker.rabbitmq import RabbitmqBroker
    from mps.storage.s3 import S3Storage
    from mps.store.sql import SqlTaskStore

    broker = RabbitmqBroker(settings.amqp_url, prefix=settings.queue_prefix, name=name)
    return Components(SqlTaskStore(settings.database_url), S3Storage.from_settings(settings), broker)


def build_templates(settings: Settings, store: TaskStore) -> Any:
    """Presets plus the store's custom templates (:class:`~mps.workflow.templates.StoreTemplates`)."""
    from mps.templates import TemplateCatalog, load_presets
    from mps.workflow.templates import StoreTemplates

    return StoreTemplates(TemplateCatalog(load_presets(settings.presets_dir)), store)


@contextmanager
def work_handler(
    settings: Settings, store: TaskStore, storage: Storage, *, runner: Runner | None = None,
    templates: Any = None, max_attempts: int = RetryPolicy().max_attempts,
) -> Iterator[WorkHandler]:  # fmt: skip
    """A :class:`WorkHandler` with its own input cache, removed from disk on exit.

    Parameters:
        settings: work directory, limits, ``MPS_EVENTS_EXCHANGE``.
        store, storage: the task store and object store.
        runner: ffmpeg (default: the configured binaries).
        templates: template lookup (default: :func:`build_templates`).
        max_attempts: the consumer's retry policy's attempts.

    Yields:
        The handler.
    """
    from mps.app import build_runner

    directory = settings.work_dir / f"mps-inputs-{uuid.uuid4().hex[:12]}"
    fetch = make_fetch(
        storage, url_max_bytes=settings.url_max_bytes, allow_private=settings.url_allow_private
    )
    inputs = InputCache(directory, fetch)
    producer = SubtaskProducer(
        store, storage, runner or build_runner(settings), templates or build_templates(settings, store),
        inputs, settings,
    )  # fmt: skip
    try:
        yield WorkHandler(store, producer, inputs, events_exchange=settings.events_exchange,
                          max_attempts=max_attempts)  # fmt: skip
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def run_worker(settings: Settings, concurrency: int, stop: threading.Event, parts: Components) -> None:
    """Consume the work queue with ``concurrency`` handler threads until ``stop`` is set.

    Raises:
        BrokerError: a failure reconnecting cannot fix (login refused...).
    """
    policy: RetryPolicy = getattr(parts.broker, "retry_policy", RetryPolicy())
    with work_handler(settings, parts.store, parts.storage, max_attempts=policy.max_attempts) as handler:
        log.info("worker consuming %s with %d handler threads", parts.broker.work_queue, concurrency)
        parts.broker.declare_topology(settings.events_exchange)
        parts.broker.consume(parts.broker.work_queue, handler, prefetch=concurrency, stop=stop)
    log.info("worker stopped")


def run_relay_loop(settings: Settings, stop: threading.Event, parts: Components) -> None:
    """Relay outbox events and republish lost work until ``stop`` is set."""
    parts.broker.declare_topology(settings.events_exchange)
    relay = OutboxRelay(parts.store, parts.broker, allow_private=settings.url_allow_private)
    sweep = Redispatcher(parts.store, parts.broker, older_than=settings.redispatch_after)
    keep = settings.task_retention_days
    retention = Retention(parts.store, timedelta(days=keep)) if keep > 0 else None
    log.info("relay started (events exchange %s)", settings.events_exchange)
    try:
        run_relay(relay, sweep, stop, retention=retention)
    finally:
        relay.close()
        parts.broker.close()
    log.info("relay stopped")


def run_listen_loop(settings: Settings, stop: threading.Event, parts: Components) -> None:
    """Turn bucket events into workflow tasks, and reconcile periodically, until ``stop`` is set."""
    from mps.listener.service import BucketEventHandler, run_listener

    parts.broker.declare_topology(settings.events_exchange)
    templates = build_templates(settings, parts.store)
    run_listener(
        settings,
        stop,
        BucketEventHandler(parts.store, parts.storage, parts.broker, templates, plan=settings.plan),
    )


def install_stop_signals(stop: threading.Event) -> None:
    """SIGINT/SIGTERM: the first sets ``stop`` (drain), a second exits at once (main thread only)."""

    def handle(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            log.warning(
                "second %s: exiting now; unacked work will be redelivered", signal.Signals(signum).name
            )
            os._exit(128 + signum)
        log.info("%s: stopping (running sub-tasks finish first)", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)


def run_up(settings: Settings, workers: int, host: str, port: int, stop: threading.Event) -> None:
    """API, worker (``workers`` handler threads), relay and listener in one process, until ``stop`` is set."""
    import uvicorn

    from mps.api.service import build_api  # imported here: `mps worker` alone needs no web stack

    server = uvicorn.Server(uvicorn.Config(build_api(settings), host=host, port=port, log_level="info"))
    jobs: list[tuple[str, Callable[[], None]]] = [
        ("api", server.run),
        ("worker", lambda: run_worker(settings, workers, stop, build_components(settings, "mps worker"))),
        ("relay", lambda: run_relay_loop(settings, stop, build_components(settings, "mps relay"))),
        ("listen", lambda: run_listen_loop(settings, stop, build_components(settings, "mps listen"))),
    ]
    threads = [threading.Thread(target=_guarded(name, job, stop), name=f"mps-{name}") for name, job in jobs]
    for thread in threads:
        thread.start()
    stop.wait()
    server.should_exit = True
    for thread in threads:
        thread.join()


def _guarded(name: str, job: Callable[[], None], stop: threading.Event) -> Callable[[], None]:
    """Run ``job``; if it dies, stop the whole process rather than run on with a part missing."""

    def run() -> None:
        try:
            job()
        except Exception:  # the boundary of one part of `mps up`: log it and bring the rest down
            log.exception("%s failed; stopping", name)
        finally:
            stop.set()

    return run


__all__ = [
    "Components",
    "build_components",
    "build_templates",
    "install_stop_signals",
    "run_listen_loop",
    "run_relay_loop",
    "run_up",
    "run_worker",
    "work_handler",
]
