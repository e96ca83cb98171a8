"""``SqlTaskStore`` on SQLite and PostgreSQL: the whole behavioural suite of
``tests/unit/test_memory_store.py``, plus migrations and error translation."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy.exc as sa_exc
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from mps.errors import MpsError, StorageUnavailableError
from mps.store import ConflictError, NewTask, SqlTaskStore, TaskStore, migrate_url
from mps.store.migrate import alembic_config
from mps.store.schema import metadata
from mps.store.sqlbase import create_store_engine, map_db_errors
from tests.integration.store_fixtures import PostgresServer
from tests.unit.test_memory_store import FakeClock, StoreContract, new, race

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def fresh_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database no migration has touched yet."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh.db'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database()


@pytest.mark.integration
class TestSqlTaskStore(StoreContract):
    """The contract on SQLite and PostgreSQL."""

    @pytest.fixture
    def clock(self) -> FakeClock:
        return FakeClock()

    @pytest.fixture
    def store(self, database_url: str, clock: FakeClock) -> Iterator[SqlTaskStore]:
        store = SqlTaskStore(database_url, clock=clock)
        yield store
        store.close()

    def test_it_is_a_task_store(self, store: SqlTaskStore) -> None:
        assert isinstance(store, TaskStore)

    def test_two_stores_on_one_database_see_each_other(self, database_url: str, clock: FakeClock) -> None:
        api, worker = SqlTaskStore(database_url, clock=clock), SqlTaskStore(database_url, clock=clock)
        try:
            task, _ = api.create_task(new(1))
            assert worker.finish_subtask(task.task_id, 0, {"n": 0}, "SUCCESS")
            assert api.get_subtasks(task.task_id)[0].result == {"n": 0}
        finally:
            api.close()
            worker.close()


@pytest.mark.integration
class TestMigrations:
    """The packaged alembic migrations."""

    def test_migrating_twice_is_a_no_op_that_keeps_data(self, database_url: str) -> None:
        store = SqlTaskStore(database_url)
        task, _ = store.create_task(new(1))
        store.close()

        migrate_url(database_url)
        again = SqlTaskStore(database_url)

        assert again.get_task(task.task_id).task_id == task.task_id
        engine = create_store_engine(database_url)
        try:
            with engine.connect() as conn:
                current = MigrationContext.configure(conn).get_current_revision()
            assert current == ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
        finally:
            engine.dispose()
            again.close()

    def test_stores_opening_a_fresh_database_at_once_migrate_it_once(self, fresh_database_url: str) -> None:
        stores = race(4, lambda i: SqlTaskStore(fresh_database_url))

        assert all(isinstance(s, SqlTaskStore) for s in stores), stores
        task, _ = stores[0].create_task(new())
        assert stores[3].get_task(task.task_id).task_id == task.task_id
        for store in stores:
            store.close()

    def test_processes_opening_a_fresh_database_at_once_migrate_it_once(
        self, fresh_database_url: str
    ) -> None:
        context = multiprocessing.get_context("spawn")
        barrier = context.Barrier(3)
        processes = [
            context.Process(target=_open_and_create, args=(fresh_database_url, barrier, f"p{i}"))
            for i in range(3)
        ]
        for process in processes:
            process.start()
        for process in processes:
            process.join(60)

        assert [p.exitcode for p in processes] == [0, 0, 0]
        store = SqlTaskStore(fresh_database_url)
        assert sorted(t.task_id for t in store.list_tasks("WAITING")[0]) == ["p0", "p1", "p2"]
        store.close()

    def test_the_migrated_schema_matches_the_metadata(self, database_url: str) -> None:
        migrate_url(database_url)
        engine = create_store_engine(database_url)
        try:
            with engine.connect() as conn:
                context = MigrationContext.configure(
                    conn, opts={"compare_type": True, "target_metadata": metadata}
                )
                diff = compare_metadata(context, metadata)
        finally:
            engine.dispose()
        assert diff == []


def _open_and_create(url: str, barrier: Any, task_id: str) -> None:
    """In a child process: open the store the moment the others do, then create one task."""
    barrier.wait()
    store = SqlTaskStore(url)
    store.create_task(NewTask(task_id, {}))
    store.close()


def test_an_unreachable_database_is_storage_unavailable() -> None:
    with pytest.raises(StorageUnavailableError) as err:
        SqlTaskStore("postgresql+psycopg2://postgres@127.0.0.1:1/none?connect_timeout=2")
    assert err.value.retryable


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (sa_exc.IntegrityError("INSERT", {}, Exception("unique")), ConflictError),
        (sa_exc.OperationalError("SELECT", {}, Exception("locked")), StorageUnavailableError),
        (sa_exc.InterfaceError("SELECT", {}, Exception("closed")), StorageUnavailableError),
        (sa_exc.DisconnectionError("gone"), StorageUnavailableError),
        (sa_exc.TimeoutError("pool"), StorageUnavailableError),
        (sa_exc.ProgrammingError("SELECT", {}, Exception("syntax")), MpsError),
        (sa_exc.DataError("INSERT", {}, Exception("too long")), MpsError),
        (sa_exc.NoSuchTableError("tasks"), MpsError),
    ],
)
def test_every_sqlalchemy_error_is_translated(raised: Exception, expected: type[MpsError]) -> None:
    with pytest.raises(expected) as err:
        with map_db_errors():
            raise raised
    assert err.value.__cause__ is raised
    assert type(err.value) is expected or expected is MpsError


def test_sqlite_connections_use_wal_and_a_busy_timeout(tmp_path: Path) -> None:
    engine = create_store_engine(f"sqlite:///{tmp_path / 'p.db'}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()
