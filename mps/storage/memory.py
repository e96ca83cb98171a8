"""``MemoryStorage``: the in-memory twin of S3 for unit tests of the layers above storage."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from mps.errors import ResourceNotFoundError
from mps.storage.base import (
    BUCKET_NOT_EXIST,
    DOWNLOAD_ERROR,
    ObjectInfo,
    check_bucket,
    check_key,
    normalize_metadata,
)


@dataclass(frozen=True)
class _Blob:
    data: bytes
    info: ObjectInfo


class MemoryStorage:
    """A :class:`~mps.storage.base.Storage` kept in a dict, with S3's semantics.

    Buckets must exist before objects go in (as on MinIO); ETags are MD5 hex digests;
    metadata keys are lower-cased. Safe to share between threads.

    Parameters:
        buckets: buckets that exist from the start.
    """

    def __init__(self, buckets: Iterable[str] = ()) -> None:
        self._buckets: dict[str, dict[str, _Blob]] = {check_bucket(name): {} for name in buckets}
        self._lock = threading.Lock()

    def get(self, bucket: str, key: str, dest: Path) -> ObjectInfo:
        """Write the object to ``dest``.

        Raises:
            ResourceNotFoundError: the bucket or the object does not exist.
        """
        blob = self._blob(bucket, key)
        dest.write_bytes(blob.data)
        return blob.info

    def put(
        self,
        bucket: str,
        key: str,
        src: Path,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> ObjectInfo:
        """Store the bytes of ``src``.

        Raises:
            ResourceNotFoundError: the bucket does not exist.
            InvalidParameterError: a malformed key or metadata.
        """
        return self.put_bytes(bucket, key, src.read_bytes(), content_type=content_type, metadata=metadata)

    def put_bytes(
        self,
        bucket: str,
        key: str,
        data: bytes,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> ObjectInfo:
        """Store ``data`` directly (a test convenience; same checks as :meth:`put`)."""
        info = ObjectInfo(
            bucket=bucket,
            key=check_key(key),
            size=len(data),
            etag=hashlib.md5(data, usedforsecurity=False).hexdigest(),
            metadata=normalize_metadata(metadata),
            last_modified=datetime.now(UTC),
            content_type=content_type or "binary/octet-stream",
        )
        with self._lock:
            self._bucket(bucket)[key] = _Blob(data, info)
        return info

    def get_bytes(self, bucket: str, key: str) -> bytes:
        """The content of an object (a test convenience).

        Raises:
            ResourceNotFoundError: the bucket or the object does not exist.
        """
        return self._blob(bucket, key).data

    def head(self, bucket: str, key: str) -> ObjectInfo | None:
        """Describe the object, or None when it does not exist.

        Raises:
            ResourceNotFoundError: the bucket does not exist.
        """
        with self._lock:
            blob = self._bucket(bucket).get(check_key(key))
        return None if blob is None else blob.info

    def list(self, bucket: str, prefix: str = "", *, with_metadata: bool = False) -> Iterator[ObjectInfo]:
        """Objects under ``prefix`` in key order; without metadata unless asked, as on S3.

        Raises:
            ResourceNotFoundError: the bucket does not exist.
        """
        with self._lock:
            infos = [blob.info for key, blob in self._bucket(bucket).items() if key.startswith(prefix)]
        for info in sorted(infos, key=lambda item: item.key):
            yield info if with_metadata else _listed(info)

    def delete(self, bucket: str, key: str) -> None:
        """Remove the object; a missing object is fine.

        Raises:
            ResourceNotFoundError: the bucket does not exist.
        """
        with self._lock:
            self._bucket(bucket).pop(check_key(key), None)

    def presigned_url(self, bucket: str, key: str, expires: int = 3600) -> str | None:
        """None: objects in memory have no URL."""
        return None

    def ensure_bucket(self, bucket: str) -> None:
        """Create the bucket unless it exists."""
        with self._lock:
            self._buckets.setdefault(check_bucket(bucket), {})

    def _bucket(self, bucket: str) -> dict[str, _Blob]:
        try:
            return self._buckets[bucket]
        except KeyError:
            raise ResourceNotFoundError(f"bucket {bucket} does not exist", code=BUCKET_NOT_EXIST) from None

    def _blob(self, bucket: str, key: str) -> _Blob:
        with self._lock:
            blob = self._bucket(bucket).get(check_key(key))
        if blob is None:
            raise ResourceNotFoundError(f"object {bucket}/{key} does not exist", code=DOWNLOAD_ERROR)
        return blob


def _listed(info: ObjectInfo) -> ObjectInfo:
    # A listing carries neither metadata nor content type, as ListObjectsV2 does not.
    return ObjectInfo(info.bucket, info.key, info.size, info.etag, {}, info.last_modified, None)
