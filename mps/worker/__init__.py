"""The worker process: runs sub-tasks from the work queue, commits their results, finishes tasks.

:class:`WorkHandler` is the consumer's handler; :class:`SubtaskProducer` produces one sub-task's
result; :class:`InputCache` keeps each task's input once per process; :mod:`mps.worker.service`
wires them (and the relay) into ``mps worker``, ``mps relay`` and ``mps up``.
"""

from __future__ import annotations

from mps.worker.handler import WorkHandler, parse_message
from mps.worker.inputs import CachedInput, InputCache, make_fetch
from mps.worker.produce import Produced, SubtaskProducer

__all__ = [
    "CachedInput",
    "InputCache",
    "Produced",
    "SubtaskProducer",
    "WorkHandler",
    "make_fetch",
    "parse_message",
]
