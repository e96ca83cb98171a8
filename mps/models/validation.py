"""Turning pydantic's validation errors into Tencent's ``InvalidParameterValue.<Field>``."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from mps.errors import InvalidParameterError
from mps.models.fields import check_fields

M = TypeVar("M", bound=BaseModel)


def parse_wire(model: type[M], data: Any, *, where: str = "", known_fields: bool = False) -> M:
    """Validate ``data`` as ``model``, raising one clear error on the first problem.

    Parameters:
        model: the wire model to build.
        data: decoded JSON.
        where: a prefix for the message, e.g. ``"MediaProcessTask"``.
        known_fields: first refuse keys the model does not honour, as for an API request
            (:func:`~mps.models.fields.check_fields`); leave False for what mps stored itself.

    Raises:
        InvalidParameterError: ``InvalidParameterValue.<Field>``, where Field is the deepest
            named field of the first error, with the path to it in the message;
            ``UnknownParameter`` / ``UnsupportedOperation`` with ``known_fields``.
    """
    if known_fields:
        check_fields(model, data, where)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid_parameter(exc, where) from None


def invalid_parameter(exc: ValidationError, where: str = "") -> InvalidParameterError:
    """The :class:`InvalidParameterError` that describes the first error of ``exc``."""
    first = exc.errors(include_url=False)[0]
    names = [str(part) for part in first["loc"] if isinstance(part, str) and not part.startswith("function-")]
    names = [n for n in names if n[:1].isupper()]
    path = ".".join(str(p) for p in first["loc"] if not str(p).startswith("function-"))
    field = names[-1] if names else (where.rsplit(".", 1)[-1] if where else "")
    location = ".".join(filter(None, [where, path]))
    message = first["msg"].removeprefix("Value error, ")
    text = f"{location}: {message}" if location else message
    return InvalidParameterError(text, code=f"InvalidParameterValue.{field}" if field else None)
