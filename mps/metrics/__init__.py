"""Prometheus metrics of mps: the instruments each process updates, and the gauges read from the
task store and the broker when ``/metrics`` is scraped.

Each process builds one :class:`Metrics` (its own ``CollectorRegistry``, no global one) in the
composition root and hands it to the parts that count: the worker's handler (busy slots, sub-task
durations, ffmpeg speed), the listener (bucket events), and the API or the metrics port that
serves it. The names and labels are listed in the README's "Metrics" section.
"""

from __future__ import annotations

from mps.metrics.collect import QueueDepth, StoreCollector
from mps.metrics.instruments import DURATION_BUCKETS, SPEED_BUCKETS, Metrics
from mps.metrics.serve import CONTENT_TYPE, MetricsServer, serve_metrics

__all__ = [
    "CONTENT_TYPE",
    "DURATION_BUCKETS",
    "SPEED_BUCKETS",
    "Metrics",
    "MetricsServer",
    "QueueDepth",
    "StoreCollector",
    "serve_metrics",
]
