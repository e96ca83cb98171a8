"""Service mode end to end, as a user runs it: `mps up` (API + workers + relay) as a process,
real RabbitMQ, real SeaweedFS, SQLite, real ffmpeg, and the official SDK as the only client."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pika
import pytest
from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.mps.v20190612 import models, mps_client

from mps.broker.names import QueueNames, dead_letter_exchange, dead_letter_queue
from mps.storage import S3Storage
from tests.conftest import ClipFactory
from tests.integration.conftest import listening, mps_up_env, require_service
from tests.mediatools import image_size, video_stream
from tests.seaweed import SeaweedServer, free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SECRET_ID, SECRET_KEY = "AKIDe2e", "e2e-secret"
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"


def _client(port: int, secret_key: str = SECRET_KEY) -> mps_client.MpsClient:
    profile = ClientProfile(
        httpProfile=HttpProfile(protocol="http", endpoint=f"127.0.0.1:{port}", reqTimeout=30)
    )
    return mps_client.MpsClient(credential.Credential(SECRET_ID, secret_key), "ap-guangzhou", profile)


def _call(client: mps_client.MpsClient, action: str, params: dict[str, Any]) -> Any:
    request = getattr(models, f"{action}Request")()
    request.from_json_string(json.dumps(params))
    return getattr(client, action)(request)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, seaweed: SeaweedServer) -> Iterator[dict[str, Any]]:
    """`mps up` with two worker threads on free ports, its own queue prefix and SQLite store."""
    require_service("RabbitMQ", listening(AMQP_URL), "rabbitmq-server -detached")
    work = tmp_path_factory.mktemp("e2e")
    port, prefix = free_port(), f"e2e{uuid.uuid4().hex[:8]}"
    env = mps_up_env(seaweed, work, prefix, (SECRET_ID, SECRET_KEY), MPS_REDISPATCH_AFTER="5")
    log = (work / "up.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "mps", "up", "--workers", "2", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, (work / "up.log").read_text()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    yield {"port": port, "prefix": prefix, "log": work / "up.log"}
    process.terminate()
    try:
        assert process.wait(timeout=30) == 0, "mps up did not stop cleanly on SIGTERM"
    finally:
        process.kill()
        _delete_queues(prefix)


def _delete_queues(prefix: str) -> None:
    """Remove every queue and exchange this deployment's prefix created."""
    names = QueueNames(prefix)
    channel = pika.BlockingConnection(pika.URLParameters(AMQP_URL)).channel()
    for queue in (
        names.work,
        names.work_dlq,
        names.bucket_events,
        dead_letter_queue(names.bucket_events),
        f"{prefix}.events-test",
    ):
        channel.queue_delete(queue)
    for exchange in (names.work_dlx, dead_letter_exchange(names.bucket_events)):
        channel.exchange_delete(exchange)
    channel.connection.close()


@pytest.fixture
def events(service: dict[str, Any]) -> Iterator[tuple[Any, str]]:
    """A queue bound to the events exchange with `WorkflowTask.#`, as a consumer would bind it."""
    channel = pika.BlockingConnection(pika.URLParameters(AMQP_URL)).channel()
    channel.exchange_declare("mps.events", exchange_type="topic", durable=True)
    queue = f"{service['prefix']}.events-test"
    channel.queue_declare(queue, auto_delete=True)
    channel.queue_bind(queue, "mps.events", routing_key="WorkflowTask.#")
    yield channel, queue
    channel.connection.close()


def _wait_event(channel: Any, queue: str, task_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _method, _props, body = channel.basic_get(queue, auto_ack=True)
        if body:
            event = json.loads(body)
            if event["WorkflowTaskEvent"]["TaskId"] == task_id:
                return event  # type: ignore[no-any-return]
        else:
            time.sleep(0.2)
    raise AssertionError(f"no completion event for {task_id}")


def _poll(client: mps_client.MpsClient, task_id: str, timeout: float = 180) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        detail = _call(client, "DescribeTaskDetail", {"TaskId": task_id})
        if detail.Status == "FINISH":
            return detail
        time.sleep(0.5)
    raise AssertionError(f"{task_id} did not finish")


EVERY_TYPE = {
    "TranscodeTaskSet": [{"Definition": 100010}, {"Definition": 100210}, {"Definition": 1010}],
    "SnapshotByTimeOffsetTaskSet": [{"Definition": 10, "ExtTimeOffsetSet": ["1s", "50%"]}],
    "SampleSnapshotTaskSet": [{"Definition": 10}],
    "ImageSpriteTaskSet": [{"Definition": 10}],
    "AnimatedGraphicTaskSet": [{"Definition": 20000, "StartTimeOffset": 0.5, "EndTimeOffset": 2}],
}


def test_sdk_process_media_to_finish_outputs_and_event(
    service: dict[str, Any],
    events: tuple[Any, str],
    s3: S3Storage,
    bucket: str,
    clip: ClipFactory,
    tmp_path: Path,
) -> None:
    s3.put(bucket, "in/my clip.mp4", clip(duration=3.0, width=640, height=360))
    client = _client(service["port"])
    task_id = _call(
        client,
        "ProcessMedia",
        {
            "InputInfo": {
                "Type": "COS",
                "CosInputInfo": {"Bucket": bucket, "Region": "r", "Object": "/in/my clip.mp4"},
            },
            "OutputDir": "/out/",
            "MediaProcessTask": EVERY_TYPE,
            "SessionContext": "ctx-42",
            "SessionId": task_id_hint(),
        },
    ).TaskId
    detail = _poll(client, task_id)
    task = detail.WorkflowTask
    assert (task.Status, task.ErrCode) == ("FINISH", 0)
    assert detail.SessionContext == "ctx-42"
    results = task.MediaProcessResultSet
    # the SDK serialises the sets in its own field order, so that is the request order here
    assert [r.Type for r in results] == ["Transcode"] * 3 + [
        "AnimatedGraphics",
        "SnapshotByTimeOffset",
        "SampleSnapshot",
        "ImageSprites",
    ]
    flu = results[0].TranscodeTask
    assert flu.Status == "SUCCESS" and flu.Progress == 100
    assert flu.Output.Path == "/out/my clip_transcode_100010.mp4" and flu.Output.OutputStorage.Type == "COS"
    local = tmp_path / "flu.mp4"
    s3.get(bucket, "out/my clip_transcode_100010.mp4", local)
    assert (video_stream(local)["width"], video_stream(local)["height"]) == (640, 360)
    head = s3.head(bucket, "out/my clip_transcode_100010.mp4")
    assert head is not None and head.metadata.get("mps-task") == task_id
    shots = results[4].SnapshotByTimeOffsetTask.Output
    assert shots.Storage.CosOutputStorage.Bucket == bucket and len(shots.PicInfoSet) == 2
    s3.get(bucket, shots.PicInfoSet[1].Path.lstrip("/"), tmp_path / "shot.jpg")
    assert image_size(tmp_path / "shot.jpg") == (640, 360)
    sprite = results[6].ImageSpriteTask.Output
    assert s3.head(bucket, sprite.WebVttPath.lstrip("/")) is not None
    keys = {info.key for info in s3.list(bucket, "out/")}
    assert {"out/my clip_transcode_100210.m3u8", "out/my clip_animatedGraphic_20000.gif"} <= keys

    channel, queue = events
    event = _wait_event(channel, queue, task_id)
    parsed = models.ParseNotificationResponse()
    parsed.from_json_string(json.dumps(event))
    assert parsed.EventType == "WorkflowTask" and parsed.SessionContext == "ctx-42"
    assert parsed.WorkflowTaskEvent.MediaProcessResultSet[0].TranscodeTask.Output.Path == flu.Output.Path


def task_id_hint() -> str:
    return f"e2e-{uuid.uuid4().hex[:16]}"


def test_a_repeated_session_id_gives_the_same_task(
    service: dict[str, Any], s3: S3Storage, bucket: str, clip: ClipFactory
) -> None:
    s3.put(bucket, "in/a.mp4", clip(duration=1.0))
    client = _client(service["port"])
    request = {
        "InputInfo": {
            "Type": "COS",
            "CosInputInfo": {"Bucket": bucket, "Region": "r", "Object": "/in/a.mp4"},
        },
        "MediaProcessTask": {"SnapshotByTimeOffsetTaskSet": [{"Definition": 10, "TimeOffsetSet": [0.5]}]},
        "SessionId": task_id_hint(),
    }
    first = _call(client, "ProcessMedia", request).TaskId
    assert _call(client, "ProcessMedia", request).TaskId == first
    assert (
        _poll(client, first).WorkflowTask.MediaProcessResultSet[0].SnapshotByTimeOffsetTask.Status
        == "SUCCESS"
    )


def test_wrong_secret_and_unknown_task(service: dict[str, Any]) -> None:
    with pytest.raises(TencentCloudSDKException) as wrong:
        _call(_client(service["port"], secret_key="not-the-secret"), "DescribeTaskDetail", {"TaskId": "x"})
    assert wrong.value.get_code() == "AuthFailure.SignatureFailure" and wrong.value.get_request_id()
    with pytest.raises(TencentCloudSDKException) as unknown:
        _call(_client(service["port"]), "DescribeTaskDetail", {"TaskId": "0-WorkflowTask-nosucht0"})
    assert unknown.value.get_code() == "ResourceNotFound.TaskNotFound"


def test_unknown_definition_is_refused_at_once(service: dict[str, Any]) -> None:
    with pytest.raises(TencentCloudSDKException) as refused:
        _call(
            _client(service["port"]),
            "ProcessMedia",
            {
                "InputInfo": {
                    "Type": "COS",
                    "CosInputInfo": {"Bucket": "b", "Region": "r", "Object": "/a.mp4"},
                },
                "MediaProcessTask": {"TranscodeTaskSet": [{"Definition": 777777}]},
            },
        )
    assert refused.value.get_code() == "ResourceNotFound.TemplateNotExist"
