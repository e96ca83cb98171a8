"""``mps api --workers N``: N processes on one port, each with its own store pool and broker."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.integration.conftest import listening, require_service
from tests.processes import children, is_gone, wait_until

AMQP_URL = os.environ.get("MPS_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")


def _post(port: int, action: str, params: dict[str, object]) -> dict[str, object]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/", data=json.dumps(params).encode(), method="POST",
        headers={"Content-Type": "application/json", "X-TC-Action": action},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as answer:
        body: dict[str, object] = json.loads(answer.read())["Response"]
        return body


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as answer:
            return answer.status == 200
    except OSError:
        return False


@pytest.mark.integration
def test_api_workers_share_one_port_and_stop_together(tmp_path: Path) -> None:
    require_service("RabbitMQ", listening(AMQP_URL), "rabbitmq-server -detached")
    # Given `mps api --workers 2` on a fresh SQLite store (auth off)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "MPS_DATABASE_URL": f"sqlite:///{tmp_path / 'mps.db'}", "MPS_SECRET_ID": "",
           "MPS_QUEUE_PREFIX": f"test-workers-{os.getpid()}.", "MPS_SECRET_KEY": ""}  # fmt: skip
    cmd = [sys.executable, "-m", "mps", "api", "--port", str(port), "--workers", "2"]
    log = (tmp_path / "api.log").open("wb")
    server = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=log, stderr=log)
    workers: list[tuple[int, str]] = []
    try:
        # When it has started
        assert wait_until(lambda: _answers(port), 60), "mps api --workers 2 did not answer"

        # Then two worker processes serve the API, each answering from the one migrated store
        wait_until(lambda: len(children(server.pid)) >= 2, 10)
        workers = [child for child in children(server.pid) if child[1].startswith("python")]
        assert len(workers) >= 2, children(server.pid)
        for _ in range(4):
            answer = _post(port, "DescribeTaskDetail", {"TaskId": "0-WorkflowTask-none"})
            assert answer["Error"]["Code"] == "ResourceNotFound.TaskNotFound"  # type: ignore[index]
    finally:
        # And SIGTERM stops the parent and every worker
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        log.close()
    assert all(wait_until(lambda pid=pid: is_gone(pid), 10) for pid, _ in workers)
