"""The worker's part of chunked transcodes: split a long transcode, encode a chunk, join them.

What moves between workers, and why a lost worker costs one chunk, is :mod:`mps.workflow.chunks`;
what each ffmpeg does is :mod:`mps.media.ops.segments`. Here:

- :meth:`ChunkWork.decide` tells, for a Transcode sub-task a worker just started, whether to run
  it as usual, to split it (a chunkable transcode of a long input, ``MPS_SEGMENT_SECONDS``), to
  join its chunks (they are all done), or to fail it (a chunk failed for good);
- :meth:`ChunkWork.split` lists the input's packets, plans the chunks and commits the split;
- :meth:`ChunkWork.encode` runs one chunk sub-task (a slice of the video, or the whole audio) and
  uploads its file;
- :meth:`ChunkWork.fetch` downloads a transcode's chunks for the join, which the executor runs as
  the transcode's operation (:func:`join_operation`), so the result entry is the one the unchunked
  transcode would have: same key, same probe-based facts.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from mps.errors import MpsError, ProcessingError
from mps.media.ops.segments import audio_command, chunk_command, chunkable, plan_chunks
from mps.media.specs import Subtask, TranscodeSpec
from mps.models import MediaInputInfo, MediaMetaData, MediaTranscodeItem, TranscodeTaskInput
from mps.runner import CancellableRunner
from mps.runner.packets import video_packets
from mps.storage import Storage
from mps.storage.base import TASK_METADATA_KEY
from mps.store.base import FINAL_SUBTASK_STATUSES, JsonDict, SubtaskRecord, TaskRecord
from mps.worker.fence import Fence
from mps.worker.retrying import Retrying
from mps.workflow.assets import AssetFetcher
from mps.workflow.chunks import ChunkJob, chunk_failure, chunk_jobs, chunk_key, chunk_result, chunks_of
from mps.workflow.context import OperationContext
from mps.workflow.execute import Operation
from mps.workflow.executor import Executor
from mps.workflow.kinds import KINDS
from mps.workflow.kinds.transcode import KIND as TRANSCODE
from mps.workflow.lifecycle import Lifecycle
from mps.workflow.operations.transcode import collect_transcode, prepare_transcode
from mps.workflow.resolve import SubtaskResolver
from mps.workflow.segments import join_chunks

log = logging.getLogger("mps.worker.chunked")


@dataclass(frozen=True)
class Split:
    """Cut the transcode into chunks (the input's packets are listed first)."""

    spec: TranscodeSpec


@dataclass(frozen=True)
class Join:
    """Its chunks are all done: join them into the transcode's output."""

    chunks: tuple[tuple[SubtaskRecord, ChunkJob], ...]


@dataclass(frozen=True)
class Failed:
    """A chunk failed for good: the transcode fails with its error."""

    result: JsonDict

    @property
    def error(self) -> MpsError:
        """The chunk's error, as the transcode reports it (same code, the message says a chunk)."""
        inner = self.result.get("ChunkTask") or {}
        why = str(inner.get("Message") or "no reason given")
        error = MpsError(f"a chunk failed: {why}", code=str(inner.get("ErrCodeExt") or "InternalError"))
        error.err_code = int(inner.get("ErrCode") or 0) or error.err_code
        return error


Decision = Split | Join | Failed | None


@dataclass(frozen=True)
class Fetched:
    """A transcode's chunk files on local disk, ready to be joined."""

    directory: Path
    videos: tuple[Path, ...]
    audio: Path | None
    frames: int
    objects: tuple[tuple[str, str], ...]


class ChunkWork:
    """Chunked transcodes on a worker.

    Parameters:
        lifecycle: commits the split (and its work messages).
        storage: where chunk files go between the chunk encodes and the join.
        executor: the resolver's templates, the runner and the settings (``MPS_SEGMENT_SECONDS``).
        retry: the uploads' and downloads' retries.
    """

    def __init__(self, lifecycle: Lifecycle, storage: Storage, executor: Executor, retry: Retrying) -> None:
        self.lifecycle, self.storage, self.executor, self.retry = lifecycle, storage, executor, retry
        self.segment_seconds = executor.settings.segment_seconds

    def decide(
        self,
        record: SubtaskRecord,
        request: object,
        meta: MediaMetaData,
        subtasks: Sequence[SubtaskRecord],
    ) -> Decision:
        """What to do with a Transcode sub-task ``record`` just started (see the module docstring)."""
        if not is_transcode(record) or not isinstance(request, TranscodeTaskInput):
            return None
        chunks = chunks_of(subtasks, record.index)
        if chunks and all(r.status in FINAL_SUBTASK_STATUSES for r, _ in chunks):
            if all(r.status == "SUCCESS" for r, _ in chunks):
                return Join(tuple(chunks))
            # The run right after the split's last chunk reports the failure; a later run (a Redo)
            # splits again.
            if record.attempts == chunks[0][1].split + 1:
                failed = next(r for r, _ in chunks if r.status != "SUCCESS")
                return Failed(failed.result or chunk_failure("InternalError", 0, "a chunk failed"))
        spec = self._chunkable_spec(record.index, request, meta)
        return Split(spec) if spec is not None else None

    def _chunkable_spec(
        self, index: int, request: TranscodeTaskInput, meta: MediaMetaData
    ) -> TranscodeSpec | None:
        """The transcode's spec if it is worth cutting: chunking on, long input, eligible settings."""
        seconds = self.segment_seconds
        if seconds <= 0 or meta.media_duration <= 2 * seconds:
            return None
        if request.WatermarkSet or request.StartTimeOffset or request.EndTimeOffset:
            return None
        settings = self.executor.settings
        # No watermarks: the resolver fetches nothing, so its fetcher is never used.
        fetch = AssetFetcher(settings.work_dir, local_files=False)
        resolver = SubtaskResolver(
            self.executor.templates, meta, fetch, settings.x264_preset, settings.font_file
        )
        try:
            spec = resolver.subtask(index, request).spec
        except MpsError:
            return None  # the usual run reports the problem
        if not isinstance(spec, TranscodeSpec):
            return None
        why = chunkable(spec, meta)
        if why is not None:
            log.debug("sub-task %d runs whole: %s", index, why)
            return None
        return spec

    def split(
        self, task: TaskRecord, record: SubtaskRecord, spec: TranscodeSpec, meta: MediaMetaData, source: Path,
        fence: Fence,
    ) -> bool:  # fmt: skip
        """Plan the chunks of ``record`` and commit the split; False when the input turned out too
        short to cut (one chunk): the caller then runs the transcode as usual.

        Raises:
            AttemptFencedError: the attempt lost the sub-task before the split was committed.
            SourceError: the input's packets cannot be listed.
        """
        packets = video_packets(source, ffprobe=self.executor.settings.ffprobe)
        chunks = plan_chunks(packets, self.segment_seconds)
        if len(chunks) < 2:
            return False
        audio = not spec.params.RemoveAudio and meta.has_audio
        jobs = chunk_jobs(record.index, record.attempts, chunks, audio)
        fence.check()
        # From here on the sub-task is the chunks': this attempt stops renewing it.
        fence.release(record.index)
        if not self.lifecycle.split(task.task_id, record.index, fence.token, jobs, task.priority):
            log.warning(
                "task %s sub-task %d: not split (another attempt holds it)", task.task_id, record.index
            )
        return True

    def encode(
        self,
        task: TaskRecord,
        job: ChunkJob,
        parent: SubtaskRecord,
        meta: MediaMetaData,
        source: Path,
        bucket: str,
        fence: Fence,
    ) -> JsonDict:
        """Encode chunk ``job`` of transcode ``parent`` and upload its file; the chunk's result.

        Raises:
            MpsError: ffmpeg or the upload failed (the caller records or retries it).
        """
        request = parse_transcode(parent)
        spec = self._spec(parent.index, request, meta)
        settings = self.executor.settings
        settings.work_dir.mkdir(parents=True, exist_ok=True)
        workdir = Path(tempfile.mkdtemp(prefix="mps-chunk-", dir=settings.work_dir))
        try:
            output = workdir / job.name
            runner = CancellableRunner(self.executor.runner, fence.cancel)
            encoders = runner.encoders()
            if job.chunk is not None:
                command = chunk_command(spec, meta, str(source), job.chunk, output, encoders=encoders)
            else:
                made = audio_command(spec, meta, str(source), output, encoders=encoders)
                if made is None:
                    raise ProcessingError("the transcode has no audio to encode")
                command = made
            runner.run(command, timeout=settings.ffmpeg_timeout)
            key = chunk_key(task.task_id, job)

            def upload() -> None:
                fence.confirm()  # only the holder writes the chunk's key
                self.storage.put(bucket, key, output, content_type="video/mp4",
                                 metadata={TASK_METADATA_KEY: task.task_id})  # fmt: skip

            size = output.stat().st_size
            self.retry.call(upload, what=f"task {task.task_id} chunk {job.name}: upload")
            return chunk_result(bucket, key, size)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def _spec(self, index: int, request: TranscodeTaskInput, meta: MediaMetaData) -> TranscodeSpec:
        spec = self._chunkable_spec(index, request, meta)
        if spec is None:  # settings changed between the split and this chunk: the chunks must match
            raise ProcessingError("the transcode can no longer be chunked (MPS_SEGMENT_SECONDS changed?)")
        return spec

    def fetch(self, task: TaskRecord, join: Join) -> Fetched:
        """Download a transcode's chunk files for its join (retried while the store does not answer).

        Raises:
            MpsError: a chunk file cannot be read (retryable: the message is retried).
        """
        settings = self.executor.settings
        settings.work_dir.mkdir(parents=True, exist_ok=True)
        directory = Path(tempfile.mkdtemp(prefix="mps-join-", dir=settings.work_dir))
        videos: list[Path] = []
        audio: Path | None = None
        objects: list[tuple[str, str]] = []
        frames = 0
        try:
            for record, job in join.chunks:
                found = (record.result or {}).get("ChunkTask") or {}
                bucket, key = str(found["Bucket"]), str(found["Key"])
                path = directory / job.name
                self.retry.call(partial(self.storage.get, bucket, key, path),
                                what=f"task {task.task_id} chunk {job.name}: download")  # fmt: skip
                objects.append((bucket, key))
                if job.chunk is None:
                    audio = path
                else:
                    videos.append(path)
                    frames += job.chunk.frames
        except BaseException:
            shutil.rmtree(directory, ignore_errors=True)
            raise
        return Fetched(directory, tuple(videos), audio, frames, tuple(objects))

    def discard(self, fetched: Fetched) -> None:
        """Delete the chunk objects of a committed join (best effort: they are only disk space)."""
        for bucket, key in fetched.objects:
            try:
                self.storage.delete(bucket, key)
            except MpsError as exc:
                log.warning("chunk object %s/%s not deleted: %s", bucket, key, exc.message)


def join_operation(fetched: Fetched, meta: MediaMetaData) -> Operation:
    """The transcode's operation when its chunks are done: join them into its output, then collect
    its result item as a whole encode would (:func:`~mps.workflow.operations.transcode.collect_transcode`)."""

    def run(subtask: Subtask, ctx: OperationContext) -> MediaTranscodeItem:
        job = prepare_transcode(subtask, ctx)
        duration = fetched.frames / meta.fps if meta.fps else meta.media_duration
        join_chunks(ctx.runner, fetched.videos, fetched.audio, job.output, duration)
        return collect_transcode(job, ctx)

    return run


def is_transcode(record: SubtaskRecord) -> bool:
    """Whether a sub-task is a Transcode (the one kind that is ever chunked)."""
    return record.kind == TRANSCODE.name


def parse_transcode(record: SubtaskRecord) -> TranscodeTaskInput:
    """The stored input of a Transcode sub-task."""
    model = KINDS.named(record.kind).input_model.model_validate(record.input)
    assert isinstance(model, TranscodeTaskInput)
    return model


def input_info(task: TaskRecord) -> MediaInputInfo:
    """The task's input."""
    return MediaInputInfo.model_validate(task.request.get("InputInfo"))


__all__ = [
    "ChunkWork",
    "Decision",
    "Failed",
    "Fetched",
    "Join",
    "Split",
    "is_transcode",
    "join_operation",
    "parse_transcode",
]
