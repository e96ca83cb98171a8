"""Chunked transcodes in the service: one long transcode as chunk sub-tasks on many workers.

A Transcode sub-task (the *parent*) that :func:`~mps.media.ops.segments.chunkable` allows, of an
input longer than twice ``MPS_SEGMENT_SECONDS``, is not encoded by the worker that starts it. That
worker *splits* it instead (:meth:`~mps.workflow.lifecycle.Lifecycle.split`), in one transaction:

- the parent goes ``PENDING`` (no lease: nothing runs it until its chunks are done);
- one hidden sub-task of kind :data:`CHUNK_KIND` per chunk of video, and one for the audio
  (encoded once, whole: :mod:`mps.media.ops.segments` says why), are appended to the task;
- their work messages are outbox rows of the same transaction.

Chunk sub-tasks are ordinary sub-tasks to everything that moves work: any worker takes one, holds
it with a lease and a fence, uploads its file under :func:`chunk_key` and commits it; a worker lost
mid-chunk costs that chunk (its lease runs out and another attempt takes it), never the film. The
commit of the last chunk releases the parent (:func:`release_parents`, the Followup of that
commit): it goes ``WAITING`` with its work message in the same transaction, and the worker that
takes it *joins* the chunks (``-c copy``) into the parent's output, uploads it under the parent's
usual key and commits the parent's result, which is what the unchunked transcode would have
reported. The chunk objects are deleted once the parent is committed.

Chunk sub-tasks never show on the wire: the merged WorkflowTask (or ScheduleTask) and the events
leave them out (:func:`is_hidden`); the parent's ``Progress`` counts its finished chunks.

Generations: a split numbers its chunk rows with the parent's attempt (``Split``). Only the newest
generation counts; a Redo of a parent that failed because a chunk failed splits it again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mps.media.ops.segments import Chunk
from mps.store.base import FINAL_SUBTASK_STATUSES, Followup, JsonDict, NewSubtask, SubtaskRecord, TaskRecord
from mps.workflow.messages import work_row

#: The kind of a chunk sub-task (never in a result set, never a Tencent kind).
CHUNK_KIND = "chunk"
#: The result ``Type`` a chunk sub-task commits (kept in the store only).
CHUNK_RESULT = "Chunk"
#: The folder of the chunk objects in the parent's output bucket (removed after the join).
CHUNK_FOLDER = ".mps-chunks"


@dataclass(frozen=True)
class ChunkJob:
    """What one chunk sub-task encodes: ``chunk`` of the video, or the whole audio (None).

    Attributes:
        parent: the Transcode sub-task it is a part of.
        split: the generation (the parent's attempt that split it).
        count: the video chunks of this split.
        chunk: the frames to encode, or None for the audio job.
    """

    parent: int
    split: int
    count: int
    chunk: Chunk | None

    @property
    def name(self) -> str:
        """The folder of its files (``chunk00003``, ``audio``)."""
        return "audio" if self.chunk is None else f"chunk{self.chunk.index:05d}"

    def to_input(self) -> JsonDict:
        """The sub-task's stored ``input``."""
        row: JsonDict = {"Parent": self.parent, "Split": self.split, "Count": self.count}
        if self.chunk is None:
            row["Audio"] = True
        else:
            c = self.chunk
            row["Chunk"] = {"Index": c.index, "Start": c.start, "First": c.first, "Frames": c.frames}
        return row

    @classmethod
    def from_input(cls, row: JsonDict) -> ChunkJob:
        """The job a chunk sub-task's stored ``input`` describes."""
        given = row.get("Chunk")
        chunk = (
            Chunk(
                index=int(given["Index"]),
                start=float(given["Start"]),
                first=int(given["First"]),
                frames=int(given["Frames"]),
            )  # fmt: skip
            if given
            else None
        )
        return cls(parent=int(row["Parent"]), split=int(row["Split"]), count=int(row["Count"]), chunk=chunk)


def chunk_jobs(parent: int, split: int, chunks: Sequence[Chunk], audio: bool) -> list[ChunkJob]:
    """The jobs of one split, in the order their work messages go out: the audio job first when
    there is audio, then the video chunks in order.

    Audio first: it is the longest job (a whole film's AAC encode costs about three 30 s chunks of
    1080p video), and the longest job started last is what leaves workers idle at the end (measured
    on 2 workers: 37 s of a 246 s run with audio last).
    """
    jobs = [ChunkJob(parent, split, len(chunks), chunk) for chunk in chunks]
    return ([ChunkJob(parent, split, len(chunks), None)] if audio else []) + jobs


def chunk_rows(jobs: Sequence[ChunkJob]) -> list[NewSubtask]:
    """The sub-tasks a split appends, one per job, WAITING."""
    return [NewSubtask(CHUNK_KIND, job.to_input()) for job in jobs]


def chunk_key(task_id: str, job: ChunkJob, file_name: str) -> str:
    """Where one file of a chunk job is kept in the parent's output bucket until the join."""
    return f"{CHUNK_FOLDER}/{task_id}/{job.parent}/{job.split}/{job.name}/{file_name}"


def chunk_result(bucket: str, files: dict[str, str], size: int) -> JsonDict:
    """What a chunk sub-task commits when it succeeded: where its files are (name -> key)."""
    done = {"ErrCode": 0, "Message": "SUCCESS", "Bucket": bucket, "Files": files, "Size": size}
    return {"Type": CHUNK_RESULT, "ChunkTask": done}


def chunk_failure(code: str, err_code: int, message: str) -> JsonDict:
    """What a chunk sub-task commits when it failed (the parent fails with the same error)."""
    return {"Type": CHUNK_RESULT, "ChunkTask": {"ErrCode": err_code, "ErrCodeExt": code, "Message": message}}


def is_hidden(record: SubtaskRecord) -> bool:
    """Whether a sub-task is a chunk (left out of everything the client sees)."""
    return record.kind == CHUNK_KIND


def visible(subtasks: Sequence[SubtaskRecord]) -> list[SubtaskRecord]:
    """The sub-tasks a client sees: all but the chunks."""
    return [record for record in subtasks if not is_hidden(record)]


def chunks_of(subtasks: Sequence[SubtaskRecord], parent: int) -> list[tuple[SubtaskRecord, ChunkJob]]:
    """The chunk sub-tasks of ``parent``'s newest split, in index order (:func:`chunk_jobs`'s)."""
    jobs = [(r, ChunkJob.from_input(r.input)) for r in subtasks if is_hidden(r)]
    mine = [(r, job) for r, job in jobs if job.parent == parent]
    if not mine:
        return []
    newest = max(job.split for _, job in mine)
    return sorted(((r, job) for r, job in mine if job.split == newest), key=lambda pair: pair[0].index)


def split_parents(subtasks: Sequence[SubtaskRecord]) -> set[int]:
    """The sub-tasks that were split into chunks (an orchestration's DAG must not release them)."""
    return {ChunkJob.from_input(r.input).parent for r in subtasks if is_hidden(r)}


def release_parents(task: TaskRecord, subtasks: list[SubtaskRecord]) -> Followup:
    """The Followup of a chunk's commit: every split parent whose newest chunks are all final goes
    ``WAITING`` with its work message (the join), in the commit's transaction."""
    ready = []
    for parent in sorted(split_parents(subtasks)):
        record = next((r for r in subtasks if r.index == parent), None)
        chunks = chunks_of(subtasks, parent)
        done = all(r.status in FINAL_SUBTASK_STATUSES for r, _ in chunks)
        if record is not None and record.status == "PENDING" and done:
            ready.append(parent)
    events = [work_row(task.task_id, (index,), task.priority) for index in ready]
    return Followup(updates=dict.fromkeys(ready, "WAITING"), events=events)


def chunk_progress(subtasks: Sequence[SubtaskRecord], parent: int) -> int:
    """The parent's progress while its chunks run: the share of them that are final, in percent
    (the join, a copy, is quick)."""
    chunks = chunks_of(subtasks, parent)
    if not chunks:
        return 0
    return int(99 * sum(r.status in FINAL_SUBTASK_STATUSES for r, _ in chunks) / len(chunks))


__all__ = [
    "CHUNK_FOLDER",
    "CHUNK_KIND",
    "ChunkJob",
    "chunk_failure",
    "chunk_jobs",
    "chunk_key",
    "chunk_progress",
    "chunk_result",
    "chunk_rows",
    "chunks_of",
    "is_hidden",
    "release_parents",
    "split_parents",
    "visible",
]
