"""Trigger leases on SQLite and PostgreSQL: the :class:`LeaseContract` of
``tests/unit/test_store_leases.py``, with several stores on one database racing as hosts do."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from mps.store import SqlTaskStore, TaskStore
from tests.unit.test_memory_store import FakeClock
from tests.unit.test_store_leases import LeaseContract


@pytest.mark.integration
class TestSqlLeases(LeaseContract):
    @pytest.fixture
    def clock(self) -> FakeClock:
        return FakeClock()

    @pytest.fixture
    def store(self, database_url: str, clock: FakeClock) -> Iterator[SqlTaskStore]:
        store = SqlTaskStore(database_url, clock=clock)
        yield store
        store.close()

    @pytest.fixture
    def other_store(self, database_url: str, clock: FakeClock) -> Iterator[Callable[[], TaskStore]]:
        opened: list[SqlTaskStore] = []

        def open_one() -> TaskStore:
            opened.append(SqlTaskStore(database_url, clock=clock))
            return opened[-1]

        yield open_one
        for store in opened:
            store.close()
