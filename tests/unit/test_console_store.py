"""``find_tasks`` and ``task_stats``: the console's and the metrics' reads, on the memory twin
(``tests/integration/test_console_store.py`` runs the same contract on SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mps.store.base import Completion, EventTarget, NewSubtask, NewTask, TaskQuery, TaskStore, new_task_id
from mps.store.memory import MemoryTaskStore
from tests.unit.test_memory_store import FakeClock, merge


def _task(store: TaskStore, key: str, subtasks: int = 1, **kwargs: object) -> str:
    cos = {"Bucket": "b", "Region": "r", "Object": "/" + key}
    request = {"InputInfo": {"Type": "COS", "CosInputInfo": cos}}
    specs = [NewSubtask("Transcode", {"Definition": 100010}) for _ in range(subtasks)]
    task, _ = store.create_task(NewTask(new_task_id("1"), request, subtasks=specs, **kwargs))  # type: ignore[arg-type]
    return task.task_id


class ConsoleStoreContract:
    """What every store answers the console and ``/metrics``."""

    def test_tasks_are_found_by_each_filter_newest_first(self, store: TaskStore, clock: FakeClock) -> None:
        old = _task(store, "cats/old.mp4")
        clock.advance(timedelta(hours=1))
        running = _task(store, "dogs/run.mp4", workflow_id=3)
        store.start_subtask(running, 0)
        store.update_progress(running, 0, 30)
        failed = _task(store, "cats/Fail_100%.mp4", subtasks=2)
        store.start_subtask(failed, 0)
        store.finish_subtask(failed, 0, {"n": 0}, "FAIL")

        def ids(**query: object) -> list[str]:
            return [t.task_id for t in store.find_tasks(TaskQuery(**query)).tasks]  # type: ignore[arg-type]

        assert ids() == [failed, running, old]
        assert ids(status="WAITING") == [old]
        assert ids(status="PROCESSING") == [failed, running]
        assert ids(failed=True) == [failed]
        assert ids(failed=False) == [running, old]
        assert ids(workflow_id=3) == [running]
        assert ids(search="CATS/") == [failed, old]
        assert ids(search="_100%") == [failed]  # LIKE wildcards are literal
        assert ids(search="%") == [failed]
        assert ids(search=running) == [running]
        assert ids(start_time=clock.now) == [failed, running]
        assert ids(end_time=clock.now) == [old]
        row = store.find_tasks(TaskQuery(workflow_id=3)).tasks[0]
        assert (row.input_name, row.subtasks, row.finished, row.progress) == ("b/dogs/run.mp4", 1, 0, 30)
        row = store.find_tasks(TaskQuery(failed=True)).tasks[0]
        assert (row.subtasks, row.finished, row.failed) == (2, 1, 1)

    def test_pages_follow_each_other_without_gaps(self, store: TaskStore) -> None:
        ids = [_task(store, f"k{i}.mp4") for i in range(7)]
        first = store.find_tasks(TaskQuery(), limit=3)
        second = store.find_tasks(TaskQuery(), limit=3, before=first.before)
        third = store.find_tasks(TaskQuery(), limit=3, before=second.before)
        listed = [t.task_id for page in (first, second, third) for t in page.tasks]
        assert listed == ids[::-1] and third.before is None

    def test_stats_count_statuses_error_codes_and_ages(self, store: TaskStore, clock: FakeClock) -> None:
        empty = store.task_stats()
        assert empty.by_status == {"WAITING": 0, "PROCESSING": 0, "FINISH": 0}
        assert (empty.oldest_unstarted, empty.oldest_unsent_event) == (None, None)
        first = _task(store, "a.mp4")
        started_at = clock.now
        clock.advance(timedelta(minutes=5))
        done = _task(store, "b.mp4")
        store.start_subtask(done, 0)
        store.finish_subtask(done, 0, {"n": 0}, "SUCCESS")
        store.try_finish_task(done, merge)
        aborted = _task(store, "c.mp4")
        store.abort_task(aborted, Completion({}, [(EventTarget("exchange", "x", "k"), {"e": 1})]))
        stats = store.task_stats()
        assert stats.by_status == {"WAITING": 1, "PROCESSING": 0, "FINISH": 2}
        assert stats.by_err_code == {70000: 1}
        assert stats.oldest_unstarted == started_at and first
        assert stats.oldest_unsent_event == clock.now


class TestMemoryConsoleStore(ConsoleStoreContract):
    @pytest.fixture
    def clock(self) -> FakeClock:
        return FakeClock()

    @pytest.fixture
    def store(self, clock: FakeClock) -> MemoryTaskStore:
        return MemoryTaskStore(clock=clock)
