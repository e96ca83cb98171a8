"""``SqlTaskStore``: the task store on SQLAlchemy Core, SQLite by default, PostgreSQL when several
hosts share it. One Engine per store, short transactions, every SQLAlchemy error translated
(:func:`mps.store.sqlbase.map_db_errors`). The parts live by concern in ``sql_tasks``,
``sql_subtasks``, ``sql_outbox``, ``sql_console``, ``sql_catalog`` and ``sql_leases``."""

from __future__ import annotations

from mps.store.migrate import migrate
from mps.store.sql_catalog import CatalogMixin
from mps.store.sql_console import ConsoleMixin
from mps.store.sql_leases import LeasesMixin
from mps.store.sql_outbox import OutboxMixin
from mps.store.sql_subtasks import SubtasksMixin
from mps.store.sqlbase import Clock, create_store_engine, map_db_errors, utc_now


class SqlTaskStore(SubtasksMixin, ConsoleMixin, OutboxMixin, CatalogMixin, LeasesMixin):
    """The :class:`mps.store.base.TaskStore` on a SQL database.

    Parameters:
        url: a SQLAlchemy URL (``sqlite:///./mps.db``, ``postgresql+psycopg2://...``); the
            ``MPS_DATABASE_URL`` setting.
        upgrade: bring the schema to the newest migration on open (``alembic upgrade head``; a
            no-op when it is current). Turn off when the CLI migrates as a separate step.
        clock: the source of "now" (UTC), replaceable in tests.

    Raises:
        StorageUnavailableError: the database cannot be reached.
    """

    def __init__(self, url: str, *, upgrade: bool = True, clock: Clock = utc_now) -> None:
        engine = create_store_engine(url)
        if upgrade:
            try:
                with map_db_errors():
                    migrate(engine)
            except BaseException:
                engine.dispose()
                raise
        super().__init__(engine, clock)

    def __repr__(self) -> str:
        return f"SqlTaskStore({self._engine.url.render_as_string(hide_password=True)!r})"
