"""``mps api``: serve the MPS API 3.0 on one host and port with uvicorn, in one process or several."""

from __future__ import annotations

import logging

from mps.settings import Settings

log = logging.getLogger("mps.cli.api")

#: The factory each process of ``mps api --workers N`` builds its application with.
APP_FACTORY = "mps.app:build_api_app_from_env"


def run_api(host: str, port: int, settings: Settings | None = None, *, workers: int = 1) -> int:
    """Build the API from ``settings`` (default: the ``MPS_*`` environment) and serve it until stopped.

    With one worker the application is built here and served in this process. With more, the
    schema is migrated here once, then uvicorn starts ``workers`` processes on the same socket,
    each building its own application, store pool and broker connection from the environment
    (:data:`APP_FACTORY`), and restarts any that dies.

    Parameters:
        host: the address to bind (``127.0.0.1`` keeps it local; the SDK signs ``Host``, so clients
            must use the address they reach it by).
        port: the TCP port.
        settings: the configuration (only the environment's with several workers).
        workers: API processes on this host.

    Returns:
        The exit status: 0 after a clean shutdown (Ctrl-C or SIGTERM).

    Raises:
        MpsError: the services could not be built (invalid presets, unreachable database).
        ValueError: ``settings`` given with more than one worker.
    """
    import uvicorn

    # httptools and uvloop when installed (uvicorn[standard]); the access log costs a line per call.
    if workers > 1:
        if settings is not None:
            raise ValueError("several API workers read their settings from the MPS_* environment")
        _migrate(Settings())
        log.info("mps api listening on %s:%d with %d processes", host, port, workers)
        uvicorn.run(APP_FACTORY, factory=True, workers=workers, lifespan="on", host=host, port=port,
                    log_level="info", access_log=False)  # fmt: skip
        return 0
    from mps.app import build_api_app

    settings = settings if settings is not None else Settings()
    app = build_api_app(settings)
    services = app.state.services
    log.info("mps api listening on %s:%d", host, port)
    try:
        uvicorn.run(app, lifespan="off", host=host, port=port, log_level="info", access_log=False)
    finally:
        services.broker.close()
        services.store.close()
    return 0


def _migrate(settings: Settings) -> None:
    """Bring the schema up to date once, before the worker processes open the store."""
    from mps.store.sql import SqlTaskStore

    SqlTaskStore(settings.database_url).close()


__all__ = ["APP_FACTORY", "run_api"]
