"""Bucket-event intake and the reconcile scan, on the in-memory store, broker and object store."""

from __future__ import annotations

import copy
import hashlib
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mps.broker.stub import StubBroker
from mps.errors import InvalidParameterError
from mps.listener.service import BucketEventHandler, declare_queue, run_listener
from mps.settings import Settings
from mps.storage.memory import MemoryStorage
from mps.store.base import TaskRecord
from mps.store.memory import MemoryTaskStore
from mps.templates import TemplateCatalog, load_presets
from mps.workflow.events import ObjectCreated, parse_s3_notification, parse_seaweedfs_event
from mps.workflow.intake import (
    S3,
    SEAWEEDFS,
    bucket_event_envelope,
    detect_source,
    handle_object_created,
    parse_bucket_message,
)
from mps.workflow.reconcile import covering_prefixes, reconcile
from mps.workflow.templates import StoreTemplates

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "events"
BUCKET = "media"
DATA = b"not really a video, but intake never reads it"
ETAG = hashlib.md5(DATA, usedforsecurity=False).hexdigest()
WORKFLOW: dict[str, Any] = {
    "WorkflowName": "in-to-out",
    "Trigger": {
        "Type": "CosFileUpload",
        "CosFileUploadTrigger": {
            "Bucket": BUCKET,
            "Region": "ap-guangzhou",
            "Dir": "/in/",
            "Formats": ["mp4"],
        },
    },
    "MediaProcessTask": {
        "TranscodeTaskSet": [{"Definition": 100010}],
        "SnapshotByTimeOffsetTaskSet": [{"Definition": 10, "TimeOffsetSet": [1.0]}],
    },
    "TaskNotifyConfig": {"NotifyType": "TDMQ-CMQ", "CmqModel": "Topic", "TopicName": "done"},
    "TaskPriority": 3,
}


class Env:
    """The in-memory services one test needs, plus helpers to create workflows and send events."""

    def __init__(self) -> None:
        self.store = MemoryTaskStore()
        self.broker = StubBroker()
        self.storage = MemoryStorage([BUCKET])
        self.templates = StoreTemplates(TemplateCatalog(load_presets()), self.store)

    def workflow(self, body: dict[str, Any] | None = None, *, enabled: bool = True, name: str = "") -> int:
        body = copy.deepcopy(body or WORKFLOW)
        body["WorkflowName"] = name or body["WorkflowName"]
        trigger = body["Trigger"]["CosFileUploadTrigger"]
        record = self.store.create_workflow(
            body["WorkflowName"], body, trigger["Bucket"], trigger.get("Dir", "/")
        )
        if enabled:
            self.store.update_workflow(record.workflow_id, status="Enabled")
        return record.workflow_id

    def handle(self, event: ObjectCreated) -> list[str]:
        return handle_object_created(
            event, store=self.store, broker=self.broker, templates=self.templates, storage=self.storage
        )

    def reconcile(self) -> int:
        return reconcile(self.store, self.storage, broker=self.broker, templates=self.templates)

    def tasks(self) -> list[TaskRecord]:
        return self.store.list_tasks("WAITING", limit=100)[0]


@pytest.fixture
def env() -> Env:
    return Env()


def created(key: str, **changes: Any) -> ObjectCreated:
    """A MinIO-like event: metadata (content-type) and the ETag of :data:`DATA`."""
    fields: dict[str, Any] = {
        "bucket": BUCKET,
        "key": key,
        "etag": ETAG,
        "size": len(DATA),
        "source": "minio:s3",
        "metadata": {"content-type": "video/mp4"},
    }
    return ObjectCreated(**{**fields, **changes})


def minio_event(key: str) -> dict[str, Any]:
    """The MinIO fixture, moved to ``key`` in :data:`BUCKET` with the ETag of :data:`DATA`."""
    body = json.loads((FIXTURES / "minio-put-amqp.json").read_text(encoding="utf-8"))
    obj = body["Records"][0]["s3"]["object"]
    body["Records"][0]["s3"]["bucket"]["name"] = BUCKET
    obj.update(key=key, eTag=ETAG, size=len(DATA))
    return dict(body)


def seaweed_event(key: str) -> dict[str, Any]:
    """The SeaweedFS webhook fixture, moved to ``key`` in :data:`BUCKET` with the ETag of :data:`DATA`."""
    import base64

    body = json.loads((FIXTURES / "seaweedfs-filer-create-webhook.json").read_text(encoding="utf-8"))
    parent, _, name = f"/buckets/{BUCKET}/{key}".rpartition("/")
    body["key"] = f"{parent}/{name}"
    body["message"]["new_parent_path"] = parent
    body["message"]["new_entry"]["name"] = name
    body["message"]["new_entry"]["extended"]["Seaweed-X-Amz-ETag"] = base64.b64encode(ETAG.encode()).decode()
    return dict(body)


# -- matching ---------------------------------------------------------------------------------


def test_an_upload_under_dir_starts_one_task_shaped_like_the_workflow(env: Env) -> None:
    workflow_id = env.workflow()
    env.storage.put_bytes(BUCKET, "in/a/clip.MP4", DATA)

    started = env.handle(created("in/a/clip.MP4"))

    assert len(started) == 1
    task = env.store.get_task(started[0])
    assert task.workflow_id == workflow_id and task.priority == 3
    assert task.request["InputInfo"] == {
        "Type": "COS",
        "CosInputInfo": {"Bucket": BUCKET, "Region": "ap-guangzhou", "Object": "/in/a/clip.MP4"},
    }
    # Defaults of a workflow without them: the trigger bucket, the object's directory.
    assert task.request["OutputStorage"] == {
        "Type": "COS",
        "CosOutputStorage": {"Bucket": BUCKET, "Region": "ap-guangzhou"},
    }
    assert task.request["OutputDir"] == "/in/a/"
    assert task.request["TasksPriority"] == 3
    assert task.notify == WORKFLOW["TaskNotifyConfig"]
    assert [s.kind for s in env.store.get_subtasks(task.task_id)] == ["Transcode", "SnapshotByTimeOffset"]
    assert len(env.broker.messages(env.broker.work_queue)) == 2


def test_the_workflows_output_storage_and_dir_win_over_the_defaults(env: Env) -> None:
    body = copy.deepcopy(WORKFLOW)
    body.update(
        OutputDir="/in/out/", OutputStorage={"Type": "COS", "CosOutputStorage": {"Bucket": "results"}}
    )
    env.workflow(body)

    [task_id] = env.handle(created("in/clip.mp4"))

    request = env.store.get_task(task_id).request
    assert request["OutputDir"] == "/in/out/"
    assert request["OutputStorage"] == {"Type": "COS", "CosOutputStorage": {"Bucket": "results"}}


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(created("in/notes.txt"), id="wrong suffix"),
        pytest.param(created("in/mp4"), id="no extension"),
        pytest.param(created("other/x.mp4"), id="outside Dir"),
        pytest.param(created("inbox/x.mp4"), id="prefix of Dir, not under it"),
        pytest.param(created("in/x.mp4", bucket="elsewhere"), id="other bucket"),
    ],
)
def test_what_the_trigger_does_not_cover_starts_nothing(env: Env, event: ObjectCreated) -> None:
    env.workflow()
    assert env.handle(event) == []
    assert env.tasks() == [] and env.broker.messages(env.broker.work_queue) == []


def test_a_disabled_workflow_starts_nothing(env: Env) -> None:
    env.workflow(enabled=False)
    assert env.handle(created("in/clip.mp4")) == []
    assert env.tasks() == []


def test_every_matching_workflow_starts_its_own_task(env: Env) -> None:
    first = env.workflow()
    everything = copy.deepcopy(WORKFLOW)
    everything["Trigger"]["CosFileUploadTrigger"].update(Dir="/", Formats=["*"])
    second = env.workflow(everything, name="whole bucket")

    started = env.handle(created("in/clip.mp4"))

    assert sorted(env.store.get_task(t).workflow_id for t in started) == sorted([first, second])


def test_keys_with_spaces_and_non_ascii_characters_reach_the_task_decoded(env: Env) -> None:
    body = copy.deepcopy(WORKFLOW)
    body["Trigger"]["CosFileUploadTrigger"]["Dir"] = "/uploads/"
    env.workflow(body)
    fixture = json.loads((FIXTURES / "minio-put-amqp.json").read_text(encoding="utf-8"))
    fixture["Records"][0]["s3"]["bucket"]["name"] = BUCKET

    [event] = parse_s3_notification(fixture)
    [task_id] = env.handle(event)

    request = env.store.get_task(task_id).request
    assert request["InputInfo"]["CosInputInfo"]["Object"] == "/uploads/视频 测试 (1).mp4"
    assert request["OutputDir"] == "/uploads/"


def test_a_workflow_is_read_when_the_event_comes_so_edits_apply_to_later_uploads(env: Env) -> None:
    workflow_id = env.workflow()
    [before] = env.handle(created("in/1.mp4"))
    body = copy.deepcopy(WORKFLOW)
    body["MediaProcessTask"] = {"SnapshotByTimeOffsetTaskSet": [{"Definition": 10, "TimeOffsetSet": [2.0]}]}
    env.store.update_workflow(workflow_id, body=body)

    [after] = env.handle(created("in/2.mp4"))

    assert len(env.store.get_subtasks(before)) == 2
    assert [s.kind for s in env.store.get_subtasks(after)] == ["SnapshotByTimeOffset"]


def test_a_workflow_that_cannot_run_is_skipped_and_the_others_still_start(env: Env) -> None:
    broken = copy.deepcopy(WORKFLOW)
    broken["MediaProcessTask"] = {"TranscodeTaskSet": [{"Definition": 999999}]}
    env.workflow(broken, name="broken")
    good = env.workflow()

    [task_id] = env.handle(created("in/clip.mp4"))

    assert env.store.get_task(task_id).workflow_id == good


# -- one task per object, whatever the sources -------------------------------------------------


def test_the_same_object_from_every_source_starts_one_task(env: Env) -> None:
    env.workflow()
    env.storage.put_bytes(BUCKET, "in/視頻 1.mp4", DATA, content_type="video/mp4")

    first = env.handle(parse_seaweedfs_event(seaweed_event("in/視頻 1.mp4"))[0])
    repeats = [
        env.handle(event) for _ in range(3) for event in parse_s3_notification(minio_event("in/視頻 1.mp4"))
    ]
    scanned = env.reconcile()

    assert len(first) == 1 and repeats == [[], [], []] and scanned == 0
    assert [t.task_id for t in env.tasks()] == first
    assert len(env.broker.messages(env.broker.work_queue)) == 2


def test_a_new_etag_of_the_same_key_is_a_new_upload(env: Env) -> None:
    env.workflow()
    env.handle(created("in/clip.mp4"))
    env.handle(created("in/clip.mp4", etag="0" * 32))
    assert len(env.tasks()) == 2


# -- objects written by mps -------------------------------------------------------------------


def test_an_event_that_carries_mps_task_metadata_starts_nothing(env: Env) -> None:
    env.workflow()
    event = created("in/out/clip_transcode_100010.mp4", metadata={"mps-task": "0-WorkflowTask-xt0"})
    assert env.handle(event) == []


def test_an_event_without_metadata_is_checked_with_head(env: Env) -> None:
    env.workflow()
    env.storage.put_bytes(BUCKET, "in/out/clip.mp4", DATA, metadata={"mps-task": "0-WorkflowTask-xt0"})
    env.storage.put_bytes(BUCKET, "in/upload.mp4", DATA)
    aws = parse_s3_notification(
        {
            "Records": [
                _aws_record("in/out/clip.mp4"),
                _aws_record("in/upload.mp4"),
            ]
        }
    )

    started = [task for event in aws for task in env.handle(event)]

    assert [env.store.get_task(t).request["InputInfo"]["CosInputInfo"]["Object"] for t in started] == [
        "/in/upload.mp4"
    ]


def _aws_record(key: str) -> dict[str, Any]:
    return {
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": BUCKET}, "object": {"key": key, "eTag": ETAG, "size": len(DATA)}},
    }


def test_a_seaweedfs_output_under_the_watched_dir_does_not_loop(env: Env) -> None:
    env.workflow()
    event = seaweed_event("in/out/clip_transcode_100010.mp4")
    extended = event["message"]["new_entry"]["extended"]
    extended["X-Amz-Meta-Mps-Task"] = "MC1Xb3JrZmxvd1Rhc2steHQw"  # base64 of 0-WorkflowTask-xt0
    assert env.handle(parse_seaweedfs_event(event)[0]) == []


def test_an_object_gone_before_its_event_is_handled_starts_nothing(env: Env) -> None:
    env.workflow()
    assert env.handle(created("in/gone.mp4", metadata={})) == []


def test_a_missing_etag_is_taken_from_head_so_the_scan_agrees(env: Env) -> None:
    env.workflow()
    env.storage.put_bytes(BUCKET, "in/clip.mp4", DATA)
    assert len(env.handle(created("in/clip.mp4", etag="", metadata={}))) == 1
    assert env.reconcile() == 0


# -- reconcile ---------------------------------------------------------------------------------


def test_reconcile_starts_what_no_event_started_once(env: Env) -> None:
    env.workflow()
    env.storage.put_bytes(BUCKET, "in/a.mp4", DATA)
    env.storage.put_bytes(BUCKET, "in/sub/b.mov", b"other bytes")
    env.storage.put_bytes(BUCKET, "in/notes.txt", DATA)
    env.storage.put_bytes(BUCKET, "other/c.mp4", DATA)
    env.storage.put_bytes(BUCKET, "in/out/a_transcode_100010.mp4", DATA, metadata={"mps-task": "t"})

    assert env.reconcile() == 1  # Formats is ["mp4"]: b.mov does not fire
    assert env.reconcile() == 0
    [task] = env.tasks()
    assert task.request["InputInfo"]["CosInputInfo"]["Object"] == "/in/a.mp4"


def test_reconcile_ignores_objects_older_than_the_workflows_last_change() -> None:
    later = datetime.now(UTC) + timedelta(hours=1)
    env = Env()
    env.store = MemoryTaskStore(clock=lambda: later)
    env.templates = StoreTemplates(TemplateCatalog(load_presets()), env.store)
    env.workflow()
    env.storage.put_bytes(BUCKET, "in/old.mp4", DATA)

    assert env.reconcile() == 0
    assert len(env.handle(created("in/old.mp4"))) == 1  # an event still starts it


def test_reconcile_skips_a_missing_bucket_and_disabled_workflows(env: Env) -> None:
    body = copy.deepcopy(WORKFLOW)
    body["Trigger"]["CosFileUploadTrigger"]["Bucket"] = "no-such-bucket"
    env.workflow(body, name="nowhere")
    disabled = copy.deepcopy(WORKFLOW)
    disabled["Trigger"]["CosFileUploadTrigger"]["Dir"] = "/"
    env.workflow(disabled, name="disabled", enabled=False)
    env.storage.put_bytes(BUCKET, "x.mp4", DATA)

    assert env.reconcile() == 0


def test_covering_prefixes_lists_nested_directories_once() -> None:
    assert covering_prefixes(["in/a/", "in/", "out/", "in/b/", "out/"]) == ["in/", "out/"]
    assert covering_prefixes(["in/", ""]) == [""]


# -- messages on the bucket-events queue -------------------------------------------------------


def test_a_message_is_an_envelope_or_a_raw_notification() -> None:
    minio, seaweed = minio_event("in/a.mp4"), seaweed_event("in/b.mp4")

    assert detect_source(minio) == S3 and detect_source(seaweed) == SEAWEEDFS
    assert [e.key for e in parse_bucket_message(minio)] == ["in/a.mp4"]
    assert [e.key for e in parse_bucket_message(bucket_event_envelope(S3, minio))] == ["in/a.mp4"]
    assert [e.key for e in parse_bucket_message(bucket_event_envelope(SEAWEEDFS, seaweed))] == ["in/b.mp4"]
    assert [e.key for e in parse_bucket_message(seaweed)] == ["in/b.mp4"]


def test_a_minio_event_with_several_records_gives_each_created_object() -> None:
    body = minio_event("in/a.mp4")
    second = copy.deepcopy(body["Records"][0])
    second["s3"]["object"]["key"] = "in/b%2Bc+d.mp4"
    removed = copy.deepcopy(second)
    removed["eventName"] = "s3:ObjectRemoved:Delete"
    body["Records"] += [second, removed]

    assert [e.key for e in parse_bucket_message(body)] == ["in/a.mp4", "in/b+c d.mp4"]


@pytest.mark.parametrize(
    "junk",
    [
        [],
        {"hello": "world"},
        {"source": "ftp", "body": {}},
        {"source": S3, "body": "text"},
        {"schema_version": 99, "source": S3, "body": {"Records": []}},
    ],
)
def test_junk_on_the_queue_is_refused(junk: Any) -> None:
    with pytest.raises(InvalidParameterError):
        parse_bucket_message(junk)


# -- the listener's handler --------------------------------------------------------------------


def _listener(env: Env) -> BucketEventHandler:
    return BucketEventHandler(env.store, env.storage, env.broker, env.templates)


def test_the_listener_starts_one_task_for_an_event_published_three_times_and_queued_once(env: Env) -> None:
    env.workflow()
    env.storage.put_bytes(BUCKET, "in/a.mp4", DATA)
    settings = Settings(queue_prefix="t.", reconcile_interval=0)
    queue = declare_queue(settings, env.broker)  # as MinIO needs it: a fanout drops what no queue takes
    stop = threading.Event()
    listener = threading.Thread(target=run_listener, args=(settings, stop, _listener(env)))
    listener.start()
    try:
        for _ in range(3):
            env.broker.publish_bucket_event("mps.bucket-events", json.dumps(minio_event("in/a.mp4")).encode())
        env.broker.publish_to_queue(queue, bucket_event_envelope(SEAWEEDFS, seaweed_event("in/a.mp4")))
        env.broker.join(queue)
    finally:
        stop.set()
        listener.join(5)
    assert len(env.tasks()) == 1 and env.broker.dead_letters == []


def test_a_message_that_is_not_a_bucket_event_is_dead_lettered_at_once(env: Env) -> None:
    queue = "t.mps.bucket-events"
    env.broker.publish_to_queue(queue, {"hello": "world"})
    env.broker.publish_to_queue(queue, b"not json")
    with env.broker.consumer(queue, _listener(env)):
        env.broker.join(queue)
    assert [d.attempts for d in env.broker.dead_letters] == [1, 1]


def test_the_listener_reconciles_when_it_starts(env: Env) -> None:
    env.workflow()
    env.storage.put_bytes(BUCKET, "in/missed.mp4", DATA)  # uploaded while nothing listened
    stop = threading.Event()
    settings = Settings(reconcile_interval=3600)
    listener = threading.Thread(target=run_listener, args=(settings, stop, _listener(env)))
    listener.start()
    try:
        deadline = time.monotonic() + 5
        while not env.tasks() and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        stop.set()
        listener.join(5)
    assert not listener.is_alive()
    assert [t.request["InputInfo"]["CosInputInfo"]["Object"] for t in env.tasks()] == ["/in/missed.mp4"]


@pytest.mark.parametrize(("plan", "messages"), [("split", 2), ("fused", 1)])
def test_workflow_tasks_are_grouped_as_mps_plan_says(env: Env, plan: str, messages: int) -> None:
    env.workflow()
    env.storage.put_bytes(BUCKET, "in/a.mp4", DATA)
    handler = BucketEventHandler(env.store, env.storage, env.broker, env.templates, plan=plan)
    assert handler.reconcile() == 1
    assert len(env.broker.messages(env.broker.work_queue)) == messages


def test_bucket_events_are_counted_received_and_deduplicated_by_source(env: Env) -> None:
    from mps.metrics import Metrics

    metrics = Metrics()
    env.workflow()
    env.storage.put_bytes(BUCKET, "in/a.mp4", DATA, content_type="video/mp4")

    def handle(event: ObjectCreated) -> list[str]:
        return handle_object_created(event, store=env.store, broker=env.broker, templates=env.templates,
                                     storage=env.storage, metrics=metrics)  # fmt: skip

    first = handle(parse_seaweedfs_event(seaweed_event("in/a.mp4"))[0])
    again = [handle(event) for _ in range(2) for event in parse_s3_notification(minio_event("in/a.mp4"))]
    handle(created("elsewhere/b.mp4"))  # matches no workflow: received, not a repeat

    assert len(first) == 1 and again == [[], []]
    received = {s.labels["source"]: s.value for s in metrics.bucket_events_received.collect()[0].samples
                if s.name.endswith("_total")}  # fmt: skip
    repeats = {s.labels["source"]: s.value for s in metrics.bucket_events_deduplicated.collect()[0].samples
               if s.name.endswith("_total")}  # fmt: skip
    assert sum(received.values()) == 4 and sum(repeats.values()) == 2
    assert repeats.get("seaweedfs", 0) == 0
