"""The console's store reads on SQLite and PostgreSQL, and the indexes that keep them fast."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
import sqlalchemy as sa
from alembic import command

from mps.store import SqlTaskStore
from mps.store.base import TaskQuery
from mps.store.migrate import alembic_config, migrate
from mps.store.sql_console import task_list_query
from mps.store.sqlbase import create_store_engine
from tests.unit.test_console_store import ConsoleStoreContract
from tests.unit.test_memory_store import FakeClock


@pytest.mark.integration
class TestSqlConsoleStore(ConsoleStoreContract):
    @pytest.fixture
    def clock(self) -> FakeClock:
        return FakeClock()

    @pytest.fixture
    def store(self, database_url: str, clock: FakeClock) -> Iterator[SqlTaskStore]:
        store = SqlTaskStore(database_url, clock=clock)
        yield store
        store.close()


def _plan(url: str, query: TaskQuery) -> str:
    engine = create_store_engine(url)
    try:
        compiled = task_list_query(query, 50, None).compile(engine, compile_kwargs={"literal_binds": True})
        with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                # The test table is tiny: forbid the sequential scan a planner would rightly pick
                # for it, so the plan shows which index serves the query on a big one.
                conn.exec_driver_sql("SET enable_seqscan = off")
                rows = conn.exec_driver_sql(f"EXPLAIN {compiled}")
            else:
                rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}")
            return "\n".join(" ".join(str(c) for c in row) for row in rows)
    finally:
        engine.dispose()


@pytest.mark.integration
@pytest.mark.parametrize(
    ("query", "index"),
    [
        (TaskQuery(), "pk_tasks"),
        (TaskQuery(status="PROCESSING"), "ix_tasks_status_seq"),
        (TaskQuery(workflow_id=3), "ix_tasks_workflow_id_seq"),
        (TaskQuery(search="1-WorkflowTask-abct0"), "uq_tasks_task_id"),
    ],
)
def test_the_task_list_query_is_served_by_an_index(database_url: str, query: TaskQuery, index: str) -> None:
    store = SqlTaskStore(database_url)
    store.close()
    plan = _plan(database_url, query)
    one_row = query.search != ""  # a TaskId: one row through the unique index, sorted for nothing
    if database_url.startswith("sqlite"):
        # seq is SQLite's rowid: the unfiltered list walks it backwards, the others use an index.
        assert index == "pk_tasks" or "USING" in plan, plan
        assert one_row or "TEMP B-TREE" not in plan, plan  # no sort: the index gives the order
    else:
        assert index in plan and "Seq Scan" not in plan, plan
        assert one_row or "Sort" not in plan, plan


@pytest.mark.integration
def test_the_migration_fills_the_input_names_of_existing_tasks(database_url: str) -> None:
    engine = create_store_engine(database_url)
    try:
        migrate(engine, "0001")  # a fresh database (SQLite)
        command.downgrade(alembic_config(engine), "0001")  # the session's, at head (PostgreSQL)
        request = {"InputInfo": {"Type": "URL", "UrlInputInfo": {"Url": "https://example.com/a.mp4"}}}
        with engine.begin() as conn:
            conn.execute(sa.insert(tasks_0001()).values(
                task_id="1-WorkflowTask-oldt0", status="FINISH", request=request, err_code=0, message="",
                session_context="", priority=0, create_time=datetime(2025, 1, 1)))  # fmt: skip
        migrate(engine)
    finally:
        engine.dispose()
    store = SqlTaskStore(database_url)
    try:
        assert [t.input_name for t in store.find_tasks(TaskQuery(search="example.com")).tasks] == [
            "https://example.com/a.mp4"
        ]
    finally:
        store.close()


def tasks_0001() -> sa.Table:
    """The tasks table as revision 0001 made it (without input_name)."""
    return sa.table(
        "tasks", *(sa.column(name) for name in ("task_id", "status", "err_code", "message", "session_context",
                                                 "priority", "create_time")),
        sa.column("request", sa.JSON),
    )  # fmt: skip
