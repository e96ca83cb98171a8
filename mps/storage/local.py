"""``LocalStorage``: buckets as directories, for ``mps process`` and single-host setups.

Layout under ``root``::

    <bucket>/<key>                        the object, at the path its key names
    <bucket>/.mps-meta/<key>.json         its sidecar: ETag, content type, user metadata

A sidecar is written with every ``put`` and trusted only while the file's size and mtime
still match it: a file changed (or dropped in) by something else has no metadata, and its
ETag is ``<size hex>-<mtime_ns hex>`` (cheap to compute, changes whenever the file does)
rather than an MD5 that would cost a full read on every ``list``.

Keys are mapped segment by segment: empty, ``.`` and ``..`` segments are refused so that
no key climbs out of its bucket, and segments starting with ``.mps-`` are reserved for the
sidecars and temporary files.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from mps.errors import InvalidParameterError, ResourceNotFoundError
from mps.storage.base import (
    BUCKET_NOT_EXIST,
    CHUNK_SIZE,
    DOWNLOAD_ERROR,
    ObjectInfo,
    check_bucket,
    check_key,
    normalize_metadata,
)

#: Directory of the sidecars inside each bucket directory.
META_DIR = ".mps-meta"
#: Reserved prefix of path segments (sidecar directory, temporary files).
RESERVED_PREFIX = ".mps-"
#: Wire code of a key this store refuses.
_BAD_KEY = "InvalidParameterValue.Object"
#: Content type of objects written without one, as S3 reports it.
DEFAULT_CONTENT_TYPE = "binary/octet-stream"


class LocalStorage:
    """A :class:`~mps.storage.base.Storage` in a directory tree.

    Parameters:
        root: the directory whose subdirectories are the buckets.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def get(self, bucket: str, key: str, dest: Path) -> ObjectInfo:
        """Copy the object to ``dest``.

        Raises:
            ResourceNotFoundError: the bucket or the object does not exist.
            InvalidParameterError: the key is malformed or climbs out of the bucket.
        """
        info = self.head(bucket, key)
        if info is None:
            raise ResourceNotFoundError(f"object {bucket}/{key} does not exist", code=DOWNLOAD_ERROR)
        shutil.copyfile(self._path(bucket, key), dest)
        return info

    def put(
        self,
        bucket: str,
        key: str,
        src: Path,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> ObjectInfo:
        """Copy ``src`` to the object's path atomically (temporary file, then rename).

        Raises:
            ResourceNotFoundError: the bucket does not exist.
            InvalidParameterError: malformed key or metadata.
        """
        path = self._path(bucket, key)
        meta = normalize_metadata(metadata)
        path.parent.mkdir(parents=True, exist_ok=True)
        etag = _copy_hashing(src, path)
        stat = path.stat()
        sidecar = _Sidecar(etag, content_type or DEFAULT_CONTENT_TYPE, meta, stat.st_size, stat.st_mtime_ns)
        _write_atomic(self._sidecar(bucket, key), json.dumps(asdict(sidecar)).encode())
        return _info(bucket, key, stat, sidecar, full=True)

    def head(self, bucket: str, key: str) -> ObjectInfo | None:
        """Describe the object, with its metadata, or None when there is no file at its path.

        Raises:
            ResourceNotFoundError: the bucket does not exist.
            InvalidParameterError: the key is malformed or climbs out of the bucket.
        """
        path = self._path(bucket, key)
        try:
            stat = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not path.is_file():
            return None
        return _info(bucket, key, stat, self._read_sidecar(bucket, key), full=True)

    def list(self, bucket: str, prefix: str = "", *, with_metadata: bool = False) -> Iterator[ObjectInfo]:
        """Files under ``prefix`` in key order, skipping sidecars and temporary files.

        Raises:
            ResourceNotFoundError: the bucket does not exist.
        """
        base = self._bucket_dir(bucket)
        keys = []
        for dirpath, dirnames, filenames in os.walk(base):
            # Prune reserved directories so sidecars never show up as objects.
            dirnames[:] = [name for name in dirnames if not name.startswith(RESERVED_PREFIX)]
            rel = Path(dirpath).relative_to(base)
            for name in filenames:
                key = (rel / name).as_posix()
                if not name.startswith(RESERVED_PREFIX) and key.startswith(prefix):
                    keys.append(key)
        for key in sorted(keys):
            with contextlib.suppress(FileNotFoundError):  # deleted while we were listing
                stat = (base / key).stat()
                sidecar = self._read_sidecar(bucket, key) if with_metadata else None
                yield _info(bucket, key, stat, sidecar, full=with_metadata)

    def delete(self, bucket: str, key: str) -> None:
        """Remove the file and its sidecar, then the directories this left empty.

        Raises:
            ResourceNotFoundError: the bucket does not exist.
        """
        path = self._path(bucket, key)
        path.unlink(missing_ok=True)
        self._sidecar(bucket, key).unlink(missing_ok=True)
        base = self._bucket_dir(bucket)
        for directory in (path.parent, self._sidecar(bucket, key).parent):
            while directory != base and directory.is_relative_to(base):
                try:
                    directory.rmdir()
                except OSError:  # not empty (or gone): stop climbing
                    break
                directory = directory.parent

    def presigned_url(self, bucket: str, key: str, expires: int = 3600) -> str | None:
        """None: a directory has no URLs; read the object with :meth:`get`."""
        return None

    def ensure_bucket(self, bucket: str) -> None:
        """Create the bucket's directory (and ``root``) unless it exists."""
        (self.root / check_bucket(bucket)).mkdir(parents=True, exist_ok=True)

    def _bucket_dir(self, bucket: str) -> Path:
        path = self.root / check_bucket(bucket)
        if not path.is_dir():
            raise ResourceNotFoundError(f"bucket {bucket} does not exist", code=BUCKET_NOT_EXIST)
        return path

    def _path(self, bucket: str, key: str) -> Path:
        base = self._bucket_dir(bucket)
        segments = check_key(key).split("/")
        if any(seg in ("", ".", "..") or seg.startswith(RESERVED_PREFIX) for seg in segments):
            raise InvalidParameterError(f"object key {key!r} is not allowed here", _BAD_KEY)
        path = base.joinpath(*segments)
        # A symlink inside the bucket could still point outside it.
        if not path.resolve().is_relative_to(base.resolve()):
            raise InvalidParameterError(f"object key {key!r} leaves its bucket", _BAD_KEY)
        return path

    def _sidecar(self, bucket: str, key: str) -> Path:
        return self.root / bucket / META_DIR / f"{key}.json"

    def _read_sidecar(self, bucket: str, key: str) -> _Sidecar | None:
        try:
            return _Sidecar(**json.loads(self._sidecar(bucket, key).read_bytes()))
        except (FileNotFoundError, NotADirectoryError, ValueError, TypeError):
            return None  # none, or unreadable: the file is described without it


@dataclass(frozen=True)
class _Sidecar:
    """What ``put`` recorded about a file, valid while its size and mtime still match."""

    etag: str
    content_type: str
    metadata: dict[str, str]
    size: int
    mtime_ns: int

    def matches(self, stat: os.stat_result) -> bool:
        return (self.size, self.mtime_ns) == (stat.st_size, stat.st_mtime_ns)


def _info(bucket: str, key: str, stat: os.stat_result, sidecar: _Sidecar | None, *, full: bool) -> ObjectInfo:
    """Describe a file; ``full`` adds metadata and content type (``head``), as S3 does."""
    if sidecar is None or not sidecar.matches(stat):
        sidecar = _Sidecar(
            etag=f"{stat.st_size:x}-{stat.st_mtime_ns:x}",
            content_type=DEFAULT_CONTENT_TYPE,
            metadata={},
            size=stat.st_size,
            mtime_ns=stat.st_mtime_ns,
        )
    return ObjectInfo(
        bucket=bucket,
        key=key,
        size=stat.st_size,
        etag=sidecar.etag,
        metadata=dict(sidecar.metadata) if full else {},
        last_modified=datetime.fromtimestamp(stat.st_mtime, UTC),
        content_type=sidecar.content_type if full else None,
    )


def _copy_hashing(src: Path, dest: Path) -> str:
    """Copy ``src`` next to ``dest`` and rename it into place; returns the MD5 hex of the bytes."""
    digest = hashlib.md5(usedforsecurity=False)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=RESERVED_PREFIX + "tmp-")
    try:
        with os.fdopen(fd, "wb") as out, src.open("rb") as inp:
            while chunk := inp.read(CHUNK_SIZE):
                digest.update(chunk)
                out.write(chunk)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return digest.hexdigest()


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=RESERVED_PREFIX + "tmp-")
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(tmp, path)
