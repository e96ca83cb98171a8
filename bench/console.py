"""Console speed with a real history: 100,000 tasks in PostgreSQL, the list and a task page timed.

Creates a throw-away database on the PostgreSQL server of ``MPS_TEST_POSTGRES_URL`` (default: the
tests' ``postgres@127.0.0.1:5432``), migrates it, bulk-inserts ``--tasks`` tasks (3 sub-tasks each;
90% finished, 3% of those failed, 30% from 20 workflows) and an outbox row per finished task,
serves ``mps api`` on it with uvicorn, logs in to the console and times each page ``--runs``
times over HTTP. Prints p50/p99 in milliseconds (a Markdown table for bench/RESULTS.md), then
drops the database.

Usage: ``.venv/bin/python bench/console.py [--tasks 100000] [--runs 40]``
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mps.api.handlers import ApiServices  # noqa: E402
from mps.api.service import build_api  # noqa: E402
from mps.app import build_metrics  # noqa: E402
from mps.broker.stub import StubBroker  # noqa: E402
from mps.runner import FakeRunner  # noqa: E402
from mps.settings import Settings  # noqa: E402
from mps.storage.memory import MemoryStorage  # noqa: E402
from mps.store import SqlTaskStore  # noqa: E402
from mps.store.schema import outbox, subtasks, tasks  # noqa: E402
from mps.templates import TemplateCatalog, load_presets  # noqa: E402
from mps.workflow.templates import StoreTemplates  # noqa: E402
from tests.apiserver import running  # noqa: E402

ADMIN = os.environ.get("MPS_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
BATCH = 5000
PASSWORD = "bench"


def fill(url: str, count: int) -> tuple[str, str]:
    """Insert ``count`` tasks; returns a finished task's id and a word of some inputs."""
    rng = random.Random(15)
    engine = sa.create_engine(url)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    sample = ""
    with engine.begin() as conn:
        for first in range(0, count, BATCH):
            task_rows, sub_rows, event_rows = [], [], []
            for n in range(first, min(first + BATCH, count)):
                task_id = f"1250000-WorkflowTask-{uuid.UUID(int=rng.getrandbits(128)).hex}t0"
                created = start + timedelta(seconds=n * 30)
                roll = rng.random()
                status = "FINISH" if roll < 0.9 else ("PROCESSING" if roll < 0.95 else "WAITING")
                failed = status == "FINISH" and rng.random() < 0.03
                key = f"uploads/{rng.choice(['cats', 'dogs', 'news', 'sport'])}/clip-{n}.mp4"
                request = {"InputInfo": {"Type": "COS", "CosInputInfo": {"Bucket": "media", "Region": "r",
                           "Object": "/" + key}}, "OutputDir": "/out/",
                           "MediaProcessTask": {"TranscodeTaskSet": [{"Definition": 100010}]}}  # fmt: skip
                task_rows.append({
                    "task_id": task_id, "status": status, "request": request, "workflow_task": None,
                    "metadata": {"Duration": 60.0}, "err_code": 70000 if failed else 0,
                    "message": "ffmpeg failed" if failed else "", "session_id": None, "session_context": "",
                    "notify": None, "priority": 0,
                    "workflow_id": rng.randint(1, 20) if rng.random() < 0.3 else None,
                    "create_time": created, "begin_time": created if status != "WAITING" else None,
                    "finish_time": created + timedelta(seconds=20) if status == "FINISH" else None,
                    "input_name": "media/" + key,
                })  # fmt: skip
                for i, kind in enumerate(("Transcode", "SnapshotByTimeOffset", "ImageSprites")):
                    sub_status = {"FINISH": "FAIL" if failed and i == 0 else "SUCCESS",
                                  "PROCESSING": "PROCESSING", "WAITING": "WAITING"}[status]  # fmt: skip
                    sub_rows.append({
                        "task_id": task_id, "subtask_index": i, "kind": kind, "status": sub_status,
                        "input": {"Definition": 10}, "result": None,
                        "progress": 100 if status == "FINISH" else 40,
                        "attempts": 0 if status == "WAITING" else 1, "begin_time": None, "finish_time": None,
                    })  # fmt: skip
                if status == "FINISH":
                    event_rows.append({
                        "task_id": task_id, "target_kind": "exchange", "target_name": "mps.events",
                        "target_key": "task.finish", "payload": {"TaskId": task_id}, "created_at": created,
                        "attempts": 1, "next_attempt_at": created, "sent_at": created, "last_error": "",
                    })  # fmt: skip
                if n == count // 2 and status == "FINISH":
                    sample = task_id
            conn.execute(sa.insert(tasks), task_rows)
            conn.execute(sa.insert(subtasks), sub_rows)
            conn.execute(sa.insert(outbox), event_rows)
        conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    return sample, "clip-4242"


def time_get(client: httpx.Client, path: str, runs: int) -> tuple[float, float]:
    client.get(path).raise_for_status()  # warm
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        client.get(path).raise_for_status()
        samples.append((time.perf_counter() - began) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, round(0.99 * (len(samples) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    name = f"mps_bench_console_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.make_url(ADMIN).set(database=name).render_as_string(hide_password=False)
    try:
        store = SqlTaskStore(url)
        began = time.perf_counter()
        task_id, word = fill(url, args.tasks)
        print(f"filled {args.tasks} tasks in {time.perf_counter() - began:.0f} s", file=sys.stderr)
        settings = Settings(console_password=PASSWORD, console_secret="bench", database_url=url)
        services = ApiServices(store=store, broker=StubBroker(), storage=MemoryStorage(), runner=FakeRunner(),
                               templates=StoreTemplates(TemplateCatalog(load_presets()), store),
                               settings=settings)  # fmt: skip
        app = build_api(settings, services, metrics=build_metrics(store))
        pages = [
            ("/healthz (no database: the HTTP round trip alone)", "/healthz"),
            ("task list, newest 50", "/console/tasks"),
            ("task list JSON (the 2 s poll)", "/console/api/tasks"),
            ("status PROCESSING", "/console/tasks?status=PROCESSING"),
            ("failed only", "/console/tasks?failed=1"),
            ("workflow 7", "/console/tasks?workflow=7"),
            ("one day (time range)", "/console/tasks?from=2026-01-10T00:00&to=2026-01-11T00:00"),
            (f"search input '{word}'", f"/console/tasks?q={word}"),
            ("search TaskId", f"/console/tasks?q={task_id}"),
            ("page 100 (cursor)", "/console/tasks?before=95000"),
            ("task page", f"/console/tasks/{task_id}"),
            ("task JSON (the 2 s poll)", f"/console/api/tasks/{task_id}"),
            ("/metrics", "/metrics"),
        ]
        with running(app) as address, httpx.Client(base_url=f"http://{address}") as client:
            form = client.get("/console/login").text
            token = re.search(r'name="csrf" value="([^"]+)"', form)
            assert token is not None
            client.post(
                "/console/login", data={"user": "admin", "password": PASSWORD, "csrf": token.group(1)}
            )
            print(f"| page ({args.tasks:,} tasks, PostgreSQL) | p50 (ms) | p99 (ms) |")
            print("|---|---|---|")
            for label, path in pages:
                p50, p99 = time_get(client, path, args.runs)
                print(f"| {label} | {p50:.1f} | {p99:.1f} |", flush=True)
        store.close()
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
