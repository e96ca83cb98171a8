"""The worker's handler with in-memory twins (store, broker, storage) and real ffmpeg on a tiny clip."""

from __future__ import annotations

import json
import posixpath
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mps.broker import Delivery, StubBroker
from mps.errors import StorageUnavailableError
from mps.models import MediaInputInfo
from mps.runner import FfmpegRunner
from mps.settings import Settings
from mps.storage import TASK_METADATA_KEY, MemoryStorage
from mps.store import MemoryTaskStore, NewSubtask, NewTask, new_task_id
from mps.templates import TemplateCatalog, load_presets
from mps.worker import InputCache, SubtaskProducer, WorkHandler, make_fetch
from mps.worker.handler import worker_host
from mps.workflow.executor import Executor
from mps.workflow.lifecycle import Lifecycle
from mps.workflow.messages import WorkMessage
from mps.workflow.relay import OutboxRelay
from mps.workflow.templates import StoreTemplates

EXCHANGE = "test.events"
BUCKET = "media"
SNAPSHOT = {"Definition": 10, "ExtTimeOffsetSet": ["0.2s", "0.6s"]}
SPRITE = {"Definition": 10}
TRANSCODE = {
    "Definition": 0,
    "RawParameter": {
        "Container": "mp4",
        "VideoTemplate": {"Codec": "libx264", "Fps": 10, "Bitrate": 128, "Width": 96, "Height": 0},
        "AudioTemplate": {"Codec": "libfdk_aac", "Bitrate": 32, "SampleRate": 44100, "AudioChannel": 2},
    },
}
BAD_CODEC = {
    "Definition": 0,
    "RawParameter": {"Container": "mp4", "RemoveAudio": 1, "VideoTemplate": {"Codec": "h266", "Bitrate": 0}},
}


class CountingRunner(FfmpegRunner):
    """The real runner, counting how often the input's GOP is measured."""

    gop_measures = 0

    def keyframe_interval(self, source: str | Path, *, timeout: float | None = None) -> float:
        self.gop_measures += 1
        return super().keyframe_interval(source, timeout=timeout)


class ShiftableClock:
    """Now, plus an offset a test can move forward (a lease running out without waiting for it)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


class World:
    """A store, a storage holding the input, a stub broker and a handler wired together."""

    def __init__(self, tmp_path: Path, clip_bytes: bytes) -> None:
        self.clock = ShiftableClock()
        self.store = MemoryTaskStore(clock=self.clock)
        self.storage = MemoryStorage([BUCKET])
        self.storage.put_bytes(BUCKET, "in/clip.mp4", clip_bytes)
        self.broker = StubBroker()
        self.settings = Settings(
            work_dir=tmp_path / "work", events_exchange=EXCHANGE, x264_preset="ultrafast"
        )
        self.fetched: list[str] = []
        base_fetch = make_fetch(self.storage, url_max_bytes=10**9, allow_private=False)

        def fetch(info: MediaInputInfo, dest: Path) -> None:
            self.fetched.append(info.file_name)
            base_fetch(info, dest)

        self.inputs = InputCache(tmp_path / "inputs", fetch)
        templates = StoreTemplates(TemplateCatalog(load_presets()), self.store)
        self.runner = CountingRunner(default_timeout=self.settings.ffmpeg_timeout)
        lifecycle = Lifecycle(self.store, EXCHANGE)
        executor = Executor(self.runner, templates, self.settings)
        producer = SubtaskProducer(lifecycle, self.storage, executor, self.inputs)
        self.handler = WorkHandler(lifecycle, producer, self.inputs)

    def create(self, subtasks: list[tuple[str, dict[str, Any]]], notify: dict[str, Any] | None = None) -> str:
        task_id = new_task_id()
        request = {
            "InputInfo": {
                "Type": "COS",
                "CosInputInfo": {"Bucket": BUCKET, "Region": "r1", "Object": "/in/clip.mp4"},
            },
            "OutputDir": "/out/",
            "TaskNotifyConfig": notify,
        }
        new = NewTask(task_id, request, notify=notify, subtasks=[NewSubtask(k, i) for k, i in subtasks])
        self.store.create_task(new)
        return task_id

    def deliver(self, task_id: str, index: int, **kwargs: Any) -> None:
        body = WorkMessage(task_id=task_id, indexes=(index,)).model_dump_json().encode()
        self.handler(Delivery(body, **kwargs))

    def run_queue(self, task_id: str, count: int) -> None:
        for index in range(count):
            self.broker.publish_work(WorkMessage(task_id=task_id, indexes=(index,)).model_dump(mode="json"))
        with self.broker.consumer(self.broker.work_queue, self.handler, prefetch=3):
            self.broker.join(self.broker.work_queue, timeout=60)


@pytest.fixture
def world(tmp_path: Path, clip: Callable[..., Path]) -> Iterator[World]:
    source = clip(duration=1.0, width=160, height=120)
    yield World(tmp_path, source.read_bytes())


def _statuses(world: World, task_id: str) -> list[str]:
    return [sub.status for sub in world.store.get_subtasks(task_id)]


def _result(entry: dict[str, Any]) -> dict[str, Any]:
    return next(value for key, value in entry.items() if key.endswith("Task") and value)


def test_three_subtasks_run_to_finish_with_one_event_per_target_and_one_fetch(world: World) -> None:
    notify = {"NotifyType": "TDMQ-CMQ", "CmqModel": "Queue", "QueueName": "client-q", "NotifyKey": "k"}
    subtasks = [("Transcode", TRANSCODE), ("SnapshotByTimeOffset", SNAPSHOT), ("ImageSprites", SPRITE)]
    task_id = world.create(subtasks, notify)

    world.run_queue(task_id, 3)

    task = world.store.get_task(task_id)
    assert task.status == "FINISH" and task.err_code == 0
    assert world.fetched == ["clip.mp4"], "the input is fetched once for the task"
    assert task.metadata is not None and task.metadata["Width"] == 160
    entries = task.workflow_task["MediaProcessResultSet"] if task.workflow_task else []
    assert [e["Type"] for e in entries] == ["Transcode", "SnapshotByTimeOffset", "ImageSprites"]
    assert [_result(e)["Status"] for e in entries] == ["SUCCESS"] * 3
    transcode = entries[0]["TranscodeTask"]["Output"]
    assert transcode["Path"] == "/out/clip_transcode_0.mp4"
    assert transcode["OutputStorage"]["CosOutputStorage"] == {"Bucket": BUCKET, "Region": "r1"}
    info = world.storage.head(BUCKET, "out/clip_transcode_0.mp4")
    assert info is not None and info.metadata == {TASK_METADATA_KEY: task_id}
    pictures = entries[1]["SnapshotByTimeOffsetTask"]["Output"]["PicInfoSet"]
    assert all(world.storage.head(BUCKET, p["Path"].lstrip("/")) for p in pictures) and len(pictures) == 2
    assert len(world.inputs) == 0, "the cache entry goes once the task is finished"

    world.broker.bind("subscriber", EXCHANGE, "WorkflowTask.#")
    OutboxRelay(world.store, world.broker).run_once()
    finish = [m for m in world.broker.events if m.exchange == EXCHANGE]
    assert [m.routing_key for m in finish] == ["WorkflowTask.FINISH"]
    client = world.broker.messages("client-q")
    assert len(client) == 1
    event = json.loads(client[0].body)
    assert event["EventType"] == "WorkflowTask" and event["WorkflowTaskEvent"]["Status"] == "FINISH"
    assert len(event["WorkflowTaskEvent"]["MediaProcessResultSet"]) == 3


def test_the_gop_is_measured_once_per_task_though_pictures_arrive_in_separate_messages(world: World) -> None:
    sample = {"Definition": 10}  # preset: every 10 % -> the planner weighs seeking against decoding
    task_id = world.create([("SampleSnapshot", sample), ("ImageSprites", SPRITE)])

    world.deliver(task_id, 0)
    world.deliver(task_id, 1)

    assert _statuses(world, task_id) == ["SUCCESS", "SUCCESS"]
    assert world.runner.gop_measures == 1


def test_a_redelivered_message_for_a_finished_subtask_records_nothing_twice(world: World) -> None:
    task_id = world.create([("SnapshotByTimeOffset", SNAPSHOT), ("SnapshotByTimeOffset", SNAPSHOT)])
    world.deliver(task_id, 0)
    first = world.store.get_subtasks(task_id)[0]

    world.deliver(task_id, 0, redelivered=True)

    again = world.store.get_subtasks(task_id)[0]
    assert again == first and again.attempts == 1
    assert world.store.get_task(task_id).status == "PROCESSING"
    world.deliver(task_id, 1)
    world.deliver(task_id, 1, redelivered=True)
    world.deliver(task_id, 0, attempts=2)
    assert world.store.get_task(task_id).status == "FINISH"
    assert len(world.store.list_events(task_id)) == 1


def test_a_failing_subtask_is_fail_and_the_task_still_finishes(world: World) -> None:
    task_id = world.create([("Transcode", BAD_CODEC), ("SnapshotByTimeOffset", SNAPSHOT)])

    world.run_queue(task_id, 2)

    task = world.store.get_task(task_id)
    assert task.status == "FINISH" and task.err_code == 0
    assert _statuses(world, task_id) == ["FAIL", "SUCCESS"]
    failed = _result(world.store.get_subtasks(task_id)[0].result or {})
    assert failed["ErrCode"] != 0 and failed["ErrCodeExt"] and failed["Output"] is None
    assert world.broker.dead_letters == []


def test_a_transient_storage_failure_is_raised_and_nothing_is_committed(world: World) -> None:
    task_id = world.create([("SnapshotByTimeOffset", SNAPSHOT)])
    real_get = world.storage.get

    def down(*_args: Any, **_kwargs: Any) -> Any:
        raise StorageUnavailableError("object store down")

    world.storage.get = down  # type: ignore[method-assign]
    with pytest.raises(StorageUnavailableError):
        world.deliver(task_id, 0)
    sub = world.store.get_subtasks(task_id)[0]
    assert sub.result is None and sub.status == "PROCESSING"
    assert world.store.list_events(task_id) == []

    world.storage.get = real_get  # type: ignore[method-assign]
    world.deliver(task_id, 0, attempts=2)  # the broker's retry
    assert world.store.get_task(task_id).status == "FINISH"


def test_a_missing_input_fails_every_subtask_and_sets_the_task_errcode(world: World) -> None:
    world.storage.delete(BUCKET, "in/clip.mp4")
    task_id = world.create([("SnapshotByTimeOffset", SNAPSHOT), ("ImageSprites", SPRITE)])

    world.run_queue(task_id, 2)

    task = world.store.get_task(task_id)
    assert task.status == "FINISH" and task.err_code != 0 and "DownloadError" in task.message
    assert _statuses(world, task_id) == ["FAIL", "FAIL"]
    assert world.fetched == ["clip.mp4"], "a permanent failure is remembered, not fetched again"


def test_a_bad_payload_goes_to_the_dead_letters(world: World) -> None:
    world.broker.publish_work(b"not json")
    world.broker.publish_work({"task_id": "x"})
    with world.broker.consumer(world.broker.work_queue, world.handler):
        world.broker.join(world.broker.work_queue)
    assert len(world.broker.dead_letters) == 2


def test_a_copy_of_a_subtask_a_live_attempt_holds_is_dropped_until_its_lease_runs_out(world: World) -> None:
    # Given a sub-task another worker runs, holding its lease
    task_id = world.create([("SnapshotByTimeOffset", SNAPSHOT)])
    world.store.start_subtask(task_id, 0, "another-worker", timedelta(seconds=30))

    # When copies of its message arrive: the sweep's, and RabbitMQ's after a connection loss
    world.deliver(task_id, 0)
    world.deliver(task_id, 0, redelivered=True)

    # Then neither runs it: one attempt at a time
    assert world.store.get_subtasks(task_id)[0].attempts == 1
    # And once that worker's lease runs out (it died), the sweep sends it again and it runs
    world.clock.offset += timedelta(seconds=31)
    lost = world.store.list_unstarted_subtasks(world.clock())
    assert [(u.task_id, u.index) for u in lost] == [(task_id, 0)]
    world.deliver(task_id, 0)
    assert world.store.get_task(task_id).status == "FINISH"
    assert world.store.get_subtasks(task_id)[0].attempts == 2


def test_notify_mode_change_queues_processing_events(world: World) -> None:
    notify = {"NotifyType": "URL", "NotifyMode": "Change", "NotifyUrl": "http://example.invalid/cb"}
    task_id = world.create([("SnapshotByTimeOffset", SNAPSHOT), ("SnapshotByTimeOffset", SNAPSHOT)], notify)

    world.deliver(task_id, 0)
    world.deliver(task_id, 1)

    events = world.store.list_events(task_id)
    by_target = [(e.target.kind, e.payload["WorkflowTaskEvent"]["Status"]) for e in events]
    assert by_target.count(("url", "FINISH")) == 1 and by_target.count(("exchange", "FINISH")) == 1
    assert ("url", "PROCESSING") in by_target and ("exchange", "PROCESSING") in by_target


class TestInputCache:
    def _cache(self, tmp_path: Path, **kwargs: Any) -> tuple[InputCache, list[str]]:
        calls: list[str] = []

        def fetch(info: MediaInputInfo, dest: Path) -> None:
            calls.append(info.file_name)
            dest.write_bytes(b"media")

        return InputCache(tmp_path, fetch, **kwargs), calls

    def _info(self, name: str) -> MediaInputInfo:
        return MediaInputInfo.model_validate(
            {"Type": "COS", "CosInputInfo": {"Bucket": "b", "Object": f"/{name}"}}
        )

    def test_an_entry_in_use_survives_discard_until_released(self, tmp_path: Path) -> None:
        cache, calls = self._cache(tmp_path)
        with cache.use("t1", self._info("a.mp4")) as entry:
            cache.discard("t1")
            assert entry.path is not None and entry.path.read_bytes() == b"media"
        assert len(cache) == 0 and not entry.directory.exists()

    def test_entries_expire_after_the_ttl_and_beyond_the_size_bound(self, tmp_path: Path) -> None:
        now = [0.0]
        cache, calls = self._cache(tmp_path, ttl=10, max_entries=2, clock=lambda: now[0])
        for name in ("a", "b", "c"):
            with cache.use(name, self._info(name)):
                pass
        assert len(cache) == 2
        now[0] = 100.0
        with cache.use("d", self._info("d")):
            pass
        assert len(cache) == 1 and calls == ["a", "b", "c", "d"]


def test_one_message_with_several_subtasks_runs_one_plan_and_commits_each_alone(world: World) -> None:
    smaller = json.loads(json.dumps(TRANSCODE))
    smaller["RawParameter"]["VideoTemplate"]["Width"] = 64
    bad_name = {**TRANSCODE, "OutputObjectPath": "/out/wrong.mkv"}
    subtasks = [("Transcode", TRANSCODE), ("Transcode", bad_name), ("ImageSprites", SPRITE),
                ("Transcode", {**smaller, "OutputObjectPath": "/out/small.mp4"})]  # fmt: skip
    task_id = world.create(subtasks)

    body = WorkMessage(task_id=task_id, indexes=(0, 1, 2, 3)).model_dump_json().encode()
    world.handler(Delivery(body))

    assert _statuses(world, task_id) == ["SUCCESS", "FAIL", "SUCCESS", "SUCCESS"]
    assert world.store.get_task(task_id).status == "FINISH"
    assert world.storage.head(BUCKET, "out/small.mp4") is not None
    assert world.storage.head(BUCKET, "out/clip_transcode_0.mp4") is not None
    results = [s.result for s in world.store.get_subtasks(task_id)]
    assert results[3] is not None and _result(results[3])["Output"]["Width"] == 64

    world.handler(Delivery(body, redelivered=True))  # every index is final: nothing runs again
    assert _statuses(world, task_id) == ["SUCCESS", "FAIL", "SUCCESS", "SUCCESS"]


def test_an_unreadable_input_fails_the_task_without_naming_the_workers_scratch_path(tmp_path: Path) -> None:
    world = World(tmp_path, b"\x00\x00\x00\x18ftypmp42" + b"\xde\xad" * 500)  # an MP4 header, then garbage
    notify = {"NotifyType": "TDMQ-CMQ", "CmqModel": "Queue", "QueueName": "client-q"}
    task_id = world.create([("Transcode", TRANSCODE), ("SnapshotByTimeOffset", SNAPSHOT)], notify)

    world.run_queue(task_id, 2)
    OutboxRelay(world.store, world.broker).run_once()

    task = world.store.get_task(task_id)
    assert task.status == "FINISH" and _statuses(world, task_id) == ["FAIL", "FAIL"]
    detail = json.dumps(task.workflow_task)
    [event] = [message.body.decode() for message in world.broker.messages("client-q")]
    entries = json.loads(event)["WorkflowTaskEvent"]["MediaProcessResultSet"]
    messages = [_result(entry)["Message"] for entry in entries]
    assert messages and all("the source" in message for message in messages), messages
    for seen in (detail, event, task.message or ""):
        assert str(tmp_path) not in seen and "mps-input" not in seen and "/inputs/" not in seen


def test_an_adaptive_ladder_is_uploaded_whole_with_its_master_playlist_as_the_result(world: World) -> None:
    # Given a task with an HLS ladder (preset 10 on a 160x120 source: one rung, at the source's size)
    task_id = world.create([("AdaptiveDynamicStreaming", {"Definition": 10})])

    # When a worker runs it
    world.deliver(task_id, 0)

    # Then the result names the master playlist, and every file it refers to is in the bucket
    task = world.store.get_task(task_id)
    entry = task.workflow_task["MediaProcessResultSet"][0] if task.workflow_task else {}
    output = entry["AdaptiveDynamicStreamingTask"]["Output"]
    assert (entry["Type"], output["Package"], output["Definition"]) == ("AdaptiveDynamicStreaming", "HLS", 10)
    assert output["Storage"]["CosOutputStorage"]["Bucket"] == BUCKET
    keys = {info.key for info in world.storage.list(BUCKET, "out/")}
    master_key = output["Path"].lstrip("/")
    assert master_key in keys
    master = world.storage.get_bytes(BUCKET, master_key).decode()
    rungs = [line for line in master.splitlines() if line and not line.startswith("#")]
    assert rungs and "RESOLUTION=160x120" in master
    for rung in rungs:
        rung_key = posixpath.normpath(posixpath.join(posixpath.dirname(master_key), rung))
        playlist = world.storage.get_bytes(BUCKET, rung_key).decode()
        segments = [line for line in playlist.splitlines() if line and not line.startswith("#")]
        beside = posixpath.dirname(rung_key)
        assert segments and all(posixpath.join(beside, segment) in keys for segment in segments)


def test_every_log_line_about_a_task_names_it(world: World, caplog: pytest.LogCaptureFixture) -> None:
    # Given a task with a sub-task that fails and one that succeeds
    task_id = world.create([("Transcode", BAD_CODEC), ("SnapshotByTimeOffset", SNAPSHOT)])

    # When a worker runs both
    with caplog.at_level("INFO", logger="mps"):
        world.deliver(task_id, 0)
        world.deliver(task_id, 1)

    # Then every line mps logged names the task
    lines = [record.getMessage() for record in caplog.records if record.name.startswith("mps")]
    assert lines and all(task_id in line for line in lines), [x for x in lines if task_id not in x]


def test_the_worker_observes_durations_speed_and_busy_slots_when_subtasks_finish(world: World) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    from mps.metrics import Metrics

    metrics = Metrics()
    world.handler.metrics = metrics
    task_id = world.create([("Transcode", TRANSCODE), ("SnapshotByTimeOffset", SNAPSHOT)])

    world.run_queue(task_id, 2)

    assert _statuses(world, task_id) == ["SUCCESS", "SUCCESS"]
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(metrics.render().decode())
        for s in family.samples
    }
    for kind in ("Transcode", "SnapshotByTimeOffset"):
        assert samples[("mps_subtask_duration_seconds_count", (("kind", kind), ("status", "SUCCESS")))] == 1
        assert samples[("mps_ffmpeg_speed_ratio_count", (("kind", kind),))] == 1
        assert samples[("mps_ffmpeg_speed_ratio_sum", (("kind", kind),))] > 0
    assert samples[("mps_worker_busy_slots", ())] == 0  # back to idle once the messages are acked


def test_the_history_tells_the_run_in_order_with_host_attempt_and_error(world: World) -> None:
    task_id = world.create([("Transcode", BAD_CODEC), ("SnapshotByTimeOffset", SNAPSHOT)])

    world.deliver(task_id, 0)
    world.deliver(task_id, 1)

    history = world.store.task_history(task_id)
    assert [(h.event, h.index, h.attempt) for h in history] == [
        ("created", None, None), ("ready", 0, None), ("ready", 1, None),
        ("started", 0, 1), ("probed", None, None), ("failed", 0, 1),
        ("started", 1, 1), ("succeeded", 1, 1), ("finished", None, None),
    ]  # fmt: skip
    assert [h.seq for h in history] == list(range(1, 10))
    assert history[3].detail == {"Host": worker_host()} and history[6].detail == {"Host": worker_host()}
    failed = _result(world.store.get_subtasks(task_id)[0].result or {})
    assert history[5].detail["ErrCode"] == failed["ErrCode"] != 0
    assert history[5].detail["ErrCodeExt"] == failed["ErrCodeExt"] and history[5].detail["Message"]
    assert history[8].detail == {"ErrCode": 0, "Message": "SUCCESS"}
    times = [h.time for h in history]
    assert times == sorted(times)


def test_a_redelivered_message_adds_no_second_success_to_the_history(world: World) -> None:
    task_id = world.create([("SnapshotByTimeOffset", SNAPSHOT), ("SnapshotByTimeOffset", SNAPSHOT)])
    world.deliver(task_id, 0)

    world.deliver(task_id, 0, redelivered=True)
    world.deliver(task_id, 1)
    world.deliver(task_id, 1, redelivered=True)

    events = [(h.event, h.index) for h in world.store.task_history(task_id)]
    assert events.count(("succeeded", 0)) == 1 and events.count(("succeeded", 1)) == 1
    assert events.count(("started", 0)) == 1 and events.count(("finished", None)) == 1
