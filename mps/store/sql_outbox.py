"""The transactional outbox of :class:`mps.store.sql.SqlTaskStore`: events written in the same
transaction as the state they report, then claimed, sent and marked by a relay."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from mps.store.base import DEFAULT_OUTBOX_LEASE, EventTarget, JsonDict, OutboxRecord
from mps.store.schema import outbox
from mps.store.sql_history import HistoryMixin
from mps.store.sqlbase import outbox_record
from mps.store.transitions import OwedEvent


def insert_event(
    conn: Connection,
    task_id: str | None,
    target: EventTarget,
    payload: JsonDict,
    now: datetime,
    due: datetime | None = None,
) -> int:
    """Insert one outbox row, due at ``due`` (default: at once), inside the caller's transaction;
    returns its id."""
    result = conn.execute(
        sa.insert(outbox).values(
            task_id=task_id,
            target_kind=target.kind,
            target_name=target.name,
            target_key=target.key,
            payload=payload,
            created_at=now,
            attempts=0,
            next_attempt_at=due or now,
            last_error="",
        )
    )
    assert result.inserted_primary_key is not None
    return int(result.inserted_primary_key[0])


class OutboxMixin(HistoryMixin):
    """``add_event``, ``claim_outbox``, ``mark_sent`` and ``mark_failed``."""

    def add_event(self, task_id: str | None, target: EventTarget, payload: JsonDict) -> int:
        """Queue an event for delivery.

        Parameters:
            task_id: the task it reports on (None for events about nothing stored).
            target: where the relay sends it.
            payload: the JSON body.

        Returns:
            The outbox row id.
        """
        return self.add_events(task_id, [(target, payload)])[0]

    def add_events(self, task_id: str | None, events: Sequence[OwedEvent]) -> list[int]:
        """Queue several events in one transaction: all of them, or none.

        Returns:
            The outbox row ids, in order.
        """
        with self._write() as conn:
            now = self._now()
            return [insert_event(conn, task_id, target, payload, now) for target, payload in events]

    def claim_outbox(
        self, limit: int, now: datetime | None = None, lease: timedelta = DEFAULT_OUTBOX_LEASE
    ) -> list[OutboxRecord]:
        """Lease up to ``limit`` unsent rows due at ``now``, oldest first.

        Each claimed row gets ``attempts + 1`` and ``next_attempt_at = now + lease``, so another relay
        skips it until it is marked or the lease runs out (a relay that died mid-send). On
        PostgreSQL the rows are picked ``FOR UPDATE SKIP LOCKED``, so relays never wait on each other.

        Returns:
            The claimed rows, as they are after the claim.
        """
        now = now or self._now()
        query = (
            sa.select(outbox.c.id)
            .where(outbox.c.sent_at.is_(None), outbox.c.next_attempt_at <= now)
            .order_by(outbox.c.id)
            .limit(limit)
        )
        if self._postgres:
            query = query.with_for_update(skip_locked=True)
        with self._write() as conn:
            ids = list(conn.execute(query).scalars())
            if not ids:
                return []
            conn.execute(
                sa.update(outbox)
                .where(outbox.c.id.in_(ids))
                .values(attempts=outbox.c.attempts + 1, next_attempt_at=now + lease)
            )
            rows = conn.execute(sa.select(outbox).where(outbox.c.id.in_(ids)).order_by(outbox.c.id))
            return [outbox_record(row) for row in rows]

    def mark_sent(self, event_id: int) -> None:
        """Record delivery; the row is never claimed again."""
        with self._write() as conn:
            sent = conn.execute(
                sa.update(outbox)
                .where(outbox.c.id == event_id, outbox.c.sent_at.is_(None))
                .values(sent_at=self._now())
            )
            if sent.rowcount == 1:
                self._delivered(conn, event_id)

    def mark_failed(self, event_id: int, error: str, retry_at: datetime) -> None:
        """Record a failed delivery and when to try again."""
        with self._write() as conn:
            conn.execute(
                sa.update(outbox)
                .where(outbox.c.id == event_id, outbox.c.sent_at.is_(None))
                .values(last_error=error[:4000], next_attempt_at=retry_at)
            )

    def list_events(self, task_id: str) -> list[OutboxRecord]:
        """Every outbox row of one task, oldest first (for DescribeTaskDetail debugging and tests)."""
        with self._read() as conn:
            rows = conn.execute(sa.select(outbox).where(outbox.c.task_id == task_id).order_by(outbox.c.id))
            return [outbox_record(row) for row in rows]
