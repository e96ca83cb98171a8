"""Facts about files an operation wrote: size and MD5, read in one pass."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

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
