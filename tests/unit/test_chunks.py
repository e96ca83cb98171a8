"""Chunked transcodes (MPS_SEGMENT_SECONDS) in flat tasks and orchestrations, on real ffmpeg with the
memory twins and the stub broker: what a client sees is the unchunked transcode; chunks never show;
an orchestration's successors wait for the join; abort, a failed chunk and Redo behave.
(tests/integration/test_chunked_service.py runs chunks on SeaweedFS, SQLite and PostgreSQL.)"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mps.app import work_handler
from mps.errors import InvalidParameterError
from mps.media.ops.segments import Chunk
from mps.storage import MemoryStorage
from mps.worker.handler import WorkHandler
from mps.workflow.chunks import CHUNK_FOLDER, CHUNK_KIND, ChunkJob, chunk_jobs, release_parents
from mps.workflow.lifecycle import Lifecycle
from tests.conftest import ClipFactory
from tests.media.test_segments import packets
from tests.unit.test_orchestration import BUCKET, EXCHANGE, Rig

SEGMENT = 1.5


def _transcode(width: int) -> dict[str, Any]:
    return {
        "Definition": 0,
        "RawParameter": {
            "Container": "mp4",
            "VideoTemplate": {"Codec": "libx264", "Bitrate": 300, "Width": width, "Height": 0, "Gop": 50},
            "AudioTemplate": {"Codec": "libfdk_aac", "Bitrate": 48, "SampleRate": 44100, "AudioChannel": 2},
        },
    }


class FlakyStorage(MemoryStorage):
    """Refuses, for good, the upload of the first chunk file it is given (a media-like failure)."""

    refused: list[str]

    def put(self, bucket: str, key: str, src: Path, **kwargs: Any) -> Any:
        if key.startswith(CHUNK_FOLDER) and not self.refused:
            self.refused.append(key)
            raise InvalidParameterError("refused by the test")
        return super().put(bucket, key, src, **kwargs)


@pytest.fixture
def film(clip: ClipFactory) -> Path:
    return clip(duration=6.0, gop=10)  # 150 frames, keyframes every 0.4 s: 4 chunks of ~1.5 s


def _rig(tmp_path: Path, storage: MemoryStorage | None = None) -> Rig:
    rig = Rig(tmp_path, storage=storage)
    rig.settings = rig.settings.model_copy(update={"segment_seconds": SEGMENT})
    return rig


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[tuple[Rig, WorkHandler]]:
    rig = _rig(tmp_path)
    with work_handler(rig.settings, rig.store, rig.storage) as handler:
        yield rig, handler


def _frames(rig: Rig, path: str, tmp_path: Path) -> int:
    local = tmp_path / Path(path).name
    rig.storage.get(rig.bucket, path.lstrip("/"), local)
    return len(packets(local, "v:0"))


def test_a_flat_task_gets_one_entry_per_transcode_as_if_unchunked(
    rig: tuple[Rig, WorkHandler], film: Path, tmp_path: Path
) -> None:
    rig_, handler = rig
    task_id = rig_.submit(
        film,
        MediaProcessTask={
            "TranscodeTaskSet": [_transcode(320), _transcode(160)],
            "SnapshotByTimeOffsetTaskSet": [{"Definition": 10, "TimeOffsetSet": [1.0]}],
        },
    )
    rig_.run(handler, task_id)

    task, subtasks = rig_.store.get_task_detail(task_id)
    chunks = [s for s in subtasks if s.kind == CHUNK_KIND]
    assert len(chunks) == 2 * 5, "both transcodes were cut: 4 video chunks and the audio each"
    assert {ChunkJob.from_input(s.input).parent for s in chunks} == {0, 1}
    entries = (task.workflow_task or {})["MediaProcessResultSet"]
    assert [e["Type"] for e in entries] == ["Transcode", "Transcode", "SnapshotByTimeOffset"]
    assert all(next(v for k, v in e.items() if k != "Type" and v)["Status"] == "SUCCESS" for e in entries)
    widths = [e["TranscodeTask"]["Output"]["Width"] for e in entries[:2]]
    assert widths == [320, 160]
    for entry in entries[:2]:
        assert _frames(rig_, entry["TranscodeTask"]["Output"]["Path"], tmp_path) == 150
    assert list(rig_.storage.list(BUCKET, CHUNK_FOLDER + "/")) == []


def test_an_orchestration_runs_the_successor_of_a_chunked_transcode_after_its_join(
    rig: tuple[Rig, WorkHandler], film: Path, tmp_path: Path
) -> None:
    rig_, handler = rig
    activities = [
        {"ActivityType": "input", "ReardriveIndex": [1]},
        {"ActivityType": "action-trans", "ReardriveIndex": [2],
         "ActivityPara": {"TranscodeTask": _transcode(320)}},
        {"ActivityType": "action-snapshotByTimeOffset", "ReardriveIndex": [3],
         "ActivityPara": {"SnapshotByTimeOffsetTask": {"Definition": 10, "TimeOffsetSet": [0.5]}}},
        {"ActivityType": "output"},
    ]  # fmt: skip
    task_id = rig_.submit(film, Activities=activities)
    rig_.run(handler, task_id)

    task, subtasks = rig_.store.get_task_detail(task_id)
    assert task.err_code == 0
    results = (task.workflow_task or {})["ActivityResultSet"]
    assert [r["ActivityType"] for r in results] == ["Transcode", "SnapshotByTimeOffset"]
    transcode = results[0]["ActivityResItem"]["TranscodeTask"]
    assert _frames(rig_, transcode["Output"]["Path"], tmp_path) == 150
    by_index = {s.index: s for s in subtasks}
    join_done = by_index[1].finish_time
    assert join_done is not None and by_index[2].begin_time is not None
    assert by_index[2].begin_time >= join_done, "the snapshot waited for the join, not for the split"


def test_abort_while_chunks_run_ends_them_and_the_task(rig: tuple[Rig, WorkHandler], film: Path) -> None:
    rig_, handler = rig
    task_id = rig_.submit(film, MediaProcessTask={"TranscodeTaskSet": [_transcode(320)]})
    # The split only: one message through the worker (the chunks' messages wait in the outbox)
    with rig_.broker.consumer(rig_.broker.work_queue, handler, prefetch=1):
        rig_.broker.join(rig_.broker.work_queue, timeout=60)
    assert rig_.store.get_subtasks(task_id)[0].status == "PENDING"

    Lifecycle(rig_.store, EXCHANGE).abort(task_id)

    task, subtasks = rig_.store.get_task_detail(task_id)
    assert task.status == "FINISH" and all(s.status == "FAIL" for s in subtasks)
    entries = (task.workflow_task or {})["MediaProcessResultSet"]
    assert [e["TranscodeTask"]["ErrCodeExt"] for e in entries] == ["FailedOperation.Aborted"]
    rig_.relay.run_once()  # the chunks' messages arrive after the abort: dropped, nothing runs
    with rig_.broker.consumer(rig_.broker.work_queue, handler, prefetch=1):
        rig_.broker.join(rig_.broker.work_queue, timeout=60)
    assert all(s.attempts == 0 for s in rig_.store.get_subtasks(task_id) if s.kind == CHUNK_KIND)


def test_a_chunk_that_fails_fails_its_transcode_and_redo_cuts_it_again(tmp_path: Path, film: Path) -> None:
    storage = FlakyStorage([BUCKET])
    storage.refused = []
    rig = _rig(tmp_path, storage)
    with work_handler(rig.settings, rig.store, rig.storage) as handler:
        task_id = rig.submit(film, MediaProcessTask={"TranscodeTaskSet": [_transcode(320)]})
        rig.run(handler, task_id)

        task = rig.store.get_task(task_id)
        entry = (task.workflow_task or {})["MediaProcessResultSet"][0]["TranscodeTask"]
        assert entry["Status"] == "FAIL" and entry["ErrCodeExt"] == "InvalidParameterValue"
        assert entry["Message"].startswith("a chunk failed: refused by the test")

        Lifecycle(rig.store, EXCHANGE).redo(task_id)
        rig.run(handler, task_id)

    task, subtasks = rig.store.get_task_detail(task_id)
    entry = (task.workflow_task or {})["MediaProcessResultSet"][0]["TranscodeTask"]
    assert entry["Status"] == "SUCCESS"
    splits = {ChunkJob.from_input(s.input).split for s in subtasks if s.kind == CHUNK_KIND}
    assert len(splits) == 2, "Redo cut the transcode again (a second generation of chunks)"
    assert _frames(rig, entry["Output"]["Path"], tmp_path) == 150


def test_only_the_newest_split_releases_its_parent() -> None:
    from datetime import UTC, datetime

    from mps.store.base import SubtaskRecord, TaskRecord

    now = datetime(2026, 1, 1, tzinfo=UTC)
    task = TaskRecord("t", "PROCESSING", {}, None, None, 0, "", None, "", None, 0, None, now, now, None)

    def row(index: int, kind: str, status: str, data: dict[str, Any]) -> SubtaskRecord:
        return SubtaskRecord("t", index, kind, status, data, None, 0, 1, now, None)  # type: ignore[arg-type]

    old = chunk_jobs(0, 1, [Chunk(0, 0.0, 0, 10)], audio=False)
    new = chunk_jobs(0, 3, [Chunk(0, 0.0, 0, 5), Chunk(1, 0.2, 5, 5)], audio=True)
    rows = [
        row(0, "Transcode", "PENDING", {}),
        row(1, CHUNK_KIND, "PROCESSING", old[0].to_input()),  # a straggler of the first split
        *[row(2 + i, CHUNK_KIND, "SUCCESS", job.to_input()) for i, job in enumerate(new)],
    ]
    followup = release_parents(task, rows)
    assert dict(followup.updates) == {0: "WAITING"}
    assert [payload["message"]["indexes"] for _, payload in followup.events] == [[0]]

    rows[-1] = row(4, CHUNK_KIND, "PROCESSING", new[-1].to_input())
    assert release_parents(task, rows).updates == {}


def test_a_ladder_is_chunked_through_the_workers_and_reports_one_entry(
    rig: tuple[Rig, WorkHandler], clip: ClipFactory, tmp_path: Path
) -> None:
    rig_, handler = rig
    source = clip(duration=10.0, gop=10)  # 4 s segments (preset 10): chunks at 0 and 4 s (8-10 folds in)
    task_id = rig_.submit(source, MediaProcessTask={"AdaptiveDynamicStreamingTaskSet": [{"Definition": 10}]})
    rig_.run(handler, task_id)

    task, subtasks = rig_.store.get_task_detail(task_id)
    chunks = [ChunkJob.from_input(s.input) for s in subtasks if s.kind == CHUNK_KIND]
    assert [job.chunk.start if job.chunk else None for job in chunks] == [None, 0.0, 4.0]
    entries = (task.workflow_task or {})["MediaProcessResultSet"]
    assert len(entries) == 1
    item = entries[0]["AdaptiveDynamicStreamingTask"]
    assert item["Status"] == "SUCCESS" and item["Output"]["Path"].endswith(".m3u8")
    master = tmp_path / "master.m3u8"
    rig_.storage.get(BUCKET, item["Output"]["Path"].lstrip("/"), master)
    rung = next(line for line in master.read_text().splitlines() if line and not line.startswith("#"))
    folder = item["Output"]["Path"].lstrip("/").rsplit("/", 1)[0]
    playlist = tmp_path / "rung.m3u8"
    rig_.storage.get(BUCKET, f"{folder}/{rung}", playlist)
    segments = [line for line in playlist.read_text().splitlines() if line and not line.startswith("#")]
    assert len(segments) == 3  # 4 + 4 + 2 s, as one run cuts them
    joined = tmp_path / "rung.ts"
    with joined.open("wb") as out:
        for name in segments:
            part = tmp_path / "part.ts"
            rig_.storage.get(BUCKET, f"{folder}/{name}", part)
            out.write(part.read_bytes())
    assert len(packets(joined, "v:0")) == 250
    assert list(rig_.storage.list(BUCKET, CHUNK_FOLDER + "/")) == []
