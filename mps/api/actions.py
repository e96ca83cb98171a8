"""The action registry: which function answers which ``X-TC-Action``.

A handler is a plain, synchronous function::

    def describe_task_detail(params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        request = parse_wire(DescribeTaskDetailRequest, params)
        ...
        return {"TaskType": "WorkflowTask", "Status": "FINISH", "WorkflowTask": {...}}

- ``params`` is the decoded request object. For GET-mode and legacy clients every leaf value is a
  **string** (``"100010"``): validate it with a wire model (lax mode coerces), never trust types.
- ``ctx`` is the :class:`RequestContext`: request id, action, region, language, the authenticated
  SecretId and the client address.
- Return the fields of ``Response`` (a dict, or a :class:`~mps.models.base.WireModel`, dumped with
  :meth:`to_wire`). ``RequestId`` is added by the edge; do not return ``Error``.
- Raise :class:`~mps.errors.MpsError` subclasses to fail; their ``code`` goes on the wire
  (:mod:`mps.api.errors`). Any other exception is answered ``InternalError`` and logged.
- Handlers run in a worker thread, so blocking I/O (the task store, S3) is fine. Coroutine
  functions are refused at registration: the edge would never await them.

Handlers are registered explicitly, by the composition root::

    registry = ActionRegistry()
    register_builtin_actions(registry)        # ParseNotification

    @registry.register("DescribeTaskDetail")
    def describe_task_detail(params, ctx): ...
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias, TypeVar

from mps.api.errors import ApiError
from mps.errors import InvalidParameterError
from mps.models.base import WireModel
from mps.models.jsontext import parse_json


@dataclass(frozen=True, slots=True)
class RequestContext:
    """What a handler may know about the request besides its parameters.

    Parameters:
        request_id: the ``RequestId`` of the response (a UUID4); put it in log lines.
        action: the action name, e.g. ``ProcessMedia``.
        region: ``X-TC-Region`` (or legacy ``Region``), when sent.
        language: ``X-TC-Language`` (``zh-CN``/``en-US``), when sent.
        secret_id: the SecretId whose signature was verified; None when auth is off.
        client_ip: the peer address, when known (no ``X-Forwarded-For`` trust).
        version: ``X-TC-Version`` (``2019-06-12`` from the SDK), when sent.
    """

    request_id: str
    action: str
    region: str | None = None
    language: str | None = None
    secret_id: str | None = None
    client_ip: str | None = None
    version: str | None = None


#: What a handler returns: the fields of ``Response`` without ``RequestId``.
HandlerResult: TypeAlias = Mapping[str, Any] | WireModel
#: The signature of every action handler.
Handler: TypeAlias = Callable[[dict[str, Any], RequestContext], HandlerResult]

H = TypeVar("H", bound=Handler)

_ACTION_NAME = re.compile(r"[A-Z][A-Za-z0-9]{0,63}")


class ActionRegistry:
    """Action name -> handler; unknown names are ``InvalidAction``.

    Example::

        registry = ActionRegistry()

        @registry.register("DescribeTaskDetail")
        def describe(params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]: ...
    """

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def add(self, name: str, handler: Handler) -> None:
        """Register ``handler`` for the action ``name``.

        Raises:
            ValueError: for a name that is not ``UpperCamelCase`` or is already registered.
            TypeError: for a coroutine function (handlers are synchronous).
        """
        if not _ACTION_NAME.fullmatch(name):
            raise ValueError(f"action name {name!r} must be UpperCamelCase, like ProcessMedia")
        if name in self._handlers:
            raise ValueError(f"action {name!r} is already registered")
        if inspect.iscoroutinefunction(handler):
            raise TypeError(f"handler of {name!r} must be a plain function, not a coroutine function")
        self._handlers[name] = handler

    def register(self, name: str) -> Callable[[H], H]:
        """Decorator form of :meth:`add`; returns the function unchanged."""

        def decorator(handler: H) -> H:
            self.add(name, handler)
            return handler

        return decorator

    def get(self, name: str) -> Handler:
        """The handler of ``name``.

        Raises:
            ApiError: ``InvalidAction`` when no handler is registered under that exact name.
        """
        handler = self._handlers.get(name)
        if handler is None:
            raise ApiError(f"The action {name[:64]!r} is not supported by this server.", "InvalidAction")
        return handler

    def __contains__(self, name: object) -> bool:
        return name in self._handlers

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._handlers))

    def __len__(self) -> int:
        return len(self._handlers)


def parse_notification(params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    """``ParseNotification``: parse the event JSON in ``Content`` and return its fields (mps-api.md §11).

    ``MpsClient.ParseNotification`` is a network call in the SDK; answering it with the parsed
    event lets ``ParseNotificationResponse`` be filled in. ``Error`` and ``RequestId`` keys of the
    event are dropped: the first would make the SDK raise, the second is the edge's.

    Raises:
        ApiError: ``MissingParameter`` without ``Content``, ``UnknownParameter`` for any other key.
        InvalidParameterError: ``InvalidParameterValue.Content`` when it is not a JSON object.
    """
    unknown = sorted(str(key) for key in params if key != "Content")
    if unknown:
        raise ApiError(f"{unknown[0]} is not a parameter of this request", "UnknownParameter")
    content = params.get("Content")
    if content is None:
        raise ApiError("Content is required: the event JSON as a string.", "MissingParameter")
    if not isinstance(content, str):
        raise InvalidParameterError.field("Content", "Content must be a string holding the event JSON.")
    try:
        event = parse_json(content, what="Content")
    except InvalidParameterError as exc:
        raise InvalidParameterError.field("Content", exc.message) from None
    if not isinstance(event, dict):
        raise InvalidParameterError.field("Content", "Content must be a JSON object.")
    return {key: value for key, value in event.items() if key not in ("Error", "RequestId")}


#: Actions that need no service behind them, registered by :func:`register_builtin_actions`.
BUILTIN_ACTIONS: dict[str, Handler] = {"ParseNotification": parse_notification}


def register_builtin_actions(registry: ActionRegistry) -> ActionRegistry:
    """Register :data:`BUILTIN_ACTIONS` (``ParseNotification``) in ``registry``.

    Returns:
        ``registry``, for chaining.

    Raises:
        ValueError: when one of them is already registered.
    """
    for name, handler in BUILTIN_ACTIONS.items():
        registry.add(name, handler)
    return registry


__all__ = [
    "BUILTIN_ACTIONS",
    "ActionRegistry",
    "Handler",
    "HandlerResult",
    "RequestContext",
    "parse_notification",
    "register_builtin_actions",
]
