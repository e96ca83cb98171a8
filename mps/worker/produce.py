"""Producing one sub-task's result: input, probe, templates, ffmpeg, upload.

:class:`SubtaskProducer` turns a started sub-task into its ``MediaProcessTaskResult`` entry. Media
failures (a bad codec, an unreadable source, a missing template) are results with ``Status: FAIL``;
only transient failures (the store or the object store not answering) are raised, so the message is
retried and nothing is committed.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from mps.errors import MpsError
from mps.media.specs import Subtask
from mps.models import (
    MediaInputInfo,
    MediaMetaData,
    MediaProcessTaskResult,
    SubtaskInput,
    TaskOutputStorage,
    parse_wire,
)
from mps.storage import Storage, input_location, output_location
from mps.store.base import JsonDict, SubtaskRecord, TaskRecord
from mps.worker.chunked import ChunkWork, Failed, Fetched, Join, Split, may_chunk, output_storage, parse_input
from mps.worker.fence import AttemptFencedError, Fence
from mps.worker.inputs import CachedInput, InputCache
from mps.worker.retrying import Retrying
from mps.workflow.assets import AssetFetcher
from mps.workflow.chunks import ChunkJob, split_parents
from mps.workflow.execute import failed_result
from mps.workflow.executor import Executor, Placement, Run
from mps.workflow.kinds import KINDS
from mps.workflow.lifecycle import Lifecycle
from mps.workflow.orchestration import activity_timeouts
from mps.workflow.outputs import upload_outputs

log = logging.getLogger("mps.worker.SubtaskProducer")

#: Seconds between two progress writes of one sub-task.
PROGRESS_INTERVAL = 1.0


@dataclass(frozen=True)
class Produced:
    """A sub-task's result entry, and the source failure behind it if the input itself failed.

    ``entry`` is None for a transcode that was split into chunks (:mod:`mps.workflow.chunks`):
    there is nothing to commit, the split was. ``joined``: the chunks a joined transcode was made
    of, to delete once it is committed.
    """

    entry: MediaProcessTaskResult | None
    source_error: MpsError | None = None
    joined: Fetched | None = None


class SubtaskProducer:
    """Runs sub-tasks of a task against the object store, through the shared executor.

    Parameters:
        lifecycle: the task transitions (the probe's metadata, progress).
        storage: the object store outputs are uploaded to (and COS/AWS-S3 inputs read from).
        executor: resolves, plans and runs (:class:`~mps.workflow.executor.Executor`).
        inputs: the per-task input cache.
    """

    def __init__(
        self,
        lifecycle: Lifecycle,
        storage: Storage,
        executor: Executor,
        inputs: InputCache,
        *,
        retry: Retrying | None = None,
    ) -> None:
        self.lifecycle, self.storage, self.executor, self.inputs = lifecycle, storage, executor, inputs
        self.retry = retry if retry is not None else Retrying()
        self.chunks = ChunkWork(lifecycle, storage, executor, self.retry)

    def produce(self, task: TaskRecord, record: SubtaskRecord, *, final_attempt: bool = False) -> Produced:
        """The result entry of sub-task ``record`` of ``task`` (:meth:`produce_many` of one)."""
        return self.produce_many(task, [record], final_attempt=final_attempt)[0]

    def produce_many(
        self,
        task: TaskRecord,
        records: Sequence[SubtaskRecord],
        *,
        final_attempt: bool = False,
        fence: Fence | None = None,
    ) -> list[Produced]:
        """The result entries of sub-tasks ``records`` of ``task``, run as one plan (:mod:`mps.media.plan`).

        Parameters:
            task: the task (its request names the input and the outputs).
            records: the sub-tasks, as ``start_subtask`` returned them.
            final_attempt: the broker will not retry this message: record a transient failure as a
                FAIL result instead of raising it, so the task can still finish.
            fence: the attempt's leases (:mod:`mps.worker.fence`): a fenced attempt's ffmpeg is
                killed and it uploads nothing.

        Returns:
            One entry (SUCCESS or FAIL) per record, in order, with the input's error when it failed.

        Raises:
            AttemptFencedError: the attempt was fenced off before it could upload.
            MpsError: a retryable error (object store or task store down), unless ``final_attempt``.
        """
        # Both were validated by submit_task with these models; a failure here is a stored task this
        # version cannot read, refused (DLQ) rather than guessed at.
        requests = [parse_wire(KINDS.named(r.kind).input_model, r.input, where=r.kind) for r in records]
        info = parse_wire(MediaInputInfo, task.request.get("InputInfo"), where="InputInfo")
        workspace = _UploadWorkspace(self, task, info, final_attempt, fence)
        # One read of the task's sub-tasks serves both chunking passes; none when chunking is off.
        chunking = fence is not None and self.chunks.segment_seconds > 0 and any(map(may_chunk, records))
        subtasks = self.lifecycle.store.get_subtasks(task.task_id) if chunking else []
        with ExitStack() as stack:
            done: dict[int, Produced] = {}
            joins: dict[int, Fetched] = {}
            stored = MediaMetaData.model_validate(task.metadata) if task.metadata else None
            if chunking and stored is not None:  # joins (and failed chunks) need no input file
                self._settle_chunked(task, records, requests, subtasks, stored, stack, done, joins)
            rest = [r for r in records if r.index not in done and r.index not in joins]
            if not rest and stored is not None:
                meta, source, cached = stored, "", None
            else:
                try:
                    cached = stack.enter_context(self.inputs.use(task.task_id, info))
                    meta = self._metadata(task.task_id, cached)
                except MpsError as exc:  # the input itself failed: the task's ErrCode says so
                    pairs = zip(records, requests, strict=True)
                    return [Produced(workspace.failed(r.index, q, exc), exc) for r, q in pairs]
                assert cached.path is not None
                source = str(cached.path)
                if chunking:
                    self._split(task, records, requests, subtasks, meta, cached.path, fence, done, joins)
            todo = [(r, q) for r, q in zip(records, requests, strict=True) if r.index not in done]
            if not todo:
                return [done[record.index] for record in records]
            run = Run(
                items=[(record.index, request) for record, request in todo],
                meta=meta,
                source=source,
                file_name=info.file_name,
                assets=self._assets,
                gop=partial(self._keyframe_interval, cached),
                cancel=fence.cancel if fence is not None else threading.Event(),
                task_id=task.task_id,
                timeouts=activity_timeouts(task),
                operations={
                    r.index: self.chunks.operation(r, joins[r.index], meta)
                    for r in records
                    if r.index in joins
                },
            )
            entries = self.executor.run(run, workspace)
        return [done.get(r.index) or Produced(entries[r.index], joined=joins.get(r.index)) for r in records]

    def _settle_chunked(
        self,
        task: TaskRecord,
        records: Sequence[SubtaskRecord],
        requests: Sequence[SubtaskInput],
        subtasks: Sequence[SubtaskRecord],
        meta: MediaMetaData,
        stack: ExitStack,
        done: dict[int, Produced],
        joins: dict[int, Fetched],
    ) -> None:
        """The chunked sub-tasks among ``records`` whose chunks are done (:mod:`mps.worker.chunked`):
        a join's chunks are fetched into ``joins`` (removed with ``stack``); a sub-task whose chunk
        failed goes into ``done`` with that failure."""
        split = split_parents(subtasks)
        for record, request in zip(records, requests, strict=True):
            if record.index not in split:  # never split: nothing to settle (decided in _split)
                continue
            decision = self.chunks.decide(record, request, meta, subtasks)
            if isinstance(decision, Join):
                fetched = self.chunks.fetch(task, decision)
                stack.callback(shutil.rmtree, fetched.directory, True)
                joins[record.index] = fetched
            elif isinstance(decision, Failed):
                done[record.index] = Produced(failed_result(record.kind, request, decision.error))

    def _split(
        self,
        task: TaskRecord,
        records: Sequence[SubtaskRecord],
        requests: Sequence[SubtaskInput],
        subtasks: Sequence[SubtaskRecord],
        meta: MediaMetaData,
        source: Path,
        fence: Fence | None,
        done: dict[int, Produced],
        joins: dict[int, Fetched],
    ) -> None:
        """Split the sub-tasks among ``records`` worth cutting into chunks; each one split goes
        into ``done`` (its split was its commit). One whose packets cannot be listed runs whole."""
        assert fence is not None
        for record, request in zip(records, requests, strict=True):
            if record.index in done or record.index in joins:
                continue
            decision = self.chunks.decide(record, request, meta, subtasks)
            if not isinstance(decision, Split):
                continue
            try:
                if self.chunks.split(task, record, decision.spec, meta, source, fence):
                    done[record.index] = Produced(None)
            except AttemptFencedError:
                raise
            except MpsError as exc:
                log.warning("task %s sub-task %d not split: %s", task.task_id, record.index, exc.message)

    def encode_chunk(self, task: TaskRecord, job: ChunkJob, parent: SubtaskRecord, fence: Fence) -> JsonDict:
        """Run chunk sub-task ``job`` of sub-task ``parent``: its files encoded and uploaded beside
        the parent's outputs; the chunk's result.

        A slice of video is read straight from the object store by ranged reads (a presigned URL:
        ffmpeg seeks to the slice), so a worker taking one chunk of a long film does not download
        the film; where the store has no URLs, and for the audio job (which reads every audio
        packet of the film anyway), the input is fetched once per worker as for any sub-task.

        Raises:
            MpsError: the input, ffmpeg or the upload failed.
        """
        info = parse_wire(MediaInputInfo, task.request.get("InputInfo"), where="InputInfo")
        own = output_storage(parse_input(parent))
        bucket, _ = output_location(info, _storage(task, "OutputStorage"), own, task.request.get("OutputDir"))
        url = self._ranged_source(info) if job.chunk is not None and task.metadata else None
        if url is not None:
            meta = MediaMetaData.model_validate(task.metadata)
            return self.chunks.encode(task, job, parent, meta, url, bucket, fence)
        with self.inputs.use(task.task_id, info) as cached:
            meta = self._metadata(task.task_id, cached)
            assert cached.path is not None
            return self.chunks.encode(task, job, parent, meta, cached.path, bucket, fence)

    def _ranged_source(self, info: MediaInputInfo) -> str | None:
        """A URL ffmpeg can read the input by ranges from (the object store's), or None."""
        if info.Type not in ("COS", "AWS-S3"):
            return None
        bucket, key = input_location(info)
        # Valid for as long as one ffmpeg run may take, and a margin.
        return self.storage.presigned_url(
            bucket, key, expires=int(self.executor.settings.ffmpeg_timeout) + 600
        )

    def _assets(self, directory: Path) -> AssetFetcher:
        """Watermark images of a run: from the object store or http(s), never local files."""
        allow_private = self.executor.settings.url_allow_private
        return AssetFetcher(directory, storage=self.storage, allow_private=allow_private, local_files=False)

    def _metadata(self, task_id: str, cached: CachedInput) -> MediaMetaData:
        """The probe of the input: the stored one, or probed once (per process) and stored."""
        with cached.lock:
            if cached.meta is not None:
                return cached.meta
            stored = self.lifecycle.store.get_task(task_id).metadata
            if stored:
                cached.meta = MediaMetaData.model_validate(stored)
                return cached.meta
            assert cached.path is not None
            try:
                meta = self.executor.probe(str(cached.path))
            except MpsError as exc:
                if not exc.retryable:
                    cached.error = exc  # the task's other sub-tasks fail at once, without probing again
                raise
            self.lifecycle.probed(task_id, meta.to_wire())
            cached.meta = meta
            return meta

    def _keyframe_interval(self, cached: CachedInput | None) -> float | None:
        """The input's GOP, measured once per task per process: the sampled snapshots and the sprite
        of one task usually arrive in separate messages (``MPS_PLAN=auto``)."""
        if cached is None:  # a run of joins only: nothing is planned on the input's GOP
            return None
        with cached.lock:
            if not cached.gop_measured:
                assert cached.path is not None
                cached.gop = self.executor.keyframe_interval(str(cached.path))
                cached.gop_measured = True
            return cached.gop


@dataclass(frozen=True)
class _UploadWorkspace:
    """A worker's surroundings: per-sub-task staging, upload on success, progress to the store, and
    transient failures raised (so the message is retried) unless this is the final attempt."""

    producer: SubtaskProducer
    task: TaskRecord
    info: MediaInputInfo
    final: bool
    fence: Fence | None

    def place(self, subtask: Subtask, scratch: Path) -> Placement:
        request = subtask.request
        task, own = self.task, request.OutputStorage
        bucket, prefix = output_location(
            self.info, _storage(task, "OutputStorage"), own, task.request.get("OutputDir")
        )
        staging = scratch / f"out{subtask.index}"
        staging.mkdir()
        return Placement(
            out_root=staging,
            # The namer writes keys relative to the bucket root: the directory is part of the key.
            directory="/" + prefix,
            storage=_reported(bucket, self.info, own, task),
            on_progress=_throttled(self.producer.lifecycle, task.task_id, subtask.index),
            bucket=bucket,
        )

    def deliver(
        self, subtask: Subtask, placement: Placement, entry: MediaProcessTaskResult
    ) -> MediaProcessTaskResult:
        if entry.result.Status != "SUCCESS":
            return entry
        bucket, task_id = placement.bucket, self.task.task_id

        def upload() -> None:
            # Only the attempt that holds the sub-task writes to its keys (mps.worker.fence).
            if self.fence is not None:
                self.fence.confirm()
            upload_outputs(self.producer.storage, bucket, placement.out_root, task_id)

        try:
            self.producer.retry.call(upload, what=f"task {task_id} sub-task {subtask.index}: upload")
        except AttemptFencedError:
            raise
        except MpsError as exc:
            return self.failed(subtask.index, subtask.request, exc)
        log.debug("task %s sub-task %d: outputs uploaded to %s", self.task.task_id, subtask.index, bucket)
        return entry

    def failed(self, index: int, item: SubtaskInput, error: MpsError) -> MediaProcessTaskResult:
        if error.retryable and not self.final:
            raise error
        log.warning(
            "task %s sub-task %d failed: %s [%s]", self.task.task_id, index, error.message, error.code
        )
        return failed_result(KINDS.of_input(item).name, item, error)


def _storage(task: TaskRecord, name: str) -> TaskOutputStorage | None:
    value = task.request.get(name)
    return TaskOutputStorage.model_validate(value) if value else None


def _reported(
    bucket: str, info: MediaInputInfo, own: TaskOutputStorage | None, task: TaskRecord
) -> TaskOutputStorage:
    """The ``OutputStorage``/``Storage`` a result reports: the nearest level's type, its bucket filled
    in, and never its secrets."""
    chosen = own or _storage(task, "OutputStorage")
    kind = chosen.Type if chosen is not None else ("AWS-S3" if info.Type == "AWS-S3" else "COS")
    if kind == "AWS-S3":
        region = chosen.S3OutputStorage.S3Region if chosen and chosen.S3OutputStorage else _region(info)
        return TaskOutputStorage.model_validate(
            {"Type": "AWS-S3", "S3OutputStorage": {"S3Bucket": bucket, "S3Region": region}}
        )
    region = (chosen.CosOutputStorage.Region if chosen and chosen.CosOutputStorage else None) or _region(info)
    return TaskOutputStorage.model_validate(
        {"Type": "COS", "CosOutputStorage": {"Bucket": bucket, "Region": region}}
    )


def _region(info: MediaInputInfo) -> str:
    if info.CosInputInfo is not None:
        return info.CosInputInfo.Region
    if info.S3InputInfo is not None:
        return info.S3InputInfo.S3Region
    return ""


def _throttled(lifecycle: Lifecycle, task_id: str, index: int) -> Callable[[float], None]:
    """A progress callback writing at most once per :data:`PROGRESS_INTERVAL` (ffmpeg reports often)."""
    lock = threading.Lock()
    last = [0.0]

    def report(fraction: float) -> None:
        now = time.monotonic()
        with lock:
            if now - last[0] < PROGRESS_INTERVAL:
                return
            last[0] = now
        try:
            lifecycle.progress(task_id, index, int(fraction * 100))
        except MpsError as exc:  # progress is advisory: a store hiccup must not fail the encode
            log.debug("task %s sub-task %d: progress not stored: %s", task_id, index, exc)

    return report


__all__ = ["PROGRESS_INTERVAL", "Produced", "SubtaskProducer"]
