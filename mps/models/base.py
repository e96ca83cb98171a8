"""The base of every wire model: Tencent's field names, bounded numbers, exact on output."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, field_validator

#: Smallest and largest integer any wire field may hold: a signed 64-bit integer, what the task
#: store (SQLite INTEGER, PostgreSQL BIGINT) and ffmpeg's options can hold. A bigger number is
#: ``InvalidParameterValue.<Field>`` before anything touches the store.
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
#: Largest magnitude of a float field: ffmpeg holds times as signed 64-bit microseconds, so a
#: number of seconds beyond this (~292 000 years) cannot reach it. NaN and infinities are refused too.
MAX_FLOAT = INT64_MAX // 1_000_000


#: ``WireModel.unsupported_fields``: field name -> the values (beyond the empty ones) that ask for nothing.
UnsupportedFields = Mapping[str, tuple[object, ...]]


class WireModel(BaseModel):
    """A model whose field names are the MPS API 3.0 names, spelled exactly.

    Validation by the model itself ignores unknown keys: stored requests, presets and events are
    read leniently. API requests are checked key by key first (:func:`mps.models.fields.check_fields`),
    which reads the three class variables below: a key that is not a field is ``UnknownParameter``,
    as Tencent answers, and a field Tencent has but mps does not act on is refused when it asks for
    something. Values are coerced in lax mode because GET-mode and legacy-signature clients send
    every value as a string.

    Every integer is bounded to :data:`INT64_MIN`..:data:`INT64_MAX` and every float to
    ±:data:`MAX_FLOAT` (finite), in every model, lists of numbers included.
    """

    # defer_build: each model's validator is built when it is first used, not when its module is
    # imported. There are a few hundred wire models and a process uses a few dozen of them, so this
    # takes about 0.08 s off every start (mps process on a short clip pays it for nothing).
    model_config = ConfigDict(
        extra="ignore",
        populate_by_name=True,
        validate_assignment=False,
        allow_inf_nan=False,
        defer_build=True,
    )

    #: Tencent's fields of this shape that mps does not act on, each with the values that ask for
    #: nothing beyond the empty ones (null, "", 0, false, [], {}), which are accepted; any other
    #: value is refused with ``UnsupportedOperation``. A name may also be a field (kept for output).
    unsupported_fields: ClassVar[UnsupportedFields] = {}
    #: Keys a request may carry that the handler consumes before the model sees them.
    request_only_fields: ClassVar[frozenset[str]] = frozenset()
    #: Fields of the stored or answered shape a request may not set (``UnknownParameter``).
    response_only_fields: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="after")
    @classmethod
    def _numbers_in_range(cls, value: Any) -> Any:
        problem = out_of_range(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    def to_wire(self) -> dict[str, Any]:
        """The JSON object for this model with the fields that are not set left out."""
        return self.model_dump(mode="json", exclude_none=True)


def out_of_range(value: object) -> str | None:
    """Why ``value`` (a number, or a list or object of them) cannot be stored, or None.

    Parameters:
        value: a validated field value; models inside it were checked when they were built.

    Returns:
        The message for the first number outside the wire bounds, or None.
    """
    if isinstance(value, bool) or value is None or isinstance(value, str | BaseModel):
        return None
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            return f"must be between {INT64_MIN} and {INT64_MAX}"
        return None
    if isinstance(value, float):
        if not -MAX_FLOAT <= value <= MAX_FLOAT:
            return f"must be a finite number between -{MAX_FLOAT} and {MAX_FLOAT}"
        return None
    items = value.values() if isinstance(value, Mapping) else value if isinstance(value, list | tuple) else ()
    for item in items:
        problem = out_of_range(item)
        if problem is not None:
            return problem
    return None


__all__ = ["INT64_MAX", "INT64_MIN", "MAX_FLOAT", "UnsupportedFields", "WireModel", "out_of_range"]
