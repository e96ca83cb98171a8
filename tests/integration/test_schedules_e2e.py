"""Orchestrations end to end, as a user runs them: `mps up` as a process (API, workers, relay),
real RabbitMQ, real SeaweedFS, real ffmpeg, and the official SDK's typed models as the client."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from tencentcloud.mps.v20190612 import models

from mps.storage import S3Storage
from mps.store import SqlTaskStore
from tests.conftest import ClipFactory
from tests.integration.test_service_e2e import _client, service  # noqa: F401 - the fixture is used
from tests.seaweed import SeaweedServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

#: input -> rule on the height: >= 720 takes the 720p transcode (100030), else the 360p one
#: (100010); each transcode -> a snapshot after it; input -> a sprite in parallel; both -> output.
ACTIVITIES: list[dict[str, Any]] = [
    {"ActivityType": "input", "ReardriveIndex": [1, 4]},
    {
        "ActivityType": "action-exec-rules",
        "ReardriveIndex": [2, 3],
        "ActivityPara": {
            "ExecRulesTask": {
                "Rules": [
                    {
                        "Id": "hd",
                        "Conditions": [{"Key": "Height", "Value": ">=720"}],
                        "Linker": "&&",
                        "RearDriveIndexs": [2],
                    },
                    {
                        "Id": "sd",
                        "Conditions": [{"Key": "Height", "Value": "<720"}],
                        "Linker": "&&",
                        "RearDriveIndexs": [3],
                    },
                ]
            }
        },
    },
    {
        "ActivityType": "action-trans",
        "ReardriveIndex": [5],
        "ActivityPara": {"TranscodeTask": {"Definition": 100030}},
    },
    {
        "ActivityType": "action-trans",
        "ReardriveIndex": [5],
        "ActivityPara": {"TranscodeTask": {"Definition": 100010}},
    },
    {
        "ActivityType": "action-image-sprite",
        "ReardriveIndex": [6],
        "ActivityPara": {"ImageSpriteTask": {"Definition": 10}},
    },
    {
        "ActivityType": "action-snapshotByTimeOffset",
        "ReardriveIndex": [6],
        "ActivityPara": {"SnapshotByTimeOffsetTask": {"Definition": 10, "ExtTimeOffsetSet": ["50%"]}},
    },
    {"ActivityType": "output"},
]


@pytest.fixture
def bucket_with_clips(seaweed: SeaweedServer, clip: ClipFactory) -> Iterator[tuple[S3Storage, str]]:
    storage = S3Storage(seaweed.endpoint_url, seaweed.access_key, seaweed.secret_key, "us-east-1")
    name = f"sched-{uuid.uuid4().hex[:10]}"
    storage.ensure_bucket(name)
    storage.put(name, "in/hd.mp4", clip(duration=2.0, width=1280, height=720))
    storage.put(name, "in/sd.mp4", clip(duration=2.0, width=854, height=480))
    yield storage, name


def _finished(client: Any, task_id: str, timeout: float = 240) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        request = models.DescribeTaskDetailRequest()
        request.TaskId = task_id
        detail = client.DescribeTaskDetail(request)
        if detail.Status == "FINISH":
            return detail
        time.sleep(1)
    raise AssertionError(f"task {task_id} did not finish")


@pytest.mark.parametrize(
    ("clip_name", "taken", "not_taken"), [("hd", 100030, 100010), ("sd", 100010, 100030)]
)
def test_a_dag_with_a_rule_runs_the_chosen_branch_through_the_sdk(
    service: dict[str, Any],  # noqa: F811 - the imported fixture
    bucket_with_clips: tuple[S3Storage, str],
    clip_name: str,
    taken: int,
    not_taken: int,
) -> None:
    storage, bucket = bucket_with_clips
    client = _client(service["port"])
    request = models.ProcessMediaRequest()
    request.from_json_string(
        json.dumps(
            {
                "InputInfo": {
                    "Type": "COS",
                    "CosInputInfo": {
                        "Bucket": bucket,
                        "Region": "ap-guangzhou",
                        "Object": f"/in/{clip_name}.mp4",
                    },
                },
                "OutputDir": f"/out-{clip_name}/",
                "Activities": ACTIVITIES,
            }
        )
    )
    task_id = client.ProcessMedia(request).TaskId
    assert "-ScheduleTask-" in task_id

    detail = _finished(client, task_id)

    assert detail.TaskType == "ScheduleTask" and detail.WorkflowTask is None
    schedule = detail.ScheduleTask
    assert (schedule.Status, schedule.ErrCode) == ("FINISH", 0)
    kinds = [result.ActivityType for result in schedule.ActivityResultSet]
    assert kinds == ["ExecRules", "Transcode", "ImageSprites", "SnapshotByTimeOffset"]
    rule, transcode, sprite, snapshot = (result.ActivityResItem for result in schedule.ActivityResultSet)
    assert rule.ExecRuleTask.Output.RearDriveIndex == [2 if taken == 100030 else 3]
    assert transcode.TranscodeTask.Status == "SUCCESS" and transcode.TranscodeTask.Output.Definition == taken
    assert sprite.ImageSpriteTask.Status == snapshot.SnapshotByTimeOffsetTask.Status == "SUCCESS"
    # Only the chosen branch wrote a file.
    keys = {info.key for info in storage.list(bucket, f"out-{clip_name}/")}
    assert f"out-{clip_name}/{clip_name}_transcode_{taken}.mp4" in keys
    assert not any(f"_transcode_{not_taken}" in key for key in keys)
    # The snapshot began after the transcode it follows had finished.
    store = SqlTaskStore(f"sqlite:///{service['log'].parent / 'mps.db'}", upgrade=False)
    try:
        subtasks = store.get_subtasks(task_id)
    finally:
        store.close()
    branch = 2 if taken == 100030 else 3
    assert subtasks[5].begin_time is not None and subtasks[branch].finish_time is not None
    assert subtasks[5].begin_time >= subtasks[branch].finish_time
    assert [s.attempts for s in subtasks if s.status == "SUCCESS" and s.kind not in ("input", "output")] == [
        1,
        1,
        1,
        1,
    ]


def test_an_adaptive_ladder_runs_through_the_sdk_and_lands_whole_in_the_bucket(
    service: dict[str, Any],  # noqa: F811 - the imported fixture
    bucket_with_clips: tuple[S3Storage, str],
    tmp_path: Any,
) -> None:
    # Given a 854x480 clip and Tencent's HLS preset 10 (1080p, 720p, 480p, 360p rungs)
    storage, bucket = bucket_with_clips
    client = _client(service["port"])
    request = models.ProcessMediaRequest()
    request.from_json_string(
        json.dumps(
            {
                "InputInfo": {
                    "Type": "COS",
                    "CosInputInfo": {"Bucket": bucket, "Region": "r", "Object": "/in/sd.mp4"},
                },
                "OutputDir": "/abr/",
                "MediaProcessTask": {"AdaptiveDynamicStreamingTaskSet": [{"Definition": 10}]},
            }
        )
    )
    task_id = client.ProcessMedia(request).TaskId

    detail = _finished(client, task_id)

    # Then the result names the master playlist, which lists the rungs the source allows
    (entry,) = detail.WorkflowTask.MediaProcessResultSet
    assert entry.Type == "AdaptiveDynamicStreaming"
    output = entry.AdaptiveDynamicStreamingTask.Output
    assert (output.Definition, output.Package) == (10, "HLS")
    master_key = output.Path.lstrip("/")
    local = tmp_path / "master.m3u8"
    storage.get(bucket, master_key, local)
    master = local.read_text()
    assert "RESOLUTION=854x480" in master and "RESOLUTION=1280x720" not in master
    keys = {info.key for info in storage.list(bucket, "abr/")}
    folder = master_key.rsplit("/", 1)[0]
    rungs = [line for line in master.splitlines() if line and not line.startswith("#")]
    assert rungs and all(f"{folder}/{rung}" in keys for rung in rungs)
