"""Chunked transcodes across workers (MPS_SEGMENT_SECONDS): a 6 s clip cut into 1.5 s chunks that
two workers encode, joined by whichever takes the transcode's join; on real ffmpeg, SeaweedFS and
SQLite / PostgreSQL. What a client gets must be the unchunked transcode: every frame, the duration,
audio without gaps, one result entry; and a worker lost mid-chunk costs that chunk only."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from mps.app import work_handler
from mps.broker import Delivery
from mps.storage import S3Storage
from mps.store import NewSubtask, NewTask, SqlTaskStore, new_task_id
from mps.worker.handler import WorkHandler
from mps.workflow.chunks import CHUNK_FOLDER, CHUNK_KIND
from mps.workflow.merge import merge_task
from mps.workflow.messages import WorkMessage
from mps.workflow.notify import WORK
from tests.conftest import ClipFactory
from tests.integration.conftest import service_settings
from tests.media.test_segments import FRAME, packets, top_level_boxes
from tests.seaweed import SeaweedServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TRANSCODE = {
    "Definition": 0,
    "RawParameter": {
        "Container": "mp4",
        "VideoTemplate": {"Codec": "libx264", "Bitrate": 600, "Gop": 50},
        "AudioTemplate": {"Codec": "libfdk_aac", "Bitrate": 64, "SampleRate": 48000, "AudioChannel": 2},
    },
}
SEGMENT = 1.5


class ReadingStorage(S3Storage):
    """The real S3 store, remembering which keys this worker downloaded."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.read: list[str] = []

    def get(self, bucket: str, key: str, dest: Path) -> Any:
        self.read.append(key)
        return super().get(bucket, key, dest)


class Cluster:
    """One task store and one object store; workers built on demand; work messages read from the
    outbox (what the relay would publish) and handed to whichever worker the test picks."""

    def __init__(self, seaweed: SeaweedServer, bucket: str, database_url: str, work_dir: Path) -> None:
        self.bucket, self.work_dir = bucket, work_dir
        self.settings = service_settings(
            seaweed,
            database_url,
            work_dir,
            segment_seconds=SEGMENT,
            subtask_lease=3.0,
        )
        self.store = SqlTaskStore(database_url)
        self.stack = ExitStack()
        self.sent: set[int] = set()

    def storage(self) -> ReadingStorage:
        s = self.settings
        return ReadingStorage(s.s3_endpoint_url, s.s3_access_key, s.s3_secret_key, s.s3_region)

    def worker(self, storage: S3Storage | None = None) -> WorkHandler:
        storage = storage if storage is not None else self.storage()
        return self.stack.enter_context(work_handler(self.settings, self.store, storage))

    def create(self, source: Path) -> str:
        self.storage().put(self.bucket, "in/film.mp4", source)
        request = {
            "InputInfo": {
                "Type": "COS",
                "CosInputInfo": {"Bucket": self.bucket, "Region": "r", "Object": "/in/film.mp4"},
            },
            "OutputDir": "/out/",
        }
        task_id = new_task_id()
        self.store.create_task(NewTask(task_id, request, subtasks=[NewSubtask("Transcode", TRANSCODE)]))
        return task_id

    def queued(self, task_id: str) -> list[int]:
        """Indexes of the work messages the outbox holds that no worker was handed yet."""
        fresh = []
        for row in self.store.list_events(task_id):
            if row.target.kind == WORK and row.id not in self.sent:
                self.sent.add(row.id)
                fresh.extend(row.payload["message"]["indexes"])
        return fresh

    def stored(self, key: str) -> Path:
        local = self.work_dir / f"fetched-{Path(key).name}"
        self.storage().get(self.bucket, key.lstrip("/"), local)
        return local


def deliver(worker: WorkHandler, task_id: str, index: int, **kwargs: Any) -> None:
    worker(Delivery(WorkMessage(task_id=task_id, indexes=(index,)).model_dump_json().encode(), **kwargs))


@pytest.fixture
def cluster(seaweed: SeaweedServer, bucket: str, database_url: str, tmp_path: Path) -> Iterator[Cluster]:
    cluster = Cluster(seaweed, bucket, database_url, tmp_path)
    with cluster.stack:
        yield cluster
    cluster.store.close()


@pytest.fixture(scope="module")
def film(clip: ClipFactory) -> Path:
    return clip(duration=6.0, gop=10)  # keyframes every 0.4 s: chunks start at 0, 1.6, 3.2, 4.8 s


def test_two_workers_make_the_unchunked_output_from_chunks(cluster: Cluster, film: Path) -> None:
    # Given a transcode of a 6 s film with 1.5 s segments
    task_id = cluster.create(film)
    reads = cluster.storage()
    first, second = cluster.worker(), cluster.worker(reads)

    # When one worker takes the transcode
    deliver(first, task_id, 0)

    # Then it is split: 4 video chunks and the audio, each with its own work message
    subtasks = cluster.store.get_subtasks(task_id)
    assert subtasks[0].status == "PENDING"
    chunks = [s for s in subtasks if s.kind == CHUNK_KIND]
    starts = [s.input.get("Chunk", {}).get("Start") for s in chunks]
    assert starts == pytest.approx([None, 0.0, 1.6, 3.2, 4.8])
    assert sorted(cluster.queued(task_id)) == [s.index for s in chunks]
    assert (
        merge_task(cluster.store.get_task(task_id), subtasks).to_wire()["MediaProcessResultSet"][0][
            "TranscodeTask"
        ]["Status"]
        == "PROCESSING"
    )

    # When two workers take the chunks in turn, then the join that the last chunk released
    for n, index in enumerate(s.index for s in chunks):
        deliver((first, second)[n % 2], task_id, index)
        progress = cluster.store.get_subtasks(task_id)[0].progress
        assert progress == int(99 * (n + 1) / len(chunks)) or n == len(chunks) - 1
    assert cluster.queued(task_id) == [0], "the last chunk's commit released the join"
    deliver(second, task_id, 0)

    # Then the task finished with one Transcode entry, the output of an unchunked encode
    task, subtasks = cluster.store.get_task_detail(task_id)
    assert task.status == "FINISH" and task.err_code == 0
    wire = merge_task(task, subtasks).to_wire()
    assert [entry["Type"] for entry in wire["MediaProcessResultSet"]] == ["Transcode"]
    output = wire["MediaProcessResultSet"][0]["TranscodeTask"]["Output"]
    assert output["Path"].startswith("/out/") and output["Path"].endswith(".mp4")
    joined = cluster.stored(output["Path"])
    data = joined.read_bytes()
    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    assert (output["Size"], output["Md5"]) == (len(data), md5)
    video = packets(joined, "v:0")
    assert len(video) == len(packets(film, "v:0")) == 150
    assert sorted(p["pts_time"] for p in video) == pytest.approx([n * FRAME for n in range(150)], abs=1e-3)
    end = max(p["pts_time"] + p["duration_time"] for p in video)
    assert end == pytest.approx(6.0, abs=FRAME)
    assert output["Duration"] == pytest.approx(6.0, abs=0.05)
    audio = packets(joined, "a:0")
    for before, after in zip(audio, audio[1:], strict=False):  # no gap at any join
        assert after["pts_time"] == pytest.approx(before["pts_time"] + before["duration_time"], abs=1e-4)
    assert audio[-1]["pts_time"] + audio[-1]["duration_time"] == pytest.approx(6.0, abs=0.025)
    assert top_level_boxes(joined).count("moov") == 1

    # And the worker that made video chunks and the join never downloaded the film: it read its
    # slices by ranges, and the join needs only the chunks
    assert "in/film.mp4" not in reads.read
    assert any("/chunk00000/" in key for key in reads.read), "the join fetched the chunks"

    # And the chunk files are gone from the bucket; the history says the transcode was split
    assert list(cluster.storage().list(cluster.bucket, CHUNK_FOLDER + "/")) == []
    events = [(h.event, h.index) for h in cluster.store.task_history(task_id)]
    assert ("split", 0) in events and ("succeeded", 0) in events


def test_a_worker_lost_mid_chunk_costs_that_chunk(cluster: Cluster, film: Path) -> None:
    # Given a split transcode, and a worker that took chunk 2 and died (its lease will run out)
    task_id = cluster.create(film)
    worker = cluster.worker()
    deliver(worker, task_id, 0)
    chunks = cluster.queued(task_id)
    lost = chunks[2]  # the second video chunk (the audio job goes first)
    assert cluster.store.start_subtask(task_id, lost, "dead-worker", timedelta(seconds=1)) is not None

    # When the other chunks run, and the dead worker's message comes back after its lease ran out
    for index in chunks:
        deliver(worker, task_id, index)  # the lost one is dropped: a live lease holds it
    assert cluster.store.get_subtasks(task_id)[lost].status == "PROCESSING"
    time.sleep(1.2)
    deliver(worker, task_id, lost, redelivered=True)
    assert cluster.queued(task_id) == [0]
    deliver(worker, task_id, 0)

    # Then only that chunk ran twice, and the output has every frame
    subtasks = cluster.store.get_subtasks(task_id)
    assert {s.index: s.attempts for s in subtasks if s.kind == CHUNK_KIND} == {
        index: 2 if index == lost else 1 for index in chunks
    }
    assert cluster.store.get_task(task_id).status == "FINISH"
    output = subtasks[0].result["TranscodeTask"]["Output"]  # type: ignore[index]
    assert len(packets(cluster.stored(output["Path"]), "v:0")) == 150


def test_a_short_input_is_not_split(cluster: Cluster, clip: ClipFactory) -> None:
    # Given an input shorter than two segments
    task_id = cluster.create(clip(duration=2.5, gop=10))

    # When a worker takes its transcode, it encodes it whole
    deliver(cluster.worker(), task_id, 0)
    subtasks = cluster.store.get_subtasks(task_id)
    assert [s.kind for s in subtasks] == ["Transcode"]
    assert cluster.store.get_task(task_id).status == "FINISH"
