"""A task given TimeoutSeconds (ours) is aborted by the relay once it runs past them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mps.broker import StubBroker
from mps.store import MemoryTaskStore, TaskStore
from mps.store.base import utc_now
from mps.templates import TemplateCatalog, load_presets
from mps.workflow.lifecycle import Lifecycle
from mps.workflow.relay import Deadlines
from mps.workflow.submit import submit_task
from mps.workflow.templates import StoreTemplates

REQUEST = {
    "InputInfo": {"Type": "COS", "CosInputInfo": {"Bucket": "media", "Region": "r", "Object": "/in/a.mp4"}},
    "MediaProcessTask": {
        "TranscodeTaskSet": [{"Definition": 100010}],
        "SampleSnapshotTaskSet": [{"Definition": 10}],
    },
}


@pytest.fixture
def store() -> TaskStore:
    """The memory twin here; tests/integration/test_orchestration_services.py runs this on SQL."""
    return MemoryTaskStore()


def _submit(store: TaskStore, **extra: object) -> str:
    templates = StoreTemplates(TemplateCatalog(load_presets()), store)
    task_id, _ = submit_task({**REQUEST, **extra}, store=store, broker=StubBroker(), templates=templates)
    return task_id


def test_a_task_past_its_timeout_is_aborted_once_with_a_timeout_code(store: TaskStore) -> None:
    lifecycle = Lifecycle(store, "events")
    timed = _submit(store, TimeoutSeconds=60)
    untimed = _submit(store)
    store.start_subtask(timed, 0)
    store.finish_subtask(timed, 0, {"Type": "Transcode", "TranscodeTask": {"Status": "SUCCESS"}}, "SUCCESS")

    assert Deadlines(lifecycle).sweep() == 0, "not due yet"
    later = Deadlines(lifecycle, clock=lambda: utc_now() + timedelta(seconds=61))
    assert later.sweep() == 1
    assert later.sweep() == 0, "aborted once"

    task = store.get_task(timed)
    assert task.status == "FINISH" and "timed out after 60 s" in task.message
    done, cut = store.get_subtasks(timed)
    assert done.status == "SUCCESS", "what finished is kept"
    assert (
        cut.status == "FAIL"
        and (cut.result or {})["SampleSnapshotTask"]["ErrCodeExt"] == "FailedOperation.Timeout"
    )
    assert len(store.list_events(timed)) == 1
    assert [(h.event, h.index) for h in store.task_history(timed)][-2:] == [
        ("aborted", 1),
        ("finished", None),
    ]
    assert store.get_task(untimed).status == "WAITING"
