"""The API load benchmark still runs: ``bench/api_load.py --quick`` at tiny rates, end to end."""

from __future__ import annotations

import json
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
def test_quick_api_benchmark_measures_both_actions_and_updates_only_its_section(tmp_path: Path) -> None:
    require_service("RabbitMQ", listening(AMQP_URL), "rabbitmq-server -detached")
    # Given a report that already holds the media benchmark's text
    report = tmp_path / "RESULTS.md"
    report.write_text("# Benchmark: mps process vs naive vs best ffmpeg\n\nmedia tables\n")
    cmd = [sys.executable, str(ROOT / "bench" / "api_load.py"), "--quick", "--databases", "sqlite",
           "--out", str(report), "--work", str(tmp_path / "work")]  # fmt: skip

    # When the harness runs twice at tiny rates on SQLite
    for _ in range(2):
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=240)
        assert done.returncode == 0, done.stderr[-3000:]

    # Then every call was answered, CPU was measured, and the section was replaced, not appended
    phases = json.loads((tmp_path / "work" / "api_load.json").read_text())
    assert [p["action"] for p in phases] == ["ProcessMedia", "DescribeTaskDetail"]
    for phase in phases:
        assert phase["errors"] == {} and phase["ok"] == phase["calls"] > 0
        assert 0 < phase["p50"] <= phase["p99"] <= phase["max"]
        assert phase["api_cpu_ms"] > 0
    text = report.read_text()
    assert text.startswith("# Benchmark: mps process") and "media tables" in text
    assert text.count("# API load: `mps api` at fixed request rates") == 1
    assert "| current | sqlite | ProcessMedia | 10 |" in text
    assert "| current | sqlite | DescribeTaskDetail | 20 |" in text
    assert "| goal (workers idle) | measured | holds |" in text
