"""StubBroker, and the policy it shares with RabbitmqBroker (priorities, retries, dead letters, names)."""

from __future__ import annotations

import threading
import time

import pytest

from mps.broker import (
    ATTEMPTS_HEADER,
    ERROR_HEADER,
    Broker,
    BrokerConnectionError,
    BrokerError,
    DecodeError,
    Delivery,
    Outcome,
    QueueNames,
    RabbitmqBroker,
    RetryPolicy,
    StubBroker,
    amqp_priority,
    is_retryable,
    task_priority,
)
from mps.broker import names as broker_names
from mps.broker.stub import topic_matches
from mps.errors import InvalidParameterError, ProcessTimeoutError, StorageUnavailableError


@pytest.fixture
def stub() -> StubBroker:
    return StubBroker(prefix="t.")


def test_both_brokers_satisfy_the_protocol(stub: StubBroker):
    assert isinstance(stub, Broker)
    assert isinstance(RabbitmqBroker("amqp://guest:guest@127.0.0.1:1/%2F"), Broker)


def test_work_is_consumed_and_join_waits_for_the_handler(stub: StubBroker):
    # Given a published work message
    message_id = stub.publish_work({"TaskId": "t-1"}, priority=3, headers={"x-trace": "abc"})
    seen: list[Delivery] = []

    def handler(delivery: Delivery) -> None:
        time.sleep(0.05)
        seen.append(delivery)

    # When a consumer runs and the test joins the queue
    with stub.consumer(stub.work_queue, handler):
        stub.join(stub.work_queue)
        # Then the handler has already finished with it
        assert len(seen) == 1

    (delivery,) = seen
    assert delivery.json() == {"TaskId": "t-1"}
    assert (delivery.message_id, delivery.priority, delivery.attempts) == (message_id, 3, 1)
    assert (delivery.queue, delivery.headers["x-trace"]) == ("t.mps.work", "abc")
    assert stub.dead_letters == []


def test_higher_priority_is_consumed_first_and_equal_priorities_in_order(stub: StubBroker):
    # Given work published with mixed priorities while nobody consumes
    for body, priority in [(b"low", -10), (b"a", 0), (b"high", 10), (b"b", 0)]:
        stub.publish_work(body, priority=priority)
    assert [d.body for d in stub.messages(stub.work_queue)] == [b"high", b"a", b"b", b"low"]
    seen: list[bytes] = []

    # When one consumer takes them
    with stub.consumer(stub.work_queue, lambda d: seen.append(d.body)):
        stub.join(stub.work_queue)

    # Then highest priority first, FIFO among equals
    assert seen == [b"high", b"a", b"b", b"low"]


def test_a_retryable_error_is_retried_up_to_the_cap_then_dead_lettered():
    stub = StubBroker(retry_policy=RetryPolicy(max_attempts=3, base_delay=0.01))
    stub.publish_work(b"job")
    attempts: list[int] = []

    def handler(delivery: Delivery) -> None:
        attempts.append(delivery.attempts)
        raise StorageUnavailableError("s3 down")

    with stub.consumer(stub.work_queue, handler, prefetch=2):
        stub.join(stub.work_queue)  # waits for the delayed retries too

    assert attempts == [1, 2, 3]
    (dead,) = stub.dead_letters
    assert dead.headers[ATTEMPTS_HEADER] == 3
    assert dead.headers[ERROR_HEADER] == "StorageUnavailableError: s3 down"
    assert stub.dead_letters_by_queue[stub.work_queue] == [dead]


def test_a_retry_that_then_succeeds_is_not_dead_lettered(stub: StubBroker):
    stub.publish_work(b"job")
    attempts: list[int] = []

    def handler(delivery: Delivery) -> None:
        attempts.append(delivery.attempts)
        if delivery.attempts < 2:
            raise TimeoutError("slow network")  # an OSError: transient

    with stub.consumer(stub.work_queue, handler):
        stub.join(stub.work_queue)

    assert attempts == [1, 2]
    assert stub.dead_letters == []


def test_a_body_that_does_not_decode_goes_to_the_dead_letters_at_once(stub: StubBroker):
    stub.publish_work(b"\xff not json")
    with stub.consumer(stub.work_queue, lambda d: d.json()):
        stub.join(stub.work_queue)

    (dead,) = stub.dead_letters
    assert dead.body == b"\xff not json"
    assert dead.attempts == 1
    assert dead.headers[ERROR_HEADER].startswith("DecodeError: ")


def test_join_times_out_while_a_handler_is_stuck(stub: StubBroker):
    release = threading.Event()
    stub.publish_work(b"job")
    with stub.consumer(stub.work_queue, lambda d: release.wait(5)):
        with pytest.raises(TimeoutError):
            stub.join(stub.work_queue, timeout=0.1)
        release.set()
        stub.join(stub.work_queue)


def test_events_reach_queues_bound_to_matching_topics(stub: StubBroker):
    # Given a subscriber bound with WorkflowTask.#
    stub.bind("subscriber", "mps.events", "WorkflowTask.#")

    # When two events are published
    routed = stub.publish_event("mps.events", "WorkflowTask.FINISH", {"EventType": "WorkflowTask"})
    unrouted = stub.publish_to_topic("mps.events", {"EventType": "EditMediaTask"}, "EditMediaTask")

    # Then both are recorded, only the matching one is queued
    assert (routed, unrouted) == (True, False)
    assert [e.routing_key for e in stub.events] == ["WorkflowTask.FINISH", "EditMediaTask"]
    assert [d.json() for d in stub.messages("subscriber")] == [{"EventType": "WorkflowTask"}]


def test_bucket_events_fan_out_to_the_listener_queue(stub: StubBroker):
    event = {"EventName": "s3:ObjectCreated:Put"}
    stub.declare_bucket_events("mps.bucket-events", "fanout")
    assert stub.publish_bucket_event("mps.bucket-events", event, "any")
    assert [d.json() for d in stub.messages(stub.names.bucket_events)] == [event]


def test_an_exchange_redeclared_with_another_type_is_a_permanent_error(stub: StubBroker):
    stub.declare_bucket_events("x", "fanout")
    with pytest.raises(BrokerError) as caught:
        stub.publish_event("x", "k", b"{}")
    assert not caught.value.retryable


def test_publish_to_queue_creates_the_queue(stub: StubBroker):
    stub.publish_to_queue("notify", b"done")
    assert [d.body for d in stub.messages("notify")] == [b"done"]


def test_an_unavailable_stub_fails_publishes_like_a_broker_that_is_down(stub: StubBroker):
    stub.unavailable = True
    with pytest.raises(BrokerConnectionError) as caught:
        stub.publish_work(b"x")
    assert isinstance(caught.value, StorageUnavailableError)
    assert caught.value.retryable
    assert stub.messages(stub.work_queue) == []


@pytest.mark.parametrize(
    ("pattern", "key", "matches"),
    [
        ("WorkflowTask.#", "WorkflowTask.FINISH", True),
        ("WorkflowTask.#", "WorkflowTask", True),
        ("WorkflowTask.#", "EditMediaTask.FINISH", False),
        ("*.FINISH", "WorkflowTask.FINISH", True),
        ("*.FINISH", "WorkflowTask.a.FINISH", False),
        ("#", "", True),
        ("#.FINISH", "a.b.FINISH", True),
        ("a.*", "a", False),
    ],
)
def test_topic_matching_follows_rabbitmq(pattern: str, key: str, matches: bool):
    assert topic_matches(pattern, key) is matches


@pytest.mark.parametrize(("task", "amqp"), [(-10, 0), (-1, 9), (0, 10), (10, 20), (-50, 0), (99, 20)])
def test_task_priority_maps_to_amqp_priority(task: int, amqp: int):
    assert amqp_priority(task) == amqp
    assert task_priority(amqp) == max(min(task, 10), -10)


def test_a_message_without_priority_reads_as_the_default():
    assert task_priority(None) == 0


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        (StorageUnavailableError("down"), True),
        (ProcessTimeoutError("slow"), True),
        (InvalidParameterError("bad"), False),
        (DecodeError("bad", b""), False),
        (ConnectionResetError(), True),
        (ValueError("bug"), False),
    ],
)
def test_retry_is_decided_from_the_error(error: Exception, retryable: bool):
    assert is_retryable(error) is retryable


def test_retry_policy_caps_attempts_and_backs_off_exponentially():
    policy = RetryPolicy(max_attempts=3, base_delay=1.0, max_delay=3.0)
    transient = StorageUnavailableError("down")
    assert [policy.outcome(transient, n) for n in (1, 2, 3)] == [Outcome.RETRY, Outcome.RETRY, Outcome.DEAD]
    assert policy.outcome(ValueError("bug"), 1) is Outcome.DEAD
    assert policy.outcome(None, 5) is Outcome.ACK
    assert [policy.delay(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 3.0, 3.0]


def test_every_name_is_built_under_the_prefix():
    queue_names = QueueNames("run1.")
    assert queue_names.work == "run1.mps.work"
    assert (queue_names.work_dlx, queue_names.work_dlq) == ("run1.mps.work.dlx", "run1.mps.work.dlq")
    assert queue_names.bucket_events == "run1.mps.bucket-events"
    assert broker_names.retry_queue(queue_names.work, 2000) == "run1.mps.work.retry.2000"
