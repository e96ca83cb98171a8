"""Schema migrations, run programmatically: ``alembic upgrade head`` with the scripts packaged in
``mps/store/migrations`` (no ``alembic.ini`` needed). Called by :class:`SqlTaskStore` on open and by
the CLI."""

from __future__ import annotations

import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

#: Where the alembic environment and its versions live, inside the package so that they ship.
MIGRATIONS_DIR = Path(__file__).with_name("migrations")
#: Alembic's ``context`` and ``op`` are process-wide proxies: two threads migrating at once would
#: drive each other's migration. Threads take turns here; processes take turns in the database.
_MIGRATION_LOCK = threading.Lock()


def alembic_config(engine: Engine) -> Config:
    """An alembic Config for our scripts that runs on ``engine`` (``env.py`` takes it from
    ``config.attributes["engine"]``)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade the schema to ``revision``; a no-op when it is already there.

    Several processes may open the store at once (``mps up``): the whole upgrade runs in one
    transaction that holds SQLite's write lock or a PostgreSQL advisory lock, so they take turns;
    threads of one process take turns on a lock here.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database failed (callers translate it).
    """
    with _MIGRATION_LOCK:
        command.upgrade(alembic_config(engine), revision)


def migrate_url(url: str, revision: str = "head") -> None:
    """:func:`migrate` for a URL (the ``mps migrate`` command)."""
    from mps.store.sqlbase import create_store_engine, map_db_errors

    engine = create_store_engine(url)
    try:
        with map_db_errors():
            migrate(engine, revision)
    finally:
        engine.dispose()
