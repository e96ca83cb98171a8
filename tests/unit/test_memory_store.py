"""The task store's behaviour, as one suite (:class:`StoreContract`) that every implementation runs.

Here it runs on :class:`MemoryTaskStore`; ``tests/integration/test_sql_store.py`` runs the same
class on SQLite and PostgreSQL.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest

from mps.errors import InvalidParameterError, MpsError, ResourceNotFoundError
from mps.store import (
    ABORTED_ERR_CODE,
    CUSTOM_DEFINITION_BASE,
    BucketTrigger,
    Completion,
    ConflictError,
    EventTarget,
    Followup,
    MemoryTaskStore,
    NewSubtask,
    NewTask,
    SubtaskRecord,
    TaskRecord,
    TaskStore,
    WorkflowStatusError,
    new_task_id,
)

T = TypeVar("T")
TARGET = EventTarget("exchange", "mps.events", "task.finish")


class FakeClock:
    """A settable UTC clock: stores take it instead of ``datetime.now``."""

    def __init__(self) -> None:
        self.now = datetime(2025, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def race(n: int, action: Callable[[int], T]) -> list[T]:
    """Run ``action(i)`` for i in 0..n-1 on n threads released at the same instant."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = action(i)
        except Exception as exc:  # noqa: BLE001 - handed back to the test to assert on
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def new(subtasks: int = 0, **kwargs: Any) -> NewTask:
    """A NewTask with ``subtasks`` transcode sub-tasks."""
    specs = [NewSubtask("Transcode", {"Definition": 100010 + i}) for i in range(subtasks)]
    return NewTask(
        task_id=new_task_id("1250000"), request={"InputInfo": {"Type": "URL"}}, subtasks=specs, **kwargs
    )


def merge(task: TaskRecord, subs: list[SubtaskRecord]) -> Completion:
    """A Merger: the WorkflowTask with every sub-task result, and an event around it."""
    workflow_task = {
        "TaskId": task.task_id,
        "Status": "FINISH",
        "ErrCode": 0,
        "Message": "SUCCESS",
        "MediaProcessResultSet": [s.result for s in subs],
    }
    return Completion(
        workflow_task, [(TARGET, {"EventType": "WorkflowTask", "WorkflowTaskEvent": workflow_task})]
    )


def finish_all(store: TaskStore, task_id: str) -> None:
    for sub in store.get_subtasks(task_id):
        store.finish_subtask(task_id, sub.index, {"Type": "Transcode", "n": sub.index}, "SUCCESS")


class StoreContract:
    """Behaviour every TaskStore keeps. Subclasses provide the ``store`` and ``clock`` fixtures."""

    #: Threads in the race tests.
    RACERS = 8

    # -- tasks ---------------------------------------------------------------------------------

    def test_a_created_task_reads_back_waiting_with_its_subtasks(
        self, store: TaskStore, clock: FakeClock
    ) -> None:
        task, created = store.create_task(
            new(2, session_context="ctx", notify={"NotifyType": "URL"}, priority=5, workflow_id=7)
        )

        assert created and task.status == "WAITING"
        got = store.get_task(task.task_id)
        assert got == task
        assert (got.session_context, got.notify, got.priority, got.workflow_id) == (
            "ctx",
            {"NotifyType": "URL"},
            5,
            7,
        )
        assert got.create_time == clock.now and got.create_time.tzinfo is not None
        assert got.begin_time is None and got.finish_time is None
        subs = store.get_subtasks(task.task_id)
        assert [(s.index, s.kind, s.status, s.input) for s in subs] == [
            (0, "Transcode", "WAITING", {"Definition": 100010}),
            (1, "Transcode", "WAITING", {"Definition": 100011}),
        ]

    def test_an_unknown_task_is_task_not_found(self, store: TaskStore) -> None:
        with pytest.raises(ResourceNotFoundError) as err:
            store.get_task("nope")
        assert err.value.code == "ResourceNotFound.TaskNotFound"
        assert store.get_subtasks("nope") == []

    def test_task_detail_is_the_task_and_its_subtasks_in_one_read(self, store: TaskStore) -> None:
        task, _ = store.create_task(new(3))
        store.finish_subtask(task.task_id, 1, {"n": 1}, "SUCCESS")

        got, subs = store.get_task_detail(task.task_id)

        assert got == store.get_task(task.task_id)
        assert subs == store.get_subtasks(task.task_id) and [s.index for s in subs] == [0, 1, 2]
        with pytest.raises(ResourceNotFoundError) as err:
            store.get_task_detail("nope")
        assert err.value.code == "ResourceNotFound.TaskNotFound"

    def test_a_reused_task_id_is_a_conflict(self, store: TaskStore) -> None:
        spec = new()
        store.create_task(spec)
        with pytest.raises(ConflictError):
            store.create_task(spec)

    def test_a_repeated_session_id_returns_the_first_task(self, store: TaskStore) -> None:
        first, _ = store.create_task(new(1, session_id="s-1"))

        again, created = store.create_task(new(1, session_id="s-1"))

        assert not created and again.task_id == first.task_id
        other, created = store.create_task(new(1, session_id="s-2"))
        assert created and other.task_id != first.task_id
        assert len(store.list_tasks("WAITING", limit=100)[0]) == 2

    def test_a_session_id_is_free_again_after_three_days(self, store: TaskStore, clock: FakeClock) -> None:
        first, _ = store.create_task(new(session_id="s-1"))
        clock.advance(timedelta(days=3, seconds=1))

        second, created = store.create_task(new(session_id="s-1"))

        assert created and second.task_id != first.task_id
        assert store.get_task(first.task_id).session_id is None

    def test_racing_creates_with_one_session_id_make_one_task(self, store: TaskStore) -> None:
        results = race(self.RACERS, lambda i: store.create_task(new(2, session_id="race")))

        assert all(isinstance(r, tuple) for r in results), results
        assert sum(created for _, created in results) == 1
        assert len({task.task_id for task, _ in results}) == 1
        assert len(store.list_tasks("WAITING", limit=100)[0]) == 1

    def test_a_redelivered_bucket_event_returns_the_first_task(self, store: TaskStore) -> None:
        trigger = BucketTrigger(1, "videos", "in/a.mp4", "etag-1")
        first, _ = store.create_task(new(trigger=trigger))

        again, created = store.create_task(new(trigger=trigger))

        assert not created and again.task_id == first.task_id
        assert not store.claim_trigger(trigger)

    def test_start_task_moves_waiting_to_processing_once(self, store: TaskStore, clock: FakeClock) -> None:
        task, _ = store.create_task(new())
        clock.advance(timedelta(seconds=5))

        assert store.start_task(task.task_id) is True
        assert store.start_task(task.task_id) is False
        got = store.get_task(task.task_id)
        assert got.status == "PROCESSING" and got.begin_time == clock.now
        with pytest.raises(ResourceNotFoundError):
            store.start_task("nope")

    def test_metadata_and_late_subtasks_are_stored(self, store: TaskStore) -> None:
        task, _ = store.create_task(new(1))

        store.set_metadata(task.task_id, {"Duration": 4.0, "Width": 320})
        first = store.add_subtasks(task.task_id, [NewSubtask("SnapshotByTimeOffset", {"Definition": 10})])

        assert store.get_task(task.task_id).metadata == {"Duration": 4.0, "Width": 320}
        assert first == 1
        assert [s.kind for s in store.get_subtasks(task.task_id)] == ["Transcode", "SnapshotByTimeOffset"]

    def test_a_split_parks_its_subtask_and_appends_the_parts_with_their_work_in_one_commit(
        self, store: TaskStore
    ) -> None:
        task, _ = store.create_task(new(2))
        assert store.start_subtask(task.task_id, 0, "holder", timedelta(seconds=30)) is not None
        parts = [NewSubtask("chunk", {"Parent": 0, "Chunk": n}) for n in range(3)]

        def work(indexes: list[int]) -> list[tuple[EventTarget, dict[str, Any]]]:
            return [(TARGET, {"run": index}) for index in indexes]

        # Only the holder can split it
        assert store.split_subtask(task.task_id, 0, "another", parts, work) is None
        assert store.list_events(task.task_id) == []
        first = store.split_subtask(task.task_id, 0, "holder", parts, work)

        assert first == 2
        subtasks = store.get_subtasks(task.task_id)
        assert [(s.kind, s.status) for s in subtasks] == [
            ("Transcode", "PENDING"),
            ("Transcode", "WAITING"),
            *[("chunk", "WAITING")] * 3,
        ]
        assert (subtasks[0].lease_token, subtasks[0].lease_until) == (None, None)
        assert [e.payload for e in store.list_events(task.task_id)] == [{"run": 2}, {"run": 3}, {"run": 4}]
        assert store.start_subtask(task.task_id, 0, "late") is None, "a parked sub-task waits for its parts"
        split = [h for h in store.task_history(task.task_id) if h.event == "split"]
        assert [(h.index, h.detail) for h in split] == [(0, {"Chunks": [2, 3, 4]})]

    def test_abort_ends_a_waiting_task(self, store: TaskStore) -> None:
        task, _ = store.create_task(new(2, workflow_task={"TaskId": "x", "Status": "WAITING"}))

        aborted = store.abort_task(
            task.task_id,
            Completion({"Status": "FINISH"}, [(TARGET, {"EventType": "WorkflowTask"})], {0: {"aborted": 0}}),
        )

        assert (aborted.status, aborted.err_code) == ("FINISH", ABORTED_ERR_CODE)
        assert aborted.workflow_task == {"Status": "FINISH"}
        subtasks = store.get_subtasks(task.task_id)
        assert [(s.status, s.result) for s in subtasks] == [("FAIL", {"aborted": 0}), ("FAIL", None)]
        assert [e.payload for e in store.list_events(task.task_id)] == [{"EventType": "WorkflowTask"}]
        assert store.start_subtask(task.task_id, 0) is None

    def test_abort_ends_a_running_task_keeping_what_finished_and_fencing_the_holder(
        self, store: TaskStore
    ) -> None:
        task, _ = store.create_task(new(2))
        store.start_subtask(task.task_id, 0, "holder", timedelta(seconds=30))
        store.start_subtask(task.task_id, 1, "other", timedelta(seconds=30))
        store.finish_subtask(task.task_id, 1, {"done": 1}, "SUCCESS", "other")

        store.abort_task(task.task_id, Completion({"Status": "FINISH"}))

        assert [s.status for s in store.get_subtasks(task.task_id)] == ["FAIL", "SUCCESS"]
        assert store.get_subtasks(task.task_id)[1].result == {"done": 1}
        assert store.renew_subtask_lease(task.task_id, 0, "holder", timedelta(seconds=30)) is False
        assert store.finish_subtask(task.task_id, 0, {"late": 1}, "SUCCESS", "holder") is False

    def test_abort_refuses_a_finished_task(self, store: TaskStore) -> None:
        task, _ = store.create_task(new())
        assert store.try_finish_task(task.task_id, Completion({"ErrCode": 0}))

        with pytest.raises(MpsError) as err:
            store.abort_task(task.task_id, Completion({}))

        assert err.value.code == "FailedOperation"
        assert store.get_task(task.task_id).err_code == 0

    def test_redo_runs_the_failed_subtasks_again_keeping_the_rest(self, store: TaskStore) -> None:
        task, _ = store.create_task(new(2))
        store.finish_subtask(task.task_id, 0, {"ok": 0}, "SUCCESS")
        store.finish_subtask(task.task_id, 1, {"bad": 1}, "FAIL")
        with pytest.raises(MpsError):  # not finished yet
            store.redo_task(task.task_id, lambda t, s: Followup({1: "WAITING"}))
        store.try_finish_task(task.task_id, Completion({"ErrCode": 0}))

        redone = store.redo_task(task.task_id, lambda t, s: Followup({1: "WAITING"}, [(TARGET, {"work": 1})]))

        assert (redone.status, redone.finish_time) == ("PROCESSING", None)
        subtasks = store.get_subtasks(task.task_id)
        assert [(s.status, s.result) for s in subtasks] == [("SUCCESS", {"ok": 0}), ("WAITING", None)]
        assert [e.payload for e in store.list_events(task.task_id)] == [{"work": 1}]
        with pytest.raises(MpsError):  # nothing to redo: refused, nothing changed
            store.finish_subtask(task.task_id, 1, {"ok": 1}, "SUCCESS")
            store.try_finish_task(task.task_id, Completion({"ErrCode": 0}))
            store.redo_task(task.task_id, lambda t, s: Followup({}))

    # -- sub-tasks -----------------------------------------------------------------------------

    def test_start_subtask_counts_attempts_and_starts_the_task(self, store: TaskStore) -> None:
        task, _ = store.create_task(new(1))

        first = store.start_subtask(task.task_id, 0)
        second = store.start_subtask(task.task_id, 0)

        assert first is not None and second is not None
        assert (first.status, first.attempts, second.attempts) == ("PROCESSING", 1, 2)
        assert store.get_task(task.task_id).status == "PROCESSING"
        store.finish_subtask(task.task_id, 0, {"Type": "Transcode"}, "SUCCESS")
        assert store.start_subtask(task.task_id, 0) is None
        with pytest.raises(ResourceNotFoundError):
            store.start_subtask(task.task_id, 5)

    def test_a_live_lease_fences_off_every_other_attempt(self, store: TaskStore, clock: FakeClock) -> None:
        task, _ = store.create_task(new(1))
        lease = timedelta(seconds=30)

        held = store.start_subtask(task.task_id, 0, "a", lease)
        assert held is not None and (held.lease_token, held.lease_until) == ("a", clock.now + lease)
        assert store.start_subtask(task.task_id, 0, "b", lease) is None, "a copy while the holder lives"
        clock.advance(timedelta(seconds=20))
        assert store.renew_subtask_lease(task.task_id, 0, "a", lease) is True
        assert store.renew_subtask_lease(task.task_id, 0, "b", lease) is False
        clock.advance(timedelta(seconds=29))
        assert store.start_subtask(task.task_id, 0, "b", lease) is None, "renewed: still held"

        clock.advance(timedelta(seconds=2))  # the holder stopped renewing: it died
        taken = store.start_subtask(task.task_id, 0, "b", lease)
        assert taken is not None and (taken.lease_token, taken.attempts) == ("b", 2)
        assert store.renew_subtask_lease(task.task_id, 0, "a", lease) is False, (
            "the old attempt learns it lost"
        )
        assert store.finish_subtask(task.task_id, 0, {"by": "a"}, "SUCCESS", "a") is False
        assert store.finish_subtask(task.task_id, 0, {"by": "b"}, "SUCCESS", "b") is True
        done = store.get_subtasks(task.task_id)[0]
        assert (done.result, done.lease_token, done.lease_until) == ({"by": "b"}, None, None)
        assert store.renew_subtask_lease(task.task_id, 0, "b", lease) is False, "final: nothing to hold"

    def test_a_released_lease_lets_the_retry_start_at_once(self, store: TaskStore) -> None:
        task, _ = store.create_task(new(1))
        store.start_subtask(task.task_id, 0, "a", timedelta(seconds=30))

        assert store.release_subtask_lease(task.task_id, 0, "b") is False
        assert store.release_subtask_lease(task.task_id, 0, "a") is True

        retry = store.start_subtask(task.task_id, 0, "c", timedelta(seconds=30))
        assert retry is not None and retry.attempts == 2

    def test_a_subtask_whose_lease_ran_out_is_listed_for_the_sweep(
        self, store: TaskStore, clock: FakeClock
    ) -> None:
        task, _ = store.create_task(new(2))
        store.start_subtask(task.task_id, 0, "dead", timedelta(seconds=30))
        store.start_subtask(task.task_id, 1, "alive", timedelta(seconds=90))
        clock.advance(timedelta(seconds=60))

        lost = store.list_unstarted_subtasks(clock.now - timedelta(days=1))
        assert [(x.task_id, x.index) for x in lost] == [(task.task_id, 0)]

    def test_unstarted_subtasks_are_listed_in_one_query_oldest_task_first(
        self, store: TaskStore, clock: FakeClock
    ) -> None:
        older, _ = store.create_task(new(2, priority=5))
        clock.advance(timedelta(seconds=10))
        newer, _ = store.create_task(new(1))
        store.start_subtask(older.task_id, 0)  # started: not lost
        clock.advance(timedelta(seconds=10))
        aborted, _ = store.create_task(new(1))
        store.abort_task(aborted.task_id, Completion({}))  # finished tasks are never redispatched

        lost = store.list_unstarted_subtasks(clock.now)
        assert [(x.task_id, x.index, x.priority) for x in lost] == [
            (older.task_id, 1, 5),
            (newer.task_id, 0, 0),
        ]
        assert [x.task_id for x in store.list_unstarted_subtasks(clock.now - timedelta(seconds=15))] == [
            older.task_id
        ]
        assert len(store.list_unstarted_subtasks(clock.now, limit=1)) == 1

    def test_a_subtask_result_is_committed_once(self, store: TaskStore) -> None:
        task, _ = store.create_task(new(1))

        assert store.finish_subtask(task.task_id, 0, {"Type": "Transcode", "try": 1}, "SUCCESS") is True
        assert store.finish_subtask(task.task_id, 0, {"Type": "Transcode", "try": 2}, "FAIL") is False

        sub = store.get_subtasks(task.task_id)[0]
        assert (sub.status, sub.result, sub.progress) == ("SUCCESS", {"Type": "Transcode", "try": 1}, 100)

    def test_racing_duplicate_commits_record_once(self, store: TaskStore) -> None:
        task, _ = store.create_task(new(1))

        won = race(self.RACERS, lambda i: store.finish_subtask(task.task_id, 0, {"by": i}, "SUCCESS"))

        assert won.count(True) == 1 and won.count(False) == self.RACERS - 1
        assert store.get_subtasks(task.task_id)[0].result == {"by": won.index(True)}

    def test_finish_subtask_checks_its_arguments(self, store: TaskStore) -> None:
        task, _ = store.create_task(new(1))
        with pytest.raises(ValueError):
            store.finish_subtask(task.task_id, 0, {}, "PROCESSING")
        with pytest.raises(ResourceNotFoundError):
            store.finish_subtask(task.task_id, 3, {}, "SUCCESS")

    def test_progress_never_moves_a_finished_subtask_back(self, store: TaskStore) -> None:
        task, _ = store.create_task(new(2))

        assert store.update_progress(task.task_id, 0, 40) is True
        assert store.update_progress(task.task_id, 1, 250) is True
        store.finish_subtask(task.task_id, 0, {"Type": "Transcode"}, "SUCCESS")
        assert store.update_progress(task.task_id, 0, 10) is False
        assert store.update_progress(task.task_id, 9, 10) is False

        subs = store.get_subtasks(task.task_id)
        assert [(s.status, s.progress) for s in subs] == [("SUCCESS", 100), ("WAITING", 100)]

    # -- finishing -----------------------------------------------------------------------------

    def test_a_task_finishes_only_when_every_subtask_is_final(
        self, store: TaskStore, clock: FakeClock
    ) -> None:
        task, _ = store.create_task(new(2))
        store.finish_subtask(task.task_id, 0, {"n": 0}, "SUCCESS")
        assert store.try_finish_task(task.task_id, merge) is False
        store.finish_subtask(task.task_id, 1, {"n": 1}, "FAIL")
        clock.advance(timedelta(seconds=3))

        assert store.try_finish_task(task.task_id, merge) is True
        assert store.try_finish_task(task.task_id, merge) is False

        done = store.get_task(task.task_id)
        assert (done.status, done.finish_time, done.message) == ("FINISH", clock.now, "SUCCESS")
        assert done.workflow_task is not None
        assert done.workflow_task["MediaProcessResultSet"] == [{"n": 0}, {"n": 1}]
        events = store.list_events(task.task_id)
        assert len(events) == 1 and events[0].target == TARGET
        assert events[0].payload["WorkflowTaskEvent"]["TaskId"] == task.task_id

    def test_a_static_completion_stores_err_code_and_no_event_without_target(self, store: TaskStore) -> None:
        task, _ = store.create_task(new())

        assert store.try_finish_task(task.task_id, Completion({"ErrCode": 60000, "Message": "bad"}))

        got = store.get_task(task.task_id)
        assert (got.err_code, got.message) == (60000, "bad")
        assert store.list_events(task.task_id) == []

    def test_racing_workers_finish_a_task_exactly_once(self, store: TaskStore) -> None:
        task, _ = store.create_task(new(self.RACERS))

        def work(i: int) -> bool:
            store.start_subtask(task.task_id, i)
            store.finish_subtask(task.task_id, i, {"n": i}, "SUCCESS")
            return store.try_finish_task(task.task_id, merge)

        won = race(self.RACERS, work)

        assert won.count(True) == 1, won
        assert len(store.list_events(task.task_id)) == 1
        workflow_task = store.get_task(task.task_id).workflow_task
        assert workflow_task is not None
        assert workflow_task["MediaProcessResultSet"] == [{"n": i} for i in range(self.RACERS)]

    def test_racing_finishers_on_a_done_task_win_once(self, store: TaskStore) -> None:
        task, _ = store.create_task(new(1))
        finish_all(store, task.task_id)

        won = race(self.RACERS, lambda i: store.try_finish_task(task.task_id, merge))

        assert won.count(True) == 1 and won.count(False) == self.RACERS - 1
        assert len(store.list_events(task.task_id)) == 1

    # -- listing -------------------------------------------------------------------------------

    def test_scroll_token_pages_have_no_duplicates_or_gaps_under_inserts(
        self, store: TaskStore, clock: FakeClock
    ) -> None:
        created = []
        for _ in range(25):
            created.append(store.create_task(new())[0].task_id)
            clock.advance(timedelta(seconds=1))

        seen: list[str] = []
        page, token = store.list_tasks("WAITING", limit=10)
        seen += [t.task_id for t in page]
        for _ in range(5):  # tasks created mid-listing sort first: they must not shift later pages
            store.create_task(new())
        while token:
            page, token = store.list_tasks("WAITING", limit=10, scroll_token=token)
            seen += [t.task_id for t in page]

        assert seen == list(reversed(created))

    def test_list_filters_by_status_failure_and_time(self, store: TaskStore, clock: FakeClock) -> None:
        ok, _ = store.create_task(new(1))
        finish_all(store, ok.task_id)
        store.try_finish_task(ok.task_id, merge)
        clock.advance(timedelta(hours=1))
        bad, _ = store.create_task(new(1))
        store.finish_subtask(bad.task_id, 0, {}, "FAIL")
        store.try_finish_task(bad.task_id, merge)
        waiting, _ = store.create_task(new())

        def ids(**kwargs: Any) -> list[str]:
            listed = [t.task_id for t in store.list_tasks(limit=100, **kwargs)[0]]
            assert store.count_tasks(**kwargs) == len(listed)  # TotalCount counts what is listed
            return listed

        assert ids(status="WAITING") == [waiting.task_id]
        assert ids(status="FINISH") == [bad.task_id, ok.task_id]
        assert ids(status="FINISH", sub_task_has_failed=True) == [bad.task_id]
        assert ids(status="FINISH", sub_task_has_failed=False) == [ok.task_id]
        assert ids(status="FINISH", start_time=clock.now) == [bad.task_id]
        assert ids(status="FINISH", end_time=clock.now) == [ok.task_id]

    def test_purge_deletes_old_finished_tasks_but_never_an_undelivered_event(
        self, store: TaskStore, clock: FakeClock
    ) -> None:
        def finished(session: str | None = None) -> str:
            task, _ = store.create_task(new(2, session_id=session))
            finish_all(store, task.task_id)
            assert store.try_finish_task(task.task_id, merge)
            return task.task_id

        old, old_pending, kept_session = finished(), finished(), finished("s-1")
        for event in store.claim_outbox(10):
            if event.task_id != old_pending:
                store.mark_sent(event.id)
        running, _ = store.create_task(new(1))
        clock.advance(timedelta(days=8))
        recent = finished()

        assert store.purge_tasks(clock.now - timedelta(days=7)) == 2  # old and kept_session
        for task_id in (old, kept_session):
            with pytest.raises(ResourceNotFoundError):
                store.get_task(task_id)
            assert store.get_subtasks(task_id) == [] and store.list_events(task_id) == []
        # an event not delivered yet keeps its task; running and recent tasks are untouched
        assert [store.get_task(t).status for t in (old_pending, running.task_id, recent)] == [
            "FINISH", "WAITING", "FINISH"
        ]  # fmt: skip
        assert len(store.list_events(old_pending)) == 1 and len(store.get_subtasks(old_pending)) == 2
        # the purged task's SessionId is free again
        again, created = store.create_task(new(1, session_id="s-1"))
        assert created and again.task_id != kept_session
        assert store.purge_tasks(clock.now - timedelta(days=7)) == 0

    def test_a_forged_scroll_token_is_invalid(self, store: TaskStore) -> None:
        with pytest.raises(InvalidParameterError) as err:
            store.list_tasks("WAITING", scroll_token="not-a-token!")
        assert err.value.code == "InvalidParameterValue.ScrollToken"

    # -- history (DescribeTaskHistory) ---------------------------------------------------------

    def test_the_history_records_every_transition_in_order(self, store: TaskStore, clock: FakeClock) -> None:
        task, _ = store.create_task(new(2))
        task_id = task.task_id
        store.set_metadata(task_id, {"Duration": 2.0, "Width": 160, "Height": 120, "VideoStreamSet": []})
        store.start_subtask(task_id, 0, "t0", timedelta(seconds=30), host="worker-1:42")
        clock.advance(timedelta(seconds=1))
        store.finish_subtask(
            task_id, 0, {"Type": "Transcode", "TranscodeTask": {"Status": "SUCCESS"}}, "SUCCESS"
        )
        store.start_subtask(task_id, 1, host="worker-2:7")
        failure = {"Status": "FAIL", "ErrCode": 30010, "ErrCodeExt": "FailedOperation.Ffmpeg",
                   "Message": "ffmpeg exited 1", "StderrTail": "Unknown encoder 'h266'"}  # fmt: skip
        store.finish_subtask(task_id, 1, {"Type": "Transcode", "TranscodeTask": failure}, "FAIL")
        assert store.try_finish_task(task_id, merge)
        (row,) = store.claim_outbox(10)
        store.mark_sent(row.id)
        store.mark_sent(row.id)  # marking twice delivers once

        history = store.task_history(task_id)

        assert [(h.seq, h.event, h.index, h.attempt) for h in history] == [
            (1, "created", None, None), (2, "ready", 0, None), (3, "ready", 1, None),
            (4, "probed", None, None), (5, "started", 0, 1), (6, "succeeded", 0, 1),
            (7, "started", 1, 1), (8, "failed", 1, 1), (9, "finished", None, None),
            (10, "delivered", None, None),
        ]  # fmt: skip
        details = [h.detail for h in history]
        assert details[3] == {"Duration": 2.0, "Width": 160, "Height": 120}
        assert (details[4], details[5], details[6]) == ({"Host": "worker-1:42"}, {}, {"Host": "worker-2:7"})
        assert details[7] == {
            "ErrCode": 30010, "ErrCodeExt": "FailedOperation.Ffmpeg", "Message": "ffmpeg exited 1",
            "StderrTail": "Unknown encoder 'h266'",
        }  # fmt: skip
        assert details[8] == {"ErrCode": 0, "Message": "SUCCESS"}
        assert details[9] == {"Target": {"Kind": "exchange", "Name": "mps.events", "Key": "task.finish"}}
        assert [h.time for h in history[4:6]] == [clock.now - timedelta(seconds=1), clock.now]
        assert all(h.task_id == task_id and h.time.tzinfo is not None for h in history)

    def test_a_redelivery_or_a_fenced_attempt_adds_nothing_to_the_history(self, store: TaskStore) -> None:
        task, _ = store.create_task(new(1))
        task_id = task.task_id
        store.start_subtask(task_id, 0, "held", timedelta(seconds=30))
        assert store.start_subtask(task_id, 0, "copy", timedelta(seconds=30)) is None  # a copy
        assert not store.finish_subtask(task_id, 0, {"Type": "Transcode"}, "SUCCESS", token="copy")
        assert store.finish_subtask(task_id, 0, {"Type": "Transcode"}, "SUCCESS", token="held")
        assert not store.finish_subtask(task_id, 0, {"Type": "Transcode"}, "SUCCESS")  # redelivered
        assert store.start_subtask(task_id, 0) is None
        assert not store.renew_subtask_lease(task_id, 0, "held", timedelta(seconds=30))
        assert store.try_finish_task(task_id, merge) and not store.try_finish_task(task_id, merge)

        events = [h.event for h in store.task_history(task_id)]

        assert events == ["created", "ready", "started", "succeeded", "finished"]

    def test_a_finish_records_what_its_followup_changed(self, store: TaskStore) -> None:
        subtasks = [NewSubtask("Transcode", {}), *(NewSubtask("Transcode", {}, "PENDING") for _ in range(3))]
        task, _ = store.create_task(NewTask(new_task_id(), {}, subtasks=subtasks))
        task_id = task.task_id
        followup = Followup(updates={1: "WAITING", 2: "SKIPPED", 0: "SKIPPED"})  # 0 is not PENDING

        store.finish_subtask(task_id, 0, {"Type": "Transcode"}, "SUCCESS", then=lambda t, s: followup)
        store.finish_subtask(
            task_id, 1, {"Type": "Transcode"}, "FAIL", then=lambda t, s: Followup({3: "SKIPPED"})
        )

        history = [(h.event, h.index, h.detail) for h in store.task_history(task_id)]
        assert history == [
            ("created", None, {}), ("ready", 0, {}), ("succeeded", 0, {}),
            ("ready", 1, {"By": 0}), ("skipped", 2, {"By": 0, "Cause": "rule"}),
            ("failed", 1, {"ErrCode": 0, "ErrCodeExt": "", "Message": ""}),
            ("skipped", 3, {"By": 1, "Cause": "failure"}),
        ]  # fmt: skip

    def test_sub_tasks_added_later_are_ready_in_the_history(self, store: TaskStore) -> None:
        task, _ = store.create_task(new(1))

        store.add_subtasks(
            task.task_id, [NewSubtask("Transcode", {}), NewSubtask("Transcode", {}, "PENDING")]
        )

        events = [(h.event, h.index) for h in store.task_history(task.task_id)]
        assert events == [("created", None), ("ready", 0), ("ready", 1)]  # 2 waits for its predecessors

    def test_the_history_of_an_unknown_or_purged_task_is_task_not_found(
        self, store: TaskStore, clock: FakeClock
    ) -> None:
        task, _ = store.create_task(new(1))
        finish_all(store, task.task_id)
        assert store.try_finish_task(task.task_id, Completion({"ErrCode": 0}))
        clock.advance(timedelta(days=8))

        assert store.purge_tasks(clock.now - timedelta(days=7)) == 1

        for task_id in (task.task_id, "no-such-task"):
            with pytest.raises(ResourceNotFoundError) as err:
                store.task_history(task_id)
            assert err.value.code == "ResourceNotFound.TaskNotFound"

    # -- outbox --------------------------------------------------------------------------------

    def test_outbox_claim_lease_fail_retry_and_send(self, store: TaskStore, clock: FakeClock) -> None:
        task, _ = store.create_task(new())
        first = store.add_event(task.task_id, TARGET, {"n": 1})
        second = store.add_event(task.task_id, EventTarget("url", "http://cb.example/x"), {"n": 2})

        claimed = store.claim_outbox(10)
        assert [(e.id, e.attempts) for e in claimed] == [(first, 1), (second, 1)]
        assert claimed[1].target == EventTarget("url", "http://cb.example/x")
        assert store.claim_outbox(10) == []  # leased to the first relay

        store.mark_sent(first)
        store.mark_failed(second, "connection refused", clock.now + timedelta(seconds=30))
        assert store.claim_outbox(10, now=clock.now + timedelta(seconds=29)) == []
        retried = store.claim_outbox(10, now=clock.now + timedelta(seconds=30))
        assert [(e.id, e.attempts, e.last_error) for e in retried] == [(second, 2, "connection refused")]
        store.mark_sent(second)
        assert store.claim_outbox(10, now=clock.now + timedelta(days=1)) == []
        assert all(e.sent_at is not None for e in store.list_events(task.task_id))

    def test_an_expired_lease_is_claimed_again(self, store: TaskStore, clock: FakeClock) -> None:
        event = store.add_event(None, TARGET, {})
        store.claim_outbox(1, lease=timedelta(seconds=10))

        again = store.claim_outbox(1, now=clock.now + timedelta(seconds=10))

        assert [(e.id, e.attempts) for e in again] == [(event, 2)]

    def test_racing_relays_claim_disjoint_rows(self, store: TaskStore) -> None:
        for i in range(40):
            store.add_event(None, TARGET, {"n": i})

        claims = race(4, lambda i: store.claim_outbox(10))

        ids = [e.id for claim in claims for e in claim]
        assert len(ids) == 40 and len(set(ids)) == 40

    # -- templates -----------------------------------------------------------------------------

    def test_template_definitions_count_up_per_family_and_are_never_reused(self, store: TaskStore) -> None:
        a = store.create_template("Transcode", "a", {"Container": "mp4"})
        b = store.create_template("Transcode", "b", {"Container": "flv"})
        s = store.create_template("ImageSprite", "s", {"RowCount": 2})
        store.delete_template("Transcode", b.definition)
        c = store.create_template("Transcode", "c", {"Container": "mp4"})

        assert (a.definition, b.definition, c.definition) == (
            CUSTOM_DEFINITION_BASE,
            CUSTOM_DEFINITION_BASE + 1,
            CUSTOM_DEFINITION_BASE + 2,
        )
        assert s.definition == CUSTOM_DEFINITION_BASE
        assert store.get_template("Transcode", a.definition) == a

    def test_template_read_update_list_delete(self, store: TaskStore, clock: FakeClock) -> None:
        made = [store.create_template("Watermark", f"w{i % 2}", {"i": i}) for i in range(5)]
        clock.advance(timedelta(minutes=1))

        updated = store.update_template("Watermark", made[0].definition, {"i": 99}, name="renamed")

        assert (updated.body, updated.name, updated.update_time) == ({"i": 99}, "renamed", clock.now)
        total, rows = store.list_templates("Watermark", offset=1, limit=2)
        assert total == 5 and [r.definition for r in rows] == [m.definition for m in made[1:3]]
        total, rows = store.list_templates("Watermark", name="w1")
        assert total == 2
        total, rows = store.list_templates("Watermark", definitions=[made[4].definition, 5])
        assert [r.body for r in rows] == [{"i": 4}]
        store.delete_template("Watermark", made[4].definition)
        for action in (
            lambda: store.get_template("Watermark", made[4].definition),
            lambda: store.delete_template("Watermark", made[4].definition),
            lambda: store.update_template("Watermark", made[4].definition, {}),
        ):
            with pytest.raises(ResourceNotFoundError) as err:
                action()
            assert err.value.code == "ResourceNotFound.TemplateNotExist"

    def test_template_limit_per_family(self, store: TaskStore) -> None:
        for i in range(16):
            store.create_template("SampleSnapshot", f"t{i}", {})

        with pytest.raises(MpsError) as err:
            store.create_template("SampleSnapshot", "one too many", {})

        assert err.value.code == "LimitExceeded.TooMuchTemplate"
        store.create_template("Transcode", "other families are not full", {})
        with pytest.raises(InvalidParameterError):
            store.create_template("Nope", "x", {})

    def test_racing_template_creates_respect_the_limit(self, store: TaskStore) -> None:
        for i in range(12):
            store.create_template("AnimatedGraphics", f"t{i}", {})

        results = race(self.RACERS, lambda i: store.create_template("AnimatedGraphics", f"r{i}", {}))

        made = [r for r in results if not isinstance(r, Exception)]
        refused = [
            r for r in results if isinstance(r, MpsError) and r.code == "LimitExceeded.TooMuchTemplate"
        ]
        assert len(made) == 4 and len(refused) == self.RACERS - 4, results
        assert len({m.definition for m in made}) == 4
        assert store.list_templates("AnimatedGraphics", limit=100)[0] == 16

    # -- workflows -----------------------------------------------------------------------------

    def test_workflows_are_created_disabled_with_unique_names(
        self, store: TaskStore, clock: FakeClock
    ) -> None:
        one = store.create_workflow("one", {"WorkflowName": "one"}, "videos", "/in/")
        two = store.create_workflow("two", {"WorkflowName": "two"}, "photos")

        assert (one.status, one.trigger_bucket, one.trigger_dir, two.trigger_dir) == (
            "Disabled",
            "videos",
            "/in/",
            "/",
        )
        assert two.workflow_id > one.workflow_id
        with pytest.raises(InvalidParameterError) as err:
            store.create_workflow("one", {}, "videos")
        assert err.value.code == "InvalidParameterValue.WorkflowName"
        with pytest.raises(InvalidParameterError):
            store.update_workflow(two.workflow_id, name="one")

    def test_workflow_update_list_delete(self, store: TaskStore, clock: FakeClock) -> None:
        one = store.create_workflow("one", {}, "videos")
        two = store.create_workflow("two", {}, "videos")
        clock.advance(timedelta(minutes=1))

        enabled = store.update_workflow(one.workflow_id, status="Enabled", body={"v": 2})

        assert (enabled.status, enabled.body, enabled.name, enabled.update_time) == (
            "Enabled",
            {"v": 2},
            "one",
            clock.now,
        )
        assert store.get_workflow(one.workflow_id) == enabled
        total, rows = store.list_workflows(status="Enabled", trigger_bucket="videos")
        assert total == 1 and rows[0].workflow_id == one.workflow_id
        total, rows = store.list_workflows(workflow_ids=[two.workflow_id, 999], offset=0, limit=10)
        assert [r.name for r in rows] == ["two"]
        assert store.list_workflows(limit=1)[0] == 2
        store.delete_workflow(two.workflow_id)
        with pytest.raises(ResourceNotFoundError):
            store.get_workflow(two.workflow_id)
        with pytest.raises(ResourceNotFoundError):
            store.delete_workflow(two.workflow_id)

    def test_conditional_workflow_changes_check_the_status_in_the_same_step(self, store: TaskStore) -> None:
        workflow_id = store.create_workflow("w", {"v": 1}, "videos").workflow_id
        store.update_workflow(workflow_id, status="Enabled")

        with pytest.raises(WorkflowStatusError) as err:
            store.delete_workflow(workflow_id, if_status="Disabled")
        assert (err.value.status, err.value.code) == ("Enabled", "FailedOperation")
        with pytest.raises(WorkflowStatusError):
            store.update_workflow(workflow_id, name="x", body={"v": 2}, if_status="Disabled")
        kept = store.get_workflow(workflow_id)
        assert (kept.name, kept.body, kept.status) == ("w", {"v": 1}, "Enabled")  # nothing changed

        store.update_workflow(workflow_id, status="Disabled")
        assert store.update_workflow(workflow_id, name="x", if_status="Disabled").name == "x"
        store.delete_workflow(workflow_id, if_status="Disabled")
        with pytest.raises(ResourceNotFoundError):
            store.delete_workflow(workflow_id, if_status="Disabled")
        with pytest.raises(ResourceNotFoundError):
            store.update_workflow(workflow_id, name="y", if_status="Disabled")

    def test_schedules_share_the_table_and_the_id_sequence_with_names_unique_per_kind(
        self, store: TaskStore
    ) -> None:
        flow = store.create_workflow("same", {"WorkflowName": "same"}, "videos")
        schedule = store.create_workflow("same", {"ScheduleName": "same"}, "videos", "/in/", kind="schedule")

        assert (flow.kind, schedule.kind) == ("workflow", "schedule")
        assert schedule.workflow_id > flow.workflow_id
        assert store.get_workflow(schedule.workflow_id) == schedule
        with pytest.raises(InvalidParameterError) as err:
            store.create_workflow("same", {}, "videos", kind="schedule")
        assert err.value.code == "InvalidParameterValue.ScheduleName"
        other = store.create_workflow("other", {}, "videos", kind="schedule")
        with pytest.raises(InvalidParameterError) as err:
            store.update_workflow(other.workflow_id, name="same")
        assert err.value.code == "InvalidParameterValue.ScheduleName"

        assert [r.workflow_id for r in store.list_workflows()[1]] == [flow.workflow_id]
        total, rows = store.list_workflows(kind="schedule")
        assert total == 2 and [r.name for r in rows] == ["same", "other"]
        assert store.list_workflows(trigger_bucket="videos", kind=None)[0] == 3

    def test_a_change_scoped_to_a_kind_does_not_see_the_other_kind(self, store: TaskStore) -> None:
        flow = store.create_workflow("w", {"v": 1}, "videos")
        schedule = store.create_workflow("s", {"v": 1}, "videos", kind="schedule")

        with pytest.raises(ResourceNotFoundError):
            store.update_workflow(flow.workflow_id, status="Enabled", kind="schedule")
        with pytest.raises(ResourceNotFoundError):
            store.update_workflow(schedule.workflow_id, body={"v": 2}, if_status="Disabled", kind="workflow")
        with pytest.raises(ResourceNotFoundError):
            store.delete_workflow(flow.workflow_id, if_status="Disabled", kind="schedule")
        assert store.get_workflow(flow.workflow_id) == flow
        assert store.get_workflow(schedule.workflow_id) == schedule

        enabled = store.update_workflow(schedule.workflow_id, status="Enabled", kind="schedule")
        assert (enabled.status, enabled.kind) == ("Enabled", "schedule")
        with pytest.raises(WorkflowStatusError):
            store.delete_workflow(schedule.workflow_id, if_status="Disabled", kind="schedule")
        store.delete_workflow(flow.workflow_id, if_status="Disabled", kind="workflow")
        with pytest.raises(ResourceNotFoundError):
            store.get_workflow(flow.workflow_id)

    def test_claim_trigger_dedupes_on_workflow_bucket_key_and_etag(self, store: TaskStore) -> None:
        trigger = BucketTrigger(1, "videos", "in/a.mp4", "etag-1")

        assert store.claim_trigger(trigger, "task-1") is True
        assert store.claim_trigger(trigger, "task-2") is False
        assert store.claim_trigger(BucketTrigger(1, "videos", "in/a.mp4", "etag-2")) is True
        assert store.claim_trigger(BucketTrigger(2, "videos", "in/a.mp4", "etag-1")) is True
        won = race(self.RACERS, lambda i: store.claim_trigger(BucketTrigger(3, "videos", "b.mp4", "e")))
        assert won.count(True) == 1


class TestMemoryTaskStore(StoreContract):
    """The contract on :class:`MemoryTaskStore`."""

    @pytest.fixture
    def clock(self) -> FakeClock:
        return FakeClock()

    @pytest.fixture
    def store(self, clock: FakeClock) -> MemoryTaskStore:
        return MemoryTaskStore(clock)

    def test_it_is_a_task_store(self, store: MemoryTaskStore) -> None:
        assert isinstance(store, TaskStore)

    def test_stored_json_is_isolated_from_callers(self, store: MemoryTaskStore) -> None:
        request: dict[str, Any] = {"InputInfo": {"Type": "URL"}}
        task, _ = store.create_task(NewTask(new_task_id(), request))
        request["InputInfo"]["Type"] = "COS"
        task.request["InputInfo"]["Type"] = "VOD"

        assert store.get_task(task.task_id).request == {"InputInfo": {"Type": "URL"}}
