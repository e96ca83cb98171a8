"""The worker process: consume the work queue with a pool of handler threads until stopped.

The handler (:class:`~mps.worker.handler.WorkHandler`) and its parts are built by the composition
root (:mod:`mps.app`). Stopping: when ``stop`` is set the worker takes no more messages, lets the
running handlers finish and acks them; a second signal exits at once (unacked messages are
redelivered to another worker).

RabbitMQ before 3.12 ignores the work queue's ``x-consumer-timeout``: its ``consumer_timeout``
(30 min by default) then closes the channel of a handler running longer, and the message is run
again elsewhere. On such servers set ``consumer_timeout`` in ``rabbitmq.conf`` above the longest
sub-task (``MPS_FFMPEG_TIMEOUT`` plus the upload); the worker logs a warning at start when it sees one.
"""

from __future__ import annotations

import logging
import threading

from mps.broker.base import Broker, Handler

log = logging.getLogger("mps.worker.service")


def consume_work(broker: Broker, handler: Handler, concurrency: int, stop: threading.Event) -> None:
    """Consume the work queue with ``concurrency`` handler threads until ``stop`` is set.

    Raises:
        BrokerError: a failure reconnecting cannot fix (login refused...).
    """
    log.info("worker consuming %s with %d handler threads", broker.work_queue, concurrency)
    broker.consume(broker.work_queue, handler, prefetch=concurrency, stop=stop)
    log.info("worker stopped")


__all__ = ["consume_work"]
