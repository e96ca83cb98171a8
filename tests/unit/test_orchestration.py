"""Orchestrations run end to end on the in-memory twins with real ffmpeg: a rule on the source's
height chooses one of two transcode branches, a snapshot follows the transcode that ran, a sprite
branch runs beside them, and the task finishes once as a ScheduleTask."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tencentcloud.mps.v20190612 import models as sdk

from mps.app import work_handler
from mps.broker import StubBroker
from mps.errors import InvalidParameterError
from mps.settings import Settings
from mps.storage import MemoryStorage, Storage
from mps.store import MemoryTaskStore, TaskStore
from mps.templates import TemplateCatalog, load_presets
from mps.worker.handler import WorkHandler
from mps.workflow.relay import OutboxRelay
from mps.workflow.submit import submit_task
from mps.workflow.templates import StoreTemplates
from tests.conftest import ClipFactory

BUCKET = "media"
EXCHANGE = "test.events"


def _transcode(width: int) -> dict[str, Any]:
    return {
        "Definition": 0,
        "RawParameter": {
            "Container": "mp4",
            "RemoveAudio": 1,
            "VideoTemplate": {"Codec": "libx264", "Fps": 10, "Bitrate": 200, "Width": width, "Height": 0},
        },
    }


#: input -> rule (height >= 720: the 320 px branch, else the 160 px one) -> transcode -> snapshot;
#: input -> sprite; snapshot and sprite -> output.
ACTIVITIES: list[dict[str, Any]] = [
    {"ActivityType": "input", "ReardriveIndex": [1, 4]},
    {
        "ActivityType": "action-exec-rules",
        "ReardriveIndex": [2, 3],
        "ActivityPara": {
            "ExecRulesTask": {
                "Rules": [
                    {"Id": "hd", "Conditions": [{"Key": "Height", "Value": ">=720"}], "RearDriveIndexs": [2]},
                    {"Id": "sd", "Conditions": [], "RearDriveIndexs": [3]},
                ]
            }
        },
    },
    {
        "ActivityType": "action-trans",
        "ReardriveIndex": [5],
        "ActivityPara": {"TranscodeTask": _transcode(320)},
    },
    {
        "ActivityType": "action-trans",
        "ReardriveIndex": [5],
        "ActivityPara": {"TranscodeTask": _transcode(160)},
    },
    {
        "ActivityType": "action-image-sprite",
        "ReardriveIndex": [6],
        "ActivityPara": {"ImageSpriteTask": {"Definition": 10}},
    },
    {
        "ActivityType": "action-snapshotByTimeOffset",
        "ReardriveIndex": [6],
        "ActivityPara": {"SnapshotByTimeOffsetTask": {"Definition": 10, "TimeOffsetSet": [0.5]}},
    },
    {"ActivityType": "output"},
]


class Rig:
    """A store, an object store, a stub broker and the relay; the memory twins unless given real
    ones (tests/integration/test_orchestration_services.py runs these tests on the real services)."""

    def __init__(
        self,
        tmp_path: Path,
        store: TaskStore | None = None,
        storage: Storage | None = None,
        bucket: str = BUCKET,
    ) -> None:
        self.bucket = bucket
        self.store = store if store is not None else MemoryTaskStore()
        self.storage = storage if storage is not None else MemoryStorage([bucket])
        self.broker = StubBroker()
        self.settings = Settings(work_dir=tmp_path, events_exchange=EXCHANGE, x264_preset="ultrafast")
        self.templates = StoreTemplates(TemplateCatalog(load_presets()), self.store)
        self.relay = OutboxRelay(self.store, self.broker)

    def submit(self, source: Path, **request: Any) -> str:
        self.storage.put(self.bucket, "in/clip.mp4", source)
        wire = {
            "InputInfo": {
                "Type": "COS",
                "CosInputInfo": {"Bucket": self.bucket, "Region": "r", "Object": "/in/clip.mp4"},
            },
            "OutputDir": "/out/",
            **request,
        }
        task_id, created = submit_task(wire, store=self.store, broker=self.broker, templates=self.templates)
        assert created
        return task_id

    def run(self, handler: WorkHandler, task_id: str) -> None:
        """Work the queue and relay the outbox until the task finishes."""
        for _ in range(20):
            with self.broker.consumer(self.broker.work_queue, handler, prefetch=1):
                self.broker.join(self.broker.work_queue, timeout=120)
            if self.store.get_task(task_id).status == "FINISH":
                return
            self.relay.run_once()  # publishes the activities their predecessors released
        raise AssertionError("the orchestration did not finish")


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[tuple[Rig, WorkHandler]]:
    rig = Rig(tmp_path)
    with work_handler(rig.settings, rig.store, rig.storage) as handler:
        yield rig, handler


def _results(rig: Rig, task_id: str) -> list[tuple[str, dict[str, Any]]]:
    merged = rig.store.get_task(task_id).workflow_task or {}
    return [
        (item["ActivityType"], next(v for v in item["ActivityResItem"].values() if v))
        for item in merged["ActivityResultSet"]
    ]


@pytest.mark.parametrize(("height", "branch", "width"), [(720, 2, 320), (360, 3, 160)])
def test_a_rule_on_the_height_chooses_the_branch_that_runs(
    rig: tuple[Rig, WorkHandler], clip: ClipFactory, height: int, branch: int, width: int
) -> None:
    env, handler = rig
    task_id = env.submit(clip(duration=1.0, width=height * 16 // 9, height=height), Activities=ACTIVITIES)
    assert "-ScheduleTask-" in task_id

    env.run(handler, task_id)

    task = env.store.get_task(task_id)
    assert (task.status, task.err_code) == ("FINISH", 0)
    statuses = [s.status for s in env.store.get_subtasks(task_id)]
    skipped = 5 - branch  # the other transcode
    assert statuses[branch] == "SUCCESS" and statuses[skipped] == "SKIPPED"
    assert statuses[4] == statuses[5] == statuses[6] == "SUCCESS"
    results = _results(env, task_id)
    assert [kind for kind, _ in results] == ["ExecRules", "Transcode", "ImageSprites", "SnapshotByTimeOffset"]
    rule, transcode, _, snapshot = (result for _, result in results)
    assert rule["Output"] == {"RearDriveIndex": [branch]} and "ErrCode" not in rule
    assert transcode["Output"]["Width"] == width
    # The snapshot ran after the transcode it follows had finished.
    subtasks = env.store.get_subtasks(task_id)
    assert subtasks[5].begin_time is not None and subtasks[branch].finish_time is not None
    assert subtasks[5].begin_time >= subtasks[branch].finish_time
    # The branch not taken left nothing in the bucket.
    keys = {info.key for info in env.storage.list(env.bucket, "out/")}
    assert sum(key.endswith(".mp4") for key in keys) == 1


def test_the_completion_event_is_a_schedule_task_the_sdk_reads(
    rig: tuple[Rig, WorkHandler], clip: ClipFactory
) -> None:
    env, handler = rig
    task_id = env.submit(clip(duration=1.0, width=320, height=180), Activities=ACTIVITIES)
    env.run(handler, task_id)

    env.broker.bind("subscriber", EXCHANGE, "ScheduleTask.#")
    env.relay.run_once()
    (message,) = [m for m in env.broker.events if m.exchange == EXCHANGE]
    assert message.routing_key == "ScheduleTask.FINISH"
    event = json.loads(message.body)
    assert event["EventType"] == "ScheduleTask" and event["WorkflowTaskEvent"] is None
    parsed = sdk.ParseNotificationResponse()
    parsed._deserialize(event)  # the official SDK's models read it (warnings are errors here)
    assert parsed.ScheduleTaskEvent.TaskId == task_id
    assert [r.ActivityType for r in parsed.ScheduleTaskEvent.ActivityResultSet] == [
        "ExecRules",
        "Transcode",
        "ImageSprites",
        "SnapshotByTimeOffset",
    ]


@pytest.mark.parametrize(
    ("activities", "needle"),
    [
        ([{"ActivityType": "output"}], "input"),
        (
            [
                {"ActivityType": "input", "ReardriveIndex": [1]},
                {"ActivityType": "output", "ReardriveIndex": [0]},
            ],
            "back to the input",
        ),
        ([{"ActivityType": "input", "ReardriveIndex": [5]}, {"ActivityType": "output"}], "out of range"),
        (
            [
                {"ActivityType": "input", "ReardriveIndex": [1]},
                {
                    "ActivityType": "action-trans",
                    "ReardriveIndex": [2],
                    "ActivityPara": {"TranscodeTask": _transcode(160)},
                },
                {
                    "ActivityType": "action-trans",
                    "ReardriveIndex": [1],
                    "ActivityPara": {"TranscodeTask": _transcode(160)},
                },
                {"ActivityType": "output"},
            ],
            "cycle",
        ),
        (
            [
                {"ActivityType": "input", "ReardriveIndex": [2]},
                {
                    "ActivityType": "action-trans",
                    "ReardriveIndex": [2],
                    "ActivityPara": {"TranscodeTask": _transcode(160)},
                },
                {"ActivityType": "output"},
            ],
            "activity 1 cannot be reached",
        ),
        (
            [
                {"ActivityType": "input", "ReardriveIndex": [1, 2]},
                {"ActivityType": "action-trans", "ActivityPara": {"TranscodeTask": _transcode(160)}},
                {"ActivityType": "output"},
            ],
            "activity 1 does not lead to the output",
        ),
        (
            [
                {"ActivityType": "input", "ReardriveIndex": [1]},
                {
                    "ActivityType": "action-trans",
                    "ReardriveIndex": [2],
                    "ActivityPara": {"ImageSpriteTask": {"Definition": 10}},
                },
                {"ActivityType": "output"},
            ],
            "needs ActivityPara.TranscodeTask",
        ),
    ],
)
def test_a_dag_that_cannot_run_is_refused_naming_the_activity(
    rig: tuple[Rig, WorkHandler], clip: ClipFactory, activities: list[dict[str, Any]], needle: str
) -> None:
    env, _ = rig
    with pytest.raises(InvalidParameterError) as caught:
        env.submit(clip(duration=1.0, width=64, height=64), Activities=activities)
    assert caught.value.code == "InvalidParameterValue.Activities"
    assert needle in caught.value.message
    assert env.store.list_tasks("WAITING")[0] == []


BAD_CODEC = {
    "Definition": 0,
    "RawParameter": {"Container": "mp4", "RemoveAudio": 1, "VideoTemplate": {"Codec": "h266", "Bitrate": 0}},
}


def test_a_failure_is_retried_then_caught_by_its_failure_branch_whose_core_result_decides(
    rig: tuple[Rig, WorkHandler], clip: ClipFactory
) -> None:
    # Given: a transcode that cannot succeed, retried once, with a failure branch (a core sprite)
    # beside its ordinary successor (a snapshot)
    env, handler = rig
    activities = [
        {"ActivityType": "input", "ReardriveIndex": [1]},
        {
            "ActivityType": "action-trans",
            "ReardriveIndex": [2],
            "OnFailureIndex": [3],
            "RetryPolicy": {"MaxAttempts": 2, "IntervalSeconds": 0, "ErrorCodes": ["InvalidParameterValue"]},
            "ActivityPara": {"TranscodeTask": BAD_CODEC},
        },
        {
            "ActivityType": "action-snapshotByTimeOffset",
            "ReardriveIndex": [4],
            "ActivityPara": {"SnapshotByTimeOffsetTask": {"Definition": 10, "TimeOffsetSet": [0.2]}},
        },
        {
            "ActivityType": "action-image-sprite",
            "ReardriveIndex": [4],
            "Core": True,
            "ActivityPara": {"ImageSpriteTask": {"Definition": 10}},
        },
        {"ActivityType": "output"},
    ]

    task_id = env.submit(clip(duration=1.0, width=160, height=120), Activities=activities)
    env.run(handler, task_id)

    # Then: two runs of the transcode, its ordinary successor skipped, the failure branch run, and
    # the task successful because its core activity succeeded
    subtasks = env.store.get_subtasks(task_id)
    assert [(s.status, s.attempts) for s in subtasks[1:4]] == [("FAIL", 2), ("SKIPPED", 0), ("SUCCESS", 1)]
    task = env.store.get_task(task_id)
    assert (task.status, task.err_code, task.message) == ("FINISH", 0, "SUCCESS")
    history = [(h.event, h.index) for h in env.store.task_history(task_id)]
    assert history.index(("retried", 1)) < history.index(("failed", 1)) < history.index(("skipped", 2))
    assert ("ready", 3) in history and history[-1] == ("finished", None)


def test_a_failed_core_activity_decides_the_task_error(
    rig: tuple[Rig, WorkHandler], clip: ClipFactory
) -> None:
    env, handler = rig
    activities = [
        {"ActivityType": "input", "ReardriveIndex": [1, 2]},
        {
            "ActivityType": "action-trans",
            "ReardriveIndex": [3],
            "Core": True,
            "ActivityPara": {"TranscodeTask": BAD_CODEC},
        },
        {
            "ActivityType": "action-image-sprite",
            "ReardriveIndex": [3],
            "ActivityPara": {"ImageSpriteTask": {"Definition": 10}},
        },
        {"ActivityType": "output"},
    ]
    task_id = env.submit(clip(duration=1.0, width=160, height=120), Activities=activities)
    env.run(handler, task_id)
    task = env.store.get_task(task_id)
    assert task.err_code != 0 and task.message.startswith("core activity 1 failed")


def test_an_any_join_runs_once_when_its_first_predecessor_succeeds() -> None:
    from mps.models.schedules import Activity
    from mps.workflow.dag import build_dag

    trans = {"TranscodeTask": _transcode(160)}
    dag = build_dag(
        [
            Activity.model_validate(a)
            for a in [
                {"ActivityType": "input", "ReardriveIndex": [1, 2]},
                {"ActivityType": "action-trans", "ReardriveIndex": [3], "ActivityPara": trans},
                {"ActivityType": "action-trans", "ReardriveIndex": [3], "ActivityPara": trans},
                {
                    "ActivityType": "action-image-sprite",
                    "ReardriveIndex": [4],
                    "JoinMode": "Any",
                    "ActivityPara": {"ImageSpriteTask": {"Definition": 10}},
                },
                {"ActivityType": "output"},
            ]
        ]
    )
    states = dag.initial()
    assert (states[1], states[2], states[3]) == ("WAITING", "WAITING", "PENDING")
    states[1] = "SUCCESS"
    assert dag.advance(states, {}) == {3: "WAITING"}, "the first predecessor releases it"
    states.update({3: "WAITING", 2: "FAIL"})
    assert dag.advance(states, {}) == {}, "the other finishing changes nothing: it runs once"
