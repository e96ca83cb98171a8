"""The broker layer: work queue, events and bucket-event intake over RabbitMQ, and its in-memory twin.

``RabbitmqBroker`` (pika) and ``StubBroker`` (tests) both satisfy :class:`Broker`; queue and exchange
names come from :mod:`mps.broker.names`. ``RabbitmqBroker`` is imported lazily so that code using
only the stub does not load pika.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mps.broker.base import (
    AMQP_MAX_PRIORITY,
    ATTEMPTS_HEADER,
    ERROR_HEADER,
    Body,
    Broker,
    BrokerConnectionError,
    BrokerError,
    DecodeError,
    Delivery,
    Handler,
    Outcome,
    RetryPolicy,
    UnroutableError,
    amqp_priority,
    is_retryable,
    task_priority,
)
from mps.broker.names import QueueNames
from mps.broker.stub import PublishedMessage, StubBroker

if TYPE_CHECKING:
    from mps.broker.rabbitmq import RabbitmqBroker


def __getattr__(name: str) -> Any:
    if name == "RabbitmqBroker":
        from mps.broker.rabbitmq import RabbitmqBroker

        return RabbitmqBroker
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AMQP_MAX_PRIORITY",
    "ATTEMPTS_HEADER",
    "Body",
    "Broker",
    "BrokerConnectionError",
    "BrokerError",
    "DecodeError",
    "Delivery",
    "ERROR_HEADER",
    "Handler",
    "Outcome",
    "PublishedMessage",
    "QueueNames",
    "RabbitmqBroker",
    "RetryPolicy",
    "StubBroker",
    "UnroutableError",
    "amqp_priority",
    "is_retryable",
    "task_priority",
]
