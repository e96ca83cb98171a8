"""The composition root: the one module that turns settings into wired-up objects and processes.

The processes (``api``, ``worker``, ``relay``, ``listener``, ``cli``) are siblings that never
import each other; each takes the parts it needs, already built. This module builds them, from one
:class:`~mps.settings.Settings`: production adapters (SQL task store, S3 storage, RabbitMQ), the
template catalog, the runner and the executor, and it is what ``mps up`` runs: every role in one
process, sharing one task store (one connection pool, migrations run once), one object store
client and one broker for publishing, with the work consumer on a connection of its own.

Tests build the same objects from in-memory twins and call the process functions directly.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from mps.broker.base import Broker, QueueInspector, RetryPolicy
from mps.models.schedules import RetryPolicy as ActivityRetry
from mps.runner import Runner
from mps.runner.ffmpeg import FfmpegRunner
from mps.settings import Settings
from mps.storage.base import Storage
from mps.store.base import TaskStore
from mps.templates import TemplateCatalog, load_presets, load_template_file
from mps.workflow.assets import AssetFetcher
from mps.workflow.engine import TaskEngine
from mps.workflow.executor import Executor
from mps.workflow.kind import TemplateLookup
from mps.workflow.templates import StoreTemplates

# What only the services use (metrics and prometheus_client, the worker, the lifecycle and the task
# store behind them) is imported inside the functions that build them: `mps process` imports
# this module too, and should not pay for them at every start.
if TYPE_CHECKING:
    from fastapi import FastAPI

    from mps.api.handlers import ApiServices
    from mps.listener.service import BucketEventHandler
    from mps.metrics import Metrics, MetricsServer
    from mps.worker.handler import WorkHandler

log = logging.getLogger("mps.app")


@dataclass
class Components:
    """The adapters a process uses (built from settings, or given by a test)."""

    store: TaskStore
    storage: Storage
    broker: Broker


def build_components(settings: Settings, name: str, *, upgrade: bool = True) -> Components:
    """The production adapters: SQL store, S3 storage, RabbitMQ (reached lazily, at first use).

    Parameters:
        upgrade: migrate the database schema first (False when another process already did).

    Raises:
        StorageUnavailableError: the database cannot be reached.
    """
    from mps.broker.rabbitmq import RabbitmqBroker
    from mps.storage.s3 import S3Storage
    from mps.store.sql import SqlTaskStore

    broker = RabbitmqBroker(settings.amqp_url, prefix=settings.queue_prefix, name=name)
    store = SqlTaskStore(settings.database_url, upgrade=upgrade)
    return Components(store, S3Storage.from_settings(settings), broker)


def build_broker(settings: Settings, name: str) -> Broker:
    """A RabbitMQ broker of its own (its own connections), e.g. for a consumer beside publishers."""
    from mps.broker.rabbitmq import RabbitmqBroker

    return RabbitmqBroker(settings.amqp_url, prefix=settings.queue_prefix, name=name)


def build_catalog(settings: Settings, templates_file: Path | None = None) -> TemplateCatalog:
    """Presets plus the custom templates of ``templates_file`` (Describe*Templates shape)."""
    custom = load_template_file(templates_file) if templates_file is not None else None
    return TemplateCatalog(load_presets(settings.presets_dir), custom)


def build_templates(settings: Settings, store: TaskStore) -> StoreTemplates:
    """Presets plus the store's custom templates."""
    return StoreTemplates(build_catalog(settings), store)


def build_runner(settings: Settings) -> FfmpegRunner:
    return FfmpegRunner(
        settings.ffmpeg,
        settings.ffprobe,
        default_timeout=settings.ffmpeg_timeout,
        stall_timeout=settings.stall_timeout,
    )


def build_local_engine(settings: Settings, catalog: TemplateCatalog, asset_dir: Path) -> TaskEngine:
    """The engine of ``mps process``: local files allowed as watermark images."""
    fetch = AssetFetcher(asset_dir, allow_private=settings.url_allow_private, local_files=True)
    return TaskEngine(build_runner(settings), catalog, fetch, settings)


def build_api_services(settings: Settings, parts: Components | None = None) -> ApiServices:
    """What the API's handlers use: ``parts`` (default: the production adapters), the templates,
    a runner for DescribeMediaMetaData.

    Raises:
        MpsError: the presets are invalid, or the database cannot be opened or migrated.
    """
    from mps.api.handlers import ApiServices

    parts = parts if parts is not None else build_components(settings, "mps-api")
    # The API starts even while RabbitMQ is down: the topology is declared once it is reachable.
    parts.broker.declare_topology(settings.events_exchange)
    return ApiServices(
        store=parts.store,
        broker=parts.broker,
        storage=parts.storage,
        runner=build_runner(settings),
        templates=build_templates(settings, parts.store),
        settings=settings,
        assets_bucket=settings.assets_bucket,
    )


def build_api_app(
    settings: Settings, parts: Components | None = None, metrics: Metrics | None = None
) -> FastAPI:
    """The ASGI application of ``mps api`` on ``parts`` (default: the production adapters), with
    ``/metrics`` (``metrics``, default: :func:`build_metrics` on the same store and broker) and
    ``/console``."""
    from mps.api.service import build_api

    services = build_api_services(settings, parts)
    if metrics is None:
        metrics = build_metrics(services.store, services.broker)
    return build_api(settings, services, metrics=metrics)


def build_metrics(store: TaskStore | None = None, broker: Broker | None = None) -> Metrics:
    """A process's metrics; with ``store`` (the API, ``mps up``), also the gauges read from the store
    and the work queue's depth from ``broker`` at scrape time. Workers, the listener and the relay
    count only what they do themselves, so the store is asked once per scrape, by the API."""
    from mps.metrics import Metrics, StoreCollector

    metrics = Metrics()
    if store is not None:
        depth = None
        if broker is not None and isinstance(broker, QueueInspector):
            inspector, queue = broker, broker.work_queue

            def depth() -> tuple[str, int]:
                return queue, inspector.message_count(queue)

        metrics.register(StoreCollector(store, depth))
    return metrics


@contextmanager
def metrics_endpoint(settings: Settings, metrics: Metrics) -> Iterator[MetricsServer | None]:
    """``/metrics`` on ``MPS_METRICS_PORT`` for the life of the block (None when the port is 0)."""
    if not settings.metrics_port:
        yield None
        return
    from mps.metrics import serve_metrics

    server = serve_metrics(metrics, settings.metrics_port, settings.metrics_host)
    try:
        yield server
    finally:
        server.close()


def build_api_app_from_env() -> FastAPI:
    """The application of one process of ``mps api --workers N``, from the ``MPS_*`` environment.

    uvicorn imports this factory by name in each worker process (``mps.app:build_api_app_from_env``,
    ``factory=True``): the processes share nothing but the listening socket. The parent migrated
    the schema before starting them, so each only opens the store; each closes its broker and
    store when uvicorn shuts it down (the ASGI lifespan).

    Raises:
        MpsError: the presets are invalid, or the database cannot be opened.
    """
    settings = Settings()
    parts = build_components(settings, f"mps-api-{os.getpid()}", upgrade=False)
    app = build_api_app(settings, parts)

    @asynccontextmanager
    async def lifespan(_app: object) -> AsyncIterator[None]:
        try:
            yield
        finally:
            parts.broker.close()
            parts.store.close()

    app.router.lifespan_context = lifespan
    return app


@contextmanager
def work_handler(
    settings: Settings, store: TaskStore, storage: Storage, *, runner: Runner | None = None,
    templates: TemplateLookup | None = None, max_attempts: int = RetryPolicy().max_attempts,
    metrics: Metrics | None = None,
) -> Iterator[WorkHandler]:  # fmt: skip
    """A :class:`WorkHandler` with its own input cache, removed from disk on exit.

    Parameters:
        settings: work directory, limits, ``MPS_EVENTS_EXCHANGE``.
        store, storage: the task store and object store.
        runner: ffmpeg (default: the configured binaries).
        templates: template lookup (default: :func:`build_templates`).
        max_attempts: the consumer's retry policy's attempts.
        metrics: the worker's metrics (None: not observed).
    """
    from mps.worker.handler import WorkHandler
    from mps.worker.inputs import InputCache, make_fetch
    from mps.worker.produce import SubtaskProducer
    from mps.workflow.lifecycle import Lifecycle

    directory = settings.work_dir / f"mps-inputs-{uuid.uuid4().hex[:12]}"
    fetch = make_fetch(
        storage, url_max_bytes=settings.url_max_bytes, allow_private=settings.url_allow_private
    )
    inputs = InputCache(directory, fetch)
    templates = templates if templates is not None else build_templates(settings, store)
    executor = Executor(runner or build_runner(settings), templates, settings)
    retries = settings.subtask_retries
    default_retry = ActivityRetry(MaxAttempts=retries + 1) if retries else None
    lifecycle = Lifecycle(store, settings.events_exchange, default_retry=default_retry)
    producer = SubtaskProducer(lifecycle, storage, executor, inputs)
    try:
        lease = timedelta(seconds=settings.subtask_lease)
        yield WorkHandler(
            lifecycle, producer, inputs, max_attempts=max_attempts, lease=lease, metrics=metrics
        )
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def run_worker(
    settings: Settings,
    concurrency: int,
    stop: threading.Event,
    parts: Components,
    consumer: Broker | None = None,
    metrics: Metrics | None = None,
) -> None:
    """Consume the work queue with ``concurrency`` handler threads until ``stop`` is set.

    Parameters:
        consumer: the broker to consume with (default: ``parts.broker``).
        metrics: where the worker's busy slots, durations and speeds go (None: nowhere).

    Raises:
        BrokerError: a failure reconnecting cannot fix (login refused...).
    """
    from mps.worker.service import consume_work

    broker = consumer if consumer is not None else parts.broker
    broker.declare_topology(settings.events_exchange)
    policy: RetryPolicy = getattr(broker, "retry_policy", RetryPolicy())
    if metrics is not None:
        metrics.worker_slots.set(concurrency)
    with work_handler(
        settings, parts.store, parts.storage, max_attempts=policy.max_attempts, metrics=metrics
    ) as handler:
        consume_work(broker, handler, concurrency, stop)


def run_relay_loop(settings: Settings, stop: threading.Event, parts: Components) -> None:
    """Relay outbox events and republish lost work until ``stop`` is set."""
    from mps.relay.service import run_relay_service

    parts.broker.declare_topology(settings.events_exchange)
    run_relay_service(settings, stop, parts.store, parts.broker)


def listen_handler(
    settings: Settings, parts: Components, metrics: Metrics | None = None
) -> BucketEventHandler:
    """The listener's handler: bucket events into workflow tasks (counted in ``metrics``)."""
    from mps.listener.service import BucketEventHandler

    templates = build_templates(settings, parts.store)
    return BucketEventHandler(
        parts.store, parts.storage, parts.broker, templates, plan=settings.plan, metrics=metrics
    )


def run_listen_loop(
    settings: Settings, stop: threading.Event, parts: Components, *, reconcile_interval: float | None = None,
    metrics: Metrics | None = None,
) -> None:  # fmt: skip
    """Turn bucket events into workflow tasks, and reconcile every ``reconcile_interval`` seconds
    (None: ``MPS_RECONCILE_INTERVAL``), until ``stop`` is set."""
    from mps.listener.service import run_listener

    parts.broker.declare_topology(settings.events_exchange)
    handler = listen_handler(settings, parts, metrics)
    run_listener(settings, stop, handler, reconcile_interval=reconcile_interval)


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
    """API, worker (``workers`` handler threads), relay and listener in one process, until ``stop``.

    One task store, one object store client and one publishing broker are shared by every role
    (each is thread-safe: the store pools connections, the broker keeps one channel per thread); the
    work consumer and the bucket-events consumer get brokers of their own, so a long consume never
    holds a publisher's connection.
    """
    import uvicorn

    parts = build_components(settings, "mps up")
    consumer = build_broker(settings, "mps up worker")
    listener = Components(parts.store, parts.storage, build_broker(settings, "mps up listen"))
    metrics = build_metrics(parts.store, parts.broker)  # one registry: the API's /metrics shows it all
    server = uvicorn.Server(
        uvicorn.Config(build_api_app(settings, parts, metrics), host=host, port=port, log_level="info")
    )
    jobs: list[tuple[str, Callable[[], None]]] = [
        ("api", server.run),
        ("worker", lambda: run_worker(settings, workers, stop, parts, consumer, metrics)),
        ("relay", lambda: run_relay_loop(settings, stop, parts)),
        ("listen", lambda: run_listen_loop(settings, stop, listener, metrics=metrics)),
    ]
    threads = [threading.Thread(target=_guarded(name, job, stop), name=f"mps-{name}") for name, job in jobs]
    try:
        for thread in threads:
            thread.start()
        stop.wait()
        server.should_exit = True
        for thread in threads:
            thread.join()
    finally:
        for broker in (consumer, listener.broker, parts.broker):
            broker.close()
        parts.store.close()


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
    "build_api_app",
    "build_api_app_from_env",
    "build_api_services",
    "build_broker",
    "build_catalog",
    "build_components",
    "build_local_engine",
    "build_metrics",
    "build_runner",
    "build_templates",
    "install_stop_signals",
    "listen_handler",
    "metrics_endpoint",
    "run_listen_loop",
    "run_relay_loop",
    "run_up",
    "run_worker",
    "work_handler",
]
