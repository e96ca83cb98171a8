"""The composition root of ``mps api``: settings in, the wired-up ASGI application out.

Everything the handlers use is built here, once, and passed in: the SQL task store, the RabbitMQ
broker, the S3 object store, the ffmpeg runner and the preset catalog. Tests build
:class:`~mps.api.handlers.ApiServices` from in-memory twins and call :func:`build_api` with it.
"""

from __future__ import annotations

from fastapi import FastAPI

from mps.api.actions import ActionRegistry, register_builtin_actions
from mps.api.app import create_app
from mps.api.handlers import ApiServices, register_handlers
from mps.api.webhooks import add_webhook_route
from mps.app import build_runner
from mps.broker.rabbitmq import RabbitmqBroker
from mps.settings import Settings
from mps.storage.s3 import S3Storage
from mps.store.sql import SqlTaskStore
from mps.templates import TemplateCatalog, load_presets
from mps.workflow.templates import StoreTemplates


def build_services(settings: Settings) -> ApiServices:
    """The production services of the API process.

    Parameters:
        settings: ``MPS_DATABASE_URL``, ``MPS_AMQP_URL``, ``MPS_S3_*``, ffmpeg and preset settings.

    Returns:
        The services; the caller closes ``store`` and ``broker`` when the process stops.

    Raises:
        MpsError: the presets are invalid, or the database cannot be opened or migrated.
    """
    store = SqlTaskStore(settings.database_url)
    catalog = TemplateCatalog(load_presets(settings.presets_dir))
    # The API starts even while RabbitMQ is down: the topology is declared once it is reachable.
    broker = RabbitmqBroker(settings.amqp_url, prefix=settings.queue_prefix, name="mps-api")
    broker.declare_topology(settings.events_exchange)
    return ApiServices(
        store=store,
        broker=broker,
        storage=S3Storage.from_settings(settings),
        runner=build_runner(settings),
        templates=StoreTemplates(catalog, store),
        settings=settings,
        assets_bucket=settings.assets_bucket,
    )


def build_registry(services: ApiServices) -> ActionRegistry:
    """Every action of the API: ``ParseNotification`` plus the task, template and metadata actions."""
    return register_handlers(register_builtin_actions(ActionRegistry()), services)


def build_api(settings: Settings, services: ApiServices | None = None) -> FastAPI:
    """The ASGI application of ``mps api``.

    Parameters:
        settings: API credentials (TC3 on when set) and, without ``services``, everything
            :func:`build_services` reads.
        services: pre-built services (tests, or a caller that closes them itself).

    Returns:
        The application; its services are reachable as ``app.state.services``.
    """
    services = services if services is not None else build_services(settings)
    app = create_app(settings, build_registry(services))
    add_webhook_route(app, settings, services.broker)  # POST /webhooks/bucket-events
    app.state.services = services
    return app


__all__ = ["build_api", "build_registry", "build_services"]
