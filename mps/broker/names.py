"""Every queue and exchange name mps uses, built in one place.

Nothing else in mps spells a queue or exchange name inline: a deployment prefix (unique per
test run, or per tenant sharing one RabbitMQ vhost) is applied here and only here.

::

    {prefix}mps.work                  the work queue (priority, dead-lettered)
    {prefix}mps.bucket-events         the listener's queue, bound to MPS_BUCKET_EVENTS_EXCHANGE
    {queue}.dlx                       the dead-letter exchange of a consumed queue (fanout)
    {queue}.dlq                       ...and its dead-letter queue
    {queue}.retry.{delay_ms}          delay queue: holds a retried message delay_ms, then
                                      dead-letters it back into {queue}
"""

from __future__ import annotations

from dataclasses import dataclass

#: Base name of the work queue, before the deployment prefix.
WORK_QUEUE = "mps.work"
#: Base name of the queue the listener reads bucket events from (bound to the bucket-events exchange).
BUCKET_EVENTS_QUEUE = "mps.bucket-events"
#: Suffix of a queue's dead-letter exchange.
DLX_SUFFIX = ".dlx"
#: Suffix of a queue's dead-letter queue.
DLQ_SUFFIX = ".dlq"
#: Infix of a queue's delay (retry) queues; the delay in milliseconds follows it.
RETRY_INFIX = ".retry."


def dead_letter_exchange(queue: str) -> str:
    """The fanout exchange a consumed queue dead-letters rejected messages to.

    Parameters:
        queue: the consumed queue's full name.

    Returns:
        ``{queue}.dlx``.
    """
    return queue + DLX_SUFFIX


def dead_letter_queue(queue: str) -> str:
    """The queue where messages of ``queue`` that failed for good end up.

    Parameters:
        queue: the consumed queue's full name.

    Returns:
        ``{queue}.dlq``.
    """
    return queue + DLQ_SUFFIX


def retry_queue(queue: str, delay_ms: int) -> str:
    """The delay queue that holds retried messages of ``queue`` for ``delay_ms``.

    One queue per delay (not per message TTL in one queue) because RabbitMQ expires messages
    only at the head of a queue: a long delay would hold back the short ones behind it.

    Parameters:
        queue: the consumed queue's full name.
        delay_ms: the delay in milliseconds (the queue's ``x-message-ttl``).

    Returns:
        ``{queue}.retry.{delay_ms}``.
    """
    return f"{queue}{RETRY_INFIX}{delay_ms}"


@dataclass(frozen=True)
class QueueNames:
    """The names of one deployment, all under one prefix.

    Parameters:
        prefix: prepended to every name mps owns (``""`` in production, a random
            ``test-1a2b3c.`` in tests so runs never share queues).
    """

    prefix: str = ""

    @property
    def work(self) -> str:
        """The work queue: one message per sub-task (or group of sub-tasks)."""
        return self.prefix + WORK_QUEUE

    @property
    def bucket_events(self) -> str:
        """The listener's queue of bucket events (the exchange itself is named by configuration)."""
        return self.prefix + BUCKET_EVENTS_QUEUE

    @property
    def work_dlx(self) -> str:
        """The work queue's dead-letter exchange."""
        return dead_letter_exchange(self.work)

    @property
    def work_dlq(self) -> str:
        """The work queue's dead-letter queue."""
        return dead_letter_queue(self.work)


__all__ = [
    "BUCKET_EVENTS_QUEUE",
    "DLQ_SUFFIX",
    "DLX_SUFFIX",
    "QueueNames",
    "RETRY_INFIX",
    "WORK_QUEUE",
    "dead_letter_exchange",
    "dead_letter_queue",
    "retry_queue",
]
