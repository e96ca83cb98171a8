"""An in-memory :class:`~mps.broker.base.Broker` for unit tests of the layers above the broker.

It keeps RabbitMQ's semantics that those layers rely on (priorities, topic/fanout routing,
retries with ``x-mps-attempts``, dead letters) and adds what tests need: :meth:`StubBroker.join`,
:attr:`StubBroker.dead_letters`, :attr:`StubBroker.events` and a switch that makes the broker
"unreachable".
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from threading import Event
from typing import Any

from mps.broker import names
from mps.broker.base import (
    ATTEMPTS_HEADER,
    ERROR_HEADER,
    Body,
    BrokerConnectionError,
    BrokerError,
    Delivery,
    Handler,
    Outcome,
    RetryPolicy,
    amqp_priority,
    encode_body,
    error_summary,
)

_log = logging.getLogger("mps.broker.StubBroker")

#: Retries in the stub happen at once unless a test asks for delays.
IMMEDIATE_RETRIES = RetryPolicy(max_attempts=5, base_delay=0.0, max_delay=0.0)
#: How often idle stub consumers look at ``stop``, in seconds.
POLL_SECONDS = 0.02


@dataclass(frozen=True)
class PublishedMessage:
    """One message published to an exchange (kept in :attr:`StubBroker.events`)."""

    exchange: str
    routing_key: str
    body: bytes
    headers: Mapping[str, Any] = field(default_factory=dict)


def topic_matches(pattern: str, routing_key: str) -> bool:
    """Whether an AMQP topic binding key matches a routing key (``*`` one word, ``#`` zero or more).

    Parameters:
        pattern: the binding key, e.g. ``WorkflowTask.#``.
        routing_key: the message's routing key, e.g. ``WorkflowTask.FINISH``.

    Returns:
        ``True`` on a match, as RabbitMQ's topic exchange decides it.
    """

    def match(p: list[str], k: list[str]) -> bool:
        if not p:
            return not k
        if p[0] == "#":
            return match(p[1:], k) or (bool(k) and match(p, k[1:]))
        return bool(k) and p[0] in ("*", k[0]) and match(p[1:], k[1:])

    return match(pattern.split("."), routing_key.split("."))


def _routes(exchange_type: str, binding_key: str, routing_key: str) -> bool:
    if exchange_type == "fanout":
        return True
    if exchange_type == "topic":
        return topic_matches(binding_key, routing_key)
    return binding_key == routing_key  # direct


class StubBroker:
    """The broker protocol in memory; thread-safe, so handlers may publish from consumer threads.

    Parameters:
        prefix: deployment prefix of queue names, as for :class:`~mps.broker.rabbitmq.RabbitmqBroker`.
        retry_policy: attempts and backoff (default: 5 attempts, no delay).
    """

    def __init__(self, *, prefix: str = "", retry_policy: RetryPolicy = IMMEDIATE_RETRIES) -> None:
        self.names = names.QueueNames(prefix)
        self.retry_policy = retry_policy
        #: Set to make every publish raise :class:`BrokerConnectionError`, as if RabbitMQ were down.
        self.unavailable = False
        #: Everything published to an exchange (events, topics, bucket events), in order.
        self.events: list[PublishedMessage] = []
        #: Failed messages per consumed queue, as the DLQ ``{queue}.dlq`` would hold them.
        self.dead_letters_by_queue: dict[str, list[Delivery]] = defaultdict(list)
        self._cond = threading.Condition()
        self._queues: dict[str, list[tuple[int, int, Delivery]]] = defaultdict(list)
        self._busy: Counter[str] = Counter()  # running handlers and pending delayed retries
        self._seq = itertools.count()
        self._exchanges: dict[str, str] = {}
        self._bindings: dict[str, list[tuple[str, str]]] = defaultdict(list)

    @property
    def work_queue(self) -> str:
        """The full name of the work queue."""
        return self.names.work

    @property
    def dead_letters(self) -> list[Delivery]:
        """Every dead-lettered message, of all queues, in the order they failed."""
        with self._cond:
            return [d for letters in self.dead_letters_by_queue.values() for d in letters]

    def messages(self, queue: str) -> list[Delivery]:
        """The messages waiting in ``queue``, in the order a consumer would get them."""
        with self._cond:
            return [entry[2] for entry in sorted(self._queues[queue])]

    # -- publishing ----------------------------------------------------------------------------

    def publish_work(
        self,
        body: Body,
        priority: int = 0,
        headers: Mapping[str, Any] | None = None,
        message_id: str | None = None,
    ) -> str:
        """Enqueue work (see :meth:`RabbitmqBroker.publish_work`); returns the message id."""
        self._check_available()
        message_id = message_id or uuid.uuid4().hex
        data, _ = encode_body(body)
        delivery = Delivery(data, dict(headers or {}), message_id=message_id, priority=priority)
        self._enqueue(self.work_queue, delivery)
        return message_id

    def publish_to_queue(self, queue_name: str, body: Body) -> None:
        """Enqueue on ``queue_name`` (created if absent)."""
        self._check_available()
        self._enqueue(queue_name, Delivery(encode_body(body)[0], message_id=uuid.uuid4().hex))

    def publish_event(self, exchange: str, routing_key: str, body: Body) -> bool:
        """Record the event and route it to bound queues; returns whether any queue got it.

        Raises:
            BrokerConnectionError: :attr:`unavailable` is set.
            BrokerError: ``exchange`` was declared with a type other than topic.
        """
        self._check_available()
        self._declare_exchange(exchange, "topic")
        return self._route(exchange, routing_key, encode_body(body)[0])

    def publish_to_topic(self, topic_name: str, body: Body, routing_key: str = "") -> bool:
        """As :meth:`publish_event` on the topic exchange ``topic_name``."""
        return self.publish_event(topic_name, routing_key, body)

    def publish_bucket_event(self, exchange: str, body: Body, routing_key: str = "") -> bool:
        """Stub only: what MinIO does, publish to the bucket-events exchange whatever its type."""
        return self._route(exchange, routing_key, encode_body(body)[0])

    def declare_topology(self, events_exchange: str) -> bool:
        """Create the work queue and the topic exchange ``events_exchange``; False if :attr:`unavailable`."""
        if self.unavailable:
            return False
        self._declare_exchange(events_exchange, "topic")
        with self._cond:
            self._queues.setdefault(self.work_queue, [])
        return True

    def declare_bucket_events(
        self, exchange: str, exchange_type: str = "fanout", queue: str | None = None, binding_key: str = "#"
    ) -> None:
        """Declare the exchange and bind ``queue`` (default :attr:`QueueNames.bucket_events`) to it."""
        self._declare_exchange(exchange, exchange_type)
        self.bind(queue or self.names.bucket_events, exchange, binding_key)

    def bind(self, queue: str, exchange: str, binding_key: str = "#") -> None:
        """Stub only: bind ``queue`` to ``exchange``, as a subscriber of events would."""
        with self._cond:
            self._exchanges.setdefault(exchange, "topic")
            self._bindings[exchange].append((queue, binding_key))
            self._queues.setdefault(queue, [])

    def message_count(self, queue: str) -> int:
        """Messages waiting in ``queue`` (not the ones being handled), as a passive declare says."""
        self._check_available()
        with self._cond:
            return len(self._queues[queue])

    def close(self) -> None:
        """Nothing to release."""

    def _check_available(self) -> None:
        if self.unavailable:
            raise BrokerConnectionError("stub broker is unavailable")

    def _declare_exchange(self, exchange: str, exchange_type: str) -> None:
        with self._cond:
            known = self._exchanges.setdefault(exchange, exchange_type)
        if known != exchange_type:
            message = f"exchange {exchange} is a {known} exchange, not {exchange_type}"
            raise BrokerError(message, retryable=False)

    def _route(self, exchange: str, routing_key: str, data: bytes) -> bool:
        with self._cond:
            self.events.append(PublishedMessage(exchange, routing_key, data))
            kind = self._exchanges.get(exchange, "topic")
            targets = [queue for queue, key in self._bindings[exchange] if _routes(kind, key, routing_key)]
        for queue in dict.fromkeys(targets):
            self._enqueue(queue, Delivery(data, message_id=uuid.uuid4().hex))
        return bool(targets)

    def _enqueue(self, queue: str, delivery: Delivery) -> None:
        with self._cond:
            delivery = replace(delivery, queue=queue)
            entry = (-amqp_priority(delivery.priority), next(self._seq), delivery)
            heapq.heappush(self._queues[queue], entry)
            self._cond.notify_all()

    # -- consuming -----------------------------------------------------------------------------

    def consume(self, queue: str, handler: Handler, *, prefetch: int, stop: Event) -> None:
        """Run ``handler`` in ``prefetch`` threads until ``stop`` is set (blocks, like RabbitMQ's)."""
        threads = [
            threading.Thread(target=self._consume_loop, args=(queue, handler, stop), daemon=True)
            for _ in range(max(prefetch, 1))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    @contextmanager
    def consumer(self, queue: str, handler: Handler, *, prefetch: int = 1) -> Iterator[Event]:
        """Stub only: consume in a background thread for the duration of a ``with`` block.

        Yields:
            The stop event (set on exit; the consumer thread is joined).
        """
        stop = Event()
        kwargs = {"prefetch": prefetch, "stop": stop}
        thread = threading.Thread(target=self.consume, args=(queue, handler), kwargs=kwargs)
        thread.start()
        try:
            yield stop
        finally:
            stop.set()
            thread.join()

    def join(self, queue: str, timeout: float = 10.0) -> None:
        """Wait until ``queue`` is empty and no handler or delayed retry of it is pending.

        Raises:
            TimeoutError: still busy after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queues[queue] or self._busy[queue]:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"queue {queue} still busy after {timeout} s")
                self._cond.wait(remaining)

    def _consume_loop(self, queue: str, handler: Handler, stop: Event) -> None:
        while not stop.is_set():
            with self._cond:
                if not self._queues[queue]:
                    self._cond.wait(POLL_SECONDS)
                    continue
                delivery = heapq.heappop(self._queues[queue])[2]
                self._busy[queue] += 1
            try:
                self._run(queue, handler, delivery)
            finally:
                with self._cond:
                    self._busy[queue] -= 1
                    self._cond.notify_all()

    def _run(self, queue: str, handler: Handler, delivery: Delivery) -> None:
        try:
            handler(delivery)
            return
        except Exception as exc:  # the consumer loop is where every failure is judged and logged
            error: BaseException = exc
            _log.warning("handler failed on %s (attempt %d): %s", queue, delivery.attempts, exc)
        headers = {**delivery.headers, ATTEMPTS_HEADER: delivery.attempts, ERROR_HEADER: error_summary(error)}
        copy = replace(delivery, headers=headers, attempts=delivery.attempts + 1, redelivered=False)
        if self.retry_policy.outcome(error, delivery.attempts) is Outcome.RETRY:
            self._retry_later(queue, copy, self.retry_policy.delay(delivery.attempts))
        else:
            with self._cond:
                self.dead_letters_by_queue[queue].append(replace(copy, attempts=delivery.attempts))

    def _retry_later(self, queue: str, delivery: Delivery, delay: float) -> None:
        if delay <= 0:
            self._enqueue(queue, delivery)
            return
        with self._cond:
            self._busy[queue] += 1  # join() must wait for the retry too

        def fire() -> None:
            with self._cond:
                self._busy[queue] -= 1
                self._enqueue(queue, delivery)

        timer = threading.Timer(delay, fire)
        timer.daemon = True
        timer.start()


__all__ = ["IMMEDIATE_RETRIES", "PublishedMessage", "StubBroker", "topic_matches"]
