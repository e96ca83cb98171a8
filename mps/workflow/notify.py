"""Where a task's events go, and the URL callback that delivers one.

Every finished task gets one event on the topic exchange ``MPS_EVENTS_EXCHANGE`` with the routing key
``WorkflowTask.FINISH`` (our own subscribers bind ``WorkflowTask.#``), plus one to the target its
``TaskNotifyConfig`` names (mps-api.md §4):

=====================================  =========================================================
TaskNotifyConfig                       outbox target
=====================================  =========================================================
``TDMQ-CMQ``/``CMQ``/empty + ``Queue`` ``queue``: the RabbitMQ queue ``QueueName``
``TDMQ-CMQ``/``CMQ``/empty + ``Topic`` ``topic``: the RabbitMQ topic exchange ``TopicName``
``URL``                                ``url``: an HTTP POST of the JSON event to ``NotifyUrl``
``SCF``, ``AWS-SQS``, none             no target (the API refuses the first two)
=====================================  =========================================================

Callbacks never reach loopback or private addresses unless ``MPS_URL_ALLOW_PRIVATE`` is set, for the
same reason URL inputs may not (the URL is chosen by an API caller); redirects are not followed.
:func:`check_notify_url` refuses a literal such address (or ``localhost``) when the task is
submitted, and every address the name resolves to when the relay delivers; a refused callback is
given up at once (its outbox row keeps the reason), never retried.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx

from mps.errors import InvalidParameterError, StorageUnavailableError
from mps.storage.url import IpAddress, is_internal_name, is_public_address, resolve_host
from mps.store.base import EventTarget, JsonDict

log = logging.getLogger("mps.workflow.notify")

#: Routing keys of the two kinds of task events.
FINISH_KEY = "WorkflowTask.FINISH"
PROCESSING_KEY = "WorkflowTask.PROCESSING"
#: Outbox target kinds the relay knows how to deliver.
EXCHANGE, QUEUE, TOPIC, URL = "exchange", "queue", "topic", "url"
#: Outbox rows that are work messages (an orchestration's activities released when they became
#: ready, in the transaction that made them so): the relay publishes them to the work queue.
WORK = "work"
#: NotifyType values delivered through RabbitMQ (empty means Tencent's default, TDMQ-CMQ).
_QUEUE_TYPES = frozenset({"", "TDMQ-CMQ", "CMQ"})
#: Seconds a callback may take (connect, each read and write).
CALLBACK_TIMEOUT = 10.0


class CallbackError(StorageUnavailableError):
    """A URL callback was not accepted (no 2xx answer, or no answer at all); it is retried later.

    Parameters:
        message: what happened.
        status: the HTTP status, when there was a response.
    """

    code = "InternalError.CallbackFailed"

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def events_target(exchange: str, routing_key: str = FINISH_KEY) -> EventTarget:
    """The always-present target: the events exchange (``MPS_EVENTS_EXCHANGE``).

    Parameters:
        exchange: the exchange name.
        routing_key: :data:`FINISH_KEY` or :data:`PROCESSING_KEY`.

    Returns:
        The outbox target.
    """
    return EventTarget(EXCHANGE, exchange, routing_key)


def notify_target(
    notify: JsonDict | None, routing_key: str = FINISH_KEY, task_id: str = ""
) -> EventTarget | None:
    """The target a stored ``TaskNotifyConfig`` names, or None when it names none we deliver to.

    Parameters:
        notify: the task's ``TaskNotifyConfig`` as stored (wire JSON), or None.
        routing_key: used for topic targets.
        task_id: the task, named in the log line when its config names no target.

    Returns:
        A ``queue``, ``topic`` or ``url`` target, or None.
    """
    if not notify:
        return None
    kind = notify.get("NotifyType") or ""
    if kind == "URL":
        url = notify.get("NotifyUrl") or ""
        return EventTarget(URL, url) if url else None
    if kind in _QUEUE_TYPES:
        model = notify.get("CmqModel") or ""
        if model == "Queue" and notify.get("QueueName"):
            return EventTarget(QUEUE, str(notify["QueueName"]))
        if model == "Topic" and notify.get("TopicName"):
            return EventTarget(TOPIC, str(notify["TopicName"]), routing_key)
    log.warning(
        "task %s: TaskNotifyConfig %s names no target this server delivers to", task_id, _describe(notify)
    )
    return None


def wants_changes(notify: JsonDict | None) -> bool:
    """Whether the task asked for an event on every state change (``NotifyMode: Change``)."""
    return bool(notify) and (notify or {}).get("NotifyMode") == "Change"


def post_callback(
    client: httpx.Client, url: str, payload: JsonDict, *, allow_private: bool = False,
    timeout: float = CALLBACK_TIMEOUT,
) -> int:  # fmt: skip
    """POST one event as JSON to ``url``; any 2xx answer counts as delivered.

    Parameters:
        client: the HTTP client (``follow_redirects`` is turned off per request).
        url: the ``NotifyUrl``.
        payload: the event object (no ``Response`` wrapper).
        allow_private: allow loopback and private addresses.
        timeout: seconds for each network operation.

    Returns:
        The HTTP status.

    Raises:
        InvalidParameterError: the URL is not http(s), or reaches a refused address.
        CallbackError: no answer, or an answer other than 2xx.
    """
    check_notify_url(url, allow_private=allow_private)
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "mps-callback/1"}
    try:
        response = client.post(url, content=body, headers=headers, timeout=timeout, follow_redirects=False)
    except httpx.HTTPError as exc:
        raise CallbackError(f"callback to {url} failed: {type(exc).__name__}: {exc}") from exc
    if not 200 <= response.status_code < 300:
        raise CallbackError(f"callback to {url} answered HTTP {response.status_code}", response.status_code)
    return response.status_code


def check_notify_url(url: str, *, allow_private: bool = False, resolve: bool = True) -> None:
    """Refuse a ``NotifyUrl`` that is not http(s) or reaches loopback, private or link-local addresses.

    Parameters:
        url: the ``NotifyUrl``.
        allow_private: ``MPS_URL_ALLOW_PRIVATE``: skip the address check.
        resolve: also check every address a host name resolves to (at delivery); without it
            (at submit) only ``localhost`` and literal addresses are judged, since what a name
            resolves to when the event is sent is what counts.

    Raises:
        InvalidParameterError: ``InvalidParameterValue.NotifyUrl``.
        CallbackError: the name does not resolve now (at delivery: it may later).
    """
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise InvalidParameterError.field("NotifyUrl", f"invalid NotifyUrl {url!r}: {exc}") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise InvalidParameterError.field("NotifyUrl", f"NotifyUrl {url!r} is not an http(s) URL")
    if allow_private:
        return
    refused = parsed.host if is_internal_name(parsed.raw_host.decode("ascii")) else None
    if refused is None and resolve:
        refused = next((str(ip) for ip in _addresses(parsed) if not is_public_address(ip)), None)
    if refused is not None:
        raise InvalidParameterError.field(
            "NotifyUrl",
            f"NotifyUrl {url!r} reaches a loopback, private or link-local address ({refused}); "
            "set MPS_URL_ALLOW_PRIVATE to allow it",
        )


def _addresses(parsed: httpx.URL) -> list[IpAddress]:
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    # Checked, not pinned: a name that rebinds between this check and the connection could still
    # reach inside; callbacks carry no secrets of ours and their answers are ignored, so the risk
    # is a blind POST, which is what the check is there to make hard.
    try:
        return resolve_host(parsed.raw_host.decode("ascii"), port)
    except InvalidParameterError as exc:  # no such name (yet): a delivery failure, tried again later
        raise CallbackError(f"callback host {parsed.host} does not resolve") from exc


def _describe(notify: JsonDict) -> dict[str, Any]:
    """The config without its secret, for logs."""
    return {key: value for key, value in notify.items() if key != "NotifyKey"}


__all__ = [
    "CALLBACK_TIMEOUT",
    "EXCHANGE",
    "FINISH_KEY",
    "PROCESSING_KEY",
    "QUEUE",
    "TOPIC",
    "URL",
    "CallbackError",
    "check_notify_url",
    "events_target",
    "notify_target",
    "post_callback",
    "wants_changes",
]
