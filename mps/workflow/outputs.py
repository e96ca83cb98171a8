"""Facts about files an operation wrote: size and MD5, read in one pass."""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Iterable
from pathlib import Path

from mps.storage.base import TASK_METADATA_KEY, Storage

_CHUNK = 1 << 20


def file_facts(path: Path) -> tuple[int, str]:
    """``(size in bytes, lowercase hex MD5)`` of one file."""
    digest = hashlib.md5(usedforsecurity=False)
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            size += len(chunk)
            digest.update(chunk)
    return size, digest.hexdigest()


def total_size(paths: Iterable[Path]) -> int:
    """The summed size of several files (an HLS playlist and its segments)."""
    return sum(path.stat().st_size for path in paths)


def wire_path(key: str) -> str:
    """An output key as Tencent reports it: absolute, with a leading ``/``."""
    return "/" + key.lstrip("/")


def upload_outputs(storage: Storage, bucket: str, staging: Path, task_id: str) -> list[str]:
    """Upload every file under ``staging`` to ``bucket`` (key = path relative to ``staging``).

    Each object carries ``mps-task: <task_id>`` metadata, so objects mps wrote never start a
    workflow. Returns the uploaded keys.
    """
    keys = []
    for path in sorted(p for p in staging.rglob("*") if p.is_file()):
        key = path.relative_to(staging).as_posix()
        storage.put(
            bucket,
            key,
            path,
            content_type=mimetypes.guess_type(key)[0],
            metadata={TASK_METADATA_KEY: task_id},
        )
        keys.append(key)
    return keys
