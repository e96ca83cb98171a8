"""The ASGI application of the MPS API: one endpoint, ``/``, for every action.

``POST /`` (and ``GET /``) read the request, verify its signature, decode it, find the handler
in the :class:`~mps.api.actions.ActionRegistry` and answer
``{"Response": {..., "RequestId": <uuid4>}}``. Every API outcome, errors included, is HTTP 200
with ``Content-Type: application/json`` exactly (mps-api.md §0): a 4xx/5xx or a charset suffix
would make the SDK lose the error code.

``GET /healthz`` answers a plain ``ok``; it is ours, not part of the Tencent API, and needs no
signature (load balancers and the test fixtures poll it).

This layer is thin on purpose: no business rule lives here, only the wire.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect
from starlette.responses import PlainTextResponse, Response

from mps.api.actions import ActionRegistry, HandlerResult, RequestContext
from mps.api.auth import verify_legacy, verify_tc3
from mps.api.errors import ApiError, is_unexpected, wire_error
from mps.api.wire import (
    ApiResponse,
    DecodedRequest,
    RawRequest,
    decode_legacy,
    decode_tc3,
    error_envelope,
    legacy_fields,
    render_json,
    success_envelope,
)
from mps.models.base import WireModel
from mps.settings import Settings

logger = logging.getLogger(__name__)

#: Largest request body accepted, in bytes; MPS requests are a few KiB.
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
#: How much of an oversized body is still read (and dropped) so the client gets the error
#: response instead of a reset connection; a declared length above this is refused at once.
DRAIN_FACTOR = 8

Clock = Callable[[], float]


def create_app(
    settings: Settings,
    actions: ActionRegistry,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    clock: Clock = time.time,
) -> FastAPI:
    """Build the API application.

    Parameters:
        settings: ``secret_id`` and ``secret_key`` switch TC3 verification on; unset, every
            request is accepted and one warning is logged here.
        actions: the handlers; see :mod:`mps.api.actions` for their contract.
        max_body_bytes: larger bodies are answered ``InvalidParameter``.
        clock: Unix time, for the signature window (tests pass a fixed one).

    Returns:
        The FastAPI (ASGI) application, with no OpenAPI pages: the contract is Tencent's.

    Raises:
        ValueError: when only one of ``secret_id`` and ``secret_key`` is set.
    """
    keys = _credentials(settings)
    app = FastAPI(title="mps", openapi_url=None, docs_url=None, redoc_url=None)

    async def api(request: Request) -> Response:
        return await _serve(request, actions, keys, max_body_bytes, clock)

    async def healthz() -> Response:
        return PlainTextResponse("ok")

    app.add_api_route("/", api, methods=["GET", "POST"], include_in_schema=False)
    app.add_api_route("/healthz", healthz, methods=["GET"], include_in_schema=False)
    return app


def _credentials(settings: Settings) -> dict[str, str] | None:
    """SecretId -> SecretKey, or None (with a loud warning) when auth is off."""
    if bool(settings.secret_id) != bool(settings.secret_key):
        raise ValueError("MPS_SECRET_ID and MPS_SECRET_KEY must be set together (or both left unset)")
    if not settings.secret_id or not settings.secret_key:
        logger.warning(
            "API AUTHENTICATION IS OFF: MPS_SECRET_ID/MPS_SECRET_KEY are unset, so every request is "
            "accepted unsigned. Set them before exposing this port beyond localhost."
        )
        return None
    return {settings.secret_id: settings.secret_key}


async def _serve(
    request: Request, actions: ActionRegistry, keys: Mapping[str, str] | None, limit: int, clock: Clock
) -> Response:
    """Answer one API request; never raises, never answers anything but HTTP 200 JSON."""
    request_id = str(uuid.uuid4())
    started = time.perf_counter()
    action = request.headers.get("x-tc-action", "?")
    try:
        raw = await _read(request, limit)
        decoded, secret_id = _authenticate(raw, keys, clock())
        action = decoded.action
        ctx = _context(request, request_id, decoded, secret_id)
        handler = actions.get(decoded.action)
        result = await run_in_threadpool(handler, decoded.params, ctx)
        body = render_json(success_envelope(_as_mapping(result), request_id))
        outcome = "OK"
    except Exception as exc:  # the edge: every failure becomes an error envelope
        code, message = wire_error(exc)
        _log_failure(exc, request_id, action[:64], code)
        body = render_json(error_envelope(code, message, request_id))
        outcome = code
    elapsed_ms = (time.perf_counter() - started) * 1000
    logger.info("api %s %s -> %s in %.1f ms", request_id, action[:64], outcome, elapsed_ms)
    return ApiResponse(body)


async def _read(request: Request, limit: int) -> RawRequest:
    """Read the request, refusing bodies over ``limit`` bytes.

    Raises:
        ApiError: ``InvalidParameter`` for an oversized or malformed Content-Length body.
    """
    too_big = ApiError(f"The request body exceeds {limit} bytes.", "InvalidParameter")
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit * DRAIN_FACTOR:
        raise too_big
    body = bytearray()
    seen = 0
    try:
        async for chunk in request.stream():
            seen += len(chunk)
            if seen > limit * DRAIN_FACTOR:
                raise too_big
            if seen <= limit:
                body += chunk
    except ClientDisconnect:
        # Nobody will read the answer; a typed error keeps the traceback out of the log.
        raise ApiError("The client disconnected while sending the body.", "InvalidParameter") from None
    if seen > limit:
        raise too_big
    headers = {name.lower(): value for name, value in request.headers.items()}
    query = request.scope.get("query_string", b"").decode("latin-1")
    return RawRequest(method=request.method, query=query, headers=headers, body=bytes(body))


def _authenticate(
    raw: RawRequest, keys: Mapping[str, str] | None, now: float
) -> tuple[DecodedRequest, str | None]:
    """Verify the signature (when auth is on) and decode; returns the request and its SecretId.

    TC3 is verified before the body is parsed; a legacy request's signature covers its decoded
    fields, so those are parsed first.
    """
    if raw.mode == "legacy":
        fields = legacy_fields(raw)
        secret_id = verify_legacy(raw, fields, keys, now) if keys is not None else None
        return decode_legacy(fields), secret_id
    secret_id = verify_tc3(raw, keys, now) if keys is not None else None
    return decode_tc3(raw), secret_id


def _context(
    request: Request, request_id: str, decoded: DecodedRequest, secret_id: str | None
) -> RequestContext:
    return RequestContext(
        request_id=request_id,
        action=decoded.action,
        region=decoded.region,
        language=decoded.language,
        secret_id=secret_id,
        client_ip=request.client.host if request.client else None,
        version=decoded.version,
    )


def _as_mapping(result: HandlerResult) -> Mapping[str, Any]:
    """A handler's result as the fields of ``Response``.

    Raises:
        TypeError: for anything but a mapping or a wire model, or one with an ``Error`` key, which
            the SDK would take for a failure (handler bugs, answered ``InternalError``).
    """
    fields = result.to_wire() if isinstance(result, WireModel) else result
    if not isinstance(fields, Mapping):
        raise TypeError(f"handler returned {type(result).__name__}, expected a dict or a WireModel")
    if "Error" in fields:
        raise TypeError("handler returned an 'Error' key; raise an MpsError to fail instead")
    return fields


def _log_failure(exc: Exception, request_id: str, action: str, code: str) -> None:
    """Unexpected exceptions get a traceback in the log (never on the wire); typed ones one line."""
    if is_unexpected(exc):
        logger.exception("api %s %s failed unexpectedly (answered InternalError)", request_id, action)
    elif code.startswith("InternalError") or code.startswith("FailedOperation"):
        logger.warning("api %s %s: %s: %s", request_id, action, code, exc)
    else:
        logger.info("api %s %s: %s: %s", request_id, action, code, exc)


__all__ = ["DEFAULT_MAX_BODY_BYTES", "create_app"]
