"""Task control on real ffmpeg, the real object store (SeaweedFS) and the real databases: Abort of a
running task stops its ffmpeg and keeps what finished; Redo runs only what failed, under the same
TaskId."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from mps.app import work_handler
from mps.broker import Delivery, StubBroker
from mps.errors import MpsError
from mps.storage import S3Storage
from mps.store import ABORTED_ERR_CODE, NewSubtask, NewTask, SqlTaskStore, new_task_id
from mps.templates import TemplateCatalog, load_presets
from mps.worker.handler import WorkHandler
from mps.workflow.lifecycle import Lifecycle
from mps.workflow.messages import WorkMessage
from mps.workflow.relay import OutboxRelay
from mps.workflow.submit import submit_task
from mps.workflow.templates import StoreTemplates
from tests.conftest import ClipFactory
from tests.integration.conftest import service_settings
from tests.processes import children, wait_until
from tests.seaweed import SeaweedServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EXCHANGE = "control.events"
SNAPSHOT = {"Definition": 10, "TimeOffsetSet": [0.5]}
SLOW_TRANSCODE = {
    "Definition": 0,
    "RawParameter": {
        "Container": "mp4",
        "RemoveAudio": 1,
        "VideoTemplate": {"Codec": "libx264", "Fps": 25, "Bitrate": 900, "Width": 640, "Height": 360},
    },
}


class Rig:
    def __init__(self, seaweed: SeaweedServer, bucket: str, database_url: str, work_dir: Path) -> None:
        self.bucket = bucket
        self.settings = service_settings(
            seaweed,
            database_url,
            work_dir,
            events_exchange=EXCHANGE,
            x264_preset="slow",
        )
        self.store = SqlTaskStore(database_url)
        self.storage = S3Storage.from_settings(self.settings)
        self.lifecycle = Lifecycle(self.store, EXCHANGE)
        self.stack = ExitStack()

    def worker(self) -> WorkHandler:
        return self.stack.enter_context(work_handler(self.settings, self.store, self.storage))

    def create(self, source: Path, subtasks: list[tuple[str, dict[str, Any]]]) -> str:
        self.storage.put(self.bucket, "in/clip.mp4", source)
        cos = {"Bucket": self.bucket, "Region": "r", "Object": "/in/clip.mp4"}
        request = {"InputInfo": {"Type": "COS", "CosInputInfo": cos}, "OutputDir": "/out/"}
        task_id = new_task_id()
        self.store.create_task(NewTask(task_id, request, subtasks=[NewSubtask(k, i) for k, i in subtasks]))
        return task_id


@pytest.fixture
def rig(seaweed: SeaweedServer, bucket: str, database_url: str, tmp_path: Path) -> Iterator[Rig]:
    rig = Rig(seaweed, bucket, database_url, tmp_path)
    with rig.stack:
        yield rig
    rig.store.close()


def _deliver(handler: WorkHandler, task_id: str, index: int) -> None:
    handler(Delivery(WorkMessage(task_id=task_id, indexes=(index,)).model_dump_json().encode()))


def _ffmpegs() -> list[int]:
    return [pid for pid, name in children(os.getpid()) if name == "ffmpeg"]


def test_abort_stops_a_running_transcode_and_keeps_the_finished_snapshot(rig: Rig, clip: ClipFactory) -> None:
    # Given a task whose snapshot is done and whose long transcode is running on a worker
    task_id = rig.create(
        clip(duration=6.0, width=640, height=360),
        [("SnapshotByTimeOffset", SNAPSHOT), ("Transcode", SLOW_TRANSCODE)],
    )
    worker = rig.worker()
    _deliver(worker, task_id, 0)
    running = threading.Thread(target=_deliver, args=(worker, task_id, 1))
    running.start()
    assert wait_until(_ffmpegs, 30), "the transcode's ffmpeg started"

    # When the task is aborted
    rig.lifecycle.abort(task_id)

    # Then no ffmpeg is left within 10 s, the snapshot's outputs stay, and one FINISH event is queued
    assert wait_until(lambda: not _ffmpegs(), 10), "ffmpeg outlived the abort"
    running.join(30)
    task = rig.store.get_task(task_id)
    assert (task.status, task.err_code) == ("FINISH", ABORTED_ERR_CODE)
    snapshot, transcode = rig.store.get_subtasks(task_id)
    assert snapshot.status == "SUCCESS" and transcode.status == "FAIL"
    assert (transcode.result or {})["TranscodeTask"]["ErrCodeExt"] == "FailedOperation.Aborted"
    picture = (snapshot.result or {})["SnapshotByTimeOffsetTask"]["Output"]["PicInfoSet"][0]["Path"]
    assert rig.storage.head(rig.bucket, picture.lstrip("/")) is not None
    assert not [info for info in rig.storage.list(rig.bucket, "out/") if info.key.endswith(".mp4")]
    assert len(rig.store.list_events(task_id)) == 1
    history = [(h.event, h.index) for h in rig.store.task_history(task_id)]
    assert history[-2:] == [("aborted", 1), ("finished", None)]
    assert ("succeeded", 0) in history and ("started", 1) in history
    with pytest.raises(MpsError) as again:
        rig.lifecycle.abort(task_id)
    assert again.value.code == "FailedOperation"


def test_redo_runs_only_the_failed_subtask_again_once_its_watermark_exists(
    rig: Rig, clip: ClipFactory, logo_png: Path
) -> None:
    # Given a task whose watermarked transcode failed for want of its image, beside a snapshot
    logo = {
        "Type": "COS",
        "CosInputInfo": {"Bucket": rig.bucket, "Region": "r", "Object": "/assets/logo.png"},
    }
    watermarked = {
        **SLOW_TRANSCODE,
        "WatermarkSet": [
            {
                "Definition": 0,
                "RawParameter": {
                    "Type": "image",
                    "CoordinateOrigin": "TopLeft",
                    "XPos": "0px",
                    "YPos": "0px",
                    "ImageTemplate": {"ImageContent": logo, "Width": "32px"},
                },
            }
        ],
    }
    task_id = rig.create(
        clip(duration=1.0, width=320, height=180),
        [("SnapshotByTimeOffset", SNAPSHOT), ("Transcode", watermarked)],
    )
    worker = rig.worker()
    _deliver(worker, task_id, 0)
    _deliver(worker, task_id, 1)
    assert [s.status for s in rig.store.get_subtasks(task_id)] == ["SUCCESS", "FAIL"]
    assert rig.store.get_task(task_id).status == "FINISH"

    # When the image is uploaded and the task redone
    rig.storage.put(rig.bucket, "assets/logo.png", logo_png)
    rig.lifecycle.redo(task_id)
    broker = StubBroker()
    OutboxRelay(rig.store, broker).run_once()  # the redo's work message, as the relay sends it
    (message,) = broker.messages(broker.work_queue)
    worker(Delivery(message.body))

    # Then only the failed sub-task ran again, under the same TaskId, and the task finished again
    task = rig.store.get_task(task_id)
    snapshot, transcode = rig.store.get_subtasks(task_id)
    assert (task.status, task.err_code) == ("FINISH", 0)
    assert (snapshot.status, snapshot.attempts) == ("SUCCESS", 1)
    assert (transcode.status, transcode.attempts) == ("SUCCESS", 2)
    finish_events = [e for e in rig.store.list_events(task_id) if e.target.kind == "exchange"]
    assert len(finish_events) == 2, "a new completion event follows the redo"
    history = rig.store.task_history(task_id)
    events = [(h.event, h.index, h.attempt) for h in history]
    assert events.count(("finished", None, None)) == 2
    redone = next(i for i, h in enumerate(history) if h.event == "ready" and h.detail.get("Redo"))
    after = [event for event in events[redone:] if event[0] != "delivered"]  # the relay sent its work message
    assert after == [("ready", 1, None), ("started", 1, 2), ("succeeded", 1, 2), ("finished", None, None)]
    with pytest.raises(MpsError) as nothing:
        rig.lifecycle.redo(task_id)
    assert nothing.value.code == "FailedOperation"


def test_an_activity_rides_out_a_15_second_outage_of_the_object_store(
    tmp_path: Path, clip: ClipFactory
) -> None:
    # Given an object store of its own, and an orchestration whose transcode retries
    with SeaweedServer() as store_server:
        rig = Rig(store_server, "outage", f"sqlite:///{tmp_path / 'mps.db'}", tmp_path / "work")
        rig.settings = rig.settings.model_copy(update={"x264_preset": "ultrafast"})
        rig.storage.ensure_bucket("outage")
        rig.storage.put("outage", "in/clip.mp4", clip(duration=2.0, width=320, height=180))
        activities = [
            {"ActivityType": "input", "ReardriveIndex": [1]},
            {
                "ActivityType": "action-trans",
                "ReardriveIndex": [2],
                "RetryPolicy": {"MaxAttempts": 3, "IntervalSeconds": 1},
                "ActivityPara": {"TranscodeTask": SLOW_TRANSCODE},
            },
            {"ActivityType": "output"},
        ]
        templates = StoreTemplates(TemplateCatalog(load_presets()), rig.store)
        request = {
            "InputInfo": {
                "Type": "COS",
                "CosInputInfo": {"Bucket": "outage", "Region": "r", "Object": "/in/clip.mp4"},
            },
            "OutputDir": "/out/",
            "Activities": activities,
        }
        broker = StubBroker()
        task_id, _ = submit_task(request, store=rig.store, broker=broker, templates=templates)
        with rig.stack:
            worker = rig.worker()
            # When the store goes away as soon as the worker has the input, for 15 s
            original_probe = worker.producer.executor.probe
            restarts: list[threading.Timer] = []

            def probe_then_outage(source: str) -> Any:
                meta = original_probe(source)
                store_server.stop()
                restarts.append(threading.Timer(15.0, store_server.start))
                restarts[-1].start()
                return meta

            worker.producer.executor.probe = probe_then_outage  # type: ignore[method-assign]
            for _ in range(6):  # the broker's redeliveries and the relay's releases, by hand
                for message in broker.messages(broker.work_queue):
                    try:
                        worker(Delivery(message.body, redelivered=True, attempts=2))
                    except MpsError:
                        time.sleep(2)  # a transient failure: the broker would redeliver
                broker = StubBroker()
                OutboxRelay(rig.store, broker).run_once()
                if rig.store.get_task(task_id).status == "FINISH" or not broker.messages(broker.work_queue):
                    break
            assert wait_until(lambda: rig.store.get_task(task_id).status == "FINISH", 5)
            for restart in restarts:  # the server is fully back before the test stops it
                restart.join(60)

        # Then the activity succeeded after the outage, and the bucket holds what its result says
        transcode = rig.store.get_subtasks(task_id)[1]
        assert transcode.status == "SUCCESS"
        output = (transcode.result or {})["TranscodeTask"]["Output"]
        local = tmp_path / "out.mp4"
        rig.storage.get("outage", output["Path"].lstrip("/"), local)
        assert local.stat().st_size == output["Size"]
        history = [h.event for h in rig.store.task_history(task_id) if h.event != "delivered"]
        assert history[-2:] == ["succeeded", "finished"]
        rig.store.close()
