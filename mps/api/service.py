"""The ASGI application of ``mps api``, assembled from services built elsewhere.

The services (store, broker, storage, runner, templates) are built by the composition root
(:func:`mps.app.build_api_services`); tests build :class:`~mps.api.handlers.ApiServices` from
in-memory twins and call :func:`build_api` with it.
"""

from __future__ import annotations

from fastapi import FastAPI

from mps.api.actions import ActionRegistry, register_builtin_actions
from mps.api.app import create_app
from mps.api.handlers import ApiServices, register_handlers
from mps.api.webhooks import add_webhook_route
from mps.settings import Settings


def build_registry(services: ApiServices) -> ActionRegistry:
    """Every action of the API: ``ParseNotification`` plus the task, template and metadata actions."""
    return register_handlers(register_builtin_actions(ActionRegistry()), services)


def build_api(settings: Settings, services: ApiServices) -> FastAPI:
    """The ASGI application of ``mps api``.

    Parameters:
        settings: API credentials (TC3 on when set), the webhook token.
        services: what the handlers use (the caller closes them).

    Returns:
        The application; its services are reachable as ``app.state.services``.
    """
    app = create_app(settings, build_registry(services))
    add_webhook_route(app, settings, services.broker)  # POST /webhooks/bucket-events
    app.state.services = services
    return app


__all__ = ["build_api", "build_registry"]
