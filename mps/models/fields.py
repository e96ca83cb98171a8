"""The keys of a request, checked against Tencent's request shapes before any value is.

A field Tencent does not have is ``UnknownParameter`` (Tencent's own answer to an extra
parameter); a field Tencent has that mps does not act on is ``UnsupportedOperation`` whenever its
value asks for something. Nothing a client sends is dropped silently: it is either honoured or
refused, by name, with the path to it (``MediaProcessTask.TranscodeTaskSet.0.RawParameter.EnhanceConfig``).
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel

from mps.errors import InvalidParameterError

#: Wire code of a key that is not a parameter of the action at all.
UNKNOWN_PARAMETER = "UnknownParameter"
#: Wire code of a Tencent parameter that this server does not implement.
UNSUPPORTED_OPERATION = "UnsupportedOperation"


def check_fields(model: type[BaseModel], data: Any, where: str = "") -> None:
    """Refuse every key of ``data`` that ``model`` (and the models nested in it) does not honour.

    Parameters:
        model: the request shape; its ``unsupported_fields``, ``request_only_fields`` and
            ``response_only_fields`` class variables (see :class:`~mps.models.base.WireModel`)
            are read when present.
        data: the decoded request (or a part of it); values that are not objects or lists are
            left to the model's own validation.
        where: the path of ``data`` in the request, for messages.

    Raises:
        InvalidParameterError: ``UnknownParameter`` for a key the shape does not have,
            ``UnsupportedOperation`` for a Tencent field mps does not act on, set to a value
            that asks for something.
    """
    if isinstance(data, list):
        for index, item in enumerate(data):
            check_fields(model, item, f"{where}.{index}" if where else str(index))
        return
    if not isinstance(data, Mapping):
        return
    unsupported: Mapping[str, tuple[object, ...]] = getattr(model, "unsupported_fields", {})
    request_only: frozenset[str] = getattr(model, "request_only_fields", frozenset())
    response_only: frozenset[str] = getattr(model, "response_only_fields", frozenset())
    for key, value in data.items():
        path = f"{where}.{key}" if where else str(key)
        if key in unsupported:
            if not asks_nothing(value, unsupported[key]):
                raise InvalidParameterError(
                    f"{path} is not supported by this server; leave it out", code=UNSUPPORTED_OPERATION
                )
            continue
        field = model.model_fields.get(key) if isinstance(key, str) else None
        if key in request_only:
            continue
        if field is None or field.exclude or key in response_only:
            raise InvalidParameterError(f"{path} is not a parameter of this request", code=UNKNOWN_PARAMETER)
        _check_nested(field.annotation, value, path)


def asks_nothing(value: object, neutral: tuple[object, ...] = ()) -> bool:
    """Whether ``value`` leaves a feature off: null, "", 0, false, [], {}, one of ``neutral``,
    or a list or object holding only such values.

    Parameters:
        value: a decoded JSON value (strings from GET-mode clients included: ``"0"`` is 0).
        neutral: further values that ask for nothing for this field (``Compress: -1``).
    """
    if value is None or value in ("", "0", 0, False) or value in neutral:
        return True
    if isinstance(value, str) and value in {str(n) for n in neutral}:
        return True
    if isinstance(value, Mapping):
        return all(asks_nothing(item) for item in value.values())
    if isinstance(value, list):
        return all(asks_nothing(item) for item in value)
    return False


def _check_nested(annotation: Any, value: Any, where: str) -> None:
    """Check ``value`` against the models ``annotation`` names; any one of a union may accept it."""
    candidates = _models_in(annotation)
    if not candidates or not isinstance(value, Mapping | list):
        return
    first: InvalidParameterError | None = None
    for candidate in candidates:
        try:
            check_fields(candidate, value, where)
            return
        except InvalidParameterError as exc:
            first = first or exc
    assert first is not None
    raise first


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The model classes inside an annotation (``X | None``, ``list[X]``, ``Annotated[X, ...]``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = get_origin(annotation)
    if origin is None and not isinstance(annotation, types.UnionType):
        return []
    if origin in (dict, Mapping):
        return []  # a free-form object: its keys are data, not parameters
    if origin not in (Union, types.UnionType, list, tuple, None) and not hasattr(annotation, "__metadata__"):
        return []
    found: list[type[BaseModel]] = []
    for arg in get_args(annotation):
        for model in _models_in(arg):
            if model not in found:
                found.append(model)
    return found


__all__ = ["UNKNOWN_PARAMETER", "UNSUPPORTED_OPERATION", "asks_nothing", "check_fields"]
