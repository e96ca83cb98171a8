"""The ASGI application of ``mps api``, assembled from services built elsewhere.

The services (store, broker, storage, runner, templates) are built by the composition root
(:func:`mps.app.build_api_services`); tests build :class:`~mps.api.handlers.ApiServices` from
in-memory twins and call :func:`build_api` with it.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from mps.api.actions import ActionRegistry, register_builtin_actions
from mps.api.app import create_app
from mps.api.console import add_console
from mps.api.handlers import ApiServices, register_handlers
from mps.api.webhooks import add_webhook_route
from mps.metrics import CONTENT_TYPE, Metrics
from mps.settings import Settings


def build_registry(services: ApiServices) -> ActionRegistry:
    """Every action of the API: ``ParseNotification`` plus the task, template and metadata actions."""
    return register_handlers(register_builtin_actions(ActionRegistry()), services)


def build_api(settings: Settings, services: ApiServices, metrics: Metrics | None = None) -> FastAPI:
    """The ASGI application of ``mps api``.

    Parameters:
        settings: API credentials (TC3 on when set), the webhook token, the console's logins.
        services: what the handlers use (the caller closes them).
        metrics: served at ``GET /metrics`` (None: no such route).

    Returns:
        The application; its services are reachable as ``app.state.services``.
    """
    registry = build_registry(services)
    app = create_app(settings, registry)
    add_webhook_route(app, settings, services.broker)  # POST /webhooks/bucket-events
    add_console(app, settings, services, registry)  # /console, when a login is configured
    if metrics is not None:
        add_metrics_route(app, metrics)
    app.state.services = services
    return app


def add_metrics_route(app: FastAPI, metrics: Metrics) -> None:
    """``GET /metrics``: Prometheus' text format (the store is read off the event loop)."""

    async def scrape(request: Request) -> Response:
        body = await run_in_threadpool(metrics.render)
        return Response(body, media_type=CONTENT_TYPE)

    app.add_api_route("/metrics", scrape, methods=["GET"], include_in_schema=False)


__all__ = ["add_metrics_route", "build_api", "build_registry"]
