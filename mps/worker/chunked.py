"""The worker's part of chunked transcodes and ladders: split, encode a chunk, join.

What moves between workers, and why a lost worker costs one chunk, is :mod:`mps.workflow.chunks`;
what each ffmpeg does is :mod:`mps.media.ops.segments` (MP4 transcodes) and
:mod:`mps.media.ops.ladder_chunks` (adaptive streaming ladders). Here:

- :meth:`ChunkWork.decide` tells, for a Transcode or AdaptiveDynamicStreaming sub-task a worker
  just started, whether to run it as usual, to split it (an eligible one of a long input,
  ``MPS_SEGMENT_SECONDS``), to join its chunks (they are all done), or to fail it (a chunk failed
  for good);
- :meth:`ChunkWork.split` lists the input's packets, plans the chunks and commits the split;
- :meth:`ChunkWork.encode` runs one chunk sub-task (a slice of the video, or the whole audio) and
  uploads its files;
- :meth:`ChunkWork.fetch` downloads a sub-task's chunk files for the join, which the executor runs
  as the sub-task's operation (:meth:`ChunkedKind.operation`), so the result entry is the one the
  unchunked run would have: same keys, same probe-based facts, same manifests.

What differs between the two kinds is a :class:`ChunkedKind`: what makes one eligible, how its
chunks are cut (ladders: on their segment grid), each chunk's command and the join.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Protocol

from mps.errors import MpsError, ProcessingError
from mps.media.command import Command
from mps.media.ops.ladder import Ladder, LadderFiles, plan_ladder
from mps.media.ops.ladder_chunks import (
    audio_file,
    ladder_audio_command,
    ladder_chunk_command,
    ladder_chunkable,
    ladder_package_command,
    plan_grid_chunks,
    rung_file,
)
from mps.media.ops.segments import Chunk, audio_command, chunk_command, chunkable, concat_list, plan_chunks
from mps.media.specs import AdaptiveSpec, Spec, Subtask, TranscodeSpec
from mps.models import MediaMetaData, SubtaskInput, TaskOutputStorage
from mps.models.results import AdaptiveDynamicStreamingInfoItem, MediaTranscodeItem
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
from mps.workflow.kinds.adaptive import KIND as ADAPTIVE
from mps.workflow.kinds.transcode import KIND as TRANSCODE
from mps.workflow.lifecycle import Lifecycle
from mps.workflow.operations.adaptive import make_ladder
from mps.workflow.operations.transcode import collect_transcode, prepare_transcode
from mps.workflow.resolve import SubtaskResolver
from mps.workflow.segments import join_chunks

log = logging.getLogger("mps.worker.chunked")


@dataclass(frozen=True)
class Split:
    """Cut the sub-task into chunks (the input's packets are listed first)."""

    spec: Spec


@dataclass(frozen=True)
class Join:
    """Its chunks are all done: join them into the sub-task's outputs."""

    spec: Spec
    chunks: tuple[tuple[SubtaskRecord, ChunkJob], ...]


@dataclass(frozen=True)
class Failed:
    """A chunk failed for good: the sub-task fails with its error."""

    result: JsonDict

    @property
    def error(self) -> MpsError:
        """The chunk's error, as the sub-task reports it (same code, the message says a chunk)."""
        inner = self.result.get("ChunkTask") or {}
        why = str(inner.get("Message") or "no reason given")
        error = MpsError(f"a chunk failed: {why}", code=str(inner.get("ErrCodeExt") or "InternalError"))
        error.err_code = int(inner.get("ErrCode") or 0) or error.err_code
        return error


Decision = Split | Join | Failed | None


@dataclass(frozen=True)
class Fetched:
    """A sub-task's chunk files on local disk, ready to be joined: each video chunk's files and the
    audio job's, by file name."""

    directory: Path
    videos: tuple[dict[str, Path], ...]
    audio: dict[str, Path]
    frames: int
    objects: tuple[tuple[str, str], ...]


class ChunkedKind(Protocol):
    """What chunking means for one kind (see the module docstring)."""

    def refusal(self, spec: Spec, request: SubtaskInput, meta: MediaMetaData) -> str | None:
        """Why the sub-task is run whole, or None when it can be chunked."""
        ...

    def plan(
        self, spec: Spec, meta: MediaMetaData, packets: Sequence[tuple[float, bool]], seconds: float
    ) -> tuple[list[Chunk], bool]:
        """The chunks, and whether there is an audio job."""
        ...

    def command(
        self,
        spec: Spec,
        meta: MediaMetaData,
        source: str,
        job: ChunkJob,
        directory: Path,
        encoders: frozenset[str],
    ) -> Command:
        """The ffmpeg command of one chunk job, writing its files into ``directory``."""
        ...

    def operation(self, fetched: Fetched, meta: MediaMetaData) -> Operation:
        """The sub-task's operation once its chunks are done: the join."""
        ...


class _Transcodes:
    """MP4 transcodes (:mod:`mps.media.ops.segments`): a chunk is ``video.mp4``, audio ``audio.mp4``."""

    def refusal(self, spec: Spec, request: SubtaskInput, meta: MediaMetaData) -> str | None:
        assert isinstance(spec, TranscodeSpec)
        return chunkable(spec, meta)

    def plan(
        self, spec: Spec, meta: MediaMetaData, packets: Sequence[tuple[float, bool]], seconds: float
    ) -> tuple[list[Chunk], bool]:
        assert isinstance(spec, TranscodeSpec)
        return plan_chunks(packets, seconds), not spec.params.RemoveAudio and meta.has_audio

    def command(
        self,
        spec: Spec,
        meta: MediaMetaData,
        source: str,
        job: ChunkJob,
        directory: Path,
        encoders: frozenset[str],
    ) -> Command:
        assert isinstance(spec, TranscodeSpec)
        if job.chunk is not None:
            return chunk_command(spec, meta, source, job.chunk, directory / "video.mp4", encoders=encoders)
        made = audio_command(spec, meta, source, directory / "audio.mp4", encoders=encoders)
        if made is None:
            raise ProcessingError("the transcode has no audio to encode")
        return made

    def operation(self, fetched: Fetched, meta: MediaMetaData) -> Operation:
        def run(subtask: Subtask, ctx: OperationContext) -> MediaTranscodeItem:
            job = prepare_transcode(subtask, ctx)
            videos = [files["video.mp4"] for files in fetched.videos]
            join_chunks(
                ctx.runner, videos, fetched.audio.get("audio.mp4"), job.output, _duration(fetched, meta)
            )
            return collect_transcode(job, ctx)

        return run


class _Ladders:
    """Adaptive streaming ladders (:mod:`mps.media.ops.ladder_chunks`): a chunk is every rung's
    ``rung<n>.mp4``, the audio job every rendition's ``audio<i>.mp4``."""

    def refusal(self, spec: Spec, request: SubtaskInput, meta: MediaMetaData) -> str | None:
        assert isinstance(spec, AdaptiveSpec)
        return ladder_chunkable(spec, plan_ladder(spec.template, meta), meta)

    def plan(
        self, spec: Spec, meta: MediaMetaData, packets: Sequence[tuple[float, bool]], seconds: float
    ) -> tuple[list[Chunk], bool]:
        assert isinstance(spec, AdaptiveSpec)
        ladder = plan_ladder(spec.template, meta)
        return plan_grid_chunks(packets, seconds, ladder.segment_seconds), bool(ladder.audios)

    def command(
        self,
        spec: Spec,
        meta: MediaMetaData,
        source: str,
        job: ChunkJob,
        directory: Path,
        encoders: frozenset[str],
    ) -> Command:
        assert isinstance(spec, AdaptiveSpec)
        ladder = plan_ladder(spec.template, meta)
        if job.chunk is not None:
            return ladder_chunk_command(spec, ladder, meta, source, job.chunk, directory, encoders=encoders)
        made = ladder_audio_command(ladder, meta, source, directory, encoders=encoders)
        if made is None:
            raise ProcessingError("the ladder has no audio to encode")
        return made

    def operation(self, fetched: Fetched, meta: MediaMetaData) -> Operation:
        def run(subtask: Subtask, ctx: OperationContext) -> AdaptiveDynamicStreamingInfoItem:
            def package(spec: AdaptiveSpec, ladder: Ladder, files: LadderFiles, font: str | None) -> Command:
                lists = {}
                for rung in ladder.rungs:
                    name = rung_file(Path(), rung.number).name
                    listing = ctx.workdir / f"{name}.concat.txt"
                    listing.write_text(
                        concat_list([chunk[name] for chunk in fetched.videos]), encoding="utf-8"
                    )
                    lists[rung.number] = listing
                audios = [fetched.audio[audio_file(Path(), i).name] for i in range(len(ladder.audios))]
                return ladder_package_command(ladder, lists, audios, files, _duration(fetched, meta))

            return make_ladder(subtask, ctx, package)

        return run


def _duration(fetched: Fetched, meta: MediaMetaData) -> float:
    return fetched.frames / meta.fps if meta.fps else meta.media_duration


#: The kinds that can be chunked, by name.
CHUNKED: dict[str, ChunkedKind] = {TRANSCODE.name: _Transcodes(), ADAPTIVE.name: _Ladders()}


class ChunkWork:
    """Chunked sub-tasks on a worker.

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
        request: SubtaskInput,
        meta: MediaMetaData,
        subtasks: Sequence[SubtaskRecord],
    ) -> Decision:
        """What to do with sub-task ``record``, just started (see the module docstring)."""
        if not may_chunk(record):
            return None
        chunks = chunks_of(subtasks, record.index)
        if chunks and all(r.status in FINAL_SUBTASK_STATUSES for r, _ in chunks):
            if all(r.status == "SUCCESS" for r, _ in chunks):
                spec = self._resolve(record, request, meta)
                if spec is not None:
                    return Join(spec, tuple(chunks))
            # The run right after the split's last chunk reports the failure; a later run (a Redo)
            # splits again.
            elif record.attempts == chunks[0][1].split + 1:
                failed = next(r for r, _ in chunks if r.status != "SUCCESS")
                return Failed(failed.result or chunk_failure("InternalError", 0, "no result"))
        spec = self._eligible(record, request, meta)
        return Split(spec) if spec is not None else None

    def _eligible(self, record: SubtaskRecord, request: SubtaskInput, meta: MediaMetaData) -> Spec | None:
        """The sub-task's spec if it is worth cutting: chunking on, a long input, eligible settings."""
        seconds = self.segment_seconds
        if seconds <= 0 or meta.media_duration <= 2 * seconds:
            return None
        if getattr(request, "StartTimeOffset", None) or getattr(request, "EndTimeOffset", None):
            return None
        spec = self._resolve(record, request, meta)
        why = "not resolved" if spec is None else CHUNKED[record.kind].refusal(spec, request, meta)
        if why is not None:
            log.info("sub-task %d (%s) runs whole: %s", record.index, record.kind, why)
            return None
        return spec

    def _resolve(self, record: SubtaskRecord, request: SubtaskInput, meta: MediaMetaData) -> Spec | None:
        """The sub-task's spec, or None when it has watermarks (never chunked: resolving them would
        fetch their images) or does not resolve (its usual run reports why)."""
        if getattr(request, "WatermarkSet", None):
            return None
        settings = self.executor.settings
        # No watermarks: the resolver fetches nothing, so its fetcher is never used.
        fetch = AssetFetcher(settings.work_dir, local_files=False)
        resolver = SubtaskResolver(
            self.executor.templates, meta, fetch, settings.x264_preset, settings.font_file
        )
        try:
            return resolver.subtask(record.index, request).spec
        except MpsError:
            return None

    def split(
        self,
        task: TaskRecord,
        record: SubtaskRecord,
        spec: Spec,
        meta: MediaMetaData,
        source: Path,
        fence: Fence,
    ) -> bool:
        """Plan the chunks of ``record`` and commit the split; False when the input turned out too
        short to cut (one chunk): the caller then runs the sub-task as usual.

        Raises:
            AttemptFencedError: the attempt lost the sub-task before the split was committed.
            SourceError: the input's packets cannot be listed.
        """
        packets = video_packets(source, ffprobe=self.executor.settings.ffprobe)
        chunks, audio = CHUNKED[record.kind].plan(spec, meta, packets, self.segment_seconds)
        if len(chunks) < 2:
            return False
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
        source: Path | str,
        bucket: str,
        fence: Fence,
    ) -> JsonDict:
        """Encode chunk ``job`` of sub-task ``parent`` and upload its files; the chunk's result.

        Raises:
            MpsError: ffmpeg or an upload failed (the caller records or retries it).
        """
        spec = self._eligible(parent, parse_input(parent), meta)
        if spec is None:  # the settings changed since the split: its chunks could not match
            raise ProcessingError(f"sub-task {parent.index} can no longer be chunked (MPS_SEGMENT_SECONDS?)")
        settings = self.executor.settings
        settings.work_dir.mkdir(parents=True, exist_ok=True)
        workdir = Path(tempfile.mkdtemp(prefix="mps-chunk-", dir=settings.work_dir))
        try:
            runner = CancellableRunner(self.executor.runner, fence.cancel)
            command = CHUNKED[parent.kind].command(spec, meta, str(source), job, workdir, runner.encoders())
            runner.run(command, timeout=settings.ffmpeg_timeout)
            files = {path.name: chunk_key(task.task_id, job, path.name) for path in command.outputs}

            def upload() -> None:
                fence.confirm()  # only the holder writes the chunk's keys
                for path in command.outputs:
                    self.storage.put(bucket, files[path.name], path, content_type="video/mp4",
                                     metadata={TASK_METADATA_KEY: task.task_id})  # fmt: skip

            self.retry.call(upload, what=f"task {task.task_id} chunk {job.name}: upload")
            return chunk_result(bucket, files, sum(path.stat().st_size for path in command.outputs))
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def fetch(self, task: TaskRecord, join: Join) -> Fetched:
        """Download a sub-task's chunk files for its join (retried while the store does not answer).

        Raises:
            MpsError: a chunk file cannot be read (retryable: the message is retried).
        """
        settings = self.executor.settings
        settings.work_dir.mkdir(parents=True, exist_ok=True)
        directory = Path(tempfile.mkdtemp(prefix="mps-join-", dir=settings.work_dir))
        videos: list[dict[str, Path]] = []
        audio: dict[str, Path] = {}
        objects: list[tuple[str, str]] = []
        frames = 0
        try:
            for record, job in join.chunks:
                found = (record.result or {}).get("ChunkTask") or {}
                bucket = str(found["Bucket"])
                folder = directory / job.name
                folder.mkdir()
                files = {}
                for name, key in dict(found["Files"]).items():
                    files[name] = folder / name
                    self.retry.call(partial(self.storage.get, bucket, key, files[name]),
                                    what=f"task {task.task_id} chunk {job.name}: download")  # fmt: skip
                    objects.append((bucket, key))
                if job.chunk is None:
                    audio = files
                else:
                    videos.append(files)
                    frames += job.chunk.frames
        except BaseException:
            shutil.rmtree(directory, ignore_errors=True)
            raise
        return Fetched(directory, tuple(videos), audio, frames, tuple(objects))

    def operation(self, record: SubtaskRecord, fetched: Fetched, meta: MediaMetaData) -> Operation:
        """The join of ``record``'s fetched chunks, as its operation."""
        return CHUNKED[record.kind].operation(fetched, meta)

    def discard(self, fetched: Fetched) -> None:
        """Delete the chunk objects of a committed join (best effort: they are only disk space)."""
        for bucket, key in fetched.objects:
            try:
                self.storage.delete(bucket, key)
            except MpsError as exc:
                log.warning("chunk object %s/%s not deleted: %s", bucket, key, exc.message)


def may_chunk(record: SubtaskRecord) -> bool:
    """Whether a sub-task is of a kind that can be chunked (Transcode, AdaptiveDynamicStreaming)."""
    return record.kind in CHUNKED


def parse_input(record: SubtaskRecord) -> SubtaskInput:
    """The stored input of a sub-task, as its kind's model."""
    return KINDS.named(record.kind).input_model.model_validate(record.input)


def output_storage(request: SubtaskInput) -> TaskOutputStorage | None:
    """The sub-task's own ``OutputStorage``, if its kind has one."""
    own = getattr(request, "OutputStorage", None)
    return own if isinstance(own, TaskOutputStorage) else None


__all__ = [
    "CHUNKED",
    "ChunkWork",
    "ChunkedKind",
    "Decision",
    "Failed",
    "Fetched",
    "Join",
    "Split",
    "may_chunk",
    "output_storage",
    "parse_input",
]
