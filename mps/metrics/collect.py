"""Gauges computed when ``/metrics`` is scraped: task counts, queue depth and age, outbox lag.

Read from the task store (:meth:`~mps.store.base.Tasks.task_stats`: one GROUP BY and two indexed
single-row queries) and the broker (a passive declare of the work queue), never kept in memory,
so every API replica and worker reports the same truth.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from mps.errors import MpsError
from mps.store.base import Clock, Tasks, utc_now

log = logging.getLogger("mps.metrics.StoreCollector")

#: Reads the work queue's depth: (queue name, messages ready) or None when the broker cannot say.
QueueDepth = Callable[[], "tuple[str, int] | None"]


class StoreCollector(Collector):
    """The store's and the broker's gauges.

    Parameters:
        store: the task store.
        queue_depth: the work queue's depth (None: not reported).
        clock: "now", for ages.
    """

    def __init__(self, store: Tasks, queue_depth: QueueDepth | None = None, clock: Clock = utc_now) -> None:
        self.store, self.queue_depth, self.clock = store, queue_depth, clock

    def collect(self) -> Iterator[Metric]:
        """The gauges, read now; a store or broker that does not answer gives ``*_up 0``."""
        yield from self._store_metrics()
        yield from self._queue_metrics()

    def _store_metrics(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("mps_store_up", "1 when the task store answered this scrape")
        try:
            stats = self.store.task_stats()
        except MpsError as exc:
            log.warning("metrics: the task store did not answer: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        tasks = GaugeMetricFamily("mps_tasks", "Tasks in the store by status", labels=["status"])
        for status, count in sorted(stats.by_status.items()):
            tasks.add_metric([status], count)
        yield tasks
        failed = GaugeMetricFamily(
            "mps_tasks_failed", "FINISH tasks in the store by non-zero ErrCode", labels=["err_code"]
        )
        for code, count in sorted(stats.by_err_code.items()):
            failed.add_metric([str(code)], count)
        yield failed
        yield _age("mps_queue_oldest_age_seconds",
                   "Age of the oldest task with a sub-task never started (0: none waits)",
                   stats.oldest_unstarted, self.clock())  # fmt: skip
        yield _age("mps_outbox_lag_seconds", "Age of the oldest event not delivered yet (0: none)",
                   stats.oldest_unsent_event, self.clock())  # fmt: skip

    def _queue_metrics(self) -> Iterator[Metric]:
        if self.queue_depth is None:
            return
        try:
            depth = self.queue_depth()
        except MpsError as exc:
            log.warning("metrics: the broker did not answer: %s", exc)
            depth = None
        up = GaugeMetricFamily("mps_broker_up", "1 when the broker reported the work queue's depth")
        up.add_metric([], 0 if depth is None else 1)
        yield up
        if depth is not None:
            gauge = GaugeMetricFamily("mps_queue_depth", "Messages ready in the work queue", labels=["queue"])
            gauge.add_metric([depth[0]], depth[1])
            yield gauge


def _age(name: str, documentation: str, since: datetime | None, now: datetime) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(name, documentation)
    gauge.add_metric([], 0.0 if since is None else max((now - since).total_seconds(), 0.0))
    return gauge


__all__ = ["QueueDepth", "StoreCollector"]
