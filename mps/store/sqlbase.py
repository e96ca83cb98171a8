"""What every part of :class:`mps.store.sql.SqlTaskStore` shares: the engine, its transactions, the
translation of SQLAlchemy errors and the row-to-record converters."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
import sqlalchemy.exc as sa_exc
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from mps.errors import MpsError, StorageUnavailableError
from mps.store.base import (
    Clock,
    ConflictError,
    EventTarget,
    OutboxRecord,
    SubtaskRecord,
    TaskRecord,
    TemplateRecord,
    WorkflowRecord,
    utc_now,
)

#: Milliseconds a SQLite connection waits for the write lock before failing (several worker threads
#: and processes share one file; a write transaction here lasts milliseconds).
SQLITE_BUSY_TIMEOUT_MS = 30_000

#: Connections kept open per store (per process), and how many more may be opened under load:
#: enough for the API's handler threads and a worker's, few enough for several processes to share
#: PostgreSQL's default of 100 connections.
POOL_SIZE = 10
POOL_OVERFLOW = 10
#: Seconds a pooled connection may sit idle before it is pinged at checkout.
PING_AFTER_IDLE = 10.0

#: Errors that mean "the database did not answer" (down, locked past the busy timeout, connection
#: dropped, pool exhausted) rather than "the statement is wrong".
_UNAVAILABLE = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,
)


@contextmanager
def map_db_errors() -> Iterator[None]:
    """Translate SQLAlchemy exceptions into mps errors, chaining the original.

    Raises:
        ConflictError: a unique or foreign key was violated (``IntegrityError``).
        StorageUnavailableError: the database did not answer, was locked or dropped the connection
            (retryable).
        MpsError: ``InternalError.Database`` for anything else (a bug or a schema mismatch).
    """
    try:
        yield
    except sa_exc.IntegrityError as exc:
        raise ConflictError(f"constraint violated: {exc.orig}") from exc
    except _UNAVAILABLE as exc:
        raise StorageUnavailableError(f"task store unavailable: {exc}") from exc
    except sa_exc.SQLAlchemyError as exc:
        raise MpsError(f"task store error: {exc}", code="InternalError.Database") from exc


def create_store_engine(url: str) -> Engine:
    """One Engine for a store URL; for SQLite: shared across threads, WAL, a busy timeout, foreign
    keys on, and transactions we begin ourselves (see :func:`_sqlite_begin`).

    Connections are checked for life only when they sat idle in the pool past
    :data:`PING_AFTER_IDLE` seconds (:func:`_ping_if_idle`), not on every checkout: a ping per
    transaction is a network round trip per call on PostgreSQL.
    """
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "sqlite":
        engine = sa.create_engine(parsed, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW)
        event.listen(engine, "checkin", _mark_idle)
        event.listen(engine, "checkout", _ping_if_idle)
        return engine
    engine = sa.create_engine(
        parsed, connect_args={"check_same_thread": False}, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW
    )
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _mark_idle(_dbapi_connection: Any, record: Any) -> None:
    record.info["mps_idle_since"] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """A pooled connection idle for a while may have been dropped (server restart, a firewall):
    ping it before use and let the pool replace it if it is dead (SQLAlchemy's documented
    pessimistic recipe, raising ``DisconnectionError``), so no caller sees the stale socket."""
    since = record.info.get("mps_idle_since")
    if since is None or time.monotonic() - since < PING_AFTER_IDLE:
        return
    try:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT 1")
        finally:
            cursor.close()
    except Exception as exc:  # whatever the driver raises for a dead socket: replace the connection
        raise sa_exc.DisconnectionError(f"pooled connection is dead: {exc}") from exc


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's own transaction handling begins late and never IMMEDIATE; turn it off and begin
    # ourselves (SQLAlchemy's documented recipe for SQLite transactions).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    # A write transaction takes the write lock up front (BEGIN IMMEDIATE): a deferred one that reads
    # first and then writes fails with SQLITE_BUSY at once in WAL mode if another writer went
    # between, and the busy timeout does not help. Readers stay DEFERRED and never block.
    mode = "IMMEDIATE" if conn.get_execution_options().get("mps_write") else "DEFERRED"
    conn.exec_driver_sql(f"BEGIN {mode}")


class SqlBase:
    """The engine, the clock, and short transactions with errors translated."""

    def __init__(self, engine: Engine, clock: Clock = utc_now) -> None:
        self._engine = engine
        self._now = clock
        self._postgres = engine.dialect.name == "postgresql"
        # SQLite has one writer at a time. Threads of this process queue for it here, woken as soon
        # as it is free, instead of in SQLite's busy handler, which sleeps 1, 2, 5... 100 ms between
        # tries (tens of ms of latency under load); other processes still meet the busy timeout.
        self._write_lock = threading.Lock() if engine.dialect.name == "sqlite" else None

    def close(self) -> None:
        """Release every pooled connection."""
        self._engine.dispose()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A short write transaction: committed on success, rolled back on any exception."""
        if self._write_lock is None:
            with map_db_errors(), self._engine.connect() as conn:
                conn.execution_options(mps_write=True)
                with conn.begin():
                    yield conn
            return
        with self._write_lock, map_db_errors(), self._engine.connect() as conn:
            conn.execution_options(mps_write=True)
            with conn.begin():
                yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """A short read-only transaction."""
        with map_db_errors(), self._engine.connect() as conn, conn.begin():
            yield conn


def task_record(row: sa.Row[Any]) -> TaskRecord:
    """A ``tasks`` row as a record."""
    m = row._mapping
    return TaskRecord(
        task_id=m["task_id"],
        status=m["status"],
        request=m["request"],
        workflow_task=m["workflow_task"],
        metadata=m["metadata"],
        err_code=m["err_code"],
        message=m["message"],
        session_id=m["session_id"],
        session_context=m["session_context"],
        notify=m["notify"],
        priority=m["priority"],
        workflow_id=m["workflow_id"],
        create_time=m["create_time"],
        begin_time=m["begin_time"],
        finish_time=m["finish_time"],
    )


def subtask_record(row: sa.Row[Any]) -> SubtaskRecord:
    """A ``subtasks`` row as a record."""
    m = row._mapping
    return SubtaskRecord(
        task_id=m["task_id"],
        index=m["subtask_index"],
        kind=m["kind"],
        status=m["status"],
        input=m["input"],
        result=m["result"],
        progress=m["progress"],
        attempts=m["attempts"],
        begin_time=m["begin_time"],
        finish_time=m["finish_time"],
        lease_token=m["lease_token"],
        lease_until=m["lease_until"],
    )


def outbox_record(row: sa.Row[Any]) -> OutboxRecord:
    """An ``outbox`` row as a record."""
    m = row._mapping
    return OutboxRecord(
        id=m["id"],
        task_id=m["task_id"],
        payload=m["payload"],
        target=EventTarget(m["target_kind"], m["target_name"], m["target_key"]),
        created_at=m["created_at"],
        attempts=m["attempts"],
        next_attempt_at=m["next_attempt_at"],
        sent_at=m["sent_at"],
        last_error=m["last_error"],
    )


def template_record(row: sa.Row[Any]) -> TemplateRecord:
    """A ``templates`` row as a record."""
    m = row._mapping
    return TemplateRecord(
        family=m["family"],
        definition=m["definition"],
        name=m["name"],
        body=m["body"],
        create_time=m["create_time"],
        update_time=m["update_time"],
    )


def workflow_record(row: sa.Row[Any]) -> WorkflowRecord:
    """A ``workflows`` row as a record."""
    m = row._mapping
    return WorkflowRecord(
        workflow_id=m["workflow_id"],
        name=m["name"],
        status=m["status"],
        body=m["body"],
        trigger_bucket=m["trigger_bucket"],
        trigger_dir=m["trigger_dir"],
        create_time=m["create_time"],
        update_time=m["update_time"],
        kind=m["kind"],
    )
