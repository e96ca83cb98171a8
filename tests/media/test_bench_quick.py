"""The benchmark harness still runs: ``bench/run.py --quick`` on tiny clips, end to end."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_quick_benchmark_runs_checks_outputs_and_writes_the_report(tmp_path: Path) -> None:
    # Given the harness on tiny inputs (a few seconds of 320x240), one run of each pipeline
    report = tmp_path / "RESULTS.md"
    cmd = [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--runs", "1",
           "--out", str(report), "--work", str(tmp_path / "work")]  # fmt: skip

    # When it runs
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=240)

    # Then it succeeds, the three pipelines wrote the same outputs, and the report has its tables
    assert done.returncode == 0, done.stderr[-3000:]
    assert "outputs identical in kind: 18 files each" in done.stderr
    text = report.read_text()
    assert "| mps | 1 |" in text and "| naive | 1 |" in text and "| best | 1 |" in text
    assert "| naive / mps |" in text and "| mps / best |" in text
    assert "## Goals" in text and "no duplicate tiles" in text
    assert "ffmpeg version" in text
