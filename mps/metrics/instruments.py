"""The instruments a process updates itself (counters, histograms, gauges), in one registry."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.registry import Collector

#: Sub-task wall times, in seconds: a snapshot takes well under a second, a long ladder an hour.
DURATION_BUCKETS = (0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
#: Seconds of media per second of wall time (x realtime): 0.1x for a heavy encode, 100x+ for seeks.
SPEED_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0)


class Metrics:
    """The metrics of one process.

    Parameters:
        registry: where they are registered (default: a new one, so two processes in one
            interpreter, e.g. tests, never share counters).
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        # The process's own: CPU, memory, open files, Python version, garbage collections.
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        GCCollector(registry=r)
        self.subtask_duration = Histogram(
            "mps_subtask_duration_seconds",
            "Wall time of a finished sub-task on a worker (input, ffmpeg, upload), by kind and status",
            ["kind", "status"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.ffmpeg_speed = Histogram(
            "mps_ffmpeg_speed_ratio",
            "Seconds of source media per second of wall time of a successful sub-task (x realtime)",
            ["kind"],
            buckets=SPEED_BUCKETS,
            registry=r,
        )
        self.bucket_events_received = Counter(
            "mps_bucket_events_received",
            "New objects announced by bucket events and handled by the listener, by source",
            ["source"],
            registry=r,
        )
        self.bucket_events_deduplicated = Counter(
            "mps_bucket_events_deduplicated",
            "Bucket events that found their task already started (a repeat), by source",
            ["source"],
            registry=r,
        )
        self.worker_busy_slots = Gauge(
            "mps_worker_busy_slots", "Handler threads of this worker running a work message", registry=r
        )
        self.worker_slots = Gauge("mps_worker_slots", "Handler threads of this worker", registry=r)

    def register(self, collector: Collector) -> None:
        """Add a collector read at scrape time (e.g. :class:`~mps.metrics.StoreCollector`)."""
        self.registry.register(collector)

    @contextmanager
    def busy(self) -> Iterator[None]:
        """One worker slot busy for the duration of the block."""
        self.worker_busy_slots.inc()
        try:
            yield
        finally:
            self.worker_busy_slots.dec()

    def observe_subtask(self, kind: str, status: str, seconds: float, media_seconds: float | None) -> None:
        """A sub-task finished on this worker after ``seconds`` of wall time; ``media_seconds`` is
        the source's duration, for the speed of a successful one (None or 0: not observed)."""
        self.subtask_duration.labels(kind=kind, status=status).observe(max(seconds, 0.0))
        if status == "SUCCESS" and media_seconds and seconds > 0:
            self.ffmpeg_speed.labels(kind=kind).observe(media_seconds / seconds)

    def bucket_event(self, source: str, *, duplicate: bool) -> None:
        """One new object handled by the listener; ``duplicate`` when its task already existed."""
        self.bucket_events_received.labels(source=source).inc()
        if duplicate:
            self.bucket_events_deduplicated.labels(source=source).inc()

    def render(self) -> bytes:
        """The registry in Prometheus' text format."""
        return generate_latest(self.registry)


__all__ = ["DURATION_BUCKETS", "SPEED_BUCKETS", "Metrics"]
