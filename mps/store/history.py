"""What a task's history records for each transition, decided once for both stores.

The SQL store (:mod:`mps.store.sql_history`) and its memory twin (:mod:`mps.store.memory_history`)
write one history row per transition inside the transaction that makes it (orchestration.md §5);
*which* event and *what detail* are decided here, as pure functions over what the transition
stored, so the two cannot drift. Reading a history numbers its events 1..n (:func:`numbered`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from mps.store.base import EventTarget, HistoryEvent, HistoryRecord, JsonDict, NewSubtask

#: The event of a sub-task entering each status (a Followup's changes, a finish).
STATUS_EVENTS: dict[str, HistoryEvent] = {
    "WAITING": "ready",
    "PROCESSING": "started",
    "SUCCESS": "succeeded",
    "FAIL": "failed",
    "SKIPPED": "skipped",
}
#: Longest stderr tail kept in a ``failed`` event (the runner keeps ~4 KiB).
STDERR_TAIL_CHARS = 4096


def status_event(status: str) -> HistoryEvent:
    """The event of a sub-task entering ``status`` (``SUCCESS`` -> ``succeeded``...).

    Raises:
        KeyError: a status no event stands for (``PENDING``).
    """
    return STATUS_EVENTS[status]


def created_events(
    subtasks: Sequence[NewSubtask], first: int = 0, *, created: bool = True
) -> list[tuple[HistoryEvent, int | None]]:
    """The events of a new task (``created``), then ``ready`` for each of its sub-tasks that starts
    WAITING (an orchestration's other activities wait for their predecessors); ``created=False``
    for sub-tasks added to an existing task, numbered from ``first``."""
    events: list[tuple[HistoryEvent, int | None]] = [("created", None)] if created else []
    return events + [("ready", first + i) for i, sub in enumerate(subtasks) if sub.status == "WAITING"]


def split_detail(first: int, parts: int) -> JsonDict:
    """A ``split`` event's detail: the chunk sub-tasks the transcode was cut into (``first`` ..)."""
    return {"Chunks": list(range(first, first + parts))}


def probed_detail(metadata: JsonDict) -> JsonDict:
    """A ``probed`` event's detail: the headline of the input's MediaMetaData."""
    return {key: metadata[key] for key in _PROBED_KEYS if key in metadata}


#: The MediaMetaData fields a ``probed`` event repeats.
_PROBED_KEYS = ("Container", "Duration", "Width", "Height", "Size")


def started_detail(host: str) -> JsonDict:
    """A ``started`` event's detail: the worker (host and process) that runs the attempt."""
    return {"Host": host} if host else {}


def finish_detail(status: str, result: JsonDict) -> JsonDict:
    """A ``succeeded`` or ``failed`` event's detail, from the status and the MediaProcessTaskResult
    it committed: ErrCode, ErrCodeExt and Message of a failure, and ffmpeg's stderr tail when the
    result carries one (``StderrTail``); nothing for a success."""
    if status != "FAIL":
        return {}
    inner = _inner_result(result)
    detail: JsonDict = {
        "ErrCode": int(inner.get("ErrCode") or 0),
        "ErrCodeExt": str(inner.get("ErrCodeExt") or ""),
        "Message": str(inner.get("Message") or ""),
    }
    tail = inner.get("StderrTail") or result.get("StderrTail")
    if tail:
        detail["StderrTail"] = str(tail)[-STDERR_TAIL_CHARS:]
    return detail


def _inner_result(result: JsonDict) -> dict[str, Any]:
    """The one filled-in ``*Task`` member of a result entry ({} when there is none)."""
    for key, value in result.items():
        if key.endswith("Task") and isinstance(value, dict):
            return value
    return {}


def followup_detail(status: str, by: int, by_status: str) -> JsonDict:
    """The detail of an event a finish caused (an activity ``ready``, ``skipped``, an output
    ``succeeded``): which sub-task's finish (``By``), and for a skip why (``Cause``): ``failure``
    when that sub-task failed, ``rule`` when it succeeded (a rule chose other successors, there
    or upstream)."""
    if status != "SKIPPED":
        return {"By": by}
    return {"By": by, "Cause": "failure" if by_status == "FAIL" else "rule"}


def finished_detail(err_code: int, message: str) -> JsonDict:
    """A ``finished`` event's detail: the task's ErrCode and Message."""
    return {"ErrCode": err_code, "Message": message}


def delivered_detail(target: EventTarget) -> JsonDict:
    """A ``delivered`` event's detail: where the outbox row went."""
    return {"Target": {"Kind": target.kind, "Name": target.name, "Key": target.key}}


def numbered(records: Iterable[HistoryRecord]) -> list[HistoryRecord]:
    """The history in store order, ``seq`` set to each event's position from 1."""
    return [replace(record, seq=position) for position, record in enumerate(records, start=1)]


__all__ = [
    "STATUS_EVENTS",
    "created_events",
    "probed_detail",
    "delivered_detail",
    "finish_detail",
    "finished_detail",
    "followup_detail",
    "numbered",
    "started_detail",
    "status_event",
]
