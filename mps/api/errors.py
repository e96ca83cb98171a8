"""From exceptions to the error object of the wire: one table, one function.

Every failure of a request is answered with HTTP 200 and
``{"Response": {"Error": {"Code": ..., "Message": ...}, "RequestId": ...}}`` (mps-api.md §0).
This module decides the ``Code`` and ``Message``:

- an :class:`~mps.errors.MpsError` keeps its own ``code`` when that is a Tencent-style code of a
  known family (``InvalidParameterValue.Definition``, ``ResourceNotFound.TaskNotFound``...);
  otherwise :data:`WIRE_CODES` gives the code of its class (the nearest class in its MRO);
- a pydantic ``ValidationError`` that escaped a handler becomes ``InvalidParameterValue.<Field>``
  through :func:`mps.models.validation.invalid_parameter`;
- anything else is a bug: ``InternalError`` with a generic message, and the traceback goes to the
  server log only (the caller in :mod:`mps.api.app` logs it), never to the client.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from pydantic import ValidationError

from mps.errors import (
    InvalidParameterError,
    MpsError,
    ProcessingError,
    ProcessStalledError,
    ProcessTimeoutError,
    ResourceNotFoundError,
    SourceError,
    StorageUnavailableError,
)
from mps.models.validation import invalid_parameter


class ApiError(MpsError):
    """A failure of the HTTP edge itself: authentication, decoding, an unknown action.

    Parameters:
        message: one line for the caller.
        code: the wire code, e.g. ``AuthFailure.SignatureFailure``, ``InvalidAction``.
    """

    code = "InvalidParameter"

    def __init__(self, message: str, code: str = "InvalidParameter") -> None:
        super().__init__(message, code)


#: The wire code of each error class, used when an error's own ``code`` is not a Tencent-style
#: code. Every class of :mod:`mps.errors` has an explicit entry (a test checks it), so adding a
#: class there without deciding its wire code fails loudly.
WIRE_CODES: dict[type[MpsError], str] = {
    MpsError: "InternalError",
    InvalidParameterError: "InvalidParameterValue",
    ResourceNotFoundError: "ResourceNotFound",
    SourceError: "FailedOperation",
    ProcessingError: "FailedOperation",
    ProcessTimeoutError: "FailedOperation",
    ProcessStalledError: "FailedOperation",
    StorageUnavailableError: "InternalError",
    ApiError: "InvalidParameter",
}

#: The first segment of every code an API 3.0 client may receive (Tencent's common error codes).
#: A code outside these families would be an internal name leaking to the wire.
KNOWN_FAMILIES: frozenset[str] = frozenset(
    {
        "AuthFailure",
        "DryRunOperation",
        "FailedOperation",
        "InternalError",
        "InvalidAction",
        "InvalidParameter",
        "InvalidParameterValue",
        "InvalidRequest",
        "LimitExceeded",
        "MissingParameter",
        "NoSuchVersion",
        "OperationDenied",
        "RequestLimitExceeded",
        "RequestSizeLimitExceeded",
        "ResourceInUse",
        "ResourceInsufficient",
        "ResourceNotFound",
        "ResourceUnavailable",
        "ServiceUnavailable",
        "UnauthorizedOperation",
        "UnknownParameter",
        "UnsupportedOperation",
        "UnsupportedRegion",
    }
)

#: The message of an unexpected failure; the details stay in the server log.
INTERNAL_MESSAGE = "An internal error occurred; the server log has the details (see RequestId)."

_CODE_SHAPE = re.compile(r"[A-Z][A-Za-z0-9]*(\.[A-Za-z0-9_]+)*")


class WireError(NamedTuple):
    """The ``Error`` object of a response."""

    code: str
    message: str


def is_wire_code(code: str) -> bool:
    """Whether ``code`` is a dotted Tencent-style code of a known family.

    Parameters:
        code: a candidate ``Error.Code``.

    Returns:
        True for ``InvalidParameterValue.Definition``, False for ``source_not_found`` or ``Foo.Bar``.
    """
    return _CODE_SHAPE.fullmatch(code) is not None and code.split(".", 1)[0] in KNOWN_FAMILIES


def default_code(cls: type[MpsError]) -> str:
    """The wire code :data:`WIRE_CODES` gives ``cls``, through its nearest listed base class.

    Parameters:
        cls: an :class:`MpsError` subclass.

    Returns:
        A code of a known family; ``InternalError`` at worst, since ``MpsError`` is in the table.
    """
    for klass in cls.__mro__:
        if issubclass(klass, MpsError) and klass in WIRE_CODES:
            return WIRE_CODES[klass]
    return "InternalError"


def wire_error(exc: BaseException) -> WireError:
    """The ``Error`` object that answers a request which raised ``exc``.

    Parameters:
        exc: whatever a decoder, the authenticator or a handler raised.

    Returns:
        The code and message; for an unexpected exception, ``InternalError`` and
        :data:`INTERNAL_MESSAGE`, never the exception text (it may hold paths or secrets).
    """
    if isinstance(exc, ValidationError):
        exc = invalid_parameter(exc)
    if isinstance(exc, MpsError):
        code = exc.code if is_wire_code(exc.code) else default_code(type(exc))
        return WireError(code, exc.message or code)
    return WireError("InternalError", INTERNAL_MESSAGE)


def is_unexpected(exc: BaseException) -> bool:
    """Whether ``exc`` is a bug (log its traceback) rather than a deliberate, typed failure."""
    return not isinstance(exc, MpsError | ValidationError)


__all__ = [
    "INTERNAL_MESSAGE",
    "KNOWN_FAMILIES",
    "WIRE_CODES",
    "ApiError",
    "WireError",
    "default_code",
    "is_unexpected",
    "is_wire_code",
    "wire_error",
]
