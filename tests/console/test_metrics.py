"""``/metrics``: parsed with prometheus_client's own parser, the values match the store."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from mps.metrics import Metrics, serve_metrics
from mps.store.base import Completion, EventTarget
from tests.console.harness import add_task, console_app, store_of


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_the_api_metrics_match_the_store(tmp_path: Path) -> None:
    app = console_app(tmp_path)
    store = store_of(app)
    ids = [add_task(app) for _ in range(4)]
    store.start_subtask(ids[0], 0)
    store.abort_task(ids[1], Completion({}, [(EventTarget("exchange", "mps.events", "k"), {"e": 1})]))
    app.state.services.broker.publish_work({"task_id": ids[2], "indexes": [0]})
    app.state.services.broker.publish_work({"task_id": ids[3], "indexes": [0]})

    answer = TestClient(app).get("/metrics")
    assert answer.headers["content-type"].startswith("text/plain")
    samples = _samples(answer.text)
    stats = store.task_stats()
    for status in ("WAITING", "PROCESSING", "FINISH"):
        assert samples[("mps_tasks", (("status", status),))] == stats.by_status[status]
    assert stats.by_status == {"WAITING": 2, "PROCESSING": 1, "FINISH": 1}
    assert samples[("mps_tasks_failed", (("err_code", "70000"),))] == 1
    assert samples[("mps_queue_depth", (("queue", "mps.work"),))] == 2
    assert samples[("mps_store_up", ())] == 1 and samples[("mps_broker_up", ())] == 1
    assert samples[("mps_queue_oldest_age_seconds", ())] >= 0
    assert samples[("mps_outbox_lag_seconds", ())] >= 0


def test_a_worker_serves_its_own_instruments_on_the_metrics_port() -> None:
    metrics = Metrics()
    metrics.worker_slots.set(4)
    with metrics.busy():
        metrics.observe_subtask("Transcode", "SUCCESS", 2.0, 10.0)
        metrics.observe_subtask("SnapshotByTimeOffset", "FAIL", 0.5, 10.0)
        metrics.bucket_event("minio:s3", duplicate=False)
        metrics.bucket_event("minio:s3", duplicate=True)
        server = serve_metrics(metrics, 0, "127.0.0.1")
        try:
            text = httpx.get(f"http://127.0.0.1:{server.port}/metrics").text
        finally:
            server.close()
    samples = _samples(text)
    assert samples[("mps_worker_busy_slots", ())] == 1 and samples[("mps_worker_slots", ())] == 4
    labels = (("kind", "Transcode"), ("status", "SUCCESS"))
    assert samples[("mps_subtask_duration_seconds_count", labels)] == 1
    assert samples[("mps_subtask_duration_seconds_sum", labels)] == 2.0
    assert samples[("mps_ffmpeg_speed_ratio_sum", (("kind", "Transcode"),))] == 5.0
    assert ("mps_ffmpeg_speed_ratio_count", (("kind", "SnapshotByTimeOffset"),)) not in samples  # failed
    assert samples[("mps_bucket_events_received_total", (("source", "minio:s3"),))] == 2
    assert samples[("mps_bucket_events_deduplicated_total", (("source", "minio:s3"),))] == 1
    assert metrics.worker_busy_slots._value.get() == 0
