"""The HTTP edge of mps: the Tencent Cloud MPS API 3.0 wire on ``/``.

- :func:`create_app` builds the ASGI application from :class:`~mps.settings.Settings` and an
  :class:`ActionRegistry`.
- A handler is ``(params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]``; see
  :mod:`mps.api.actions`.
- :mod:`mps.api.wire` decodes requests and builds the response envelope, :mod:`mps.api.auth`
  verifies signatures, :mod:`mps.api.errors` maps exceptions to wire error codes.
"""

from __future__ import annotations

from mps.api.actions import (
    ActionRegistry,
    Handler,
    HandlerResult,
    RequestContext,
    parse_notification,
    register_builtin_actions,
)
from mps.api.app import DEFAULT_MAX_BODY_BYTES, create_app
from mps.api.errors import ApiError, wire_error

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "ActionRegistry",
    "ApiError",
    "Handler",
    "HandlerResult",
    "RequestContext",
    "create_app",
    "parse_notification",
    "register_builtin_actions",
    "wire_error",
]
