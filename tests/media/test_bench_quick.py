"""The benchmark harness still runs: ``bench/run.py --quick`` on tiny clips, end to end."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from workloads import WORKLOADS, comparisons  # noqa: E402


@pytest.mark.slow
@pytest.mark.timeout(900)  # about 45 s alone; far longer on a loaded machine
def test_quick_benchmark_runs_checks_outputs_and_writes_the_report(tmp_path: Path) -> None:
    # Given the harness on tiny inputs (a few seconds of 320x240), one run of each pipeline
    report = tmp_path / "RESULTS.md"
    cmd = [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--runs", "1",
           "--out", str(report), "--work", str(tmp_path / "work")]  # fmt: skip

    # When it runs
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)

    # Then it succeeds, and on every workload the pipelines wrote the same outputs
    assert done.returncode == 0, done.stderr[-3000:]
    assert "outputs identical in kind: 18 files each" in done.stderr  # the standard workflow
    checked = [line for line in done.stderr.splitlines() if "outputs identical in kind" in line]
    assert len(checked) == len(WORKLOADS), checked
    # And the report has every workload's tables, ratios and goals
    text = report.read_text()
    assert text.count("| mps | 1 |") == len(WORKLOADS) - 1  # every workload but the long sprite
    assert "| naive / mps |" in text and "| mps / best |" in text
    assert "## Goals" in text and "no duplicate tiles" in text
    for comparison in comparisons():
        assert f"## {comparison.title}" in text
        assert f"{comparison.key}: mps within 1.15x of best" in text
    assert "ffmpeg version" in text


@pytest.mark.slow
def test_one_workload_runs_alone_into_its_own_report(tmp_path: Path) -> None:
    # Given the harness asked for one workload only
    cmd = [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--runs", "1",
           "--workload", "dense-sprite", "--work", str(tmp_path / "work")]  # fmt: skip

    # When it runs
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)

    # Then only that workload ran, and its report went beside the work files, not over RESULTS.md
    assert done.returncode == 0, done.stderr[-3000:]
    text = (tmp_path / "work" / "RESULTS-dense-sprite.md").read_text()
    assert "## Dense sprite on a short clip" in text
    assert "## Standard workflow" not in text and "--workload dense-sprite" in text
