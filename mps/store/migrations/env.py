"""Alembic environment of the task store: online migrations on the Engine that
:func:`mps.store.migrate.migrate` passes in ``config.attributes``."""

from __future__ import annotations

from alembic import context

from mps.store.schema import metadata

#: Arbitrary, fixed key of the PostgreSQL advisory lock that serializes concurrent migrators.
_PG_MIGRATION_LOCK = 0x6D7073  # "mps"


def run_migrations_online() -> None:
    """Run every pending migration in one transaction on the configured engine."""
    engine = context.config.attributes["engine"]
    with engine.connect() as connection:
        # The store's SQLite engine begins IMMEDIATE for writers: the migration holds the write
        # lock from its first statement, so two processes never race on CREATE TABLE.
        connection.execution_options(mps_write=True)
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            transactional_ddl=True,
            compare_type=True,
        )
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})")
            context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("mps migrations run online only (mps.store.migrate.migrate)")
run_migrations_online()
