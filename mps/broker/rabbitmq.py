"""RabbitMQ through pika's ``BlockingConnection``: confirmed publishing and a threaded consumer.

pika is not thread-safe, so publishing uses one connection and channel per thread
(``threading.local``) and the consumer owns its connection in the thread that calls
:meth:`RabbitmqBroker.consume`: that thread only pumps I/O (heartbeats keep flowing), handlers run
in a pool, and their acks come back through ``add_callback_threadsafe``.

Retries: a retryable failure republishes a copy (``x-mps-attempts`` + 1) to a delay queue
``{queue}.retry.{ms}`` whose TTL dead-letters it back into ``{queue}``, then acks the original.
Past ``RetryPolicy.max_attempts``, or on a permanent error, the copy goes to ``{queue}.dlq`` with
``x-mps-error``; if that publish fails the original is rejected, and the queue's dead-letter
exchange still lands it in the DLQ. A message is never requeued in a loop.

Consumer timeout: RabbitMQ closes a channel whose delivery stays unacked longer than
``consumer_timeout`` (30 min by default). The work queue is declared with ``x-consumer-timeout``,
which RabbitMQ 3.12+ honours; 3.10 and 3.11 accept the argument but ignore it (checked on 3.10.8),
so there the server's ``consumer_timeout`` in ``rabbitmq.conf`` must exceed the longest handler.
Either way a channel closed under a running handler is detected, the consumer reconnects, and the
unacked message is redelivered (``redelivered=True``); the stale ack is dropped, never sent on the
new channel.

Topology: every process calls :meth:`RabbitmqBroker.declare_topology` when it starts, so the work
queue (with its dead letters) and the events exchange exist before anything is published, and a
consumer can bind to ``MPS_EVENTS_EXCHANGE`` as soon as any mps process runs. The same declarations
run again on every new publishing connection, so a RabbitMQ that lost them is repaired on reconnect.

Logs: pika logs each failed connection attempt at ERROR from several loggers, one with a traceback.
This adapter turns that failure into one :class:`BrokerConnectionError` and logs one warning per
attempt itself, so the ``pika`` logger is set to CRITICAL unless the application gave it a level.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from functools import partial
from threading import Event
from typing import Any

import pika
import pika.exceptions as pe
from pika.adapters.blocking_connection import BlockingChannel
from pika.spec import BasicProperties as Properties

from mps.broker import names
from mps.broker.base import (
    AMQP_MAX_PRIORITY,
    ATTEMPTS_HEADER,
    ERROR_HEADER,
    Body,
    BrokerConnectionError,
    BrokerError,
    Delivery,
    Handler,
    Outcome,
    RetryPolicy,
    UnroutableError,
    amqp_priority,
    encode_body,
    error_summary,
    task_priority,
)
from mps.errors import MpsError

_log = logging.getLogger("mps.broker.RabbitmqBroker")

#: Persistent messages survive a broker restart (AMQP ``delivery_mode``).
PERSISTENT = 2
#: Publish attempts (with reconnects) before a connection failure reaches the caller.
PUBLISH_ATTEMPTS = 3
#: First reconnect delay in seconds; doubled per failure up to :data:`MAX_RECONNECT_DELAY`.
RECONNECT_DELAY = 0.25
#: Cap on the delay between reconnects, in seconds.
MAX_RECONNECT_DELAY = 30.0
#: Seconds a publisher connection may go unused and still publish without pumping its I/O first.
PUMP_AFTER_IDLE = 1.0
#: How long the consumer's I/O loop blocks at a time; bounds how fast ``stop`` is noticed.
IO_POLL_SECONDS = 0.2
#: RabbitMQ's default heartbeat in seconds, used when none is configured.
DEFAULT_HEARTBEAT = 60
#: ``x-consumer-timeout`` of the work queue (RabbitMQ 3.12+): above the 1 h default ffmpeg limit
#: of a fused group plus its uploads.
WORK_CONSUMER_TIMEOUT_MS = 4 * 3600 * 1000
#: A delay queue lives this long past its TTL after its last use, so idle ones disappear.
RETRY_QUEUE_EXPIRY_MS = 10 * 60 * 1000
#: Channel close codes that repeat on retry: 403 access refused, 406 inequivalent arguments.
_PERMANENT_REPLY_CODES = frozenset({403, 406})
_AUTH_ERRORS = (pe.ProbableAuthenticationError, pe.ProbableAccessDeniedError, pe.AuthenticationError)
#: Level of the ``pika`` logger when the application set none (see the module docstring).
PIKA_LOG_LEVEL = logging.CRITICAL

Declare = Callable[[BlockingChannel], None]
#: A declaration and the key under which a connection remembers it has run it.
KeyedDeclare = tuple[str, Declare]


@contextmanager
def map_pika_errors(action: str) -> Iterator[None]:
    """Translate pika's exceptions into :class:`BrokerError` subclasses (``raise ... from``).

    Parameters:
        action: what was being done, for the message (``publish to mps.work``).

    Raises:
        UnroutableError: a mandatory message was returned.
        BrokerConnectionError: connecting failed or the connection dropped (not retryable for
            a refused login).
        BrokerError: a nack, or a channel closed by the broker (not retryable for 403/406).
    """
    try:
        yield
    except pe.UnroutableError as exc:
        raise UnroutableError(f"{action}: message returned as unroutable") from exc
    except pe.NackError as exc:
        raise BrokerError(f"{action}: message nacked by the broker") from exc
    except _AUTH_ERRORS as exc:
        raise BrokerConnectionError(f"{action}: access refused: {exc!r}", retryable=False) from exc
    except (pe.AMQPConnectionError, OSError) as exc:
        raise BrokerConnectionError(f"{action}: connection failed: {_connection_cause(exc)}") from exc
    except pe.ChannelClosedByBroker as exc:
        retryable = exc.reply_code not in _PERMANENT_REPLY_CODES
        raise BrokerError(f"{action}: {exc.reply_code} {exc.reply_text}", retryable=retryable) from exc
    except pe.AMQPError as exc:
        raise BrokerError(f"{action}: {exc!r}") from exc


def _connection_cause(exc: BaseException) -> str:
    """The socket error under pika's wrappers (``ConnectionRefusedError: Connection refused``), for
    one readable log line; ``repr`` of the error when there is none."""
    seen: object = exc
    for _ in range(5):  # AMQPConnectionError(AMQPConnectorSocketConnectError(exception=OSError))
        if isinstance(seen, OSError):
            return f"{type(seen).__name__}: {seen.strerror or seen}"
        inner = getattr(seen, "exception", None)
        args = getattr(seen, "args", ())
        seen = inner if inner is not None else (args[0] if args else None)
    return repr(exc)


def _idle_limit(heartbeat: object) -> float:
    """Seconds an unpumped publisher connection may stay idle and still be alive."""
    if heartbeat == 0:
        return float("inf")  # heartbeats disabled: the server never drops an idle connection
    # Half the timeout: RabbitMQ gives up after two missed beats, sent every half timeout.
    return (heartbeat if isinstance(heartbeat, int) else DEFAULT_HEARTBEAT) / 2


def _backoff(failures: int, base: float = RECONNECT_DELAY) -> float:
    """Seconds to wait after ``failures`` consecutive failures (exponential, capped)."""
    return min(base * 2 ** max(failures - 1, 0), MAX_RECONNECT_DELAY)


class _PublisherState:
    """One thread's publishing connection, its confirming channel and what it already declared."""

    def __init__(self, connection: pika.BlockingConnection) -> None:
        self.connection = connection
        self.channel = connection.channel()
        self.channel.confirm_delivery()
        self.declared: set[str] = set()
        self.last_used = time.monotonic()

    def usable(self, idle_limit: float) -> bool:
        """Whether to publish on this connection rather than open a new one.

        Nobody pumps an idle publisher's I/O, so it sends no heartbeats and RabbitMQ drops it
        after about two intervals: past ``idle_limit`` seconds it is replaced without trying.
        A connection used within :data:`PUMP_AFTER_IDLE` seconds is not pumped first: its last
        confirmed publish just did that, and a publish on a socket closed since fails and is retried
        on a new connection (:meth:`RabbitmqBroker._publish`).
        """
        idle = time.monotonic() - self.last_used
        if not self.channel.is_open or idle > idle_limit:
            return False
        if idle < PUMP_AFTER_IDLE:
            self.last_used += idle
            return True
        try:
            self.connection.process_data_events(0)  # answer heartbeats, notice a closed socket
        except pe.AMQPError:
            return False
        self.last_used = time.monotonic()
        return self.channel.is_open


class RabbitmqBroker:
    """The :class:`~mps.broker.base.Broker` on RabbitMQ.

    Parameters:
        url: AMQP URL (``MPS_AMQP_URL``).
        prefix: deployment prefix of every name mps owns (see :class:`~mps.broker.names.QueueNames`).
        heartbeat: heartbeat in seconds (``None``: the URL's or the server's value).
        retry_policy: attempts and backoff for handlers that fail with a retryable error.
        consumer_timeout_ms: ``x-consumer-timeout`` of the work queue (``None``: not set).
        publish_attempts: publish tries, with reconnects, before :class:`BrokerConnectionError`.
        connect_timeout: socket connect timeout, in seconds.
        name: shown as the connection name in RabbitMQ (``{name} publish``, ``{name} consume {queue}``).
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "",
        heartbeat: int | None = None,
        retry_policy: RetryPolicy | None = None,
        consumer_timeout_ms: int | None = WORK_CONSUMER_TIMEOUT_MS,
        publish_attempts: int = PUBLISH_ATTEMPTS,
        connect_timeout: float = 5.0,
        name: str = "mps",
    ) -> None:
        self.name = name
        self.names = names.QueueNames(prefix)
        self.retry_policy = retry_policy or RetryPolicy()
        self._params = pika.URLParameters(url)
        if heartbeat is not None:
            self._params.heartbeat = heartbeat
        self._params.connection_attempts = 1  # we retry ourselves, with backoff and reconnects
        self._params.socket_timeout = connect_timeout
        self._params.blocked_connection_timeout = 60.0  # a broker in alarm must not hang publishers
        self.consumer_timeout_ms = consumer_timeout_ms
        self._idle_limit = _idle_limit(self._params.heartbeat)
        self._publish_attempts = max(publish_attempts, 1)
        self._local = threading.local()
        self._topology: tuple[KeyedDeclare, ...] = ()
        self._closing = threading.Event()
        self._inspect_lock = threading.Lock()
        self._inspect_connection: pika.BlockingConnection | None = None
        _quiet_pika()

    @property
    def work_queue(self) -> str:
        """The full name of the work queue."""
        return self.names.work

    # -- connections -------------------------------------------------------------------------

    def connect(self, purpose: str = "publish") -> pika.BlockingConnection:
        """Open a new connection (the caller owns it and uses it from one thread only).

        Parameters:
            purpose: appended to the connection name, so operators can tell connections apart.

        Raises:
            BrokerConnectionError: RabbitMQ is unreachable or refused the login.
        """
        params = copy.copy(self._params)
        params.client_properties = {"connection_name": f"{self.name} {purpose}"}
        with map_pika_errors(f"connect to {params.host}:{params.port}"):
            return pika.BlockingConnection(params)

    def _publisher(self) -> _PublisherState:
        state: _PublisherState | None = getattr(self._local, "state", None)
        if state is None or not state.usable(self._idle_limit):
            self._drop_publisher()
            state = self._local.state = _PublisherState(self.connect())
            for key, declare in self._topology:  # again on each connection: RabbitMQ may have lost it
                declare(state.channel)
                state.declared.add(key)
        return state

    def _drop_publisher(self) -> None:
        state: _PublisherState | None = getattr(self._local, "state", None)
        self._local.state = None
        if state is not None and state.connection.is_open:
            try:
                state.connection.close()
            except pe.AMQPError:
                pass  # it is being thrown away because it failed; a second failure says nothing

    def close(self) -> None:
        """Close this thread's publishing connection (other threads close their own), and stop
        retrying :meth:`declare_topology` in the background."""
        self._closing.set()
        self._drop_publisher()
        with self._inspect_lock:
            self._drop_inspector()

    def message_count(self, queue: str) -> int:
        """Messages ready in ``queue``: a passive declare on a connection kept for this (metrics
        scrapes come from short-lived threads, which must not each open a publisher).

        Raises:
            BrokerError: RabbitMQ is unreachable, or the queue does not exist.
        """
        with self._inspect_lock:
            for attempt in (1, 2):
                try:
                    connection = self._inspector()
                    with map_pika_errors(f"inspect {queue}"):
                        channel = connection.channel()
                        try:
                            return int(channel.queue_declare(queue, passive=True).method.message_count)
                        finally:
                            if channel.is_open:
                                channel.close()
                except BrokerConnectionError:
                    self._drop_inspector()
                    if attempt == 2:
                        raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _inspector(self) -> pika.BlockingConnection:
        connection = self._inspect_connection
        if connection is not None and connection.is_open:
            try:
                connection.process_data_events(0)  # answer heartbeats, notice a dropped socket
                return connection
            except pe.AMQPError:
                self._drop_inspector()
        self._inspect_connection = self.connect("metrics")
        return self._inspect_connection

    def _drop_inspector(self) -> None:
        connection, self._inspect_connection = self._inspect_connection, None
        if connection is not None and connection.is_open:
            with suppress(pe.AMQPError):
                connection.close()

    # -- declarations --------------------------------------------------------------------------

    def declare_topology(self, events_exchange: str) -> bool:
        """Declare what the mps processes share, now and on every new publishing connection.

        That is the work queue with its dead-letter exchange and queue, and ``events_exchange``
        as a durable topic exchange. Every process calls this when it starts; it never blocks
        start-up for long nor fails it: while RabbitMQ is unreachable a background thread tries
        again with backoff (one warning per attempt) until it succeeds or :meth:`close` is called.

        Parameters:
            events_exchange: ``MPS_EVENTS_EXCHANGE``.

        Returns:
            Whether everything is declared on return.
        """
        self._topology = (
            (f"queue:{self.work_queue}", self.declare_work_queue),
            (f"exchange:{events_exchange}", partial(_declare_topic, events_exchange)),
        )
        try:
            self._declare_topology_once()
            return True
        except BrokerError as exc:
            _log.warning("cannot declare the work queue and %s yet: %s; retrying", events_exchange, exc)
        thread = threading.Thread(target=self._keep_declaring, name="mps-declare-topology", daemon=True)
        thread.start()
        return False

    def _declare_topology_once(self) -> None:
        """Run the topology's declarations on a connection of their own (no thread keeps it)."""
        with map_pika_errors("declare topology"):
            connection = self.connect("declare")
            try:
                channel = connection.channel()
                for _key, declare in self._topology:
                    declare(channel)
            finally:
                if connection.is_open:
                    with suppress(pe.AMQPError):
                        connection.close()

    def _keep_declaring(self) -> None:
        failures = 1
        while not self._closing.wait(_backoff(failures)):
            try:
                self._declare_topology_once()
            except BrokerError as exc:
                failures += 1
                delay = _backoff(failures)
                _log.warning("cannot declare the topology yet: %s; retrying in %g s", exc, delay)
            else:
                _log.info("work queue %s and the events exchange declared", self.work_queue)
                return

    def declare_work_queue(self, channel: BlockingChannel) -> None:
        """Declare the work queue: durable, priorities 0..20, dead-lettered to ``{work}.dlq``."""
        arguments: dict[str, Any] = {
            "x-max-priority": AMQP_MAX_PRIORITY,
            "x-dead-letter-exchange": self.names.work_dlx,
        }
        if self.consumer_timeout_ms is not None:
            arguments["x-consumer-timeout"] = self.consumer_timeout_ms
        _declare_dead_letters(self.work_queue, channel)
        channel.queue_declare(self.work_queue, durable=True, arguments=arguments)

    def declare_bucket_events(
        self, exchange: str, exchange_type: str = "fanout", queue: str | None = None, binding_key: str = "#"
    ) -> None:
        """Declare the exchange bucket events arrive on and a durable, dead-lettered queue bound to it.

        Parameters:
            exchange: ``MPS_BUCKET_EVENTS_EXCHANGE``.
            exchange_type: ``MPS_BUCKET_EVENTS_EXCHANGE_TYPE`` (fanout, topic or direct).
            queue: the queue to bind (default: :attr:`QueueNames.bucket_events`).
            binding_key: ignored by fanout; ``#`` takes every key of a topic exchange.

        Raises:
            BrokerError: the exchange exists with another type, or RabbitMQ is unreachable.
        """
        queue = queue or self.names.bucket_events
        with map_pika_errors(f"declare {exchange}"):
            channel = self._publisher().channel
            channel.exchange_declare(exchange, exchange_type, durable=True)
            _declare_dead_letters(queue, channel)
            arguments = {"x-dead-letter-exchange": names.dead_letter_exchange(queue)}
            channel.queue_declare(queue, durable=True, arguments=arguments)
            channel.queue_bind(queue, exchange, routing_key=binding_key)

    # -- publishing ----------------------------------------------------------------------------

    def publish_work(
        self,
        body: Body,
        priority: int = 0,
        headers: Mapping[str, Any] | None = None,
        message_id: str | None = None,
    ) -> str:
        """Put one unit of work on the work queue, persistent and confirmed.

        Parameters:
            body: bytes, or a mapping sent as JSON.
            priority: ``TasksPriority`` (-10..10; higher is consumed first).
            headers: extra AMQP headers.
            message_id: defaults to a new UUID.

        Returns:
            The message id.

        Raises:
            BrokerError: not confirmed after the retries (see the module's error tree).
        """
        message_id = message_id or uuid.uuid4().hex
        data, content_type = encode_body(body)
        props = Properties(
            delivery_mode=PERSISTENT, priority=amqp_priority(priority), message_id=message_id,
            content_type=content_type, headers=dict(headers or {}), timestamp=int(time.time()),
        )  # fmt: skip
        self._publish_to_declared_queue(self.work_queue, data, props, self.declare_work_queue)
        return message_id

    def publish_to_queue(self, queue_name: str, body: Body) -> None:
        """Put a persistent message on ``queue_name`` (a TaskNotifyConfig ``QueueName``).

        The queue is declared durable only when the message comes back unroutable, so a queue
        that already exists with its own arguments is used as it is.

        Raises:
            BrokerError: not confirmed after the retries.
        """
        data, content_type = encode_body(body)
        props = Properties(delivery_mode=PERSISTENT, content_type=content_type)
        declare: Declare = partial(_declare_plain_queue, queue_name)
        self._publish_to_declared_queue(queue_name, data, props, declare, declare_first=False)

    def publish_event(self, exchange: str, routing_key: str, body: Body) -> bool:
        """Publish a persistent event to the durable topic exchange ``exchange``.

        Parameters:
            exchange: ``MPS_EVENTS_EXCHANGE``, declared as a durable topic exchange if absent.
            routing_key: e.g. ``WorkflowTask.FINISH``.
            body: bytes, or a mapping sent as JSON.

        Returns:
            Whether a queue received it (``False``: nobody subscribes; not an error).

        Raises:
            BrokerError: not confirmed after the retries, or ``exchange`` exists with another type.
        """
        data, content_type = encode_body(body)
        props = Properties(delivery_mode=PERSISTENT, content_type=content_type)
        declare: Declare = partial(_declare_topic, exchange)
        try:
            self._publish(exchange, routing_key, data, props, (f"exchange:{exchange}", declare))
        except UnroutableError:
            _log.info("event %s on %s reached no queue", routing_key, exchange)
            return False
        return True

    def publish_to_topic(self, topic_name: str, body: Body, routing_key: str = "") -> bool:
        """Publish to the durable topic exchange ``topic_name`` (a TaskNotifyConfig ``TopicName``).

        Returns:
            Whether a queue received it.

        Raises:
            BrokerError: as :meth:`publish_event`.
        """
        return self.publish_event(topic_name, routing_key, body)

    def _publish_to_declared_queue(
        self, queue: str, data: bytes, props: Properties, declare: Declare, *, declare_first: bool = True
    ) -> None:
        key = f"queue:{queue}"
        try:
            self._publish("", queue, data, props, (key, declare) if declare_first else None)
        except UnroutableError:
            # The queue is gone (deleted under us, or never declared): declare it and try once more.
            self._publisher().declared.discard(key)
            self._publish("", queue, data, props, (key, declare))

    def _publish(
        self, exchange: str, routing_key: str, data: bytes, props: Properties, declare: KeyedDeclare | None
    ) -> None:
        """Publish with confirms, declaring first (once per connection) if ``declare`` = (key, function)."""
        action = f"publish to {exchange or routing_key}"
        for attempt in range(1, self._publish_attempts + 1):
            try:
                with map_pika_errors(action):
                    state = self._publisher()
                    if declare is not None and declare[0] not in state.declared:
                        declare[1](state.channel)
                        state.declared.add(declare[0])
                    state.channel.basic_publish(exchange, routing_key, data, props, mandatory=True)
                return
            except UnroutableError:
                raise
            except BrokerError as exc:
                self._drop_publisher()
                if not exc.retryable or attempt == self._publish_attempts:
                    raise
                delay = _backoff(attempt)
                attempts = f"{attempt}/{self._publish_attempts}"
                _log.warning("%s (attempt %s); reconnecting in %g s", exc, attempts, delay)
                time.sleep(delay)

    # -- consuming -----------------------------------------------------------------------------

    def consume(self, queue: str, handler: Handler, *, prefetch: int, stop: Event) -> None:
        """Run ``handler`` for each message of ``queue`` until ``stop`` is set; reconnect on failures.

        Parameters:
            queue: the queue's full name; the work queue is declared here, others must exist.
            handler: runs in a pool of ``prefetch`` threads; returning acks the message, raising
                retries or dead-letters it according to :attr:`retry_policy`.
            prefetch: unacked messages (and so concurrent handlers) at a time.
            stop: set it to stop; running handlers finish and are acked before this returns.

        Raises:
            BrokerError: only a failure that will not go away by reconnecting (login refused, the
                queue declared elsewhere with other arguments); anything else is retried forever.
        """
        failures = 0
        with ThreadPoolExecutor(max_workers=prefetch, thread_name_prefix="mps-handler") as pool:
            while not stop.is_set():
                started = time.monotonic()
                try:
                    _ConsumerSession(self, queue, handler, pool, stop).run(prefetch)
                except BrokerError as exc:
                    if not exc.retryable:
                        raise
                    # A session that lived a while was healthy: start the backoff over.
                    failures = 1 if time.monotonic() - started > MAX_RECONNECT_DELAY else failures + 1
                    delay = _backoff(failures)
                    _log.warning("consumer of %s: %s; reconnecting in %g s", queue, exc, delay)
                    stop.wait(delay)


class _ConsumerSession:
    """One consumer connection: pumps I/O in the calling thread, runs handlers in ``pool``.

    Only the I/O thread touches the connection; handler threads hand their verdict back with
    ``add_callback_threadsafe``. ``_inflight`` is touched by the I/O thread only.
    """

    def __init__(
        self, broker: RabbitmqBroker, queue: str, handler: Handler, pool: ThreadPoolExecutor, stop: Event
    ) -> None:
        self.broker, self.queue, self.handler, self.pool, self.stop = broker, queue, handler, pool, stop
        self.connection = broker.connect(f"consume {queue}")
        self._inflight = 0
        self._declared: set[str] = set()

    def run(self, prefetch: int) -> None:
        """Consume until ``stop`` is set (then drain) or the connection fails (then raise).

        Raises:
            BrokerError: the connection or the channel was lost; unacked messages are redelivered.
        """
        try:
            with map_pika_errors(f"consume {self.queue}"):
                self.channel = self.connection.channel()
                self.publish_channel = self._open_publish_channel()
                if self.queue == self.broker.work_queue:
                    self.broker.declare_work_queue(self.channel)
                    _check_consumer_timeout(self.connection, self.broker.consumer_timeout_ms)
                self.channel.basic_qos(prefetch_count=prefetch)
                tag = self.channel.basic_consume(self.queue, self._on_message)
                self._pump(lambda: not self.stop.is_set())
                self.channel.basic_cancel(tag)  # nacks what was prefetched but not dispatched
                self._pump(lambda: self._inflight > 0)  # let running handlers finish and ack
        finally:
            if self.connection.is_open:
                with suppress(pe.AMQPError):
                    self.connection.close()

    def _open_publish_channel(self) -> BlockingChannel:
        channel = self.connection.channel()
        channel.confirm_delivery()
        self._declared.clear()
        return channel

    def _pump(self, condition: Callable[[], bool]) -> None:
        while condition():
            self.connection.process_data_events(time_limit=IO_POLL_SECONDS)
            if not self.channel.is_open:
                # Private, but the only place pika keeps why the broker closed the channel.
                reason = getattr(self.channel, "_closing_reason", None)
                if isinstance(reason, pe.ChannelClosedByBroker) and reason.reply_code == 406:
                    _log.error(
                        "RabbitMQ closed the channel of %s (%s): if a handler outlived consumer_timeout, "
                        "raise consumer_timeout in rabbitmq.conf (x-consumer-timeout needs 3.12+)",
                        self.queue, reason.reply_text,
                    )  # fmt: skip
                raise BrokerError(f"channel of {self.queue} closed: {reason!r}")

    def _on_message(self, channel: BlockingChannel, method: Any, props: Properties, body: bytes) -> None:
        self._inflight += 1
        delivery = make_delivery(self.queue, method, props, body)
        self.pool.submit(self._work, channel, method.delivery_tag, props, delivery)

    def _work(self, channel: BlockingChannel, tag: int, props: Properties, delivery: Delivery) -> None:
        """Handler thread: run the handler, then ask the I/O thread to settle the message."""
        outcome: Outcome | None = None  # None: stopping before it started, give it back unrun
        exc: BaseException | None = None
        if not self.stop.is_set():
            try:
                self.handler(delivery)
            except Exception as error:  # the consumer loop is where every failure is judged and logged
                exc = error
                _log.warning(
                    "handler failed on %s message %s (attempt %d): %s",
                    self.queue,
                    delivery.message_id,
                    delivery.attempts,
                    error_summary(error),
                    exc_info=not isinstance(error, MpsError),
                )  # ours carry their own message
            outcome = self.broker.retry_policy.outcome(exc, delivery.attempts)
        settle = partial(self._settle, channel, tag, props, delivery, outcome, exc)
        try:
            self.connection.add_callback_threadsafe(settle)
        except pe.ConnectionWrongStateError:
            _log.warning(
                "connection closed before %s message %s was settled; it will be redelivered",
                self.queue,
                delivery.message_id,
            )

    def _settle(
        self, channel: BlockingChannel, tag: int, props: Properties, delivery: Delivery,
        outcome: Outcome | None, exc: BaseException | None,
    ) -> None:  # fmt: skip
        """I/O thread: ack, requeue, or republish a copy (retry or dead letter) and then ack."""
        self._inflight -= 1
        if not channel.is_open:
            return  # the tag belongs to a dead channel: the broker redelivers the message
        if outcome is None:
            channel.basic_nack(tag, requeue=True)
        elif outcome is Outcome.ACK or exc is None:
            channel.basic_ack(tag)
        elif self._republish(outcome, props, delivery, exc):
            channel.basic_ack(tag)
        else:
            channel.basic_reject(tag, requeue=False)  # the queue's dead-letter exchange takes it

    def _republish(self, outcome: Outcome, props: Properties, delivery: Delivery, exc: BaseException) -> bool:
        """Publish the copy of a failed message to its delay queue or DLQ; ``False`` if that failed."""
        if outcome is Outcome.RETRY:
            delay_ms = int(self.broker.retry_policy.delay(delivery.attempts) * 1000)
            target = names.retry_queue(self.queue, delay_ms)
            declare: Declare = partial(_declare_retry_queue, self.queue, delay_ms)
        else:
            target = names.dead_letter_queue(self.queue)
            declare = partial(_declare_dead_letters, self.queue)
        try:
            with map_pika_errors(f"republish to {target}"):
                if not self.publish_channel.is_open:
                    self.publish_channel = self._open_publish_channel()
                if target not in self._declared:
                    declare(self.publish_channel)
                    self._declared.add(target)
                copy = copy_properties(props, delivery.attempts, exc)
                self.publish_channel.basic_publish("", target, delivery.body, copy, mandatory=True)
            return True
        except BrokerConnectionError:
            raise  # the original cannot be settled either; it will be redelivered
        except BrokerError as error:
            _log.error(
                "could not republish %s message %s to %s: %s", self.queue, delivery.message_id, target, error
            )
            return False


def _quiet_pika() -> None:
    """Silence pika's own logging of failures this adapter reports (unless it was configured)."""
    pika_logger = logging.getLogger("pika")
    if pika_logger.level == logging.NOTSET:
        pika_logger.setLevel(PIKA_LOG_LEVEL)


def _check_consumer_timeout(connection: pika.BlockingConnection, timeout_ms: int | None) -> None:
    """Say it loudly when the server ignores the work queue's ``x-consumer-timeout`` (before 3.12)."""
    # pika keeps the broker's connection.start properties only on its private inner connection.
    properties = getattr(getattr(connection, "_impl", None), "server_properties", None) or {}
    raw = properties.get("version", b"")
    version = raw.decode() if isinstance(raw, bytes) else str(raw)
    try:
        major_minor = tuple(int(part) for part in version.split(".")[:2])
    except ValueError:
        return
    if timeout_ms is not None and major_minor < (3, 12):
        _log.warning(
            "RabbitMQ %s ignores x-consumer-timeout: its consumer_timeout (30 min by default) applies; "
            "set consumer_timeout in rabbitmq.conf above the longest handler (%d ms wanted)",
            version, timeout_ms,
        )  # fmt: skip


def _declare_dead_letters(queue: str, channel: BlockingChannel) -> None:
    dlx, dlq = names.dead_letter_exchange(queue), names.dead_letter_queue(queue)
    channel.exchange_declare(dlx, "fanout", durable=True)
    channel.queue_declare(dlq, durable=True)
    channel.queue_bind(dlq, dlx)


def _declare_plain_queue(queue: str, channel: BlockingChannel) -> None:
    channel.queue_declare(queue, durable=True)


def _declare_topic(exchange: str, channel: BlockingChannel) -> None:
    channel.exchange_declare(exchange, "topic", durable=True)


def _declare_retry_queue(queue: str, delay_ms: int, channel: BlockingChannel) -> None:
    name = names.retry_queue(queue, delay_ms)
    arguments = {
        "x-message-ttl": delay_ms,
        "x-dead-letter-exchange": "",  # the default exchange routes by queue name...
        "x-dead-letter-routing-key": queue,  # ...straight back into the consumed queue
        "x-expires": delay_ms + RETRY_QUEUE_EXPIRY_MS,
    }
    channel.queue_declare(name, durable=True, arguments=arguments)


def make_delivery(queue: str, method: Any, props: Properties, body: bytes) -> Delivery:
    """Build the envelope of one AMQP delivery (a bad ``x-mps-attempts`` counts as none)."""
    headers = dict(props.headers or {})
    try:
        failed = max(int(headers.get(ATTEMPTS_HEADER, 0)), 0)
    except (TypeError, ValueError):
        failed = 0
    return Delivery(
        body=body, headers=headers, redelivered=bool(method.redelivered), attempts=failed + 1,
        message_id=props.message_id, priority=task_priority(props.priority), queue=queue,
    )  # fmt: skip


def copy_properties(props: Properties, attempts: int, exc: BaseException) -> Properties:
    """Properties of a retried or dead-lettered copy: the original's plus the attempt count and error."""
    headers = dict(props.headers or {})
    headers[ATTEMPTS_HEADER] = attempts
    headers[ERROR_HEADER] = error_summary(exc)
    return Properties(
        delivery_mode=PERSISTENT, priority=props.priority, message_id=props.message_id,
        content_type=props.content_type, timestamp=props.timestamp, headers=headers,
    )  # fmt: skip


__all__ = ["PERSISTENT", "RabbitmqBroker", "WORK_CONSUMER_TIMEOUT_MS", "map_pika_errors"]
