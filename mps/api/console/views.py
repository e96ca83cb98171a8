"""What the console's pages show, shaped from store records: list rows, the filters of the task
list, a task's sub-tasks on a timeline (with the events of its history marked on it), its history,
and previews of their outputs through presigned URLs."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from mps.storage.base import Storage
from mps.store.base import (
    HistoryRecord,
    SubtaskRecord,
    TaskQuery,
    TaskRecord,
    TaskStatus,
    TaskSummary,
    utc_now,
)

#: The task statuses, in lifecycle order.
STATUSES: tuple[TaskStatus, ...] = ("WAITING", "PROCESSING", "FINISH")
#: Rows per page of the task list.
PAGE_SIZE = 50
#: Seconds a preview URL stays valid.
PREVIEW_SECONDS = 3600
#: Images previewed per sub-task at most (a sampled snapshot may have hundreds).
MAX_IMAGES = 12
_IMAGE = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp")
_VIDEO = (".mp4", ".m4v", ".mov", ".webm", ".mkv", ".flv")


def _time(value: str) -> datetime | None:
    """A ``datetime-local`` field (taken as UTC) or an ISO 8601 time; None when empty or invalid."""
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00")) if value.strip() else None
    except ValueError:
        return None
    if parsed is not None and parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


@dataclass(frozen=True)
class ListFilters:
    """The task list's filters as the query string carries them (``status``, ``failed``,
    ``workflow``, ``from``, ``to``, ``q``, ``before``)."""

    status: str = ""
    failed: bool = False
    workflow: str = ""
    start: str = ""
    end: str = ""
    search: str = ""
    before: int | None = None

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> ListFilters:
        """Read the filters; unknown or malformed values are dropped, never an error."""
        before = params.get("before", "")
        return cls(
            status=params.get("status", "") if params.get("status", "") in STATUSES else "",
            failed=params.get("failed", "") in ("1", "on", "true"),
            workflow=params.get("workflow", "") if params.get("workflow", "").isdigit() else "",
            start=params.get("from", "")[:40],
            end=params.get("to", "")[:40],
            search=params.get("q", "").strip()[:256],
            before=int(before) if before.isdigit() else None,
        )

    def query(self) -> TaskQuery:
        """The store query of these filters."""
        return TaskQuery(
            status=cast(TaskStatus, self.status) if self.status else None,
            failed=True if self.failed else None,
            workflow_id=int(self.workflow) if self.workflow else None,
            start_time=_time(self.start),
            end_time=_time(self.end),
            search=self.search,
        )

    def params(self, before: int | None = None) -> dict[str, str]:
        """The query string of these filters (and a page cursor)."""
        found = {"status": self.status, "failed": "1" if self.failed else "", "workflow": self.workflow,
                 "from": self.start, "to": self.end, "q": self.search}  # fmt: skip
        if before is not None:
            found["before"] = str(before)
        return {k: v for k, v in found.items() if v}


def iso(value: datetime | None) -> str:
    """A time as ISO 8601 UTC with a ``Z`` ("" for None)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else ""


def iso_ms(value: datetime | None) -> str:
    """A time as ISO 8601 UTC to the millisecond, with a ``Z`` ("" for None)."""
    if value is None:
        return ""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


#: The TaskId infix of an orchestration task (its WorkflowId, when set, is a ScheduleId).
SCHEDULE_TASK = "-ScheduleTask-"


def owner_path(task_id: str) -> str:
    """Where a task's WorkflowId leads: ``schedules`` for an orchestration task, else ``workflows``."""
    return "schedules" if SCHEDULE_TASK in task_id else "workflows"


def summary_json(row: TaskSummary) -> dict[str, Any]:
    """A list row as the JSON the page polls."""
    return {
        "TaskId": row.task_id,
        "Owner": owner_path(row.task_id),
        "Status": row.status,
        "ErrCode": row.err_code,
        "Message": row.message,
        "WorkflowId": row.workflow_id,
        "Input": row.input_name,
        "CreateTime": iso(row.create_time),
        "BeginProcessTime": iso(row.begin_time),
        "FinishTime": iso(row.finish_time),
        "SubTasks": row.subtasks,
        "Finished": row.finished,
        "Failed": row.failed,
        "Progress": row.progress,
    }


@dataclass(frozen=True)
class Preview:
    """One output to show: ``kind`` is ``image``, ``video``, ``hls``, ``dash`` or ``link``."""

    kind: str
    name: str
    url: str


@dataclass(frozen=True)
class Mark:
    """An event of the history on a sub-task's timeline: where (percent of the scale), which
    event, and its tooltip."""

    at: float
    event: str
    title: str


#: The history events marked on a sub-task's timeline.
MARKED_EVENTS = frozenset({"started", "succeeded", "failed", "retried", "aborted", "skipped", "ready"})


@dataclass(frozen=True)
class HistoryView:
    """One row of the history panel."""

    seq: int
    time: str
    event: str
    index: int | None
    attempt: int | None
    detail: str

    def json(self) -> dict[str, Any]:
        """What the task page polls."""
        return {"Seq": self.seq, "Time": self.time, "Event": self.event, "SubTaskIndex": self.index,
                "Attempt": self.attempt, "Detail": self.detail}  # fmt: skip


def history_views(records: list[HistoryRecord]) -> list[HistoryView]:
    """The history panel's rows, oldest first (newest last), ``Detail`` as compact JSON."""
    ordered = sorted(records, key=lambda r: r.seq)
    return [
        HistoryView(r.seq, iso_ms(r.time), r.event, r.index, r.attempt,
                    json.dumps(r.detail, ensure_ascii=False, separators=(",", ":")) if r.detail else "")
        for r in ordered
    ]  # fmt: skip


@dataclass(frozen=True)
class SubtaskView:
    """A sub-task as its page row: status, progress, attempts, timing bar, error, outputs."""

    index: int
    kind: str
    status: str
    progress: int
    attempts: int
    begin: str
    finish: str
    err_code: int
    err_code_ext: str
    message: str
    bar_left: float
    bar_width: float
    previews: list[Preview] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)

    def json(self) -> dict[str, Any]:
        """What the task page polls."""
        return {"Index": self.index, "Kind": self.kind, "Status": self.status, "Progress": self.progress,
                "Attempts": self.attempts, "Begin": self.begin, "Finish": self.finish,
                "ErrCode": self.err_code, "ErrCodeExt": self.err_code_ext, "Message": self.message,
                "BarLeft": self.bar_left, "BarWidth": self.bar_width,
                "Marks": [{"At": m.at, "Event": m.event, "Title": m.title} for m in self.marks]}  # fmt: skip


def _member(result: Mapping[str, Any] | None) -> dict[str, Any]:
    """The one set ``*Task`` member of a MediaProcessTaskResult wire dict ({} if none)."""
    for key, value in (result or {}).items():
        if key.endswith("Task") and isinstance(value, dict):
            return value
    return {}


def _bucket(output: Mapping[str, Any]) -> str:
    storage = output.get("Storage") or output.get("OutputStorage") or {}
    cos, s3 = storage.get("CosOutputStorage") or {}, storage.get("S3OutputStorage") or {}
    return str(cos.get("Bucket") or s3.get("S3Bucket") or "")


def output_paths(output: Mapping[str, Any]) -> Iterator[str]:
    """Every object path an output item names (transcode, snapshots, sprite and its VTT, GIF, ladder)."""
    if output.get("Path"):
        yield str(output["Path"])
    for pic in output.get("PicInfoSet") or []:
        if isinstance(pic, dict) and pic.get("Path"):
            yield str(pic["Path"])
    for path in output.get("ImagePathSet") or []:
        yield str(path)
    if output.get("WebVttPath"):
        yield str(output["WebVttPath"])


def _kind_of(path: str) -> str:
    lower = path.lower()
    if lower.endswith(_IMAGE):
        return "image"
    if lower.endswith(_VIDEO):
        return "video"
    if lower.endswith(".m3u8"):
        return "hls"
    if lower.endswith(".mpd"):
        return "dash"
    return "link"


def previews(result: Mapping[str, Any] | None, storage: Storage) -> tuple[list[Preview], list[str]]:
    """Previews of a sub-task's outputs (presigned URLs; at most :data:`MAX_IMAGES` images), and
    every output path."""
    output = _member(result).get("Output") or {}
    if not isinstance(output, dict):
        return [], []
    paths = list(output_paths(output))
    bucket, shown, images = _bucket(output), [], 0
    for path in paths:
        kind = _kind_of(path)
        if kind == "image":
            images += 1
            if images > MAX_IMAGES:
                continue
        url = storage.presigned_url(bucket, path.lstrip("/"), expires=PREVIEW_SECONDS) if bucket else None
        if url is not None:
            shown.append(Preview(kind, path.rsplit("/", 1)[-1], url))
    return shown, paths


def subtask_views(
    task: TaskRecord,
    subtasks: list[SubtaskRecord],
    storage: Storage | None,
    now: datetime | None = None,
    history: list[HistoryRecord] | None = None,
) -> list[SubtaskView]:
    """The sub-tasks of a task with their timeline bars: each bar spans its begin and finish (now
    while running) on a scale from the task's creation to its finish (or now). With the task's
    ``history``, each sub-task's events (ready, started, failed, retried...) are marks on it: a
    retried activity shows each of its attempts."""
    now = now or utc_now()
    start = task.create_time
    end = task.finish_time or now
    for sub in subtasks:
        end = max(end, sub.finish_time or end)
    for event in history or []:
        end = max(end, event.time)
    span = max((end - start).total_seconds(), 0.001)
    marks: dict[int, list[Mark]] = {}
    for event in sorted(history or [], key=lambda r: r.seq):
        if event.index is None or event.event not in MARKED_EVENTS:
            continue
        at = round(min(max((event.time - start).total_seconds() / span, 0.0), 1.0) * 100, 2)
        attempt = f" (attempt {event.attempt})" if event.attempt else ""
        marks.setdefault(event.index, []).append(
            Mark(at, event.event, f"{event.event}{attempt} {iso_ms(event.time)}")
        )
    views = []
    for sub in subtasks:
        member = _member(sub.result)
        shown, paths = previews(sub.result, storage) if storage is not None else ([], [])
        left = ((sub.begin_time - start).total_seconds() / span) if sub.begin_time else 0.0
        stop = sub.finish_time or (now if sub.begin_time else None)
        width = ((stop - sub.begin_time).total_seconds() / span) if sub.begin_time and stop else 0.0
        views.append(
            SubtaskView(
                index=sub.index,
                kind=sub.kind,
                status=sub.status,
                progress=sub.progress,
                attempts=sub.attempts,
                begin=iso(sub.begin_time),
                finish=iso(sub.finish_time),
                err_code=int(member.get("ErrCode") or 0),
                err_code_ext=str(member.get("ErrCodeExt") or ""),
                message=str(member.get("Message") or ""),
                bar_left=round(min(max(left, 0.0), 1.0) * 100, 2),
                bar_width=round(min(max(width, 0.005), 1.0) * 100, 2),
                previews=shown,
                outputs=paths,
                marks=marks.get(sub.index, []),
            )  # fmt: skip
        )
    return views


__all__ = [
    "MAX_IMAGES",
    "PAGE_SIZE",
    "STATUSES",
    "SCHEDULE_TASK",
    "HistoryView",
    "ListFilters",
    "Mark",
    "Preview",
    "SubtaskView",
    "history_views",
    "iso",
    "iso_ms",
    "output_paths",
    "owner_path",
    "previews",
    "subtask_views",
    "summary_json",
]
