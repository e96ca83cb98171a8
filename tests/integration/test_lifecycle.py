"""The lifecycle's transitions commit the state change and every event they owe together, on the
real databases: a database failure between two writes loses nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from mps.errors import StorageUnavailableError
from mps.store import NewSubtask, NewTask, SqlTaskStore, new_task_id
from mps.workflow.lifecycle import Lifecycle

pytestmark = pytest.mark.integration

EXCHANGE = "test.events"
NOTIFY = {"NotifyType": "TDMQ-CMQ", "NotifyMode": "Finish", "CmqModel": "Queue", "QueueName": "client-events"}


class OutboxFault:
    """Fails the ``nth`` INSERT into the outbox with the error a dropped connection gives."""

    def __init__(self, store: SqlTaskStore, nth: int) -> None:
        self.engine, self.nth, self.seen = store._engine, nth, 0

    def __enter__(self) -> OutboxFault:
        sa.event.listen(self.engine, "before_cursor_execute", self._maybe_fail)
        return self

    def __exit__(self, *_exc: object) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._maybe_fail)

    def _maybe_fail(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO OUTBOX"):
            self.seen += 1
            if self.seen == self.nth:
                raise sa.exc.OperationalError(statement, {}, Exception("server closed the connection"))


@pytest.fixture
def store(database_url: str) -> Iterator[SqlTaskStore]:
    store = SqlTaskStore(database_url)
    yield store
    store.close()


def _waiting_task(store: SqlTaskStore) -> str:
    new = NewTask(
        task_id=new_task_id(),
        request={"InputInfo": {"Type": "URL", "UrlInputInfo": {"Url": "https://example.com/a.mp4"}}},
        notify=NOTIFY,
        subtasks=[NewSubtask("Transcode", {"Definition": 100010})],
    )
    return store.create_task(new)[0].task_id


def test_an_abort_that_fails_between_its_two_events_loses_neither(store: SqlTaskStore) -> None:
    # Given a waiting task whose abort owes two events (the events exchange and the client's queue)
    lifecycle = Lifecycle(store, EXCHANGE)
    task_id = _waiting_task(store)

    # When the database fails on the second outbox write, the way the old two-step abort failed
    with OutboxFault(store, nth=2), pytest.raises(StorageUnavailableError):
        lifecycle.abort(task_id)

    # Then nothing of the abort was kept: the task still waits, so the client's retry can abort it
    assert store.get_task(task_id).status == "WAITING"
    assert store.list_events(task_id) == []
    lifecycle.abort(task_id)
    task = store.get_task(task_id)
    events = store.list_events(task_id)
    assert task.status == "FINISH"
    assert sorted(e.target.name for e in events) == ["client-events", EXCHANGE]
    assert {e.payload["WorkflowTaskEvent"]["ErrCode"] for e in events} == {task.err_code}


def test_a_finish_that_fails_between_its_two_events_is_redone_whole(store: SqlTaskStore) -> None:
    # Given a task whose last sub-task is done, and whose finish owes two events
    lifecycle = Lifecycle(store, EXCHANGE)
    task_id = _waiting_task(store)
    store.start_subtask(task_id, 0)
    store.finish_subtask(task_id, 0, {"Type": "Transcode"}, "FAIL")

    # When the database fails on the second outbox write
    with OutboxFault(store, nth=2), pytest.raises(StorageUnavailableError):
        lifecycle.try_finish(task_id)

    # Then the task is not finished, and the next try (the redelivered message's) finishes it with both
    assert store.get_task(task_id).status == "PROCESSING"
    assert lifecycle.try_finish(task_id) is True
    assert sorted(e.target.name for e in store.list_events(task_id)) == ["client-events", EXCHANGE]
