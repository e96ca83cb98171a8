"""``POST /webhooks/bucket-events``: bucket events pushed over HTTP, queued for ``mps listen``.

Two senders use it: MinIO's webhook target (the S3 notification JSON it also publishes over AMQP)
and the SeaweedFS filer's ``[notification.webhook]`` (one filer change per POST). The route does
no work on the event: it checks the token and the shape, wraps the body in an
:func:`~mps.workflow.intake.bucket_event_envelope` and puts it on the listener's durable queue with
a publisher confirm, then answers ``202``. Matching, metadata look-ups and task creation happen in
the listener, so a slow store never makes a sender time out and retry.

Answers (plain JSON, not the MPS envelope: the callers are object stores, not SDKs):

- ``404`` while ``MPS_WEBHOOK_TOKEN`` is unset (the webhook is off);
- ``401`` without ``Authorization: Bearer <MPS_WEBHOOK_TOKEN>`` (compared in constant time);
- ``413`` for a body over :data:`MAX_BODY_BYTES`; ``400`` for a body that is not JSON, or not an
  S3 notification nor a SeaweedFS event;
- ``503`` when RabbitMQ did not confirm (the sender retries; the reconcile scan is the backstop);
- ``202`` once queued; ``200`` when the body announces no new object not written by mps (deletes,
  directories, test events, mps's own outputs), which is not queued at all.

The envelope goes to the queue through the default exchange rather than through
``MPS_BUCKET_EVENTS_EXCHANGE``: ``Broker.publish_event`` declares a *topic* exchange, and the
bucket-events exchange is a fanout one by default. The queue is declared (bound, dead-lettered)
exactly as the listener declares it before the first publish, so whichever process starts first
creates it right.
"""

from __future__ import annotations

import hmac
import logging
import threading
from typing import Any

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect
from starlette.responses import JSONResponse, Response

from mps.broker.base import Broker
from mps.broker.names import QueueNames
from mps.errors import InvalidParameterError, MpsError
from mps.models.jsontext import parse_json
from mps.settings import Settings
from mps.workflow.events import is_written_by_mps
from mps.workflow.intake import bucket_event_envelope, detect_source, parse_bucket_body

logger = logging.getLogger(__name__)

#: Where the route is mounted.
WEBHOOK_PATH = "/webhooks/bucket-events"
#: Largest body accepted: a filer event lists the chunks of its file, so big files make big events.
MAX_BODY_BYTES = 4 * 1024 * 1024
#: Seconds a sender is asked to wait before retrying when RabbitMQ is unavailable.
RETRY_AFTER_SECONDS = 5


class BucketEventQueue:
    """Puts webhook envelopes on the listener's queue, declared once per process.

    Parameters:
        broker: the API's broker (publishes with confirms).
        settings: the bucket-events exchange, its type, and the queue prefix.
    """

    def __init__(self, broker: Broker, settings: Settings) -> None:
        self.broker = broker
        self.exchange = settings.bucket_events_exchange
        self.exchange_type = settings.bucket_events_exchange_type
        self.queue = QueueNames(settings.queue_prefix).bucket_events
        self._declared = False
        self._lock = threading.Lock()

    def put(self, envelope: dict[str, Any]) -> None:
        """Queue one envelope; returns once RabbitMQ confirmed it.

        Raises:
            BrokerError: RabbitMQ is unavailable or refused the declaration.
        """
        with self._lock:
            if not self._declared:
                self.broker.declare_bucket_events(self.exchange, self.exchange_type, self.queue)
                self._declared = True
        self.broker.publish_to_queue(self.queue, envelope)


def add_webhook_route(app: FastAPI, settings: Settings, broker: Broker) -> None:
    """Mount ``POST /webhooks/bucket-events`` on ``app``.

    Parameters:
        app: the API application.
        settings: ``webhook_token`` (unset: the route answers 404) and the queue names.
        broker: where envelopes are queued.
    """
    token = settings.webhook_token or None
    queue = BucketEventQueue(broker, settings)

    async def bucket_events(request: Request) -> Response:
        if token is None:
            return _answer(404, "the bucket-events webhook is off (MPS_WEBHOOK_TOKEN is unset)")
        if not bearer_matches(request.headers.get("authorization"), token):
            return _answer(401, "a valid bearer token is required", {"WWW-Authenticate": "Bearer"})
        return await _accept(request, queue)

    app.add_api_route(WEBHOOK_PATH, bucket_events, methods=["POST"], include_in_schema=False)


def bearer_matches(header: str | None, token: str) -> bool:
    """Whether an ``Authorization`` header carries ``Bearer <token>`` (constant-time comparison).

    Parameters:
        header: the header's value, or None when absent.
        token: the configured token.

    Returns:
        True only for the ``Bearer`` scheme (any case) and exactly the token.
    """
    scheme, _, presented = (header or "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(presented.strip().encode(), token.encode())


async def _accept(request: Request, queue: BucketEventQueue) -> Response:
    """Check the body and queue it; every refusal is an answer, never an exception."""
    body = await _read(request)
    if body is None:
        return _answer(413, f"the body exceeds {MAX_BODY_BYTES} bytes")
    try:
        data = parse_json(body)
    except InvalidParameterError as exc:
        return _answer(400, exc.message)
    source = detect_source(data) if isinstance(data, dict) else None
    if source is None:
        return _answer(400, "the body is neither an S3 event notification nor a SeaweedFS filer event")
    try:
        events = parse_bucket_body(source, data)
    except InvalidParameterError as exc:
        return _answer(400, exc.message)
    if not any(not is_written_by_mps(event) for event in events):
        return JSONResponse({"queued": False, "objects": 0}, status_code=200)
    try:
        await run_in_threadpool(queue.put, bucket_event_envelope(source, data))
    except MpsError as exc:
        logger.warning("bucket event from %s not queued: %s", source, exc)
        return _answer(503, "the event could not be queued", {"Retry-After": str(RETRY_AFTER_SECONDS)})
    logger.info("bucket event from %s queued (%d object(s))", source, len(events))
    return JSONResponse({"queued": True, "objects": len(events)}, status_code=202)


async def _read(request: Request) -> bytes | None:
    """The body, or None when it is larger than :data:`MAX_BODY_BYTES`."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                return None
    except ClientDisconnect:
        return b""  # nobody reads the answer; an empty body is simply refused as not JSON
    return bytes(body)


def _answer(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


__all__ = ["MAX_BODY_BYTES", "WEBHOOK_PATH", "BucketEventQueue", "add_webhook_route", "bearer_matches"]
