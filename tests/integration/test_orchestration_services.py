"""The orchestration scenarios of tests/unit/test_orchestration.py on the real services: the SQL
task store (SQLite and PostgreSQL) and the real object store (SeaweedFS), with real ffmpeg: a rule
choosing a branch, a failure retried and caught by its failure branch whose core result decides,
a failed core activity, the ScheduleTask event the SDK reads, a task aborted past its timeout."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mps.app import work_handler
from mps.storage import S3Storage
from mps.store import SqlTaskStore
from mps.worker.handler import WorkHandler
from tests.seaweed import SeaweedServer
from tests.unit.test_deadlines import test_a_task_past_its_timeout_is_aborted_once_with_a_timeout_code  # noqa: F401
from tests.unit.test_orchestration import (  # noqa: F401 - collected here, on the real services
    Rig,
    test_a_failed_core_activity_decides_the_task_error,
    test_a_failure_is_retried_then_caught_by_its_failure_branch_whose_core_result_decides,
    test_a_rule_on_the_height_chooses_the_branch_that_runs,
    test_the_completion_event_is_a_schedule_task_the_sdk_reads,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def rig(
    tmp_path: Path, database_url: str, seaweed: SeaweedServer, bucket: str
) -> Iterator[tuple[Rig, WorkHandler]]:
    store = SqlTaskStore(database_url)
    storage = S3Storage(seaweed.endpoint_url, seaweed.access_key, seaweed.secret_key, "us-east-1")
    env = Rig(tmp_path, store=store, storage=storage, bucket=bucket)
    try:
        with work_handler(env.settings, env.store, env.storage) as handler:
            yield env, handler
    finally:
        store.close()


@pytest.fixture
def store(database_url: str) -> Iterator[SqlTaskStore]:
    """The task-timeout test on SQLite and PostgreSQL."""
    sql = SqlTaskStore(database_url)
    yield sql
    sql.close()
