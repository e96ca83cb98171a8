"""Timed triggers and run-once through the workflow actions, on a memory store and storage.

The same against SeaweedFS, SQLite and PostgreSQL: ``tests/integration/test_timed_triggers.py``.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from mps.errors import MpsError
from mps.storage.memory import MemoryStorage
from mps.workflow.events import ObjectCreated
from mps.workflow.intake import handle_object_created
from mps.workflow.ticks import TickScheduler, WorkflowStarter, run_once
from tests.unit.test_workflow_handlers import WORK, Api

EVERY_MINUTE: dict[str, Any] = {
    "Type": "Schedule",
    "ScheduleTrigger": {"IntervalSeconds": 60, "Bucket": "media", "Dir": "/in/", "Formats": ["mp4"]},
}


@pytest.fixture
def api(tmp_path: Path) -> Api:
    api = Api(tmp_path)
    storage = api.services.storage
    assert isinstance(storage, MemoryStorage)
    storage.ensure_bucket("media")
    return api


def _storage(api: Api) -> MemoryStorage:
    storage = api.services.storage
    assert isinstance(storage, MemoryStorage)
    return storage


def _scheduler(api: Api) -> TickScheduler:
    s = api.services
    starter = WorkflowStarter(s.store, s.storage, s.broker, s.templates)
    return TickScheduler(s.store, s.storage, starter.timed_jobs, clock=api.clock)


def _timed(api: Api, trigger: dict[str, Any] = EVERY_MINUTE) -> int:
    workflow_id = api.create(Trigger=trigger)
    api("EnableWorkflow", WorkflowId=workflow_id)
    return workflow_id


def _task_objects(api: Api) -> list[str]:
    tasks = api.store.list_tasks("WAITING", limit=100)[0]
    return sorted(t.request["InputInfo"]["CosInputInfo"]["Object"] for t in tasks)


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ({"Cron": "*/5 * * *"}, "five fields"),
        ({"Cron": "0 25 * * *"}, "five fields"),
        ({"IntervalSeconds": 0}, "IntervalSeconds"),
        ({"IntervalSeconds": "soon"}, "IntervalSeconds"),
        ({}, "exactly one of Cron and IntervalSeconds"),
        ({"Cron": "* * * * *", "IntervalSeconds": 60}, "exactly one"),
    ],
)
def test_a_bad_schedule_is_invalid_trigger(api: Api, schedule: dict[str, Any], expected: str) -> None:
    trigger = {"Type": "Schedule", "ScheduleTrigger": {"Bucket": "media", **schedule}}
    with pytest.raises(MpsError) as caught:
        api("CreateWorkflow", WorkflowName="w", Trigger=trigger, MediaProcessTask=WORK)
    assert caught.value.code == "InvalidParameterValue.Trigger"
    assert expected in str(caught.value)


def test_a_schedule_type_without_its_member_or_bucket_is_invalid_trigger(api: Api) -> None:
    for trigger in ({"Type": "Schedule"}, {"Type": "Schedule", "ScheduleTrigger": {"IntervalSeconds": 5}}):
        assert api.error("CreateWorkflow", WorkflowName="w", Trigger=trigger, MediaProcessTask=WORK) in (
            "InvalidParameterValue.Trigger",
            "MissingParameter",
        )
    assert (
        api.error("ResetWorkflow", WorkflowId=api.create(), WorkflowName="w",
                  Trigger={"Type": "Schedule", "ScheduleTrigger": {"Bucket": "b", "Cron": "nope"}},
                  MediaProcessTask=WORK)
        == "InvalidParameterValue.Trigger"
    )  # fmt: skip


def test_describe_answers_tencents_shape_and_describe_trigger_the_trigger_as_given(api: Api) -> None:
    workflow_id = _timed(api)

    [info] = api("DescribeWorkflows", WorkflowIds=[workflow_id])["WorkflowInfoSet"]
    ours = api("DescribeWorkflowTrigger", WorkflowId=workflow_id)

    assert info["Trigger"] == {
        "Type": "Schedule",
        "CosFileUploadTrigger": {"Bucket": "media", "Region": "", "Dir": "/in/", "Formats": ["mp4"]},
    }
    assert ours["Trigger"] == {
        **EVERY_MINUTE,
        "ScheduleTrigger": {**EVERY_MINUTE["ScheduleTrigger"], "Region": ""},
    }
    assert ours["LastTickTime"] == "" and ours["NextTickTime"] == "2024-05-06T07:09:09Z"


def test_ticks_start_one_task_per_object_and_none_again_at_the_next_tick(api: Api) -> None:
    _timed(api)
    storage = _storage(api)
    storage.put_bytes("media", "in/a.mp4", b"a")
    storage.put_bytes("media", "in/b.mp4", b"b")
    storage.put_bytes("media", "in/notes.txt", b"c")
    storage.put_bytes("media", "other/c.mp4", b"d")
    storage.put_bytes("media", "in/out.mp4", b"e", metadata={"mps-task": "0-WorkflowTask-x"})
    scheduler = _scheduler(api)

    assert scheduler.run_due() == 0  # no tick due yet
    api.clock.now += timedelta(seconds=60)
    assert scheduler.run_due() == 2
    assert _task_objects(api) == ["/in/a.mp4", "/in/b.mp4"]
    api.clock.now += timedelta(seconds=60)
    assert scheduler.run_due() == 0  # the next tick: both already have their task
    storage.put_bytes("media", "in/a.mp4", b"a, edited")  # a new ETag is a new object
    api.clock.now += timedelta(seconds=60)
    assert scheduler.run_due() == 1


def test_a_timed_workflow_does_not_fire_on_upload_events(api: Api) -> None:
    _timed(api)
    _storage(api).put_bytes("media", "in/a.mp4", b"a")
    s = api.services
    event = ObjectCreated(bucket="media", key="in/a.mp4", etag="e1", metadata={"x": "y"})

    assert (
        handle_object_created(event, store=s.store, broker=s.broker, templates=s.templates, storage=s.storage)
        == []
    )


def test_run_workflow_backfills_now_and_reprocess_makes_new_tasks(api: Api) -> None:
    workflow_id = api.create()  # an upload trigger: RunWorkflow backfills its directory
    api("EnableWorkflow", WorkflowId=workflow_id)
    storage = _storage(api)
    storage.put_bytes("media", "in/a.mp4", b"a")
    storage.put_bytes("media", "in/b.mp4", b"b")

    assert api("RunWorkflow", WorkflowId=workflow_id) == {"TaskCount": 2}
    assert api("RunWorkflow", WorkflowId=workflow_id) == {"TaskCount": 0}
    assert api("RunWorkflow", WorkflowId=workflow_id, Reprocess=True) == {"TaskCount": 2}
    assert api("RunWorkflow", WorkflowId=workflow_id, Reprocess=True) == {"TaskCount": 2}
    assert _task_objects(api) == ["/in/a.mp4"] * 3 + ["/in/b.mp4"] * 3


def test_run_workflow_refuses_disabled_unknown_and_busy_workflows(api: Api) -> None:
    disabled = api.create("d")
    busy = _timed(api)
    assert api.error("RunWorkflow", WorkflowId=disabled) == "FailedOperation"
    assert api.error("RunWorkflow", WorkflowId=999) == "ResourceNotFound"
    assert api.error("RunWorkflow", WorkflowId=busy, Unknown=1) == "UnknownParameter"
    api.store.acquire_lease(f"workflow:{busy}", "a listener's tick", timedelta(minutes=10))
    s = api.services
    job = WorkflowStarter(s.store, s.storage, s.broker, s.templates).job(api.store.get_workflow(busy))
    assert job is not None

    with pytest.raises(MpsError) as caught:
        run_once(job, s.store, s.storage, wait=0.3)  # what RunWorkflow calls, with a shorter wait

    assert caught.value.code == "ResourceInUse"
