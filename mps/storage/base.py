"""The ``Storage`` protocol, the ``ObjectInfo`` it returns, and the checks every adapter shares.

Objects are addressed by ``(bucket, key)``; keys never start with ``/`` (the wire's COS
``Object`` does; :mod:`mps.storage.locations` strips it). User metadata is a flat
``str -> str`` map with lower-case ASCII keys, as S3 stores it (``x-amz-meta-*``): every
adapter lower-cases keys on ``put`` so that what ``head`` returns is the same everywhere.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

from mps.errors import InvalidParameterError, ResourceNotFoundError

#: Metadata key of every object mps writes; its value is the TaskId. Bucket events for
#: objects that carry it never start a workflow (no loops through an output directory).
TASK_METADATA_KEY = "mps-task"
#: Wire code for an object that does not exist (or cannot be read from its store).
DOWNLOAD_ERROR = "ResourceNotFound.DownloadError"
#: Wire code for a bucket that does not exist.
BUCKET_NOT_EXIST = "ResourceNotFound.CosBucketNotExist"
#: Wire code for a malformed bucket name.
BUCKET_NAME_INVALID = "ResourceNotFound.CosBucketNameInvalid"
#: S3's limit on the length of a key, in UTF-8 bytes.
MAX_KEY_BYTES = 1024
#: What an HTTP header name may contain (RFC 9110 token); metadata keys become header names.
_HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")
#: Chunk size when hashing or copying files: big enough to be fast, small enough for memory.
CHUNK_SIZE = 1024 * 1024


@dataclass(frozen=True)
class ObjectInfo:
    """What a store knows about one object.

    Attributes:
        bucket: the bucket.
        key: the key, without a leading ``/``.
        size: length in bytes.
        etag: the store's entity tag without quotes (the MD5 hex for single-part writes).
        metadata: user metadata, lower-case keys; empty when the listing did not fetch it.
        last_modified: time of the last write, timezone-aware UTC.
        content_type: the MIME type when the store knows it (``head``/``put``), else None.
    """

    bucket: str
    key: str
    size: int
    etag: str
    metadata: dict[str, str] = field(default_factory=dict)
    last_modified: datetime | None = None
    content_type: str | None = None


@runtime_checkable
class Storage(Protocol):
    """An object store: S3 (:class:`~mps.storage.s3.S3Storage`), a directory, or memory.

    Every method raises :class:`~mps.errors.MpsError` subclasses only:
    ``ResourceNotFoundError`` (``ResourceNotFound.DownloadError`` for a missing object,
    ``ResourceNotFound.CosBucketNotExist`` for a missing bucket), ``InvalidParameterError``
    for a malformed key, and the retryable ``StorageUnavailableError`` when the store does
    not answer.
    """

    def get(self, bucket: str, key: str, dest: Path) -> ObjectInfo:
        """Stream the object into the file ``dest`` (replaced) and describe it."""
        ...

    def put(
        self,
        bucket: str,
        key: str,
        src: Path,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> ObjectInfo:
        """Store the file ``src`` under ``key`` (replacing any object there) and describe it."""
        ...

    def head(self, bucket: str, key: str) -> ObjectInfo | None:
        """Describe the object with its metadata, or None when there is none under ``key``."""
        ...

    def list(self, bucket: str, prefix: str = "", *, with_metadata: bool = False) -> Iterator[ObjectInfo]:
        """Every object whose key starts with ``prefix``, in key order, page by page.

        Metadata costs one request per object on S3, so it is fetched only when asked.
        """
        ...

    def delete(self, bucket: str, key: str) -> None:
        """Remove the object; a missing object is not an error."""
        ...

    def presigned_url(self, bucket: str, key: str, expires: int = 3600) -> str | None:
        """A URL that reads the object without credentials for ``expires`` seconds, if the store has one."""
        ...

    def ensure_bucket(self, bucket: str) -> None:
        """Create the bucket unless it exists."""
        ...


def check_key(key: str) -> str:
    """Refuse keys no adapter should write.

    Parameters:
        key: an object key.

    Returns:
        the key, unchanged.

    Raises:
        InvalidParameterError: empty, starting with ``/``, containing NUL, or too long.
    """
    if not key or key.startswith("/") or "\x00" in key or len(key.encode()) > MAX_KEY_BYTES:
        raise InvalidParameterError(f"invalid object key {key!r}", code="InvalidParameterValue.Object")
    return key


def check_bucket(bucket: str) -> str:
    """Refuse bucket names that could not be a directory or an S3 bucket.

    Parameters:
        bucket: a bucket name.

    Returns:
        the name, unchanged.

    Raises:
        ResourceNotFoundError: ``ResourceNotFound.CosBucketNameInvalid``.
    """
    if not bucket or "/" in bucket or "\\" in bucket or bucket.startswith(".") or "\x00" in bucket:
        raise ResourceNotFoundError(f"invalid bucket name {bucket!r}", code=BUCKET_NAME_INVALID)
    return bucket


def normalize_metadata(metadata: Mapping[str, str] | None) -> dict[str, str]:
    """User metadata as S3 keeps it: lower-case keys, printable ASCII keys and values.

    Parameters:
        metadata: the caller's map, or None.

    Returns:
        a new dict with lower-cased keys.

    Raises:
        InvalidParameterError: a key or value S3 could not carry in an HTTP header.
    """
    result: dict[str, str] = {}
    for name, value in (metadata or {}).items():
        # Headers are ASCII; non-ASCII values would need RFC 2047 encoding that stores disagree on.
        if not _HEADER_NAME.fullmatch(name) or not (value.isascii() and value.isprintable()):
            raise InvalidParameterError(
                f"metadata {name!r}: {value!r} is not printable ASCII", code="InvalidParameterValue.Metadata"
            )
        result[name.lower()] = value
    return result


def file_md5(path: Path) -> str:
    """The MD5 hex digest of a file, read in chunks (the ETag of a single-part S3 upload)."""
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()
