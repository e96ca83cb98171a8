"""The console in headless Chromium (Debian's chromium, playwright-core from tests/players):
log in, see a running task's progress change without a reload, abort a waiting task with the
button and see it FINISH, and an orchestration's DAG with its skipped branch drawn skipped (a node
leads to its row). Skipped locally without node, chromium or ``make player-deps``; a failure
in CI."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from tests.apiserver import running
from tests.console.harness import ADMIN_PASSWORD, add_task, console_app, store_of
from tests.console.test_orchestration_pages import _finish, _schedule_task
from tests.integration.conftest import require_service

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("browser.mjs")
PLAYWRIGHT = ROOT / "tests" / "players" / "node_modules" / "playwright-core"


@pytest.mark.integration
@pytest.mark.slow
def test_log_in_watch_progress_and_abort_in_chromium(tmp_path: Path) -> None:
    node, chromium = shutil.which("node"), shutil.which("chromium") or "/usr/bin/chromium"
    require_service("node", node is not None, "apt-get install nodejs")
    require_service("chromium", Path(chromium).exists(), "make player-deps")
    require_service("playwright-core", PLAYWRIGHT.is_dir(), "make player-deps")
    app = console_app(tmp_path)
    store = store_of(app)
    busy = add_task(app, key="in/running.mp4")
    store.start_subtask(busy, 0)
    idle = add_task(app, key="in/waiting.mp4")
    dag = _schedule_task(app)  # the README's example: the rule chooses 2, so 3 is skipped
    _finish(
        app, dag, 1, "SUCCESS", {"Type": "ExecRules", "ExecRuleTask": {"Output": {"RearDriveIndex": [2]}}}
    )
    store.start_subtask(dag, 2)
    stop = threading.Event()

    def work() -> None:  # a worker's progress reports, as the store receives them
        percent = 0
        while not stop.wait(0.5) and percent < 95:
            percent += 5
            store.update_progress(busy, 0, percent)

    worker = threading.Thread(target=work, daemon=True)
    with running(app) as address:
        worker.start()
        try:
            done = subprocess.run(
                [str(node), str(SCRIPT), f"http://{address}", "admin", ADMIN_PASSWORD, busy, idle, dag],
                cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
            )  # fmt: skip
        finally:
            stop.set()
            worker.join()
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["ok"], result
    assert result["loginShown"]
    assert result["progressBefore"] != result["progressAfter"]
    assert result["reloaded"] == 1  # the list updated in place
    assert result["statusBefore"] == "WAITING" and result["statusAfter"] == "FINISH"
    assert result["pageErrors"] == []
    assert store.get_task(idle).status == "FINISH"
    assert result["dagStates"] == ["ran", "ran", "running", "skipped", "waiting", "waiting", "waiting"]
    assert result["dagEdges"] == 8 and result["dagBoxShown"]
    assert result["hash"] == "#sub-3" and result["historyRows"] >= 5
