"""RabbitmqBroker against the machine's RabbitMQ: confirms, priorities, acks, retries, DLQ, heartbeats.

Every test uses its own name prefix (``mps-test-<run>-<n>.``) and everything under the run's
prefix is deleted at the end of the session. Skipped when RabbitMQ is down, failed under ``CI``.
"""

from __future__ import annotations

import itertools
import logging
import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

import pika
import pika.exceptions as pe
import pytest

from mps.app import Components, run_relay_loop
from mps.broker import BrokerConnectionError, BrokerError, Delivery, RetryPolicy, UnroutableError
from mps.broker.base import ATTEMPTS_HEADER, ERROR_HEADER
from mps.broker.rabbitmq import RabbitmqBroker, map_pika_errors
from mps.errors import ProcessingError, StorageUnavailableError
from mps.settings import Settings
from mps.storage.memory import MemoryStorage
from mps.store.memory import MemoryTaskStore
from tests.integration.conftest import listening

#: The RabbitMQ under test (the same variable the service reads).
AMQP_URL = os.environ.get("MPS_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
#: One prefix per test run; each test adds its own number below it.
RUN_PREFIX = f"mps-test-{uuid.uuid4().hex[:8]}-"
#: Retries fast enough for tests: 0.1 s, then 0.2 s, then the DLQ.
FAST_RETRIES = RetryPolicy(max_attempts=3, base_delay=0.1, max_delay=1.0)

_counter = itertools.count()
Handler = Callable[[Delivery], None]
Admin = pika.BlockingConnection


def _rabbitmqctl(*args: str) -> str:
    result = subprocess.run(["rabbitmqctl", "--quiet", *args], capture_output=True, text=True, timeout=60)
    return result.stdout


@pytest.fixture(scope="session")
def rabbitmq() -> Iterator[str]:
    """The AMQP URL; skips (fails under ``CI``) when RabbitMQ is down; sweeps the run's names at the end."""
    if not listening(AMQP_URL):
        message = f"RabbitMQ is not reachable at {AMQP_URL} (rabbitmq-server -detached)"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI must run every integration test", pytrace=False)
        pytest.skip(message)
    yield AMQP_URL
    _sweep(AMQP_URL)


def _sweep(url: str) -> None:
    """Delete every queue and exchange of this run (found with rabbitmqctl when it is at hand)."""
    if shutil.which("rabbitmqctl") is None:
        return
    queues = _rabbitmqctl("list_queues", "name").split()
    exchanges = _rabbitmqctl("list_exchanges", "name").split()
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    for queue in (q for q in queues if q.startswith(RUN_PREFIX)):
        channel.queue_delete(queue)
    for exchange in (e for e in exchanges if e.startswith(RUN_PREFIX)):
        channel.exchange_delete(exchange)
    connection.close()


@pytest.fixture
def prefix() -> str:
    """This test's own prefix under the run's."""
    return f"{RUN_PREFIX}{next(_counter)}."


@pytest.fixture
def broker(rabbitmq: str, prefix: str) -> Iterator[RabbitmqBroker]:
    """A broker with fast retries and its own queue names."""
    broker = RabbitmqBroker(rabbitmq, prefix=prefix, retry_policy=FAST_RETRIES, name=f"{prefix}broker")
    yield broker
    broker.close()


@pytest.fixture
def admin(rabbitmq: str) -> Iterator[pika.BlockingConnection]:
    """A plain pika connection to look at queues from outside the broker under test."""
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq))
    yield connection
    if connection.is_open:
        connection.close()


@contextmanager
def consuming(broker: RabbitmqBroker, handler: Handler, *, prefetch: int = 1) -> Iterator[None]:
    """Run ``broker.consume`` in a thread for the ``with`` block; stop it (gracefully) at the end."""
    stop = threading.Event()
    kwargs = {"prefetch": prefetch, "stop": stop}
    thread = threading.Thread(target=broker.consume, args=(broker.work_queue, handler), kwargs=kwargs)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)
        assert not thread.is_alive(), "consumer did not stop"


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def message_count(admin: Admin, queue: str) -> int:
    channel = admin.channel()
    try:
        return channel.queue_declare(queue, passive=True).method.message_count
    finally:
        channel.close()


def get_one(admin: Admin, queue: str) -> tuple[pika.BasicProperties, bytes]:
    channel = admin.channel()
    method, props, body = channel.basic_get(queue, auto_ack=True)
    channel.close()
    assert method is not None, f"{queue} is empty"
    return props, body


@pytest.mark.integration
def test_a_confirmed_work_message_is_consumed_once_and_acked(broker: RabbitmqBroker, admin: Admin):
    # Given a work message published with confirms
    message_id = broker.publish_work({"TaskId": "t-1"}, headers={"x-trace": "abc"})
    assert message_count(admin, broker.work_queue) == 1
    seen: list[Delivery] = []

    # When a consumer runs
    with consuming(broker, seen.append):
        wait_for(lambda: len(seen) == 1)

    # Then the handler got it once, first attempt, and it was acked
    (delivery,) = seen
    assert delivery.json() == {"TaskId": "t-1"}
    assert (delivery.message_id, delivery.attempts, delivery.redelivered) == (message_id, 1, False)
    assert delivery.headers["x-trace"] == "abc"
    assert message_count(admin, broker.work_queue) == 0


@pytest.mark.integration
def test_higher_priority_work_is_consumed_first(broker: RabbitmqBroker):
    # Given low, default and high priority work waiting with no consumer
    for priority in (-10, 0, 10, 3):
        broker.publish_work({"p": priority}, priority=priority)
    seen: list[int] = []

    # When one consumer takes them one at a time
    with consuming(broker, lambda d: seen.append(d.priority), prefetch=1):
        wait_for(lambda: len(seen) == 4)

    # Then they come highest TasksPriority first
    assert seen == [10, 3, 0, -10]


@pytest.mark.integration
def test_a_message_is_redelivered_when_the_connection_dies_mid_handler(broker: RabbitmqBroker, prefix: str):
    # Given a handler that is still running its first delivery
    started, release = threading.Event(), threading.Event()
    seen: list[Delivery] = []

    def handler(delivery: Delivery) -> None:
        seen.append(delivery)
        if len(seen) == 1:
            started.set()
            release.wait(10)

    broker.publish_work(b"job")
    with consuming(broker, handler, prefetch=2):
        assert started.wait(10)

        # When RabbitMQ closes the consumer's connection before the ack
        closed = _close_connections(f"{prefix}broker consume")
        release.set()

        # Then the consumer reconnects and the message comes again, marked redelivered
        wait_for(lambda: len(seen) == 2)
    assert closed >= 1
    assert [(d.body, d.redelivered) for d in seen] == [(b"job", False), (b"job", True)]


def _close_connections(name: str) -> int:
    """Close, from the server side, every connection whose name starts with ``name``."""
    if shutil.which("rabbitmqctl") is None:
        pytest.skip("rabbitmqctl is needed to close a connection from the server side")
    lines = _rabbitmqctl("list_connections", "pid", "client_properties").splitlines()
    pids = [line.split()[0] for line in lines if f'"{name}' in line]
    for pid in pids:
        _rabbitmqctl("close_connection", pid, "test: simulated connection loss")
    return len(pids)


@pytest.mark.integration
def test_a_permanent_error_sends_the_message_to_the_dlq(broker: RabbitmqBroker, admin: Admin):
    # Given a body the handler cannot decode (DecodeError is permanent)
    broker.publish_work(b"not json")
    seen: list[int] = []

    def handler(delivery: Delivery) -> None:
        seen.append(delivery.attempts)
        delivery.json()

    # When it is consumed
    with consuming(broker, handler):
        wait_for(lambda: message_count(admin, broker.names.work_dlq) == 1)

    # Then it ran once and sits in the DLQ with the reason, and nowhere else
    assert seen == [1]
    props, body = get_one(admin, broker.names.work_dlq)
    assert body == b"not json"
    assert props.headers[ERROR_HEADER].startswith("DecodeError: ")
    assert message_count(admin, broker.work_queue) == 0


@pytest.mark.integration
def test_a_retryable_error_is_retried_up_to_the_cap_then_dead_lettered(broker: RabbitmqBroker, admin: Admin):
    # Given a handler that always fails with a retryable error
    broker.publish_work({"n": 1}, priority=5)
    seen: list[Delivery] = []

    def handler(delivery: Delivery) -> None:
        seen.append(delivery)
        raise StorageUnavailableError("s3 is down")

    # When it is consumed
    with consuming(broker, handler):
        wait_for(lambda: message_count(admin, broker.names.work_dlq) == 1)

    # Then each attempt came back after a delay, counted, and the last one went to the DLQ
    assert [d.attempts for d in seen] == [1, 2, 3]
    assert {d.priority for d in seen} == {5}
    assert len({d.message_id for d in seen}) == 1
    props, _ = get_one(admin, broker.names.work_dlq)
    assert props.headers[ATTEMPTS_HEADER] == 3
    assert props.headers[ERROR_HEADER] == "StorageUnavailableError: s3 is down"


@pytest.mark.integration
@pytest.mark.slow
def test_heartbeats_keep_flowing_while_a_handler_runs_for_long(
    rabbitmq: str, prefix: str, caplog: pytest.LogCaptureFixture
):
    # Given a 2 s heartbeat (RabbitMQ drops a peer after ~2 missed beats) and an 8 s handler
    broker = RabbitmqBroker(rabbitmq, prefix=prefix, heartbeat=2, name=f"{prefix}broker")
    seen: list[Delivery] = []

    def handler(delivery: Delivery) -> None:
        if delivery.body == b"long":
            time.sleep(8)
        seen.append(delivery)

    broker.publish_work(b"long")
    with caplog.at_level(logging.WARNING, logger="mps.broker"), consuming(broker, handler):
        wait_for(lambda: len(seen) == 1, timeout=15)
        # When another message follows on the same consumer
        broker.publish_work(b"short")
        wait_for(lambda: len(seen) == 2)
    broker.close()

    # Then the long one was acked on its first and only delivery, and the connection never dropped
    assert [(d.body, d.redelivered) for d in seen] == [(b"long", False), (b"short", False)]
    assert not [r for r in caplog.records if "reconnect" in r.getMessage() or "redeliver" in r.getMessage()]


@pytest.mark.integration
def test_stopping_lets_a_running_handler_finish_and_ack(broker: RabbitmqBroker, admin: Admin):
    # Given a handler in the middle of its work
    started, done = threading.Event(), threading.Event()

    def handler(delivery: Delivery) -> None:
        started.set()
        time.sleep(1)
        done.set()

    broker.publish_work(b"job")
    # When the consumer is stopped while it runs
    with consuming(broker, handler):
        assert started.wait(10)
    # Then consume() returned only after the handler finished, and the message is gone (acked)
    assert done.is_set()
    assert message_count(admin, broker.work_queue) == 0


@pytest.mark.integration
def test_an_event_reaches_a_queue_bound_to_its_topic(broker: RabbitmqBroker, admin: Admin, prefix: str):
    # Given a subscriber queue bound with WorkflowTask.# to the events exchange
    exchange, queue = f"{prefix}events", f"{prefix}subscriber"
    channel = admin.channel()
    channel.exchange_declare(exchange, "topic", durable=True)
    channel.queue_declare(queue, durable=True)
    channel.queue_bind(queue, exchange, routing_key="WorkflowTask.#")

    # When events are published
    routed = broker.publish_event(exchange, "WorkflowTask.FINISH", {"EventType": "WorkflowTask"})
    unrouted = broker.publish_event(exchange, "EditMediaTask.FINISH", {"EventType": "EditMediaTask"})

    # Then only the matching one arrives (an event nobody subscribes to is not an error)
    assert (routed, unrouted) == (True, False)
    props, body = get_one(admin, queue)
    assert body == b'{"EventType":"WorkflowTask"}'
    assert (props.content_type, props.delivery_mode) == ("application/json", 2)
    assert message_count(admin, queue) == 0


@pytest.mark.integration
def test_publish_to_queue_declares_a_missing_queue_and_reuses_an_existing_one(
    broker: RabbitmqBroker, admin: Admin, prefix: str
):
    # Given one queue that does not exist and one that exists with its own arguments
    missing, existing = f"{prefix}notify-new", f"{prefix}notify-old"
    admin.channel().queue_declare(existing, durable=True, arguments={"x-max-length": 100})

    # When a notification is published to each
    broker.publish_to_queue(missing, b"a")
    broker.publish_to_queue(existing, b"b")

    # Then both hold their message
    assert (get_one(admin, missing)[1], get_one(admin, existing)[1]) == (b"a", b"b")


@pytest.mark.integration
def test_bucket_events_reach_the_declared_queue(broker: RabbitmqBroker, admin: Admin, prefix: str):
    # Given the bucket-events exchange (fanout) and the listener's queue declared
    exchange = f"{prefix}bucket-events"
    broker.declare_bucket_events(exchange, "fanout")

    # When MinIO publishes to the exchange
    admin.channel().basic_publish(exchange, "any-key", b'{"EventName":"s3:ObjectCreated:Put"}')

    # Then the listener's queue has it
    wait_for(lambda: message_count(admin, broker.names.bucket_events) == 1)


@pytest.mark.integration
def test_a_consumer_stops_on_a_work_queue_declared_with_other_arguments(broker: RabbitmqBroker, admin: Admin):
    # Given a work queue someone declared without priorities
    admin.channel().queue_declare(broker.work_queue, durable=True)
    # When a consumer starts, Then it fails at once instead of reconnecting forever
    with pytest.raises(BrokerError) as caught:
        broker.consume(broker.work_queue, lambda d: None, prefetch=1, stop=threading.Event())
    assert not caught.value.retryable
    assert "406" in str(caught.value)


@pytest.mark.integration
def test_redeclaring_an_exchange_with_another_type_is_a_permanent_error(
    broker: RabbitmqBroker, admin: Admin, prefix: str
):
    admin.channel().exchange_declare(f"{prefix}fan", "fanout")
    with pytest.raises(BrokerError) as caught:
        broker.publish_event(f"{prefix}fan", "x", b"{}")
    assert not caught.value.retryable
    assert "406" in str(caught.value)


def test_publishing_to_an_unreachable_broker_fails_fast():
    # Given a URL where nothing listens
    broker = RabbitmqBroker("amqp://guest:guest@127.0.0.1:1/%2F", connect_timeout=1.0)
    started = time.monotonic()
    # When work is published, Then a retryable BrokerConnectionError comes quickly after the retries
    with pytest.raises(BrokerConnectionError) as caught:
        broker.publish_work(b"x")
    assert time.monotonic() - started < 5
    assert isinstance(caught.value, StorageUnavailableError) and caught.value.retryable


def _exists(admin: Admin, exchange: str | None = None, queue: str | None = None) -> bool:
    """Whether an exchange or queue exists (a passive declare; NOT_FOUND closes only its channel)."""
    channel = admin.channel()
    try:
        if exchange is not None:
            channel.exchange_declare(exchange, passive=True)
        if queue is not None:
            channel.queue_declare(queue, passive=True)
    except pe.ChannelClosedByBroker as exc:
        assert exc.reply_code == 404, exc
        return False
    channel.close()
    return True


@pytest.mark.integration
def test_a_consumer_binds_to_the_events_exchange_as_soon_as_the_relay_has_started(
    rabbitmq: str, admin: Admin, prefix: str
):
    # Given a relay started with nothing to publish (its store is empty)
    settings = Settings(amqp_url=rabbitmq, queue_prefix=prefix, events_exchange=f"{prefix}events")
    broker = RabbitmqBroker(rabbitmq, prefix=prefix, name=f"{prefix}relay")
    stop = threading.Event()
    parts = Components(MemoryTaskStore(), MemoryStorage(), broker)
    relay = threading.Thread(target=run_relay_loop, args=(settings, stop, parts))
    relay.start()
    try:
        # When a consumer starts and binds its queue (the README's three lines)
        wait_for(lambda: _exists(admin, exchange=settings.events_exchange), timeout=10)
        channel = admin.channel()
        queue = channel.queue_declare(f"{prefix}my-events", durable=True).method.queue
        channel.queue_bind(queue, settings.events_exchange, routing_key="WorkflowTask.#")

        # Then the bind succeeds before any event was published, and the work queue is there too
        assert channel.is_open
        assert _exists(admin, queue=broker.work_queue) and _exists(admin, queue=broker.names.work_dlq)
        assert broker.publish_event(settings.events_exchange, "WorkflowTask.FINISH", b"{}")
    finally:
        stop.set()
        relay.join(30)


@pytest.mark.integration
def test_the_topology_is_declared_again_on_a_new_connection(
    broker: RabbitmqBroker, admin: Admin, prefix: str
):
    # Given the topology declared at start, then lost (deleted, as a reset RabbitMQ would lose it)
    exchange = f"{prefix}events"
    assert broker.declare_topology(exchange) is True
    admin.channel().exchange_delete(exchange)
    broker.close()

    # When the process publishes again, on a new connection
    broker.publish_work(b"x")

    # Then the exchange is back
    assert _exists(admin, exchange=exchange)


@contextmanager
def _hanging_up_server() -> Iterator[tuple[str, list[int]]]:
    """A TCP port that accepts connections and closes them at once: an outage we can count."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.05)  # close() does not wake a blocked accept(): poll a flag instead
    accepted: list[int] = []
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            accepted.append(1)
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"amqp://guest:guest@127.0.0.1:{server.getsockname()[1]}/%2F", accepted
    finally:
        done.set()
        thread.join(5)
        server.close()


def _assert_one_plain_warning_per_attempt(records: list[logging.LogRecord], attempts: int) -> None:
    assert [r for r in records if r.exc_info or r.exc_text] == [], "no tracebacks in the logs"
    assert [r for r in records if not r.name.startswith("mps.")] == [], "pika's own lines are silenced"
    warnings = [r for r in records if r.levelno == logging.WARNING]
    assert len(warnings) == attempts and all(r.levelno <= logging.WARNING for r in records)
    assert all("\n" not in r.getMessage() for r in warnings)


def test_a_consumer_during_an_outage_logs_one_warning_per_reconnect(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    with _hanging_up_server() as (url, accepted):
        broker = RabbitmqBroker(url, connect_timeout=1.0)
        with consuming(broker, lambda d: None):
            wait_for(lambda: len(accepted) >= 3)
    # Each attempt got its line once it failed: the last one may be cut short by the stop.
    warnings = sum(r.levelno == logging.WARNING for r in caplog.records)
    assert len(accepted) - 1 <= warnings <= len(accepted)
    _assert_one_plain_warning_per_attempt(caplog.records, warnings)


def test_a_publisher_during_an_outage_logs_one_warning_per_reconnect(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    broker = RabbitmqBroker("amqp://guest:guest@127.0.0.1:1/%2F", connect_timeout=1.0, publish_attempts=3)
    with pytest.raises(BrokerConnectionError, match="Connection refused"):
        broker.publish_work(b"x")
    # Two reconnects after the first failure; the last failure is the caller's to report.
    _assert_one_plain_warning_per_attempt(caplog.records, 2)


def test_declaring_the_topology_during_an_outage_neither_raises_nor_blocks(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    with _hanging_up_server() as (url, accepted):
        broker = RabbitmqBroker(url, connect_timeout=1.0)
        started = time.monotonic()
        assert broker.declare_topology("mps.events") is False
        assert time.monotonic() - started < 2
        wait_for(lambda: len(accepted) >= 3)  # and it keeps trying in the background
        broker.close()
        time.sleep(0.1)
    warnings = sum(r.levelno == logging.WARNING for r in caplog.records)
    assert len(accepted) - 1 <= warnings <= len(accepted)
    _assert_one_plain_warning_per_attempt(caplog.records, warnings)


@pytest.mark.parametrize(
    ("raised", "expected", "retryable"),
    [
        (pe.AMQPConnectionError("refused"), BrokerConnectionError, True),
        (pe.StreamLostError("eof"), BrokerConnectionError, True),
        (pe.ConnectionClosedByBroker(320, "shutdown"), BrokerConnectionError, True),
        (pe.AMQPHeartbeatTimeout("no beat"), BrokerConnectionError, True),
        (pe.ProbableAuthenticationError("bad login"), BrokerConnectionError, False),
        (pe.ChannelClosedByBroker(404, "NOT_FOUND"), BrokerError, True),
        (pe.ChannelClosedByBroker(406, "PRECONDITION_FAILED"), BrokerError, False),
        (pe.NackError([]), BrokerError, True),
        (pe.UnroutableError([]), UnroutableError, False),
        (pe.ChannelWrongStateError("closed"), BrokerError, True),
        (ConnectionResetError("reset"), BrokerConnectionError, True),
    ],
)
def test_every_pika_error_is_translated(raised: Exception, expected: type[BrokerError], retryable: bool):
    with pytest.raises(BrokerError) as caught, map_pika_errors("test"):
        raise raised
    assert type(caught.value) is expected
    assert caught.value.retryable is retryable
    assert caught.value.__cause__ is raised


def test_only_broker_errors_cross_the_boundary():
    # A non-pika error is not the adapter's to translate.
    with pytest.raises(ProcessingError), map_pika_errors("test"):
        raise ProcessingError("not ours")


@pytest.mark.slow
@pytest.mark.integration
def test_persistent_work_survives_a_broker_restart_and_both_sides_reconnect(broker: RabbitmqBroker):
    # Restarting the shared RabbitMQ disturbs anyone else using it: only on request.
    if not os.environ.get("MPS_TEST_RESTART_RABBITMQ") or shutil.which("rabbitmqctl") is None:
        pytest.skip("set MPS_TEST_RESTART_RABBITMQ=1 (and have rabbitmqctl) to restart RabbitMQ")
    # Given a message published and confirmed before RabbitMQ goes down
    broker.publish_work(b"before")
    seen: list[bytes] = []
    with ExitStack() as stack:
        try:
            _rabbitmqctl("stop_app")
            # When publishing while it is down, Then the publisher fails with a retryable error
            with pytest.raises(BrokerConnectionError):
                broker.publish_work(b"during")
            # And a consumer started now keeps trying to connect
            stack.enter_context(consuming(broker, lambda d: seen.append(d.body)))
            time.sleep(1)
        finally:
            _rabbitmqctl("start_app")  # always leave RabbitMQ running
            _rabbitmqctl("await_startup")
        # Then once it is back the same broker publishes again and the consumer gets both messages
        broker.publish_work(b"after")
        wait_for(lambda: len(seen) == 2, timeout=30)
    assert seen == [b"before", b"after"]
