"""Databases for the task-store tests: a SQLite file per test, and one throw-away PostgreSQL
database per session (``CREATE DATABASE mps_test_<random>``, dropped at the end) so parallel runs
never collide. PostgreSQL is skipped locally when unreachable and a failure when ``CI`` is set."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

#: The server the tests create their database on (override with ``MPS_TEST_POSTGRES_URL``).
POSTGRES_ADMIN_URL = os.environ.get(
    "MPS_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
)

#: Every table the store owns, emptied between PostgreSQL tests (children first).
STORE_TABLES = (
    "subtasks",
    "tasks",
    "outbox",
    "templates",
    "template_sequences",
    "workflows",
    "bucket_events",
)


def require_service(name: str, available: bool, hint: str) -> None:
    """Skip when a service is missing, unless ``CI`` is set: then fail (style.md habit 6)."""
    if available:
        return
    message = f"{name} is not available ({hint})"
    if os.environ.get("CI"):
        pytest.fail(message + "; CI must run every integration test", pytrace=False)
    pytest.skip(message)


@dataclass(frozen=True)
class PostgresDatabase:
    """A database created for this session."""

    url: str

    def truncate(self) -> None:
        """Empty the store's tables and restart their id sequences."""
        engine = sa.create_engine(self.url)
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
def postgres_database() -> Iterator[PostgresDatabase]:
    """A fresh PostgreSQL database for the session, dropped afterwards."""
    admin = _admin_engine()
    require_service("PostgreSQL", admin is not None, f"no server at {POSTGRES_ADMIN_URL}")
    assert admin is not None
    name = f"mps_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield PostgresDatabase(
            sa.make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
        )
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
