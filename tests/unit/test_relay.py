"""The outbox relay and the redispatch sweep, with the in-memory store and broker and a local HTTP server."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from mps.broker import StubBroker
from mps.errors import InvalidParameterError, ResourceNotFoundError
from mps.store import Completion, EventTarget, MemoryTaskStore, NewSubtask, NewTask, new_task_id
from mps.workflow.merge import merge_workflow_task, notification
from mps.workflow.messages import WorkMessage
from mps.workflow.notify import events_target, notify_target, post_callback
from mps.workflow.relay import OutboxRelay, Redispatcher, Retention, backoff, run_relay

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SNAPSHOT = {"Definition": 10, "ExtTimeOffsetSet": ["1s"]}


class Clock:
    """A settable clock shared by the store and the relay."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(clock: Clock) -> MemoryTaskStore:
    return MemoryTaskStore(clock=clock)


def _task(
    store: MemoryTaskStore, notify: dict[str, Any] | None = None, count: int = 1, priority: int = 0
) -> str:
    task_id = new_task_id()
    request = {"InputInfo": {"Type": "COS", "CosInputInfo": {"Bucket": "b", "Object": "/a.mp4"}}}
    subtasks = [NewSubtask("SnapshotByTimeOffset", SNAPSHOT)] * count
    store.create_task(NewTask(task_id, request, notify=notify, priority=priority, subtasks=subtasks))
    return task_id


def _event(store: MemoryTaskStore, task_id: str) -> dict[str, Any]:
    task = store.get_task(task_id)
    return notification(merge_workflow_task(task, store.get_subtasks(task_id), finished=True), task)


class Receiver:
    """A local HTTP server recording POSTs; answers ``status``."""

    def __init__(self) -> None:
        self.status = 200
        self.requests: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                return None

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/callback"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def test_exchange_queue_and_topic_rows_are_delivered_and_marked_sent(store: MemoryTaskStore) -> None:
    broker = StubBroker()
    broker.bind("sub", "events", "WorkflowTask.#")
    broker.bind("topic-sub", "client-topic", "#")
    task_id = _task(store)
    payload = _event(store, task_id)
    store.add_event(task_id, events_target("events"), payload)
    store.add_event(task_id, EventTarget("queue", "client-q"), payload)
    store.add_event(task_id, EventTarget("topic", "client-topic", "WorkflowTask.FINISH"), payload)
    relay = OutboxRelay(store, broker)

    assert relay.run_once() == 3

    assert all(e.sent_at is not None for e in store.list_events(task_id))
    assert [len(broker.messages(q)) for q in ("sub", "client-q", "topic-sub")] == [1, 1, 1]
    assert json.loads(broker.messages("client-q")[0].body) == payload
    assert relay.run_once() == 0, "a sent row is never claimed again"


def test_a_broker_that_is_down_delays_events_with_backoff_and_never_loses_them(
    store: MemoryTaskStore, clock: Clock
) -> None:
    broker = StubBroker()
    broker.unavailable = True
    task_id = _task(store)
    store.add_event(task_id, events_target("events"), _event(store, task_id))
    relay = OutboxRelay(store, broker, base_delay=2.0, max_delay=60.0, clock=clock, rng=lambda: 1.0)

    delays = []
    for _ in range(4):
        relay.run_once()
        row = store.list_events(task_id)[0]
        assert row.sent_at is None and "unavailable" in row.last_error
        delays.append((row.next_attempt_at - clock.now).total_seconds())
        assert relay.run_once() == 0, "not due before its retry time"
        clock.advance(delays[-1])
    assert delays == [2.0, 4.0, 8.0, 16.0]

    broker.unavailable = False
    assert relay.run_once() == 1
    assert store.list_events(task_id)[0].sent_at is not None
    assert [m.routing_key for m in broker.events] == ["WorkflowTask.FINISH"]


def test_backoff_is_capped_and_jittered() -> None:
    assert backoff(1, base=1, cap=10, rng=lambda: 0.0) == 0.5
    assert backoff(30, base=1, cap=10, rng=lambda: 0.999) == pytest.approx(10, rel=0.01)
    assert 5 <= backoff(30, base=1, cap=10) <= 10


def test_a_url_callback_gets_the_signed_json(store: MemoryTaskStore, receiver: Receiver) -> None:
    notify = {"NotifyType": "URL", "NotifyUrl": receiver.url, "NotifyKey": "secret-key"}
    task_id = _task(store, notify)
    target = notify_target(notify)
    assert target == EventTarget("url", receiver.url)
    store.add_event(task_id, target, _event(store, task_id))

    assert OutboxRelay(store, StubBroker(), allow_private=True).run_once() == 1

    (headers, body), *_ = receiver.requests
    assert headers["Content-Type"] == "application/json"
    event = json.loads(body)
    expected = hashlib.md5(f"{event['Timestamp']}secret-key".encode()).hexdigest()
    assert event["Sign"] == expected and event["EventType"] == "WorkflowTask"
    assert event["WorkflowTaskEvent"]["TaskId"] == task_id
    assert store.list_events(task_id)[0].sent_at is not None


def test_a_failing_callback_is_retried_later(
    store: MemoryTaskStore, receiver: Receiver, clock: Clock
) -> None:
    receiver.status = 500
    task_id = _task(store)
    store.add_event(task_id, EventTarget("url", receiver.url), _event(store, task_id))
    relay = OutboxRelay(store, StubBroker(), allow_private=True, clock=clock, rng=lambda: 0.0)

    relay.run_once()
    row = store.list_events(task_id)[0]
    assert row.sent_at is None and "HTTP 500" in row.last_error

    receiver.status = 204
    clock.advance(60)
    assert relay.run_once() == 1 and len(receiver.requests) == 2
    assert store.list_events(task_id)[0].sent_at is not None


def test_callbacks_to_private_addresses_are_refused_unless_allowed(receiver: Receiver) -> None:
    import httpx

    with httpx.Client() as client, pytest.raises(InvalidParameterError):
        post_callback(client, receiver.url, {"a": 1})
    assert receiver.requests == []


def test_a_callback_to_a_private_address_is_given_up_at_once_with_its_reason(
    store: MemoryTaskStore, receiver: Receiver, clock: Clock
) -> None:
    # Given an event for a NotifyUrl that reaches this machine, on a relay that refuses private addresses
    task_id = _task(store)
    store.add_event(task_id, EventTarget("url", receiver.url), _event(store, task_id))
    relay = OutboxRelay(store, StubBroker(), clock=clock)

    # When the relay tries it
    assert relay.run_once() == 1

    # Then it is given up, not retried: the reason stays on the row, and nothing was sent
    row = store.list_events(task_id)[0]
    assert row.sent_at is None and row.last_error.startswith("given up: ")
    assert "InvalidParameterValue.NotifyUrl" in row.last_error and "MPS_URL_ALLOW_PRIVATE" in row.last_error
    clock.advance(30 * 86400)
    assert relay.run_once() == 0 and receiver.requests == []


def test_a_broker_outage_costs_one_attempt_per_round_and_callbacks_still_go(
    store: MemoryTaskStore, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    # Given three events for the broker and one URL callback, while RabbitMQ is down
    broker = StubBroker()
    broker.unavailable = True
    task_ids = [_task(store) for _ in range(3)]
    for task_id in task_ids:
        store.add_event(task_id, events_target("events"), _event(store, task_id))
    store.add_event(task_ids[0], EventTarget("url", receiver.url), _event(store, task_ids[0]))
    caplog.set_level("INFO", logger="mps.workflow.relay")

    # When the relay runs a round
    assert OutboxRelay(store, broker, allow_private=True).run_once() == 4

    # Then one broker row was tried and logged (with its TaskId), the others wait untried,
    # and the callback was delivered anyway
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and task_ids[0] in warnings[0]
    rows = [row for task_id in task_ids for row in store.list_events(task_id)]
    assert [row.sent_at is not None for row in rows] == [False, True, False, False]
    assert all("unavailable" in row.last_error for row in rows if row.sent_at is None)
    assert len(receiver.requests) == 1


def test_the_sweep_republishes_a_never_started_subtask_once_per_interval(
    store: MemoryTaskStore, clock: Clock
) -> None:
    broker = StubBroker()
    lost = _task(store, count=2, priority=5)
    sweep = Redispatcher(store, broker, older_than=30, clock=clock)

    assert sweep.sweep() == 0, "too young: its first publish may still be on the way"
    clock.advance(31)
    store.start_subtask(lost, 1)
    assert sweep.sweep() == 1
    (message,) = broker.messages(broker.work_queue)
    assert WorkMessage.model_validate_json(message.body) == WorkMessage(task_id=lost, indexes=(0,))
    assert message.priority == 5
    assert sweep.sweep() == 0, "not again before the interval has passed"
    clock.advance(61)
    assert sweep.sweep() == 1, "still lost: published again, after a longer wait"

    store.start_subtask(lost, 0)
    clock.advance(600)
    assert sweep.sweep() == 0


def test_run_relay_stops_when_told(store: MemoryTaskStore) -> None:
    broker = StubBroker()
    task_id = _task(store)
    store.add_event(task_id, events_target("events"), _event(store, task_id))
    stop = threading.Event()
    thread = threading.Thread(
        target=run_relay,
        args=(OutboxRelay(store, broker), Redispatcher(store, broker), stop),
        kwargs={"poll": 0.01},
    )
    thread.start()
    try:
        for _ in range(200):
            if store.list_events(task_id)[0].sent_at is not None:
                break
            stop.wait(0.01)
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive() and store.list_events(task_id)[0].sent_at is not None


def test_retention_deletes_finished_tasks_older_than_it_keeps(store: MemoryTaskStore, clock: Clock) -> None:
    old, young = _task(store), _task(store, count=2)
    store.finish_subtask(old, 0, {"Type": "Transcode"}, "SUCCESS")
    assert store.try_finish_task(old, Completion({"TaskId": old, "Status": "FINISH"}))
    retention = Retention(store, timedelta(days=7), clock=clock)

    clock.advance(6 * 86400)
    assert retention.sweep() == 0, "finished 6 days ago: kept"
    clock.advance(2 * 86400)
    assert retention.sweep() == 1
    with pytest.raises(ResourceNotFoundError):
        store.get_task(old)
    assert store.get_task(young).status == "WAITING", "unfinished tasks are never deleted"


def test_run_relay_sweeps_retention_when_given(store: MemoryTaskStore, clock: Clock) -> None:
    swept = threading.Event()

    class Recorder(Retention):
        def sweep(self) -> int:
            swept.set()
            return 0

    stop = threading.Event()
    thread = threading.Thread(
        target=run_relay,
        args=(OutboxRelay(store, StubBroker()), None, stop),
        kwargs={"poll": 0.01, "retention": Recorder(store, timedelta(days=1), clock=clock)},
    )
    thread.start()
    try:
        assert swept.wait(5)
    finally:
        stop.set()
        thread.join(5)
