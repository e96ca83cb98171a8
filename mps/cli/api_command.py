"""``mps api``: serve the MPS API 3.0 on one host and port with uvicorn."""

from __future__ import annotations

import logging

from mps.settings import Settings

log = logging.getLogger("mps.cli.api")


def run_api(host: str, port: int, settings: Settings | None = None) -> int:
    """Build the API from ``settings`` (default: the ``MPS_*`` environment) and serve it until stopped.

    Parameters:
        host: the address to bind (``127.0.0.1`` keeps it local; the SDK signs ``Host``, so clients
            must use the address they reach it by).
        port: the TCP port.
        settings: the configuration.

    Returns:
        The exit status: 0 after a clean shutdown (Ctrl-C or SIGTERM).

    Raises:
        MpsError: the services could not be built (invalid presets, unreachable database).
    """
    import uvicorn

    from mps.app import build_api_app

    settings = settings if settings is not None else Settings()
    app = build_api_app(settings)
    services = app.state.services
    log.info("mps api listening on %s:%d", host, port)
    try:
        uvicorn.run(app, host=host, port=port, log_level="info", access_log=False, lifespan="off")
    finally:
        services.broker.close()
        services.store.close()
    return 0


__all__ = ["run_api"]
