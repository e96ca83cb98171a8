"""Named leases of :class:`mps.store.sql.SqlTaskStore` (the ``trigger_leases`` table).

Taking a lease is one conditional ``UPDATE`` (free, expired, or ours), or the ``INSERT`` of a
lease never taken; two processes racing for it cannot both win: the update is atomic on both
backends, and of two inserts the primary key refuses the second.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from mps.store.base import ConflictError, LeaseRecord
from mps.store.schema import trigger_leases
from mps.store.sqlbase import SqlBase


def _lease(row: sa.Row[Any]) -> LeaseRecord:
    m = row._mapping
    return LeaseRecord(m["name"], m["holder"], m["expires"], m["last_tick"])


class LeasesMixin(SqlBase):
    """Trigger leases (see :class:`mps.store.base.TriggerLeases` for the contract)."""

    def get_lease(self, name: str) -> LeaseRecord | None:
        """The lease as stored; None if it was never taken."""
        with self._read() as conn:
            row = conn.execute(sa.select(trigger_leases).where(trigger_leases.c.name == name)).first()
        return None if row is None else _lease(row)

    def acquire_lease(self, name: str, holder: str, ttl: timedelta) -> LeaseRecord | None:
        """Take the lease for ``ttl`` if it is free, expired or ``holder``'s; None if another holds it."""
        now = self._now()
        taken = sa.or_(
            trigger_leases.c.holder.is_(None),
            trigger_leases.c.expires < now,
            trigger_leases.c.holder == holder,
        )
        try:
            with self._write() as conn:
                updated = conn.execute(
                    sa.update(trigger_leases)
                    .where(trigger_leases.c.name == name, taken)
                    .values(holder=holder, expires=now + ttl)
                    .returning(*trigger_leases.c)
                ).first()
                if updated is not None:
                    return _lease(updated)
                exists = conn.execute(
                    sa.select(trigger_leases.c.name).where(trigger_leases.c.name == name)
                ).first()
                if exists is not None:
                    return None  # held by another, and not expired
                conn.execute(sa.insert(trigger_leases).values(name=name, holder=holder, expires=now + ttl))
                return LeaseRecord(name, holder, now + ttl, None)
        except ConflictError:
            return None  # another process inserted it first: theirs

    def release_lease(self, name: str, holder: str, last_tick: datetime | None = None) -> bool:
        """Free the lease if ``holder`` holds it, storing ``last_tick`` when given."""
        values: dict[str, Any] = {"holder": None, "expires": None}
        if last_tick is not None:
            values["last_tick"] = last_tick
        with self._write() as conn:
            result = conn.execute(
                sa.update(trigger_leases)
                .where(trigger_leases.c.name == name, trigger_leases.c.holder == holder)
                .values(**values)
            )
        return bool(result.rowcount)
