"""Request decoding and the response envelope of the MPS API 3.0 wire (mps-api.md §1, §2).

A request reaches ``/`` in one of three encodings (§1.3):

- **TC3 JSON** (the SDK default): ``POST``, action in ``X-TC-Action``, body a JSON object;
- **TC3 GET**: action in ``X-TC-Action``, every parameter in the query string, flattened with
  dotted paths and 0-based list indexes (``MediaProcessTask.TranscodeTaskSet.0.Definition=100010``);
- **legacy** (``signMethod`` HmacSHA1/HmacSHA256): no ``X-TC-Action``; the same flattened keys plus
  ``Action``, ``Timestamp``, ``Signature``... in a form-encoded body (or the query string for GET).

Flattened values stay **strings**: the wire models coerce them in pydantic's lax mode, and only
they know whether ``"10"`` is a number or a name. Responses are always
``{"Response": {..., "RequestId": ...}}`` sent as ``Content-Type: application/json`` *exactly*,
because the SDK compares that header as a whole string and skips error detection otherwise (§14.1).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl

from pydantic_core import to_jsonable_python
from starlette.responses import Response

from mps.api.errors import ApiError
from mps.errors import InvalidParameterError
from mps.models.jsontext import parse_json

#: The exact ``Content-Type`` of every API response; the SDK rejects anything else (§0.3).
JSON_CONTENT_TYPE = "application/json"
#: Most fields one flattened request may carry; far above any real MPS request.
MAX_FLAT_FIELDS = 10_000
#: Deepest dotted key accepted (``A.B.0.C`` has depth 4); real MPS requests stay below 10.
MAX_KEY_DEPTH = 32
#: Fields of a legacy (signature v1) request that are protocol, not action parameters.
LEGACY_COMMON_FIELDS = frozenset(
    {
        "Action",
        "Version",
        "Region",
        "Timestamp",
        "Nonce",
        "SecretId",
        "SignatureMethod",
        "Signature",
        "Language",
        "RequestClient",
        "Token",
    }
)

Mode = Literal["tc3", "legacy"]


@dataclass(frozen=True)
class RawRequest:
    """What the edge read off the connection, before any interpretation.

    Parameters:
        method: ``GET`` or ``POST``.
        query: the query string exactly as sent (TC3 signs it byte for byte).
        headers: header values as sent, keyed by lower-cased name.
        body: the body bytes (already checked against the size limit).
    """

    method: str
    query: str
    headers: Mapping[str, str]
    body: bytes

    @property
    def mode(self) -> Mode:
        """``legacy`` when the client sent no ``X-TC-Action`` and no JSON (signature v1)."""
        if "x-tc-action" in self.headers or _media_type(self.headers) == JSON_CONTENT_TYPE:
            return "tc3"
        return "legacy"


@dataclass(frozen=True)
class DecodedRequest:
    """A request reduced to its action and nested parameters.

    Parameters:
        action: the action name as sent, e.g. ``ProcessMedia``.
        params: the parameters, nested; flattened values are still strings.
        region, language, version: the common parameters, when sent.
    """

    action: str
    params: dict[str, Any]
    region: str | None = None
    language: str | None = None
    version: str | None = None


def _media_type(headers: Mapping[str, str]) -> str:
    return headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _bad(message: str, code: str = "InvalidParameter") -> ApiError:
    return ApiError(message, code)


def parse_form(text: bytes | str) -> list[tuple[str, str]]:
    """Decode ``a=1&b.0=x`` (a query string or a form body) into ordered pairs.

    Parameters:
        text: the encoded form, as bytes (UTF-8) or text.

    Returns:
        The pairs in order, values decoded, blanks kept.

    Raises:
        ApiError: ``InvalidParameter`` for bad UTF-8 or more than :data:`MAX_FLAT_FIELDS` fields.
    """
    try:
        decoded = text.decode("utf-8") if isinstance(text, bytes) else text
        return parse_qsl(decoded, keep_blank_values=True, errors="strict", max_num_fields=MAX_FLAT_FIELDS)
    except UnicodeDecodeError:
        raise _bad("The parameters are not valid UTF-8.") from None
    except ValueError:
        raise _bad(f"Too many parameters (more than {MAX_FLAT_FIELDS}).") from None


def flatten_params(params: Mapping[str, Any]) -> dict[str, str]:
    """Flatten nested parameters the way the SDK does for GET and legacy requests.

    ``None`` values and empty lists or objects disappear, as in the SDK's ``_format_params``;
    other values become ``str(value)`` (so ``True`` is ``"True"``, as the SDK sends it).

    Parameters:
        params: a JSON-like object.

    Returns:
        ``{"A.B.0.C": "v", ...}``.
    """
    flat: dict[str, str] = {}

    def walk(prefix: str, value: Any) -> None:
        if value is None:
            return
        if isinstance(value, Mapping):
            for key, item in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), item)
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value):
                walk(f"{prefix}.{index}" if prefix else str(index), item)
        else:
            flat[prefix] = str(value)

    walk("", params)
    return flat


def unflatten_params(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Rebuild nested parameters from dotted, 0-indexed keys; values stay strings.

    Parameters:
        pairs: ``(key, value)`` pairs such as ``("MediaProcessTask.TranscodeTaskSet.0.Definition", "10")``.

    Returns:
        The nested object; a level whose keys are all ``0..n-1`` becomes a list.

    Raises:
        ApiError: ``InvalidParameter`` for an empty path segment, a key deeper than
            :data:`MAX_KEY_DEPTH`, a key given twice, a value that is also a parent
            (``A=1&A.B=2``), or list indexes with gaps or mixed with names.
    """
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = key.split(".")
        if "" in parts or len(parts) > MAX_KEY_DEPTH:
            raise _bad(f"Malformed parameter name {key[:100]!r}.")
        node = root
        for depth, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise _bad(f"Parameter {'.'.join(parts[: depth + 1])!r} is both a value and an object.")
            node = child
        if parts[-1] in node:
            raise _bad(f"Parameter {key[:100]!r} is given more than once or conflicts with another.")
        node[parts[-1]] = value
    result = _listify(root, "")
    if not isinstance(result, dict):
        raise _bad("The parameters must form an object, not a list.")
    return result


def _listify(node: dict[str, Any], path: str) -> dict[str, Any] | list[Any]:
    """Turn every level whose keys are list indexes into a list, depth first."""
    for key, child in node.items():
        if isinstance(child, dict):
            node[key] = _listify(child, f"{path}.{key}" if path else key)
    digits = [key.isdigit() for key in node]
    if not node or not any(digits):
        return node
    if not all(digits):
        raise _bad(f"Parameter {path or '(root)'!r} mixes list indexes and field names.")
    if set(node) != {str(i) for i in range(len(node))}:
        raise _bad(f"List {path or '(root)'!r} must be indexed 0..{len(node) - 1} without gaps.")
    return [node[str(i)] for i in range(len(node))]


def parse_json_object(body: bytes) -> dict[str, Any]:
    """Decode a TC3 JSON body; an empty body is an empty object.

    Parameters:
        body: the request body.

    Returns:
        The decoded object.

    Raises:
        ApiError: ``InvalidParameter`` when the body is not UTF-8 JSON (``NaN`` included), nests
            deeper than :data:`~mps.models.jsontext.MAX_JSON_DEPTH` levels, or
            is JSON but not an object.
    """
    if not body.strip():
        return {}
    try:
        value = parse_json(body, what="The request body")
    except InvalidParameterError as exc:
        raise _bad(exc.message) from None
    if not isinstance(value, dict):
        raise _bad(f"The request body must be a JSON object, not {type(value).__name__}.")
    return value


def decode_tc3(raw: RawRequest) -> DecodedRequest:
    """Decode a TC3-signed request (JSON body, or flattened query string for GET).

    Parameters:
        raw: the request.

    Returns:
        The action from ``X-TC-Action`` and the parameters.

    Raises:
        ApiError: ``MissingParameter`` without ``X-TC-Action``; ``InvalidParameter`` for a body
            that cannot be decoded.
    """
    action = raw.headers.get("x-tc-action", "").strip()
    if not action:
        raise _bad("The X-TC-Action header is required.", "MissingParameter")
    media_type = _media_type(raw.headers)
    if raw.method == "GET":
        params = unflatten_params(parse_form(raw.query))
    elif media_type == "application/x-www-form-urlencoded":
        params = unflatten_params(parse_form(raw.body))
    elif media_type.startswith("multipart/"):
        raise _bad("multipart/form-data requests are not supported; send JSON.")
    else:
        params = parse_json_object(raw.body)
    return DecodedRequest(
        action=action,
        params=params,
        region=raw.headers.get("x-tc-region") or None,
        language=raw.headers.get("x-tc-language") or None,
        version=raw.headers.get("x-tc-version") or None,
    )


def legacy_fields(raw: RawRequest) -> dict[str, str]:
    """The flat fields of a legacy request: the form body for POST, the query string for GET.

    Raises:
        ApiError: ``InvalidParameter`` for undecodable or duplicated fields.
    """
    pairs = parse_form(raw.query if raw.method == "GET" else raw.body)
    fields = dict(pairs)
    if len(fields) != len(pairs):
        raise _bad("A parameter is given more than once.")
    return fields


def decode_legacy(fields: Mapping[str, str]) -> DecodedRequest:
    """Decode a legacy (signature v1) request from its flat fields.

    Parameters:
        fields: from :func:`legacy_fields`.

    Returns:
        The action from the ``Action`` field; the protocol fields are not among the parameters.

    Raises:
        ApiError: ``MissingParameter`` without ``Action``; ``InvalidParameter`` for bad nesting.
    """
    action = fields.get("Action", "").strip()
    if not action:
        raise _bad("The X-TC-Action header (or the Action parameter) is required.", "MissingParameter")
    params = unflatten_params((k, v) for k, v in fields.items() if k not in LEGACY_COMMON_FIELDS)
    return DecodedRequest(
        action=action,
        params=params,
        region=fields.get("Region") or None,
        language=fields.get("Language") or None,
        version=fields.get("Version") or None,
    )


def success_envelope(data: Mapping[str, Any], request_id: str) -> dict[str, Any]:
    """``{"Response": {**data, "RequestId": request_id}}``; a handler cannot override RequestId."""
    return {"Response": {**data, "RequestId": request_id}}


def error_envelope(code: str, message: str, request_id: str) -> dict[str, Any]:
    """``{"Response": {"Error": {"Code", "Message"}, "RequestId"}}``: all three are required (§0.5)."""
    return {"Response": {"Error": {"Code": code, "Message": message}, "RequestId": request_id}}


def render_json(content: Any) -> bytes:
    """Encode a response body as UTF-8 JSON.

    Datetimes, enums and models inside ``content`` go through pydantic's JSON conversion.

    Raises:
        ValueError, TypeError: for NaN or values JSON cannot express.
    """
    text = json.dumps(content, ensure_ascii=False, allow_nan=False, default=to_jsonable_python)
    return text.encode("utf-8")


class ApiResponse(Response):
    """A JSON response whose ``Content-Type`` is exactly ``application/json``, never with a charset.

    The header is passed explicitly rather than derived from ``media_type``, so a framework
    default that appends ``; charset=utf-8`` can never reach the SDK (mps-api.md §14.1).
    """

    media_type = JSON_CONTENT_TYPE

    def __init__(self, content: bytes, status_code: int = 200) -> None:
        super().__init__(content, status_code=status_code, headers={"Content-Type": JSON_CONTENT_TYPE})


__all__ = [
    "JSON_CONTENT_TYPE",
    "LEGACY_COMMON_FIELDS",
    "MAX_FLAT_FIELDS",
    "MAX_KEY_DEPTH",
    "ApiResponse",
    "DecodedRequest",
    "Mode",
    "RawRequest",
    "decode_legacy",
    "decode_tc3",
    "error_envelope",
    "flatten_params",
    "legacy_fields",
    "parse_form",
    "parse_json_object",
    "render_json",
    "success_envelope",
    "unflatten_params",
]
