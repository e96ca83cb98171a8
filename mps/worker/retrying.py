"""Bounded retries of a step whose work is already done: a commit, an upload.

When the database commit or the S3 upload of a finished sub-task fails for a reason that may
pass (``retryable`` errors: a store or object store not answering), redoing the whole sub-task is
the expensive answer; trying the same step again a few times, with backoff, is the cheap one.
After the last try the error is raised, and the message is retried as before.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from mps.errors import MpsError

log = logging.getLogger("mps.worker.retrying")

T = TypeVar("T")


@dataclass(frozen=True)
class Retrying:
    """Try a step up to ``len(delays) + 1`` times, sleeping ``delays[i]`` seconds after try ``i``.

    Only retryable :class:`~mps.errors.MpsError` s are retried; anything else is raised at once.
    """

    delays: Sequence[float] = (1.0, 2.0, 4.0, 8.0)
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)

    def call(self, step: Callable[[], T], *, what: str) -> T:
        """``step()``, retried as above.

        Parameters:
            step: the step; it is called again as is, so it must be safe to repeat.
            what: names the step in log lines (with the TaskId).

        Raises:
            MpsError: a permanent failure, or the last retryable one.
        """
        for delay in self.delays:
            try:
                return step()
            except MpsError as exc:
                if not exc.retryable:
                    raise
                log.warning("%s failed (%s); trying again in %.0f s", what, exc.message, delay)
            self.sleep(delay)
        return step()


__all__ = ["Retrying"]
