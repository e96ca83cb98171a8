"""The chunked-transcode service benchmark still runs: ``bench/segments_service.py --quick`` (a 20 s
source, 5 s segments) end to end, on SeaweedFS, RabbitMQ and pinned ``mps worker`` processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import listening, require_service

ROOT = Path(__file__).resolve().parents[2]
AMQP_URL = os.environ.get("MPS_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")


@pytest.mark.integration
@pytest.mark.slow
def test_quick_segments_benchmark_checks_the_output_and_updates_only_its_section(tmp_path: Path) -> None:
    require_service("RabbitMQ", listening(AMQP_URL), "rabbitmq-server -detached")
    # Given a report that already holds the other benchmarks' text
    report = tmp_path / "RESULTS.md"
    report.write_text("# Benchmark\n\nmedia tables\n")
    cmd = [sys.executable, str(ROOT / "bench" / "segments_service.py"), "--quick",
           "--work", str(tmp_path / "work"), "--results", str(report)]  # fmt: skip

    # When the harness runs (one worker unchunked, then two workers on 5 s chunks)
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]

    # Then the chunked output had the unchunked one's frames and durations, and the section (with the
    # goals) was added once beside what the report held
    text = report.read_text()
    assert text.startswith("# Benchmark\n\nmedia tables\n")
    assert text.count("<!-- segments-service:start -->") == 1
    assert "| chunked output = unchunked (frames, durations) | same | yes |" in text
    full = (tmp_path / "work" / "SEGMENTS-service.md").read_text()
    assert "500 frames" in full and "3 (+ audio)" in full
