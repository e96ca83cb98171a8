"""Two runs of one sub-task never overlap, and the bucket holds exactly what the committed result
describes: overlaps forced on real ffmpeg, the real object store (SeaweedFS) and the real databases."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from mps.app import work_handler
from mps.broker import Delivery
from mps.errors import StorageUnavailableError
from mps.storage import S3Storage
from mps.store import NewSubtask, NewTask, SqlTaskStore, new_task_id
from mps.store.schema import subtasks
from mps.worker.handler import WorkHandler
from mps.workflow.messages import WorkMessage
from tests.conftest import ClipFactory
from tests.integration.conftest import service_settings
from tests.processes import children, wait_until
from tests.seaweed import SeaweedServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

#: Slow enough to be overlapped in the middle (a few seconds), small enough to stay cheap.
TRANSCODE = {
    "Definition": 0,
    "RawParameter": {
        "Container": "mp4",
        "RemoveAudio": 1,
        "VideoTemplate": {"Codec": "libx264", "Fps": 25, "Bitrate": 800, "Width": 640, "Height": 360},
    },
}
LEASE = timedelta(seconds=3)


class RecordingStorage(S3Storage):
    """The real S3 store, remembering which keys this worker wrote."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.written: list[str] = []

    def put(self, bucket: str, key: str, path: Path, *args: Any, **kwargs: Any) -> Any:
        self.written.append(key)
        return super().put(bucket, key, path, *args, **kwargs)


class Cluster:
    """One task store and one object store, shared by workers built on demand."""

    def __init__(self, seaweed: SeaweedServer, bucket: str, database_url: str, work_dir: Path) -> None:
        self.bucket = bucket
        self.settings = service_settings(
            seaweed,
            database_url,
            work_dir,
            x264_preset="slow",
            subtask_lease=LEASE.total_seconds(),
        )
        self.store = SqlTaskStore(database_url)
        self.stack = ExitStack()

    def storage(self) -> RecordingStorage:
        s = self.settings
        return RecordingStorage(s.s3_endpoint_url, s.s3_access_key, s.s3_secret_key, s.s3_region)

    def worker(self, storage: S3Storage) -> WorkHandler:
        return self.stack.enter_context(work_handler(self.settings, self.store, storage))

    def create(self, source: Path) -> str:
        storage = self.storage()
        storage.put(self.bucket, "in/clip.mp4", source)
        request = {
            "InputInfo": {
                "Type": "COS",
                "CosInputInfo": {"Bucket": self.bucket, "Region": "r", "Object": "/in/clip.mp4"},
            },
            "OutputDir": "/out/",
        }
        task_id = new_task_id()
        self.store.create_task(NewTask(task_id, request, subtasks=[NewSubtask("Transcode", TRANSCODE)]))
        return task_id

    def committed_output(self, task_id: str) -> dict[str, Any]:
        result = self.store.get_subtasks(task_id)[0].result
        assert result is not None and result["TranscodeTask"]["Status"] == "SUCCESS"
        output: dict[str, Any] = result["TranscodeTask"]["Output"]
        return output

    def stored_bytes(self, key: str) -> bytes:
        local = self.settings.work_dir / "fetched"
        self.storage().get(self.bucket, key.lstrip("/"), local)
        return local.read_bytes()


@pytest.fixture
def cluster(seaweed: SeaweedServer, bucket: str, database_url: str, tmp_path: Path) -> Iterator[Cluster]:
    cluster = Cluster(seaweed, bucket, database_url, tmp_path)
    with cluster.stack:
        yield cluster
    cluster.store.close()


def _message(task_id: str, **kwargs: Any) -> Delivery:
    return Delivery(WorkMessage(task_id=task_id, indexes=(0,)).model_dump_json().encode(), **kwargs)


def _in_background(handler: WorkHandler, delivery: Delivery) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            handler(delivery)
        except BaseException as exc:  # noqa: BLE001 - the test asserts on it
            errors.append(exc)

    thread = threading.Thread(target=run, name="mps-handler-under-test")
    thread.start()
    return thread, errors


def _ffmpegs() -> list[int]:
    import os

    return [pid for pid, name in children(os.getpid()) if name == "ffmpeg"]


def test_a_redelivered_copy_while_the_holder_runs_is_dropped(cluster: Cluster, clip: ClipFactory) -> None:
    # Given worker A running a transcode (RabbitMQ lost A's connection: the message comes back)
    task_id = cluster.create(clip(duration=4.0, width=640, height=360))
    first, second = cluster.storage(), cluster.storage()
    a, errors = _in_background(cluster.worker(first), _message(task_id))
    assert wait_until(_ffmpegs, 30), "worker A's ffmpeg started"

    # When worker B receives the redelivered copy while A still runs
    cluster.worker(second)(_message(task_id, redelivered=True))

    # Then B ran nothing, A finished, and the bucket holds what the committed result says
    a.join(120)
    assert errors == []
    assert second.written == []
    output = cluster.committed_output(task_id)
    stored = cluster.stored_bytes(output["Path"])
    assert (len(stored), hashlib.md5(stored).hexdigest()) == (output["Size"], output["Md5"])  # noqa: S324
    assert cluster.store.get_subtasks(task_id)[0].attempts == 1


def test_an_attempt_that_lost_its_lease_stops_and_uploads_nothing(
    cluster: Cluster, clip: ClipFactory
) -> None:
    # Given worker A running a transcode
    task_id = cluster.create(clip(duration=4.0, width=640, height=360))
    first, second = cluster.storage(), cluster.storage()
    a, errors = _in_background(cluster.worker(first), _message(task_id))
    assert wait_until(_ffmpegs, 30), "worker A's ffmpeg started"
    a_ffmpegs = _ffmpegs()

    # When A's lease runs out under it (A paused, or cut off from the store) and B takes the sub-task
    with cluster.store._engine.begin() as conn:
        conn.execute(sa.update(subtasks).where(subtasks.c.task_id == task_id).values(lease_until=None))
    b, b_errors = _in_background(cluster.worker(second), _message(task_id, redelivered=True))

    # Then A's ffmpeg is stopped within a renewal period, A uploads and commits nothing, B finishes
    assert wait_until(lambda: not set(a_ffmpegs) & set(_ffmpegs()), LEASE.total_seconds() + 2), "A stopped"
    a.join(60)
    b.join(120)
    assert errors == [] and b_errors == []
    assert first.written == [], "the fenced attempt wrote nothing to the bucket"
    assert second.written, "the holder uploaded its outputs"
    output = cluster.committed_output(task_id)
    stored = cluster.stored_bytes(output["Path"])
    assert (len(stored), hashlib.md5(stored).hexdigest()) == (output["Size"], output["Md5"])  # noqa: S324
    assert cluster.store.get_subtasks(task_id)[0].attempts == 2
    assert cluster.store.get_task(task_id).status == "FINISH"


def test_a_failed_upload_is_retried_with_the_outputs_already_made(
    cluster: Cluster, clip: ClipFactory
) -> None:
    # Given an object store that refuses the first two uploads
    task_id = cluster.create(clip(duration=1.0, width=320, height=180))
    flaky = cluster.storage()
    real_put = flaky.put
    refusals = [StorageUnavailableError("object store down"), StorageUnavailableError("object store down")]

    def put(*args: Any, **kwargs: Any) -> Any:
        if refusals:
            raise refusals.pop()
        return real_put(*args, **kwargs)

    flaky.put = put  # type: ignore[method-assign]
    handler = cluster.worker(flaky)
    handler.retry = handler.producer.retry = type(handler.retry)(delays=(0.1, 0.1, 0.1))
    ffmpeg_runs: list[object] = []
    runner = handler.producer.executor.runner
    real_run = runner.run

    def counting_run(*args: Any, **kwargs: Any) -> None:
        ffmpeg_runs.append(args[0])
        real_run(*args, **kwargs)

    runner.run = counting_run  # type: ignore[method-assign]

    # When the worker runs it
    handler(_message(task_id))

    # Then the transcode ran once, its upload was retried, and the result describes the stored file
    assert len(ffmpeg_runs) == 1 and refusals == []
    output = cluster.committed_output(task_id)
    stored = cluster.stored_bytes(output["Path"])
    assert (len(stored), hashlib.md5(stored).hexdigest()) == (output["Size"], output["Md5"])  # noqa: S324
