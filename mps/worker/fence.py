"""Fencing: one attempt at a time holds a sub-task, and only the holder uploads and commits.

An attempt (one delivery of a work message) starts its sub-tasks with a fresh token and a lease
(``MPS_SUBTASK_LEASE`` seconds). While it runs, :class:`Fence` renews the lease every third of it.
The attempt is *fenced off* as soon as

- a renewal is refused: another attempt took the sub-task over (this one's lease had run out), the
  sub-task is final, or its task was aborted; or
- no renewal has succeeded for two thirds of the lease (the store cannot be reached): the lease
  may run out before this attempt learns of it, and another attempt may then start.

A fenced attempt's ffmpeg is killed (the run's cancel event), and it uploads and commits nothing:
:meth:`Fence.holds` is checked before every upload and every commit, and the store's commit itself
accepts only the holder's token. So two runs of one sub-task never overlap in the bucket, and the
objects there are always the ones the committed result describes.

Residual window, stated plainly: an upload already in flight when the fence closes completes. The
margin (a third of the lease between the last moment an attempt may still upload and the moment
another may start) is what covers it; a process paused for longer than that margin in the middle
of a PUT is the one case no client-side fence can exclude.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from types import TracebackType

from mps.errors import MpsError
from mps.workflow.lifecycle import Lifecycle

log = logging.getLogger("mps.worker.fence")

#: Seconds between two renewals at most, whatever the lease.
RENEW_AT_MOST_EVERY = 2.0


class AttemptFencedError(MpsError):
    """This attempt no longer holds its sub-task: it stops, and uploads and commits nothing."""

    code = "FailedOperation.Fenced"


class Fence:
    """The leases one attempt holds on the sub-tasks of one message, renewed while it runs.

    Parameters:
        lifecycle: renews the leases.
        task_id: the task.
        indexes: the sub-tasks this attempt started.
        token: the attempt's token (given to ``start``).
        lease: how long one renewal holds a sub-task.
        clock: monotonic seconds (tests pass their own).
    """

    def __init__(
        self,
        lifecycle: Lifecycle,
        task_id: str,
        indexes: Sequence[int],
        token: str,
        lease: timedelta,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lifecycle, self.task_id, self.token, self.lease = lifecycle, task_id, token, lease
        self.clock = clock
        self.cancel = threading.Event()
        self._held = set(indexes)
        self._lock = threading.Lock()
        self._renewed_at = clock()
        self._lost: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._keep, name=f"mps-fence-{task_id[-8:]}", daemon=True)

    def __enter__(self) -> Fence:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()
        if exc is not None and self.holds():
            self._release_all()

    def _release_all(self) -> None:
        """The attempt failed and its message will be retried: free what it holds for the retry."""
        with self._lock:
            held = sorted(self._held)
        for index in held:
            try:
                self.lifecycle.release(self.task_id, index, self.token)
            except MpsError as exc:  # the lease then runs out on its own
                log.warning("task %s sub-task %d: lease not released (%s)", self.task_id, index, exc.message)

    @property
    def margin(self) -> float:
        """Seconds before the lease runs out after which this attempt stops acting: a third of it."""
        return self.lease.total_seconds() / 3

    def holds(self) -> bool:
        """Whether this attempt may still upload and commit (see the module docstring)."""
        with self._lock:
            if (
                self._lost is None
                and self.clock() - self._renewed_at > self.lease.total_seconds() - self.margin
            ):
                self._fenced("no lease renewal for too long: the store cannot be reached")
            return self._lost is None

    def check(self) -> None:
        """Raise :class:`AttemptFencedError` unless :meth:`holds`."""
        if not self.holds():
            raise AttemptFencedError(f"task {self.task_id}: this attempt was fenced off ({self._lost})")

    def confirm(self) -> None:
        """Renew now, and raise :class:`AttemptFencedError` unless this attempt still holds every
        sub-task: called right before an upload, so that nothing is written for a sub-task another
        attempt took over or an abort ended since the last periodic renewal.

        Raises:
            AttemptFencedError: fenced off.
            MpsError: the store did not answer (retryable: the upload is tried again).
        """
        self.check()
        renewed = self._renew_held()
        with self._lock:
            if renewed:
                self._renewed_at = self.clock()
            else:
                self._fenced("another attempt holds the sub-task, or it ended (aborted, or final)")
        self.check()

    def release(self, index: int) -> None:
        """Stop renewing sub-task ``index`` (its result is committed; the commit cleared its lease)."""
        with self._lock:
            self._held.discard(index)

    def _keep(self) -> None:
        # Renewing often (at most every 2 s) also makes an abort felt fast: the renewal it refuses
        # stops this attempt's ffmpeg.
        interval = min(self.lease.total_seconds() / 3, RENEW_AT_MOST_EVERY)
        while not self._stop.wait(interval):
            try:
                renewed = self._renew_held()
            except MpsError as exc:  # the store did not answer: holds() judges by the last success
                log.warning("task %s: lease not renewed (%s); retrying", self.task_id, exc.message)
                self.holds()
                continue
            with self._lock:
                if renewed:
                    self._renewed_at = self.clock()
                else:
                    self._fenced("another attempt holds the sub-task, or it ended (aborted, or final)")
            if not self.holds():
                return

    def _renew_held(self) -> bool:
        """Renew every sub-task still held; False when one of them was refused. A refusal for a
        sub-task released meanwhile does not count: its commit (or its split into chunks,
        :mod:`mps.workflow.chunks`) ended this attempt's hold on purpose."""
        with self._lock:
            held = sorted(self._held)
        refused = [i for i in held if not self.lifecycle.renew(self.task_id, i, self.token, self.lease)]
        with self._lock:
            return not any(index in self._held for index in refused)

    def _fenced(self, why: str) -> None:
        """Close the fence (called with the lock held): kill the run, refuse uploads and commits."""
        if self._lost is None:
            self._lost = why
            self.cancel.set()
            log.warning(
                "task %s: attempt %s fenced off: %s; its ffmpeg is stopped", self.task_id, self.token[:8], why
            )


__all__ = ["AttemptFencedError", "Fence"]
