"""Trigger leases of the task store, as one suite (:class:`LeaseContract`) every implementation runs.

Here on :class:`MemoryTaskStore`; ``tests/integration/test_sql_leases.py`` runs the same class on
SQLite and PostgreSQL, with stores that share one database as hosts do.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from mps.store import MemoryTaskStore, TaskStore
from tests.unit.test_memory_store import FakeClock, race

TTL = timedelta(minutes=10)
TICK = datetime(2025, 1, 1, 0, 5, tzinfo=UTC)


class LeaseContract:
    """The behaviour of ``get_lease`` / ``acquire_lease`` / ``release_lease``. Subclasses provide
    ``store``, ``clock``, and ``other_store`` (a second store on the same data, like another host)."""

    def test_a_lease_never_taken_is_none(self, store: TaskStore) -> None:
        assert store.get_lease("workflow:1") is None

    def test_the_first_holder_gets_it_and_another_does_not(self, store: TaskStore, clock: FakeClock) -> None:
        taken = store.acquire_lease("workflow:1", "a", TTL)

        assert taken is not None and (taken.holder, taken.last_tick) == ("a", None)
        assert taken.expires == clock.now + TTL
        assert store.acquire_lease("workflow:1", "b", TTL) is None
        assert store.acquire_lease("workflow:2", "b", TTL) is not None  # leases are per name

    def test_the_holder_extends_its_lease(self, store: TaskStore, clock: FakeClock) -> None:
        store.acquire_lease("workflow:1", "a", TTL)
        clock.advance(timedelta(minutes=5))

        again = store.acquire_lease("workflow:1", "a", TTL)

        assert again is not None and again.expires == clock.now + TTL

    def test_an_expired_lease_goes_to_the_next_holder(self, store: TaskStore, clock: FakeClock) -> None:
        store.acquire_lease("workflow:1", "a", TTL)
        clock.advance(TTL + timedelta(seconds=1))

        taken = store.acquire_lease("workflow:1", "b", TTL)

        assert taken is not None and taken.holder == "b"
        assert not store.release_lease("workflow:1", "a", last_tick=TICK)  # a's tick outlived its lease
        lease = store.get_lease("workflow:1")
        assert lease is not None and (lease.holder, lease.last_tick) == ("b", None)

    def test_release_stores_the_last_tick_and_frees_the_lease(self, store: TaskStore) -> None:
        store.acquire_lease("workflow:1", "a", TTL)

        assert store.release_lease("workflow:1", "a", last_tick=TICK)

        lease = store.get_lease("workflow:1")
        assert lease is not None and (lease.holder, lease.expires, lease.last_tick) == (None, None, TICK)
        taken = store.acquire_lease("workflow:1", "b", TTL)
        assert taken is not None and taken.last_tick == TICK  # the next holder reads it with the lease

    def test_release_without_a_tick_keeps_the_stored_one(self, store: TaskStore) -> None:
        store.acquire_lease("workflow:1", "a", TTL)
        store.release_lease("workflow:1", "a", last_tick=TICK)
        store.acquire_lease("workflow:1", "b", TTL)

        assert store.release_lease("workflow:1", "b")

        lease = store.get_lease("workflow:1")
        assert lease is not None and lease.last_tick == TICK and lease.holder is None

    def test_release_by_another_changes_nothing(self, store: TaskStore) -> None:
        store.acquire_lease("workflow:1", "a", TTL)

        assert not store.release_lease("workflow:1", "b", last_tick=TICK)
        assert not store.release_lease("workflow:9", "a")

        lease = store.get_lease("workflow:1")
        assert lease is not None and (lease.holder, lease.last_tick) == ("a", None)

    def test_of_holders_racing_for_a_new_lease_exactly_one_wins(
        self, store: TaskStore, other_store: Callable[[], TaskStore]
    ) -> None:
        stores = [store, other_store(), other_store(), other_store()]

        results = race(4, lambda i: stores[i].acquire_lease("workflow:7", f"host{i}", TTL))

        winners = [r for r in results if r is not None]
        assert len(winners) == 1, results
        lease = store.get_lease("workflow:7")
        assert lease is not None and lease.holder == winners[0].holder

    def test_of_holders_racing_for_a_freed_lease_exactly_one_wins(
        self, store: TaskStore, other_store: Callable[[], TaskStore]
    ) -> None:
        store.acquire_lease("workflow:7", "first", TTL)
        store.release_lease("workflow:7", "first", last_tick=TICK)
        stores = [store, other_store(), other_store(), other_store()]

        results = race(4, lambda i: stores[i].acquire_lease("workflow:7", f"host{i}", TTL))

        assert len([r for r in results if r is not None]) == 1, results


class TestMemoryLeases(LeaseContract):
    @pytest.fixture
    def clock(self) -> FakeClock:
        return FakeClock()

    @pytest.fixture
    def store(self, clock: FakeClock) -> MemoryTaskStore:
        return MemoryTaskStore(clock=clock)

    @pytest.fixture
    def other_store(self, store: MemoryTaskStore) -> Callable[[], TaskStore]:
        return lambda: store  # one process: every "host" shares the one store
