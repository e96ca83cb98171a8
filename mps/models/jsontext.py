"""Decoding JSON that arrives from outside (API bodies, webhooks, bucket events, notifications).

``json.loads`` recurses once per level of nesting, so a body nested 10 000 deep raises
``RecursionError`` (and one nested 900 deep would still make pydantic, ``copy.deepcopy`` or
``json.dumps`` recurse as deep later on). Every outside JSON document goes through
:func:`parse_json`, which refuses both with one clear error before anything else sees the value.
"""

from __future__ import annotations

import json
from typing import Any

from mps.errors import InvalidParameterError

#: Deepest nesting of objects and lists accepted; the deepest real MPS request or bucket event
#: stays below 12 (and a flattened GET key below :data:`mps.api.wire.MAX_KEY_DEPTH`, the same 32).
MAX_JSON_DEPTH = 32


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(text: bytes | str, *, what: str = "the body", max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Decode ``text`` as strict JSON (no ``NaN``/``Infinity``) no deeper than ``max_depth``.

    Parameters:
        text: the document, UTF-8 bytes or text.
        what: how messages name it (``"the request body"``, ``"Content"``).
        max_depth: the deepest nesting of objects and lists accepted (a scalar has depth 0).

    Returns:
        The decoded value.

    Raises:
        InvalidParameterError: code ``InvalidParameter``, for text that is not UTF-8 JSON or is
            nested deeper than ``max_depth``.
    """
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise _too_deep(what, max_depth) from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidParameterError(
            f"{what} is not valid JSON: {str(exc)[:200]}", "InvalidParameter"
        ) from None
    if json_depth(value, limit=max_depth) > max_depth:
        raise _too_deep(what, max_depth)
    return value


def json_depth(value: Any, *, limit: int = MAX_JSON_DEPTH) -> int:
    """How deeply objects and lists nest in ``value``, counted without recursion.

    Parameters:
        value: a decoded JSON value.
        limit: the walk stops once the depth passes this (the answer is then ``limit + 1``).

    Returns:
        0 for a scalar, 1 for ``{}`` or ``[1, 2]``, 2 for ``{"a": [1]}``...
    """
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            depth += 1
            if depth > limit:
                return depth
            deepest = max(deepest, depth)
            stack.extend((child, depth) for child in (node.values() if isinstance(node, dict) else node))
    return deepest


def _too_deep(what: str, max_depth: int) -> InvalidParameterError:
    return InvalidParameterError(
        f"{what} nests objects and lists deeper than {max_depth} levels", "InvalidParameter"
    )


__all__ = ["MAX_JSON_DEPTH", "json_depth", "parse_json"]
