"""``mps listen``: bucket events (AMQP and webhook-queued) into workflow tasks, plus the reconcile scan."""

from __future__ import annotations

from mps.listener.service import BucketEventHandler, reconcile_loop, run_listener

__all__ = ["BucketEventHandler", "reconcile_loop", "run_listener"]
