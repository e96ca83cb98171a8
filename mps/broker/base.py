"""The broker seam: the :class:`Broker` protocol, the :class:`Delivery` envelope, errors and policy.

Everything here is shared by :class:`~mps.broker.rabbitmq.RabbitmqBroker` and its in-memory twin
:class:`~mps.broker.stub.StubBroker`, so both decide retries, dead letters and priorities the same way.

Errors (pika's exceptions never leave :mod:`mps.broker.rabbitmq`)::

    StorageUnavailableError (mps.errors, retryable)
    └── BrokerError                  a publish or consume failed (nack, channel closed...)
        ├── BrokerConnectionError    RabbitMQ could not be reached or the connection dropped
        └── UnroutableError          a mandatory message matched no queue (not retryable)
    MpsError
    └── DecodeError                  a message body is not what its consumer expects (permanent)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from threading import Event
from typing import Any, Protocol, runtime_checkable

from mps.errors import ERR_CODE_INTERNAL, InvalidParameterError, MpsError, StorageUnavailableError
from mps.models.jsontext import parse_json

#: Lowest and highest ``TasksPriority`` of the MPS API (Tencent: -10..10, default 0).
TASK_PRIORITY_MIN = -10
TASK_PRIORITY_MAX = 10
#: ``x-max-priority`` of the work queue: one AMQP level per TasksPriority value (0..20), so no two
#: API priorities collapse into one; RabbitMQ advises <= 10 levels, but 21 cost little memory.
AMQP_MAX_PRIORITY = TASK_PRIORITY_MAX - TASK_PRIORITY_MIN
#: Header counting the attempts that already failed (absent on a first delivery).
ATTEMPTS_HEADER = "x-mps-attempts"
#: Header with ``ExceptionType: message`` of the last failure, on retried and dead-lettered copies.
ERROR_HEADER = "x-mps-error"
#: Content type of bodies given as a mapping (JSON-encoded).
JSON_CONTENT_TYPE = "application/json"

Body = bytes | Mapping[str, Any]


class BrokerError(StorageUnavailableError):
    """Publishing or consuming failed; by default trying again later may work.

    Parameters:
        message: what failed.
        retryable: override the class default (``False`` for a configuration error such as a
            queue redeclared with different arguments, which will fail the same way again).
    """

    code = "InternalError.BrokerUnavailable"

    def __init__(self, message: str, code: str | None = None, *, retryable: bool | None = None) -> None:
        super().__init__(message, code)
        if retryable is not None:
            self.retryable = retryable


class BrokerConnectionError(BrokerError):
    """RabbitMQ could not be reached, refused the login, or dropped the connection."""


class UnroutableError(BrokerError):
    """A mandatory message was returned: no queue is bound for it (a wiring mistake, not a blip)."""

    retryable = False


class DecodeError(MpsError):
    """A message body could not be decoded; it goes to the dead-letter queue, never retried.

    Parameters:
        message: why decoding failed.
        body: the raw bytes, kept for the dead-letter record and the logs.
    """

    code = "InternalError.DecodeMessage"
    err_code = ERR_CODE_INTERNAL

    def __init__(self, message: str, body: bytes) -> None:
        super().__init__(message)
        self.body = body


@dataclass(frozen=True)
class Delivery:
    """One message handed to a handler (immutable: a handler cannot change what is acked).

    Parameters:
        body: the raw body.
        headers: AMQP headers (``x-mps-*`` included).
        redelivered: the broker delivered it before and it was not acked (a consumer died or its
            channel closed mid-handler): the handler may be running for the second time.
        attempts: 1 on the first try, n after n-1 failures that were retried (``x-mps-attempts`` + 1).
        message_id: the id given at publish time (``None`` if the publisher set none).
        priority: the ``TasksPriority`` (-10..10) it was published with.
        queue: the queue it came from.
    """

    body: bytes
    headers: Mapping[str, Any] = field(default_factory=dict)
    redelivered: bool = False
    attempts: int = 1
    message_id: str | None = None
    priority: int = 0
    queue: str = ""

    def json(self) -> Any:
        """The body decoded as JSON.

        Returns:
            The decoded value.

        Raises:
            DecodeError: the body is not UTF-8 JSON (permanent: the message goes to the DLQ).
        """
        try:
            return parse_json(self.body, what="the message body")
        except InvalidParameterError as exc:
            raise DecodeError(exc.message, self.body) from exc


#: What a consumer runs for each message; returning normally acks it.
Handler = Callable[[Delivery], None]


class Outcome(Enum):
    """What a consumer does with a message once its handler has finished."""

    ACK = "ack"
    RETRY = "retry"
    DEAD = "dead"


def is_retryable(exc: BaseException) -> bool:
    """Whether running the handler again may succeed, judged from the error alone.

    An :class:`MpsError` says so itself; an ``OSError`` (network, disk, timeout) is taken as
    transient; anything else is a bug or bad input and will fail the same way again.

    Parameters:
        exc: what the handler raised.

    Returns:
        ``True`` if the message should be retried (within the attempt cap).
    """
    if isinstance(exc, MpsError):
        return exc.retryable
    return isinstance(exc, OSError)


@dataclass(frozen=True)
class RetryPolicy:
    """Capped retries with exponential backoff.

    Parameters:
        max_attempts: total handler runs before a retryable failure is dead-lettered (>= 1).
        base_delay: seconds before the 2nd attempt; doubled for each later one.
        max_delay: cap on the delay, in seconds.
    """

    max_attempts: int = 5
    base_delay: float = 2.0
    max_delay: float = 300.0

    def outcome(self, exc: BaseException | None, attempts: int) -> Outcome:
        """Decide what happens to a message after its handler ran.

        Parameters:
            exc: what the handler raised, ``None`` if it returned.
            attempts: which attempt this was (``Delivery.attempts``).

        Returns:
            ``ACK``, ``RETRY`` (retryable and under the cap) or ``DEAD``.
        """
        if exc is None:
            return Outcome.ACK
        if is_retryable(exc) and attempts < self.max_attempts:
            return Outcome.RETRY
        return Outcome.DEAD

    def delay(self, attempts: int) -> float:
        """Seconds to wait before the attempt after ``attempts`` failed ones."""
        return min(self.base_delay * 2 ** max(attempts - 1, 0), self.max_delay)


def amqp_priority(task_priority: int) -> int:
    """Map a ``TasksPriority`` (-10..10, higher first) to an AMQP priority (0..20).

    Parameters:
        task_priority: the API priority; values outside -10..10 are clamped.

    Returns:
        ``task_priority + 10``, clamped to ``0..AMQP_MAX_PRIORITY``.
    """
    return min(max(task_priority, TASK_PRIORITY_MIN), TASK_PRIORITY_MAX) - TASK_PRIORITY_MIN


def task_priority(amqp: int | None) -> int:
    """The inverse of :func:`amqp_priority` (``None``, i.e. no priority, reads as 0)."""
    return (amqp if amqp is not None else -TASK_PRIORITY_MIN) + TASK_PRIORITY_MIN


def encode_body(body: Body) -> tuple[bytes, str | None]:
    """Turn a body given to a ``publish_*`` method into bytes.

    Parameters:
        body: raw bytes (sent as is) or a JSON-serializable mapping.

    Returns:
        The bytes and their content type (``None`` for raw bytes).
    """
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body), None
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode(), JSON_CONTENT_TYPE


def error_summary(exc: BaseException) -> str:
    """``Type: message`` of a failure, as stored in the ``x-mps-error`` header (<= 1000 chars)."""
    return f"{type(exc).__name__}: {exc}"[:1000]


@runtime_checkable
class Broker(Protocol):
    """Moves work and events between the processes of mps.

    Every ``publish_*`` returns only once the broker has taken responsibility for the message
    (publisher confirm), and raises :class:`BrokerError` otherwise.
    """

    @property
    def work_queue(self) -> str:
        """The full name of the work queue (the one ``publish_work`` fills)."""
        ...

    def publish_work(
        self,
        body: Body,
        priority: int = 0,
        headers: Mapping[str, Any] | None = None,
        message_id: str | None = None,
    ) -> str:
        """Put one unit of work on the work queue; returns its message id."""
        ...

    def publish_event(self, exchange: str, routing_key: str, body: Body) -> bool:
        """Publish to a durable topic exchange; returns whether any queue received it."""
        ...

    def publish_to_queue(self, queue_name: str, body: Body) -> None:
        """Put a message on a named durable queue, declaring it if absent."""
        ...

    def publish_to_topic(self, topic_name: str, body: Body, routing_key: str = "") -> bool:
        """Publish to the durable topic exchange ``topic_name``; returns whether it was routed."""
        ...

    def declare_topology(self, events_exchange: str) -> bool:
        """Declare the work queue and the events exchange, now and on every reconnect (at start);
        returns whether they are declared on return (never raises: a retry goes on meanwhile)."""
        ...

    def declare_bucket_events(self, exchange: str, exchange_type: str, queue: str) -> None:
        """Declare the exchange bucket events arrive on and a durable queue bound to it."""
        ...

    def consume(self, queue: str, handler: Handler, *, prefetch: int, stop: Event) -> None:
        """Run ``handler`` for each message of ``queue`` until ``stop`` is set."""
        ...

    def close(self) -> None:
        """Release this thread's connections."""
        ...


@runtime_checkable
class QueueInspector(Protocol):
    """A broker that can tell how many messages wait in a queue (for ``/metrics``)."""

    def message_count(self, queue: str) -> int:
        """Messages ready in ``queue``.

        Raises:
            BrokerError: the broker did not answer, or the queue does not exist.
        """
        ...


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
    "JSON_CONTENT_TYPE",
    "Outcome",
    "QueueInspector",
    "RetryPolicy",
    "TASK_PRIORITY_MAX",
    "TASK_PRIORITY_MIN",
    "UnroutableError",
    "amqp_priority",
    "encode_body",
    "error_summary",
    "is_retryable",
    "task_priority",
]
