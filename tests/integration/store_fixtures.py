"""Databases for the task-store tests: a SQLite file per test, and throw-away PostgreSQL databases
(``CREATE DATABASE mps_test_<random>``, dropped at the end) so parallel runs never collide.
PostgreSQL is skipped locally when unreachable and a failure when ``CI`` is set."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from mps.store import migrate_url

#: The server the tests create their databases on (override with ``MPS_TEST_POSTGRES_URL``).
POSTGRES_ADMIN_URL = os.environ.get(
    "MPS_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
)

#: Every table the store owns, emptied between PostgreSQL tests.
STORE_TABLES = (
    "task_history",
    "subtasks",
    "tasks",
    "outbox",
    "templates",
    "template_sequences",
    "workflows",
    "bucket_events",
    "trigger_leases",
)


def require_service(name: str, available: bool, hint: str) -> None:
    """Skip when a service is missing, unless ``CI`` is set: then fail (style.md habit 6)."""
    if available:
        return
    message = f"{name} is not available ({hint})"
    if os.environ.get("CI"):
        pytest.fail(message + "; CI must run every integration test", pytrace=False)
    pytest.skip(message)


class PostgresServer:
    """The test server: creates databases with random names and drops them all on :meth:`close`."""

    def __init__(self, admin: sa.Engine) -> None:
        self._admin = admin
        self._created: list[str] = []

    def create_database(self) -> str:
        """A new, empty database; returns its URL."""
        name = f"mps_test_{uuid.uuid4().hex[:12]}"
        with self._admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        self._created.append(name)
        return sa.make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)

    def close(self) -> None:
        """Drop every database this server created (``WITH (FORCE)``: leftover connections too)."""
        with self._admin.connect() as conn:
            for name in self._created:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._admin.dispose()


def truncate_store(url: str) -> None:
    """Empty the store's tables and restart their id sequences."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"TRUNCATE {', '.join(STORE_TABLES)} RESTART IDENTITY CASCADE")
    finally:
        engine.dispose()


def _admin_engine() -> sa.Engine | None:
    engine = sa.create_engine(
        POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
    )
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except sa.exc.SQLAlchemyError:
        engine.dispose()
        return None
    return engine


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The PostgreSQL server for the session; its test databases are dropped afterwards."""
    admin = _admin_engine()
    require_service("PostgreSQL", admin is not None, f"no server at {POSTGRES_ADMIN_URL}")
    assert admin is not None
    server = PostgresServer(admin)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def postgres_store_url(postgres_server: PostgresServer) -> str:
    """One database for the session's store tests, emptied by each test that uses it."""
    return postgres_server.create_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty, migrated database: a SQLite file in tmp_path, or the session's PostgreSQL one emptied."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'mps.db'}"
    url: str = request.getfixturevalue("postgres_store_url")
    migrate_url(url)
    truncate_store(url)
    return url
