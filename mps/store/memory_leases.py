"""Named leases of :class:`mps.store.memory.MemoryTaskStore`: the same contract as
:mod:`mps.store.sql_leases`, in a dict behind the store's lock."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime, timedelta

from mps.store.base import Clock, LeaseRecord


class MemoryLeases:
    """Trigger leases in a dict.

    Parameters:
        lock: the store's one lock.
        clock: the source of "now" (UTC).
    """

    def __init__(self, lock: threading.RLock, clock: Clock) -> None:
        self._lease_lock = lock
        self._lease_clock = clock
        self._leases: dict[str, LeaseRecord] = {}

    def get_lease(self, name: str) -> LeaseRecord | None:
        """See :meth:`mps.store.sql_leases.LeasesMixin.get_lease`."""
        with self._lease_lock:
            return self._leases.get(name)

    def acquire_lease(self, name: str, holder: str, ttl: timedelta) -> LeaseRecord | None:
        """See :meth:`mps.store.sql_leases.LeasesMixin.acquire_lease`."""
        with self._lease_lock:
            now = self._lease_clock()
            current = self._leases.get(name) or LeaseRecord(name, None, None, None)
            free = current.holder is None or current.expires is None or current.expires < now
            if not free and current.holder != holder:
                return None
            self._leases[name] = replace(current, holder=holder, expires=now + ttl)
            return self._leases[name]

    def release_lease(self, name: str, holder: str, last_tick: datetime | None = None) -> bool:
        """See :meth:`mps.store.sql_leases.LeasesMixin.release_lease`."""
        with self._lease_lock:
            current = self._leases.get(name)
            if current is None or current.holder != holder:
                return False
            tick = current.last_tick if last_tick is None else last_tick
            self._leases[name] = replace(current, holder=None, expires=None, last_tick=tick)
            return True
