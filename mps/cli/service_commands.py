"""``mps worker``, ``mps relay`` and ``mps up``: the service processes, wired by :mod:`mps.app`.

Each builds one :class:`~mps.settings.Settings`, logs at INFO (``MPS_LOG_LEVEL`` overrides) with task
ids in every line about a task, and stops cleanly on SIGINT/SIGTERM: a first signal drains, a second
exits at once.
"""

from __future__ import annotations

import logging
import os
import threading

from mps.settings import Settings

#: Exit status after a clean stop.
EXIT_OK = 0


def _service_logging() -> None:
    """INFO for mps's own loggers unless ``MPS_LOG_LEVEL`` says otherwise; timestamps for services."""
    level = os.environ.get("MPS_LOG_LEVEL", "INFO").upper()
    root = logging.getLogger()
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s")
    for handler in root.handlers:
        handler.setFormatter(formatter)
    logging.getLogger("mps").setLevel(level)
    if not root.handlers:
        logging.basicConfig(level=level)


def run_worker_command(concurrency: int | None) -> int:
    """``mps worker``: consume the work queue with ``concurrency`` handler threads (default: cores)."""
    from mps.app import build_components, build_metrics, install_stop_signals, metrics_endpoint, run_worker

    _service_logging()
    settings = Settings()
    stop = threading.Event()
    install_stop_signals(stop)
    parts = build_components(settings, "mps worker")
    metrics = build_metrics()
    try:
        with metrics_endpoint(settings, metrics):
            run_worker(settings, max(1, concurrency or settings.concurrency), stop, parts, metrics=metrics)
    finally:
        parts.broker.close()
        parts.store.close()
    return EXIT_OK


def run_relay_command() -> int:
    """``mps relay``: deliver outbox events and republish lost work messages."""
    from mps.app import (
        build_components,
        build_metrics,
        install_stop_signals,
        metrics_endpoint,
        run_relay_loop,
    )

    _service_logging()
    settings = Settings()
    stop = threading.Event()
    install_stop_signals(stop)
    parts = build_components(settings, "mps relay")
    try:
        with metrics_endpoint(settings, build_metrics()):  # the process's own (python, gc) metrics
            run_relay_loop(settings, stop, parts)
    finally:
        parts.broker.close()
        parts.store.close()
    return EXIT_OK


def run_up_command(workers: int | None, host: str, port: int) -> int:
    """``mps up``: the API, a worker and the relay in one process."""
    from mps.app import install_stop_signals, run_up

    _service_logging()
    settings = Settings()
    stop = threading.Event()
    install_stop_signals(stop)
    run_up(settings, max(1, workers or settings.concurrency), host, port, stop)
    return EXIT_OK


__all__ = ["run_relay_command", "run_up_command", "run_worker_command"]
