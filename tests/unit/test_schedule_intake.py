"""Schedules fire through the bucket-event intake and the timed ticks, as workflows do.

Until the orchestration submit path exists, the task request is checked where the intake hands
it over: a recording ``submit`` that stores the task (deduplicated on the trigger) like the real one.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from mps.broker.base import Broker
from mps.store.base import BucketTrigger, NewTask, TaskStore, new_task_id
from mps.workflow.intake import ProcessMediaRequest, handle_object_created
from mps.workflow.resolve import TemplateLookup
from mps.workflow.ticks import TickScheduler, WorkflowStarter, run_once, schedule_lease
from tests.schedules import TRIGGER, example
from tests.unit.test_intake import BUCKET, DATA, Env, created
from tests.unit.test_memory_store import FakeClock

TIMED: dict[str, Any] = {
    "Type": "Schedule",
    "ScheduleTrigger": {
        "IntervalSeconds": 60,
        "Bucket": BUCKET,
        "Region": "r",
        "Dir": "/in/",
        "Formats": ["mp4"],
    },
}


@dataclass
class Submitted:
    """A ``submit`` that records what the intake hands it and stores the task like ``submit_task``."""

    calls: list[tuple[dict[str, Any], int | None, BucketTrigger | None]] = field(default_factory=list)

    def __call__(
        self,
        request: ProcessMediaRequest,
        *,
        store: TaskStore,
        broker: Broker,
        templates: TemplateLookup,
        account_id: str,
        workflow_id: int | None,
        trigger: BucketTrigger | None,
        plan: str,
        allow_private_urls: bool,
    ) -> tuple[str, bool]:
        given = request.model_dump(mode="json", exclude_unset=True, exclude_none=True)  # what the intake set
        self.calls.append((given, workflow_id, trigger))
        new = NewTask(new_task_id(account_id), request.to_wire(), workflow_id=workflow_id, trigger=trigger)
        record, made = store.create_task(new)
        return record.task_id, made


class ScheduleEnv(Env):
    def __init__(self) -> None:
        super().__init__()
        self.submit = Submitted()

    def schedule(
        self, trigger: dict[str, Any] | None = None, *, enabled: bool = True, name: str = "s"
    ) -> int:
        trigger = copy.deepcopy(trigger or TRIGGER)
        body = {"ScheduleName": name, "Trigger": trigger, "Activities": example()}
        location = trigger.get("CosFileUploadTrigger") or trigger["ScheduleTrigger"]
        record = self.store.create_workflow(name, body, location["Bucket"], location["Dir"], kind="schedule")
        if enabled:
            self.store.update_workflow(record.workflow_id, status="Enabled")
        return record.workflow_id

    def handle(self, event: Any) -> list[str]:
        return handle_object_created(
            event, store=self.store, broker=self.broker, templates=self.templates, storage=self.storage,
            submit=self.submit,
        )  # fmt: skip

    def starter(self) -> WorkflowStarter:
        return WorkflowStarter(self.store, self.storage, self.broker, self.templates, submit=self.submit)


@pytest.fixture
def env() -> ScheduleEnv:
    return ScheduleEnv()


def test_an_upload_fires_an_enabled_schedule_with_the_object_and_the_schedule_id(env: ScheduleEnv) -> None:
    schedule_id = env.schedule()

    started = env.handle(created("in/clip.mp4"))

    assert len(started) == 1
    [(request, workflow_id, trigger)] = env.submit.calls
    assert request == {
        "InputInfo": {"Type": "COS", "CosInputInfo": {"Bucket": BUCKET, "Region": "ap-guangzhou",
                                                      "Object": "/in/clip.mp4"}},
        "ScheduleId": schedule_id,
    }  # fmt: skip
    assert workflow_id == schedule_id
    assert trigger is not None and (trigger.workflow_id, trigger.key) == (schedule_id, "in/clip.mp4")


def test_one_task_per_object_and_etag_for_a_schedule_and_a_workflow_alike(env: ScheduleEnv) -> None:
    workflow_id = env.workflow()  # the same bucket and directory
    schedule_id = env.schedule()

    first = env.handle(created("in/clip.mp4"))
    again = env.handle(created("in/clip.mp4"))
    changed = env.handle(created("in/clip.mp4", etag="another"))

    assert (len(first), again, len(changed)) == (2, [], 2)
    fired = [
        (trigger.workflow_id, "ScheduleId" in request) for request, _, trigger in env.submit.calls if trigger
    ]
    assert fired == [(workflow_id, False), (schedule_id, True)] * 3
    assert workflow_id != schedule_id


@pytest.mark.parametrize(
    "event",
    [
        created("in/clip.mov"),  # not in Formats
        created("elsewhere/clip.mp4"),  # not under Dir
        created("in/out/clip_transcode_100010.mp4", metadata={"mps-task": "0-ScheduleTask-xt0"}),  # ours
    ],
)
def test_the_workflow_filters_and_the_loop_guard_apply_to_schedules(env: ScheduleEnv, event: Any) -> None:
    env.schedule()

    assert env.handle(event) == []
    assert env.submit.calls == []


def test_a_disabled_schedule_or_a_timed_one_does_not_fire_on_upload(env: ScheduleEnv) -> None:
    env.schedule(enabled=False, name="off")
    env.schedule(TIMED, name="timed")

    assert env.handle(created("in/clip.mp4")) == []


def test_a_timed_schedule_ticks_and_run_once_backfills(env: ScheduleEnv) -> None:
    clock = FakeClock()
    env.storage.put_bytes(BUCKET, "in/a.mp4", DATA)
    env.storage.put_bytes(BUCKET, "in/b.mp4", DATA)
    schedule_id = env.schedule(TIMED)
    starter = env.starter()
    [job] = starter.timed_jobs()
    assert job.name == schedule_lease(schedule_id) == f"schedule:{schedule_id}"

    clock.now = env.store.get_workflow(schedule_id).update_time + timedelta(seconds=61)
    scheduler = TickScheduler(env.store, env.storage, starter.timed_jobs, clock=clock)
    assert scheduler.run_due() == 2
    assert scheduler.run_due() == 0  # not due again yet
    assert {call[0]["ScheduleId"] for call in env.submit.calls} == {schedule_id}

    assert run_once(job, env.store, env.storage) == 0  # every object has its task
    assert run_once(job, env.store, env.storage, reprocess=True) == 2


def test_with_the_real_submit_an_upload_starts_a_schedule_task(env: ScheduleEnv) -> None:
    schedule_id = env.schedule()

    [task_id] = handle_object_created(
        created("in/clip.mp4"), store=env.store, broker=env.broker, templates=env.templates,
        storage=env.storage,
    )  # fmt: skip

    task = env.store.get_task(task_id)
    assert "-ScheduleTask-" in task_id
    assert (task.workflow_id, task.request["ScheduleId"]) == (schedule_id, schedule_id)
    assert env.handle(created("in/clip.mp4")) == []  # the same object and ETag: no second task
