"""The MPS actions of ``mps api``: tasks, templates, metadata, workflows and schedules, registered
explicitly.

Each handler module exposes a class built from :class:`ApiServices` and a table of the actions it
answers; :func:`register_handlers` adds them all to an :class:`~mps.api.actions.ActionRegistry`.
Handlers follow the contract of :mod:`mps.api.actions`: validate ``params`` with a wire model
(:func:`parse_params`), answer Tencent's response shapes, raise :class:`~mps.errors.MpsError`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from mps.api.actions import ActionRegistry
from mps.broker.base import Broker
from mps.errors import InvalidParameterError
from mps.models.fields import check_fields
from mps.models.validation import invalid_parameter
from mps.runner import Runner
from mps.settings import Settings
from mps.storage.base import Storage
from mps.store.base import TaskStore
from mps.workflow.lifecycle import Lifecycle
from mps.workflow.templates import StoreTemplates

M = TypeVar("M", bound=BaseModel)

#: Bucket and key prefix of watermark images uploaded with Create/ModifyWatermarkTemplate.
DEFAULT_ASSETS_BUCKET = "mps-assets"
WATERMARK_PREFIX = "watermarks/"


@dataclass(frozen=True)
class ApiServices:
    """What the handlers need, built once by the composition root (:mod:`mps.api.service`).

    Parameters:
        store: tasks and custom templates.
        broker: the work queue ProcessMedia publishes to.
        storage: the object store (presigned URLs for probes, watermark images).
        runner: probes media for DescribeMediaMetaData.
        templates: presets plus the store's custom templates.
        settings: limits, scratch directory, URL policy.
        assets_bucket: where watermark images of templates are stored (``s3://<bucket>/watermarks/``).
        account_id: the first part of new TaskIds.
        download_url: fetches a URL input to a local file for DescribeMediaMetaData
            (``(url, dest) -> bytes``); None uses :class:`~mps.storage.url.UrlDownloader` with the
            settings' size cap and private-address policy.
    """

    store: TaskStore
    broker: Broker
    storage: Storage
    runner: Runner
    templates: StoreTemplates
    settings: Settings
    assets_bucket: str = DEFAULT_ASSETS_BUCKET
    account_id: str = "0"
    download_url: Callable[[str, Path], int] | None = None

    @cached_property
    def lifecycle(self) -> Lifecycle:
        """The task transitions (abort) over :attr:`store`, with events to ``MPS_EVENTS_EXCHANGE``."""
        return Lifecycle(self.store, self.settings.events_exchange)


def parse_params(model: type[M], params: Any, *, known_fields: bool = True) -> M:
    """Validate request parameters: ``MissingParameter`` for an absent required field, else
    ``InvalidParameterValue.<Field>`` (Tencent's split between the two).

    Parameters:
        model: the request shape.
        params: the decoded parameters.
        known_fields: first refuse keys the shape does not honour (:func:`check_fields`:
            ``UnknownParameter``, ``UnsupportedOperation``); False only for shapes that are not
            the request itself (a template merged with its stored body).

    Raises:
        InvalidParameterError: the first problem found.
    """
    if known_fields:
        check_fields(model, params)
    try:
        return model.model_validate(params)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        if first["type"] == "missing":
            path = ".".join(str(part) for part in first["loc"])
            raise InvalidParameterError(f"{path} is required", code="MissingParameter") from None
        raise invalid_parameter(exc) from None


def register_handlers(registry: ActionRegistry, services: ApiServices) -> ActionRegistry:
    """Register every MPS action of this package in ``registry``.

    Returns:
        ``registry``, for chaining.

    Raises:
        ValueError: an action is already registered.
    """
    from mps.api.handlers.metadata import MetadataActions
    from mps.api.handlers.schedules import register_schedule_handlers
    from mps.api.handlers.tasks import TaskActions
    from mps.api.handlers.templates import TemplateActions
    from mps.api.handlers.workflows import register_workflow_handlers

    for group in (TaskActions(services), TemplateActions(services), MetadataActions(services)):
        for name, handler in group.actions().items():
            registry.add(name, handler)
    register_workflow_handlers(registry, services)
    register_schedule_handlers(registry, services)
    return registry


__all__ = [
    "DEFAULT_ASSETS_BUCKET",
    "WATERMARK_PREFIX",
    "ApiServices",
    "parse_params",
    "register_handlers",
]
