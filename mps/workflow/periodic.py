"""The loop of the listener's background threads: one pass now, then one every N seconds.

The reconcile scan (:func:`mps.listener.service.reconcile_loop`) and the timed-trigger poll
(:func:`mps.workflow.ticks.tick_loop`) both run this way; each says what to log when a pass fails.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable


def repeat_every(
    interval: float,
    stop: threading.Event,
    run_pass: Callable[[], object],
    *,
    log: logging.Logger,
    failed: str,
) -> None:
    """Run ``run_pass`` now, then every ``interval`` seconds, until ``stop`` is set.

    A pass that raises is logged and the next one runs on time; setting ``stop`` ends the wait at
    once (a pass under way finishes first).

    Parameters:
        interval: seconds from the end of one pass to the start of the next.
        stop: set it to stop.
        run_pass: one pass; what it returns is ignored.
        log: where a failed pass is logged, with its traceback.
        failed: the message for a failed pass, a ``%s`` format given ``interval``.
    """
    while not stop.is_set():
        try:
            run_pass()
        except Exception:  # the loop's boundary: one failed pass must not end the next ones
            log.exception(failed, interval)
        if stop.wait(interval):
            return


__all__ = ["repeat_every"]
