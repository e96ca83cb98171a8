"""The one error hierarchy of mps.

Everything raised across a module boundary is an :class:`MpsError`. Each carries

- ``code``: a stable, Tencent-style string (``InvalidParameterValue.Definition``,
  ``ResourceNotFound.TemplateNotExist``...), the value of ``Error.Code`` on the wire
  and of ``ErrCodeExt`` in sub-task results;
- ``err_code``: Tencent's legacy integer family for task and sub-task results
  (40000 bad input, 60000 bad source file, 70000 internal failure);
- ``retryable``: whether running the same work again may succeed (a store that was
  down, a timeout), as opposed to bad input that will fail the same way forever.

::

    MpsError
    ├── InvalidParameterError      40000  the request or a template is wrong
    ├── ResourceNotFoundError      40000  a template, task or object does not exist
    ├── SourceError                60000  the input file is missing, unreadable or not media
    ├── ProcessingError            70000  ffmpeg failed on an input that probed fine
    │   └── ProcessTimeoutError           ...or ran past its time limit (retryable)
    │       └── ProcessStalledError       ...or made no progress for too long (retryable)
    └── StorageUnavailableError    70000  a store or broker did not answer (retryable)
"""

from __future__ import annotations

#: Tencent's integer error families for ``ErrCode`` in task and sub-task results.
ERR_CODE_INPUT = 40000
ERR_CODE_SOURCE = 60000
ERR_CODE_INTERNAL = 70000


class MpsError(Exception):
    """Base of every error mps raises on purpose.

    Parameters:
        message: one line a user can act on; never a traceback.
        code: stable Tencent-style code; subclasses provide a default.
    """

    code: str = "InternalError"
    err_code: int = ERR_CODE_INTERNAL
    retryable: bool = False

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message


class InvalidParameterError(MpsError):
    """A request field or template value is wrong (``InvalidParameterValue.<Field>``)."""

    code = "InvalidParameterValue"
    err_code = ERR_CODE_INPUT

    @classmethod
    def field(cls, name: str, message: str) -> InvalidParameterError:
        """The error for one named field: ``InvalidParameterValue.<name>``."""
        return cls(message, code=f"InvalidParameterValue.{name}")


class ResourceNotFoundError(MpsError):
    """A named thing does not exist (``ResourceNotFound.TemplateNotExist``, ``...TaskNotFound``)."""

    code = "ResourceNotFound"
    err_code = ERR_CODE_INPUT


class SourceError(MpsError):
    """The input media is missing, unreadable, or not something ffmpeg can decode."""

    code = "FailedOperation.SourceFile"
    err_code = ERR_CODE_SOURCE


class ProcessingError(MpsError):
    """An ffmpeg run failed on input that probed fine.

    Parameters:
        message: what failed, with the tail of ffmpeg's stderr.
        exit_code: the process exit status, when there was one.
        stderr_tail: the last few KiB of stderr, for logs and results.
    """

    code = "FailedOperation.Ffmpeg"
    err_code = ERR_CODE_INTERNAL

    def __init__(
        self, message: str, code: str | None = None, *, exit_code: int | None = None, stderr_tail: str = ""
    ) -> None:
        super().__init__(message, code)
        self.exit_code = exit_code
        self.stderr_tail = stderr_tail


class ProcessTimeoutError(ProcessingError):
    """A process ran past its time limit and was killed."""

    code = "FailedOperation.Timeout"
    retryable = True


class ProcessStalledError(ProcessTimeoutError):
    """A process made no progress for too long (a hung decode, a stalled network read) and was
    killed: retryable, like a timeout, under a code of its own."""

    code = "FailedOperation.Stalled"


class StorageUnavailableError(MpsError):
    """A store, database or broker did not answer; trying again later may work."""

    code = "InternalError.StorageUnavailable"
    err_code = ERR_CODE_INTERNAL
    retryable = True


__all__ = [
    "ERR_CODE_INPUT",
    "ERR_CODE_INTERNAL",
    "ERR_CODE_SOURCE",
    "InvalidParameterError",
    "MpsError",
    "ProcessStalledError",
    "ProcessTimeoutError",
    "ProcessingError",
    "ResourceNotFoundError",
    "SourceError",
    "StorageUnavailableError",
]
