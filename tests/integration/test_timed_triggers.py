"""Timed triggers against real parts: SeaweedFS (no bucket notifications at all, so nothing but the
ticks can start a task), the task store on SQLite and PostgreSQL, the workflow actions.

Time is a settable clock shared by the stores and the schedulers, so ticks fall when a test says.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from mps.api import ActionRegistry, RequestContext
from mps.api.handlers import ApiServices, register_handlers
from mps.broker.stub import StubBroker
from mps.models import MediaMetaData
from mps.runner import FakeRunner
from mps.settings import Settings
from mps.storage import S3Storage
from mps.storage.base import ObjectInfo
from mps.store import SqlTaskStore
from mps.templates import TemplateCatalog, load_presets
from mps.workflow.templates import StoreTemplates
from mps.workflow.ticks import TickScheduler, WorkflowStarter
from tests.seaweed import SeaweedServer
from tests.unit.test_memory_store import FakeClock, race

pytestmark = pytest.mark.integration

WORK = {"SnapshotByTimeOffsetTaskSet": [{"Definition": 10, "ExtTimeOffsetSet": ["0.5s"]}]}
INTERVAL = 30


class CountingStorage(S3Storage):
    """The real S3 storage, counting its listings (how many ticks actually ran)."""

    def __init__(self, inner: S3Storage) -> None:
        self.__dict__.update(inner.__dict__)
        self.listings = 0
        self._count_lock = threading.Lock()

    def list(self, bucket: str, prefix: str = "", *, with_metadata: bool = False) -> Iterator[ObjectInfo]:
        with self._count_lock:
            self.listings += 1
        return super().list(bucket, prefix, with_metadata=with_metadata)


class Host:
    """One host's view: its own store on the shared database, and its scheduler."""

    def __init__(self, url: str, clock: FakeClock, storage: S3Storage) -> None:
        self.store = SqlTaskStore(url, clock=clock)
        self.broker = StubBroker()
        templates = StoreTemplates(TemplateCatalog(load_presets()), self.store)
        self.starter = WorkflowStarter(self.store, storage, self.broker, templates)
        self.scheduler = TickScheduler(self.store, storage, self.starter.timed_jobs, clock=clock)
        self.services = ApiServices(
            store=self.store, broker=self.broker, storage=storage, runner=FakeRunner(MediaMetaData()),
            templates=templates, settings=Settings(),
        )  # fmt: skip
        self.registry = register_handlers(ActionRegistry(), self.services)

    def __call__(self, action: str, **params: Any) -> dict[str, Any]:
        result = self.registry.get(action)(params, RequestContext(request_id="r", action=action))
        assert isinstance(result, dict)
        return result

    def objects(self) -> list[str]:
        tasks = self.store.list_tasks("WAITING", limit=100)[0]
        return sorted(t.request["InputInfo"]["CosInputInfo"]["Object"] for t in tasks)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def storage(s3: S3Storage) -> CountingStorage:
    return CountingStorage(s3)


@pytest.fixture
def hosts(database_url: str, clock: FakeClock, storage: CountingStorage) -> Iterator[list[Host]]:
    opened = [Host(database_url, clock, storage) for _ in range(2)]
    yield opened
    for host in opened:
        host.store.close()


def _timed_workflow(host: Host, bucket: str, **schedule: Any) -> int:
    trigger = {
        "Type": "Schedule",
        "ScheduleTrigger": {"Bucket": bucket, "Dir": "/in/", "Formats": ["mp4"], **schedule},
    }
    workflow_id = int(
        host("CreateWorkflow", WorkflowName=f"t-{bucket}", Trigger=trigger, MediaProcessTask=WORK)[
            "WorkflowId"
        ]
    )
    host("EnableWorkflow", WorkflowId=workflow_id)
    return workflow_id


def _upload(seaweed: SeaweedServer, bucket: str, key: str, body: bytes, **metadata: str) -> None:
    seaweed.client().put_object(Bucket=bucket, Key=key, Body=body, Metadata=metadata)


def test_an_interval_trigger_starts_objects_uploaded_with_no_event_once(
    hosts: list[Host], clock: FakeClock, seaweed: SeaweedServer, bucket: str, tmp_path: Path
) -> None:
    host = hosts[0]
    _timed_workflow(host, bucket, IntervalSeconds=INTERVAL)
    _upload(seaweed, bucket, "in/one.mp4", b"one")
    _upload(seaweed, bucket, "in/sub/two.mp4", b"two")
    _upload(seaweed, bucket, "in/notes.txt", b"not a video")
    _upload(seaweed, bucket, "elsewhere/three.mp4", b"three")
    _upload(seaweed, bucket, "in/one_snapshot.mp4", b"an output", **{"mps-task": "0-WorkflowTask-x"})

    assert host.scheduler.run_due() == 0  # the first tick is one interval after enabling
    clock.advance(timedelta(seconds=INTERVAL))
    assert host.scheduler.run_due() == 2
    assert host.objects() == ["/in/one.mp4", "/in/sub/two.mp4"]
    assert len(host.broker.messages(host.broker.work_queue)) >= 2  # their work was queued

    # The next tick finds both with their task; a later upload gets its own at the tick after.
    clock.advance(timedelta(seconds=INTERVAL))
    assert host.scheduler.run_due() == 0
    _upload(seaweed, bucket, "in/late.mp4", b"late")
    assert host.scheduler.run_due() == 0  # not due yet: ticks count from the last one
    clock.advance(timedelta(seconds=INTERVAL))
    assert host.scheduler.run_due() == 1
    assert host.objects() == ["/in/late.mp4", "/in/one.mp4", "/in/sub/two.mp4"]


def test_two_listeners_racing_for_a_tick_run_it_once(
    hosts: list[Host], clock: FakeClock, storage: CountingStorage, seaweed: SeaweedServer, bucket: str
) -> None:
    _timed_workflow(hosts[0], bucket, Cron="*/5 * * * *")
    for i in range(3):
        _upload(seaweed, bucket, f"in/clip{i}.mp4", b"x" * (i + 1))
    clock.advance(timedelta(minutes=5))
    before = storage.listings

    started = race(2, lambda i: hosts[i].scheduler.run_due())

    assert sorted(started) == [0, 3], started
    assert storage.listings - before == 1  # one tick listed the bucket: the other found the lease taken
    assert hosts[1].objects() == [f"/in/clip{i}.mp4" for i in range(3)]
    # A restarted listener (a new scheduler, the tick stored) finds nothing due until the next one.
    restarted = Host(hosts[0].store._engine.url.render_as_string(hide_password=False), clock, storage)
    try:
        assert restarted.scheduler.run_due() == 0 and storage.listings - before == 1
        clock.advance(timedelta(minutes=5))
        assert restarted.scheduler.run_due() == 0 and storage.listings - before == 2
    finally:
        restarted.store.close()


def test_run_workflow_reprocess_makes_new_tasks_and_leaves_the_schedule(
    hosts: list[Host], clock: FakeClock, seaweed: SeaweedServer, bucket: str
) -> None:
    host = hosts[0]
    workflow_id = _timed_workflow(host, bucket, IntervalSeconds=INTERVAL)
    _upload(seaweed, bucket, "in/a.mp4", b"a")
    _upload(seaweed, bucket, "in/b.mp4", b"b")

    assert host("RunWorkflow", WorkflowId=workflow_id) == {"TaskCount": 2}
    assert host("RunWorkflow", WorkflowId=workflow_id) == {"TaskCount": 0}
    assert host("RunWorkflow", WorkflowId=workflow_id, Reprocess=True) == {"TaskCount": 2}

    assert host.objects() == ["/in/a.mp4", "/in/a.mp4", "/in/b.mp4", "/in/b.mp4"]
    ours = host("DescribeWorkflowTrigger", WorkflowId=workflow_id)
    assert ours["LastTickTime"] == ""  # run-once is not a tick of the schedule
    clock.advance(timedelta(seconds=INTERVAL))
    assert host.scheduler.run_due() == 0  # the scheduled tick: every object has its task
    assert host("DescribeWorkflowTrigger", WorkflowId=workflow_id)["LastTickTime"] == "2025-01-01T00:00:30Z"
