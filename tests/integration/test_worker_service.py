"""Workers and the relay against real services: RabbitMQ, SeaweedFS, SQLite/PostgreSQL and ffmpeg.

Every test has its own queue prefix and events exchange, deleted afterwards. Tasks are submitted with
``submit_task`` (stored, then one work message per sub-task), as ProcessMedia does.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pika
import pytest
from tencentcloud.mps.v20190612 import models as sdk

from mps.app import Components, run_relay_loop, work_handler
from mps.broker import Delivery, RetryPolicy
from mps.broker.rabbitmq import RabbitmqBroker
from mps.settings import Settings
from mps.storage import TASK_METADATA_KEY, S3Storage
from mps.store import SqlTaskStore, TaskStore
from mps.templates import TemplateCatalog, load_presets
from mps.workflow.messages import WorkMessage
from mps.workflow.submit import submit_task
from mps.workflow.templates import StoreTemplates
from tests.integration.conftest import listening, require_service
from tests.processes import children, is_gone, wait_until
from tests.seaweed import SeaweedServer

AMQP_URL = os.environ.get("MPS_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
FAST_RETRIES = RetryPolicy(max_attempts=3, base_delay=0.2, max_delay=1.0)
TRANSCODE = {
    "Definition": 0,
    "RawParameter": {
        "Container": "mp4",
        "VideoTemplate": {"Codec": "libx264", "Fps": 25, "Bitrate": 300, "Width": 160, "Height": 0},
        "AudioTemplate": {"Codec": "libfdk_aac", "Bitrate": 64, "SampleRate": 44100, "AudioChannel": 2},
    },
}
SET_NAMES = {
    "Transcode": "TranscodeTaskSet",
    "SnapshotByTimeOffset": "SnapshotByTimeOffsetTaskSet",
    "ImageSprites": "ImageSpriteTaskSet",
}
SUBTASKS = [
    ("Transcode", TRANSCODE),
    ("SnapshotByTimeOffset", {"Definition": 10, "ExtTimeOffsetSet": ["1s", "2s"]}),
    ("ImageSprites", {"Definition": 10}),
]


class Rig:
    """Names, settings and clean-up of one test against the real services."""

    def __init__(self, seaweed: SeaweedServer, bucket: str, database_url: str, work_dir: Path) -> None:
        self.prefix = f"mps-wtest-{uuid.uuid4().hex[:8]}-"
        self.bucket = bucket
        self.settings = Settings(
            database_url=database_url, amqp_url=AMQP_URL, s3_endpoint_url=seaweed.endpoint_url,
            s3_access_key=seaweed.access_key, s3_secret_key=seaweed.secret_key, work_dir=work_dir,
            queue_prefix=self.prefix, events_exchange=self.prefix + "events", x264_preset="ultrafast",
        )  # fmt: skip
        self.store = SqlTaskStore(database_url)
        self.subscriber = self.prefix + "subscriber"
        admin = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
        channel = admin.channel()
        channel.exchange_declare(self.settings.events_exchange, "topic", durable=True)
        channel.queue_declare(self.subscriber, durable=True)
        channel.queue_bind(self.subscriber, self.settings.events_exchange, "WorkflowTask.#")
        admin.close()

    def broker(self, name: str) -> RabbitmqBroker:
        return RabbitmqBroker(AMQP_URL, prefix=self.prefix, retry_policy=FAST_RETRIES, name=name)

    def components(self, name: str) -> Components:
        storage = S3Storage.from_settings(self.settings)
        return Components(self.store, storage, self.broker(name))

    def create_orchestration(self, source: Path, activities: list[dict[str, Any]]) -> str:
        """Upload ``source`` and submit an orchestration as ProcessMedia does."""
        S3Storage.from_settings(self.settings).put(self.bucket, "in/clip.mp4", source)
        cos = {"Bucket": self.bucket, "Region": "r1", "Object": "/in/clip.mp4"}
        request = {
            "InputInfo": {"Type": "COS", "CosInputInfo": cos},
            "OutputDir": "/out/",
            "Activities": activities,
        }
        publisher = self.broker("test publish")
        templates = StoreTemplates(TemplateCatalog(load_presets()), self.store)
        task_id, created = submit_task(request, store=self.store, broker=publisher, templates=templates)
        publisher.close()
        assert created
        return task_id

    def create_task(self, source: Path, subtasks: list[tuple[str, dict[str, Any]]]) -> str:
        """Upload ``source`` and submit a task as ProcessMedia does (store, then one message per sub-task)."""
        S3Storage.from_settings(self.settings).put(self.bucket, "in/clip.mp4", source)
        cos = {"Bucket": self.bucket, "Region": "r1", "Object": "/in/clip.mp4"}
        sets: dict[str, list[dict[str, Any]]] = {}
        for kind, item in subtasks:
            sets.setdefault(SET_NAMES[kind], []).append(item)
        request = {
            "InputInfo": {"Type": "COS", "CosInputInfo": cos},
            "OutputDir": "/out/",
            "MediaProcessTask": sets,
        }
        publisher = self.broker("test publish")
        templates = StoreTemplates(TemplateCatalog(load_presets()), self.store)
        task_id, created = submit_task(request, store=self.store, broker=publisher, templates=templates)
        publisher.close()
        assert created
        return task_id

    def wait_for(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.1)

    def next_event(self, timeout: float = 20.0) -> bytes:
        connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
        try:
            channel = connection.channel()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                method, _props, body = channel.basic_get(self.subscriber, auto_ack=True)
                if method is not None:
                    return bytes(body)
                time.sleep(0.1)
            raise AssertionError("no event on the subscriber queue")
        finally:
            connection.close()

    def close(self) -> None:
        self.store.close()
        connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
        channel = connection.channel()
        work = self.prefix + "mps.work"
        for queue in (work, work + ".dlq", self.subscriber):
            channel.queue_delete(queue)
        for exchange in (work + ".dlx", self.settings.events_exchange):
            channel.exchange_delete(exchange)
        connection.close()


@pytest.fixture
def rig(seaweed: SeaweedServer, bucket: str, database_url: str, tmp_path: Path) -> Iterator[Rig]:
    require_service("RabbitMQ", listening(AMQP_URL), f"nothing listens at {AMQP_URL}")
    setup = Rig(seaweed, bucket, database_url, tmp_path / "work")
    yield setup
    setup.close()


@pytest.fixture
def sqlite_rig(seaweed: SeaweedServer, bucket: str, tmp_path: Path) -> Iterator[Rig]:
    """As :func:`rig` on SQLite only: the crash and outage tests need one backend, not both."""
    require_service("RabbitMQ", listening(AMQP_URL), f"nothing listens at {AMQP_URL}")
    setup = Rig(seaweed, bucket, f"sqlite:///{tmp_path / 'mps.db'}", tmp_path / "work")
    yield setup
    setup.close()


def _consume_in_threads(rig: Rig, stack: ExitStack, count: int) -> None:
    """``count`` workers in threads, each with its own broker connection and input cache."""
    stop = threading.Event()
    threads = []
    for n in range(count):
        parts = rig.components(f"test worker {n}")
        handler = stack.enter_context(work_handler(rig.settings, parts.store, parts.storage))
        thread = threading.Thread(
            target=parts.broker.consume,
            args=(parts.broker.work_queue, handler),
            kwargs={"prefetch": 2, "stop": stop},
        )
        thread.start()
        threads.append(thread)
    relay = threading.Thread(target=run_relay_loop, args=(rig.settings, stop, rig.components("test relay")))
    relay.start()
    threads.append(relay)

    def join() -> None:
        stop.set()
        for thread in threads:
            thread.join(30)

    stack.callback(join)


def _assert_finished_once(
    store: TaskStore, task_id: str, attempts: list[int] | None = None
) -> dict[str, Any]:
    task = store.get_task(task_id)
    assert task.status == "FINISH" and task.err_code == 0
    subtasks = store.get_subtasks(task_id)
    assert [s.status for s in subtasks] == ["SUCCESS"] * len(subtasks)
    if attempts is not None:
        assert [s.attempts for s in subtasks] == attempts
    assert task.workflow_task is not None
    return task.workflow_task


@pytest.mark.integration
@pytest.mark.slow
def test_two_workers_finish_a_task_and_the_event_reaches_the_exchange(
    rig: Rig, s3: S3Storage, clip: Callable[..., Path]
) -> None:
    task_id = rig.create_task(clip(duration=3.0), SUBTASKS)

    with ExitStack() as stack:
        _consume_in_threads(rig, stack, 2)
        body = rig.next_event(timeout=60)

    workflow_task = _assert_finished_once(rig.store, task_id, attempts=[1, 1, 1])
    event = sdk.ParseNotificationResponse()
    event.from_json_string(body.decode())
    assert event.EventType == "WorkflowTask" and event.WorkflowTaskEvent.TaskId == task_id
    results = event.WorkflowTaskEvent.MediaProcessResultSet
    assert [r.Type for r in results] == ["Transcode", "SnapshotByTimeOffset", "ImageSprites"]
    assert results[0].TranscodeTask.Output.Path == "/out/clip_transcode_0.mp4"
    assert json.loads(body)["WorkflowTaskEvent"] == workflow_task
    keys = [info.key for info in s3.list(rig.bucket, "out/", with_metadata=True)]
    assert "out/clip_transcode_0.mp4" in keys and any(k.endswith(".vtt") for k in keys)
    assert all(
        i.metadata.get(TASK_METADATA_KEY) == task_id for i in s3.list(rig.bucket, "out/", with_metadata=True)
    )
    events = rig.store.list_events(task_id)
    assert len(events) == 1 and events[0].sent_at is not None


def _worker_process(rig: Rig, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "MPS_LOG_LEVEL": "INFO"}
    env.update(
        {
            f"MPS_{name.upper()}": str(value)
            for name, value in rig.settings.model_dump().items()
            if value is not None
        }
    )
    env["MPS_X264_PRESET"] = "slow"  # long enough to be killed in the middle
    env["MPS_SUBTASK_LEASE"] = "3"  # a killed worker's hold runs out soon
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "mps", "worker", "--concurrency", "1"], env=env, stdout=out, stderr=out
        )


@pytest.mark.integration
@pytest.mark.slow
def test_a_worker_killed_mid_transcode_leaves_the_task_to_another(
    sqlite_rig: Rig, clip: Callable[..., Path], tmp_path: Path
) -> None:
    rig = sqlite_rig
    task_id = rig.create_task(clip(duration=8.0, width=640, height=480), SUBTASKS[:1])
    log = tmp_path / "workers.log"

    first = _worker_process(rig, log)
    try:
        rig.wait_for(
            lambda: rig.store.get_subtasks(task_id)[0].status == "PROCESSING", 30, "the transcode to start"
        )
        # The sub-task starts before its ffmpeg does (input fetch, probe): wait for the encoder.
        ffmpegs = wait_until(lambda: [pid for pid, name in children(first.pid) if name == "ffmpeg"], 30)
        assert isinstance(ffmpegs, list) and ffmpegs, "the transcode runs in an ffmpeg child of the worker"
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        assert wait_until(lambda: all(is_gone(pid) for pid in ffmpegs), 2.0), "ffmpeg outlived its worker"
        assert rig.store.get_subtasks(task_id)[0].result is None, "killed before it could finish"
        # The second worker drops RabbitMQ's redelivery while the dead worker's lease lives; the
        # relay's sweep sends the sub-task again once it ran out.
        second = _worker_process(rig, log)
        stop = threading.Event()
        relay = threading.Thread(
            target=run_relay_loop, args=(rig.settings, stop, rig.components("test relay"))
        )
        relay.start()
        try:
            rig.wait_for(lambda: rig.store.get_task(task_id).status == "FINISH", 120, "the task to finish")
        finally:
            stop.set()
            relay.join(30)
            second.send_signal(signal.SIGTERM)
            assert second.wait(30) == 0, log.read_text()
    finally:
        if first.poll() is None:
            first.kill()

    _assert_finished_once(rig.store, task_id, attempts=[2])
    assert len(rig.store.list_events(task_id)) == 1


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "--quiet", *args], check=True, capture_output=True, timeout=120)


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("MPS_TEST_RESTART_RABBITMQ"), reason="set MPS_TEST_RESTART_RABBITMQ=1")
def test_an_event_committed_while_rabbitmq_is_down_is_delivered_after(
    sqlite_rig: Rig, clip: Callable[..., Path]
) -> None:
    rig = sqlite_rig
    task_id = rig.create_task(clip(duration=3.0), SUBTASKS[1:2])
    parts = rig.components("test relay")
    stop = threading.Event()
    with work_handler(rig.settings, parts.store, parts.storage) as handler:
        try:
            _rabbitmqctl("stop_app")
            body = WorkMessage(task_id=task_id, indexes=(0,)).model_dump_json().encode()
            handler(Delivery(body))  # the handler needs no broker: the event goes to the outbox
            relay = threading.Thread(target=run_relay_loop, args=(rig.settings, stop, parts))
            relay.start()
            rig.wait_for(lambda: rig.store.list_events(task_id)[0].last_error != "", 30, "a failed delivery")
        finally:
            _rabbitmqctl("start_app")
        try:
            event = json.loads(rig.next_event(timeout=60))
        finally:
            stop.set()
            relay.join(30)
    assert event["WorkflowTaskEvent"]["TaskId"] == task_id
    assert rig.store.list_events(task_id)[0].sent_at is not None


@pytest.mark.integration
@pytest.mark.slow
def test_a_worker_killed_mid_activity_leaves_the_orchestration_to_another_each_activity_once(
    sqlite_rig: Rig, clip: Callable[..., Path], tmp_path: Path
) -> None:
    # Given an orchestration: a long transcode, then a snapshot after it
    rig = sqlite_rig
    transcode, snapshot = SUBTASKS[0][1], {"Definition": 10, "ExtTimeOffsetSet": ["1s"]}
    activities = [
        {"ActivityType": "input", "ReardriveIndex": [1]},
        {"ActivityType": "action-trans", "ReardriveIndex": [2], "ActivityPara": {"TranscodeTask": transcode}},
        {"ActivityType": "action-snapshotByTimeOffset", "ReardriveIndex": [3],
         "ActivityPara": {"SnapshotByTimeOffsetTask": snapshot}},
        {"ActivityType": "output"},
    ]  # fmt: skip
    task_id = rig.create_orchestration(clip(duration=8.0, width=640, height=480), activities)
    log = tmp_path / "workers.log"
    first = _worker_process(rig, log)
    stop = threading.Event()
    relay = threading.Thread(target=run_relay_loop, args=(rig.settings, stop, rig.components("test relay")))
    relay.start()
    try:
        # When the worker running the transcode is killed
        ffmpegs = wait_until(lambda: [pid for pid, name in children(first.pid) if name == "ffmpeg"], 30)
        assert isinstance(ffmpegs, list) and ffmpegs, "the transcode runs in an ffmpeg child of the worker"
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        second = _worker_process(rig, log)
        try:
            # Then another finishes it, and the snapshot runs once, after the transcode
            rig.wait_for(lambda: rig.store.get_task(task_id).status == "FINISH", 180, "the task to finish")
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(30) == 0, log.read_text()
    finally:
        stop.set()
        relay.join(30)
        if first.poll() is None:
            first.kill()
    subtasks = rig.store.get_subtasks(task_id)
    assert [(s.status, s.attempts) for s in subtasks] == [
        ("SUCCESS", 0),
        ("SUCCESS", 2),
        ("SUCCESS", 1),
        ("SUCCESS", 0),
    ]
    assert rig.store.get_task(task_id).err_code == 0
