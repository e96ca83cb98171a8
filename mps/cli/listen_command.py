"""``mps listen`` and ``mps reconcile``: bucket events into workflow tasks (see :mod:`mps.listener`).

``listen`` runs until SIGINT/SIGTERM (a first signal lets the running handlers finish, a second
exits at once; unacked events are redelivered). ``reconcile`` makes one scan of every Enabled
workflow's directory, starts the tasks no event started, prints how many, and exits.
"""

from __future__ import annotations

import threading

from mps.cli.service_commands import _service_logging
from mps.settings import Settings

#: Exit status after a clean stop or a finished scan.
EXIT_OK = 0


def run_listen_command(reconcile_interval: float | None) -> int:
    """``mps listen``: consume the bucket-events queue, reconciling every ``reconcile_interval`` s.

    Parameters:
        reconcile_interval: seconds between scans; None = ``MPS_RECONCILE_INTERVAL``; 0 = never.
    """
    from mps.app import (
        build_components,
        build_metrics,
        install_stop_signals,
        metrics_endpoint,
        run_listen_loop,
    )

    _service_logging()
    settings = Settings()
    stop = threading.Event()
    install_stop_signals(stop)
    parts = build_components(settings, "mps listen")
    metrics = build_metrics()
    try:
        with metrics_endpoint(settings, metrics):
            run_listen_loop(settings, stop, parts, reconcile_interval=reconcile_interval, metrics=metrics)
    finally:
        parts.broker.close()
        parts.store.close()
    return EXIT_OK


def run_reconcile_command() -> int:
    """``mps reconcile``: one scan; prints how many tasks it started."""
    from mps.app import build_components, listen_handler

    _service_logging()
    settings = Settings()
    parts = build_components(settings, "mps reconcile")
    try:
        created = listen_handler(settings, parts).reconcile()
    finally:
        parts.broker.close()
        parts.store.close()
    print(f"reconcile: started {created} task(s)")
    return EXIT_OK


__all__ = ["run_listen_command", "run_reconcile_command"]
