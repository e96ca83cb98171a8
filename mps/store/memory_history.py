"""Task history of :class:`mps.store.memory.MemoryTaskStore`: the same contract as
:mod:`mps.store.sql_history`, in lists behind the store's lock."""

from __future__ import annotations

import copy
import threading

from mps.store._rules import task_not_found
from mps.store.base import Clock, HistoryEvent, HistoryRecord, JsonDict
from mps.store.history import numbered


class MemoryHistory:
    """Each task's events in a list, appended under the store's lock.

    Parameters:
        lock: the store's one lock.
        clock: the source of "now" (UTC).
    """

    def __init__(self, lock: threading.RLock, clock: Clock) -> None:
        self._history_lock = lock
        self._history_clock = clock
        self._histories: dict[str, list[HistoryRecord]] = {}

    def _history(
        self,
        task_id: str,
        event: HistoryEvent,
        index: int | None = None,
        attempt: int | None = None,
        detail: JsonDict | None = None,
    ) -> None:
        """Record one event of ``task_id``; the twin of
        :meth:`mps.store.sql_history.HistoryMixin._history` (no connection: call it while holding
        the store's lock, in the same block as the transition it records)."""
        record = HistoryRecord(
            task_id, 0, self._history_clock(), event, index, attempt, copy.deepcopy(detail or {})
        )
        self._histories.setdefault(task_id, []).append(record)

    def _forget_history(self, task_id: str) -> None:
        """Drop a purged task's events."""
        self._histories.pop(task_id, None)

    def task_history(self, task_id: str) -> list[HistoryRecord]:
        """See :meth:`mps.store.sql_history.HistoryMixin.task_history`."""
        with self._history_lock:
            if task_id not in self._histories:  # every stored task has its ``created`` event
                raise task_not_found(task_id)
            return copy.deepcopy(numbered(self._histories[task_id]))


__all__ = ["MemoryHistory"]
