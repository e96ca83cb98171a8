"""``mps listen`` and ``mps reconcile``: bucket events into workflow tasks (see :mod:`mps.listener`).

``listen`` runs until SIGINT/SIGTERM (a first signal lets the running handlers finish, a second
exits at once; unacked events are redelivered). ``reconcile`` makes one scan of every Enabled
workflow's directory, starts the tasks no event started, prints how many, and exits.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from mps.cli.service_commands import _service_logging
from mps.settings import Settings

if TYPE_CHECKING:
    from mps.listener.service import BucketEventHandler

#: Exit status after a clean stop or a finished scan.
EXIT_OK = 0


def _handler(settings: Settings, name: str) -> BucketEventHandler:
    """The listener's handler on the production adapters (the caller closes its store)."""
    from mps.listener.service import BucketEventHandler
    from mps.worker.service import build_components, build_templates

    parts = build_components(settings, name)
    templates = build_templates(settings, parts.store)
    return BucketEventHandler(parts.store, parts.storage, parts.broker, templates, plan=settings.plan)


def run_listen_command(reconcile_interval: float | None) -> int:
    """``mps listen``: consume the bucket-events queue, reconciling every ``reconcile_interval`` s.

    Parameters:
        reconcile_interval: seconds between scans; None = ``MPS_RECONCILE_INTERVAL``; 0 = never.
    """
    from mps.listener.service import run_listener
    from mps.worker.service import install_stop_signals

    _service_logging()
    settings = Settings()
    stop = threading.Event()
    install_stop_signals(stop)
    handler = _handler(settings, "mps listen")
    try:
        run_listener(settings, stop, handler, reconcile_interval=reconcile_interval)
    finally:
        handler.store.close()
    return EXIT_OK


def run_reconcile_command() -> int:
    """``mps reconcile``: one scan; prints how many tasks it started."""
    _service_logging()
    settings = Settings()
    handler = _handler(settings, "mps reconcile")
    try:
        created = handler.reconcile()
    finally:
        handler.broker.close()
        handler.store.close()
    print(f"reconcile: started {created} task(s)")
    return EXIT_OK


__all__ = ["run_listen_command", "run_reconcile_command"]
