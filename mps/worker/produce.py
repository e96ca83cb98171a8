"""Producing one sub-task's result: input, probe, templates, ffmpeg, upload.

:class:`SubtaskProducer` turns a started sub-task into its ``MediaProcessTaskResult`` entry. Media
failures (a bad codec, an unreadable source, a missing template) are results with ``Status: FAIL``;
only transient failures (the store or the object store not answering) are raised, so the message is
retried and nothing is committed.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from mps.errors import MpsError
from mps.media.naming import Namer
from mps.media.plan import Step, needs_gop, plan_subtasks
from mps.media.specs import Subtask
from mps.models import (
    MediaInputInfo,
    MediaMetaData,
    MediaProcessTaskResult,
    SubtaskInput,
    TaskOutputStorage,
    parse_wire,
)
from mps.runner import Runner
from mps.settings import Settings
from mps.storage import Storage, output_location
from mps.store.base import SubtaskRecord, TaskRecord, TaskStore
from mps.worker.inputs import CachedInput, InputCache
from mps.workflow.assets import AssetFetcher
from mps.workflow.context import OperationContext
from mps.workflow.engine import TaskEngine
from mps.workflow.execute import failed_result
from mps.workflow.fused import run_step
from mps.workflow.merge import INPUT_MODELS
from mps.workflow.outputs import upload_outputs
from mps.workflow.resolve import SubtaskResolver, TemplateLookup

log = logging.getLogger("mps.worker.SubtaskProducer")

#: Seconds between two progress writes of one sub-task.
PROGRESS_INTERVAL = 1.0


@dataclass(frozen=True)
class Produced:
    """A sub-task's result entry, and the source failure behind it if the input itself failed."""

    entry: MediaProcessTaskResult
    source_error: MpsError | None = None


class SubtaskProducer:
    """Runs one sub-task against the object store.

    Parameters:
        store: the task store (metadata, progress).
        storage: the object store outputs are uploaded to (and COS/AWS-S3 inputs read from).
        runner: ffmpeg and ffprobe.
        templates: presets and custom templates.
        inputs: the per-task input cache.
        settings: work directory, encoder preset, font, limits, timeouts.
    """

    def __init__(
        self, store: TaskStore, storage: Storage, runner: Runner, templates: TemplateLookup,
        inputs: InputCache, settings: Settings,
    ) -> None:  # fmt: skip
        self.store, self.storage, self.runner, self.templates = store, storage, runner, templates
        self.inputs, self.settings = inputs, settings
        self._engine = TaskEngine(runner, templates, _no_assets, settings)

    def produce(self, task: TaskRecord, record: SubtaskRecord, *, final_attempt: bool = False) -> Produced:
        """The result entry of sub-task ``record`` of ``task`` (:meth:`produce_many` of one)."""
        return self.produce_many(task, [record], final_attempt=final_attempt)[0]

    def produce_many(
        self, task: TaskRecord, records: Sequence[SubtaskRecord], *, final_attempt: bool = False
    ) -> list[Produced]:
        """The result entries of sub-tasks ``records`` of ``task``, run as one plan (:mod:`mps.media.plan`).

        Parameters:
            task: the task (its request names the input and the outputs).
            records: the sub-tasks, as ``start_subtask`` returned them.
            final_attempt: the broker will not retry this message: record a transient failure as a
                FAIL result instead of raising it, so the task can still finish.

        Returns:
            One entry (SUCCESS or FAIL) per record, in order, with the input's error when it failed.

        Raises:
            MpsError: a retryable error (object store or task store down), unless ``final_attempt``.
        """
        # Both were validated by submit_task with these models; a failure here is a stored task this
        # version cannot read, refused (DLQ) rather than guessed at.
        requests = [parse_wire(INPUT_MODELS[r.kind], r.input, where=r.kind) for r in records]
        info = parse_wire(MediaInputInfo, task.request.get("InputInfo"), where="InputInfo")
        with ExitStack() as stack:
            try:
                cached = stack.enter_context(self.inputs.use(task.task_id, info))
                meta = self._metadata(task.task_id, cached)
            except MpsError as exc:  # the input itself failed: the task's ErrCode says so
                pairs = zip(records, requests, strict=True)
                return [self._failed(r, q, exc, final_attempt, source=True) for r, q in pairs]
            job = _Group(task, records, requests, info, cached, meta, final_attempt)
            return self._run(job)
        raise AssertionError("unreachable")  # ExitStack could swallow an exception; it does not here

    def _failed(self, record: SubtaskRecord, request: SubtaskInput, exc: MpsError, final: bool,
                *, source: bool) -> Produced:  # fmt: skip
        if exc.retryable and not final:
            raise exc
        log.warning(
            "task %s sub-task %d failed: %s [%s]", record.task_id, record.index, exc.message, exc.code
        )
        return Produced(failed_result(record.kind, request, exc), exc if source else None)

    def _metadata(self, task_id: str, cached: CachedInput) -> MediaMetaData:
        """The probe of the input: the stored one, or probed once (per process) and stored."""
        with cached.lock:
            if cached.meta is not None:
                return cached.meta
            stored = self.store.get_task(task_id).metadata
            if stored:
                cached.meta = MediaMetaData.model_validate(stored)
                return cached.meta
            assert cached.path is not None
            try:
                meta = self._engine.probe(str(cached.path))
            except MpsError as exc:
                if not exc.retryable:
                    cached.error = exc  # the task's other sub-tasks fail at once, without probing again
                raise
            self.store.set_metadata(task_id, meta.to_wire())
            cached.meta = meta
            return meta

    def _keyframe_interval(self, cached: CachedInput) -> float | None:
        """The input's GOP, measured once per task per process: the sampled snapshots and the sprite
        of one task usually arrive in separate messages (``MPS_PLAN=auto``)."""
        with cached.lock:
            if not cached.gop_measured:
                assert cached.path is not None
                cached.gop = self._engine.keyframe_interval(str(cached.path))
                cached.gop_measured = True
            return cached.gop

    def _run(self, job: _Group) -> list[Produced]:
        settings = self.settings
        settings.work_dir.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=f"mps-sub{job.records[0].index}-", dir=settings.work_dir))
        try:
            fetch = AssetFetcher(scratch / "assets", storage=self.storage,
                                 allow_private=settings.url_allow_private, local_files=False)  # fmt: skip
            resolver = SubtaskResolver(self.templates, job.meta, fetch, settings.x264_preset, self._font())
            produced: dict[int, Produced] = {}
            subtasks: list[Subtask] = []
            for record, request in zip(job.records, job.requests, strict=True):
                try:
                    subtasks.append(resolver.subtask(record.index, request))
                except MpsError as exc:
                    produced[record.index] = self._failed(record, request, exc, job.final, source=False)
            gop = self._keyframe_interval(job.cached) if needs_gop(subtasks) else None
            plan = plan_subtasks(subtasks, job.meta, gop=gop, fuse=settings.plan != "split")
            by_index = {subtask.index: subtask for subtask in subtasks}
            for step in plan.steps:
                group = [by_index[index] for index in step.indexes]
                produced.update(self._run_step(job, step, group, scratch, plan.seek))
            return [produced[record.index] for record in job.records]
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _run_step(
        self, job: _Group, step: Step, group: list[Subtask], scratch: Path, seek: frozenset[int]
    ) -> dict[int, Produced]:
        """Run one step of the plan; upload each successful sub-task's outputs on their own."""
        requests = {record.index: request for record, request in zip(job.records, job.requests, strict=True)}
        task, info = job.task, job.info
        places, contexts = [], []
        for subtask in group:
            request = requests[subtask.index]
            bucket, prefix = output_location(info, _storage(task, "OutputStorage"), request.OutputStorage,
                                             task.request.get("OutputDir"))  # fmt: skip
            staging, workdir = scratch / f"out{subtask.index}", scratch / f"work{subtask.index}"
            staging.mkdir()
            workdir.mkdir()
            places.append((bucket, staging, _reported(bucket, info, request.OutputStorage, task)))
            contexts.append(self._context(task.task_id, subtask, job.meta, job.cached, staging, workdir,
                                          info.file_name, prefix, seek=subtask.index in seek))  # fmt: skip
        entries = run_step(step, group, contexts, storages=[place[2] for place in places])
        produced = {}
        for subtask, entry, (bucket, staging, _) in zip(group, entries, places, strict=True):
            try:
                if entry.result.Status == "SUCCESS":
                    self._upload(task.task_id, bucket, staging)
            except MpsError as exc:
                record = next(r for r in job.records if r.index == subtask.index)
                produced[subtask.index] = self._failed(record, requests[subtask.index], exc, job.final,
                                                       source=False)  # fmt: skip
                continue
            produced[subtask.index] = Produced(entry)
        return produced

    def _context(
        self, task_id: str, subtask: Subtask, meta: MediaMetaData, cached: CachedInput, staging: Path,
        workdir: Path, file_name: str, prefix: str, *, seek: bool = False,
    ) -> OperationContext:  # fmt: skip
        assert cached.path is not None
        return OperationContext(
            runner=self.runner, meta=meta, source=str(cached.path), out_root=staging,
            # The namer writes keys relative to the bucket root: the directory is part of the key.
            namer=Namer(file_name, "/" + prefix, subtask.spec.definition), workdir=workdir,
            on_progress=_throttled(self.store, task_id, subtask.index), timeout=self.settings.ffmpeg_timeout,
            font_file=self._font(), seek_pictures=seek,
        )  # fmt: skip

    def _upload(self, task_id: str, bucket: str, staging: Path) -> None:
        """Upload every file the sub-task wrote, marked so mps's own objects never fire workflows."""
        upload_outputs(self.storage, bucket, staging, task_id)
        log.debug("task %s: outputs uploaded to %s", task_id, bucket)

    def _font(self) -> str | None:
        from mps.workflow.assets import default_font_file

        return self.settings.font_file or default_font_file()


@dataclass(frozen=True)
class _Group:
    """Sub-tasks of one task run together by one worker, and what they share."""

    task: TaskRecord
    records: Sequence[SubtaskRecord]
    requests: Sequence[SubtaskInput]
    info: MediaInputInfo
    cached: CachedInput
    meta: MediaMetaData
    final: bool


def _no_assets(_ref: object) -> Path:
    raise AssertionError("the probe fetches no assets")  # TaskEngine is used for its probe only


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


def _throttled(store: TaskStore, task_id: str, index: int) -> Callable[[float], None]:
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
            store.update_progress(task_id, index, int(fraction * 100))
        except MpsError as exc:  # progress is advisory: a store hiccup must not fail the encode
            log.debug("task %s sub-task %d: progress not stored: %s", task_id, index, exc)

    return report


__all__ = ["PROGRESS_INTERVAL", "Produced", "SubtaskProducer"]
