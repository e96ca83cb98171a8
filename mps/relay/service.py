"""The relay process: outbox delivery, the redispatch sweep and retention, until stopped.

The logic lives in :mod:`mps.workflow.relay`; this is the process around it, given its parts by
the composition root (:mod:`mps.app`).
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from mps.broker.base import Broker
from mps.settings import Settings
from mps.store.base import TaskStore
from mps.workflow.lifecycle import Lifecycle
from mps.workflow.relay import Deadlines, OutboxRelay, Redispatcher, Retention, run_relay

log = logging.getLogger("mps.relay.service")


def run_relay_service(settings: Settings, stop: threading.Event, store: TaskStore, broker: Broker) -> None:
    """Relay outbox events and republish lost work until ``stop`` is set.

    Parameters:
        settings: ``MPS_EVENTS_EXCHANGE``, the URL policy, the redispatch delay, retention.
        stop: set to stop after the current round.
        store: the outbox, and the tasks it sweeps.
        broker: publishes events and republished work (owned by the caller, not closed here).
    """
    relay = OutboxRelay(store, broker, allow_private=settings.url_allow_private)
    sweep = Redispatcher(store, broker, older_than=settings.redispatch_after)
    keep = settings.task_retention_days
    retention = Retention(store, timedelta(days=keep)) if keep > 0 else None
    deadlines = Deadlines(Lifecycle(store, settings.events_exchange))
    log.info("relay started (events exchange %s)", settings.events_exchange)
    try:
        run_relay(relay, sweep, stop, retention=retention, deadlines=deadlines)
    finally:
        relay.close()
    log.info("relay stopped")


__all__ = ["run_relay_service"]
