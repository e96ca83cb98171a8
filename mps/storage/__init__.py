"""Object storage: the :class:`Storage` protocol and its adapters (S3, a directory, memory).

Also URL inputs (:func:`download_url`, refusing internal addresses) and the mapping from
wire locations to ``(bucket, key)`` (:mod:`mps.storage.locations`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mps.lazy import lazy_exports
from mps.storage.base import TASK_METADATA_KEY, ObjectInfo, Storage
from mps.storage.local import LocalStorage
from mps.storage.locations import input_location, output_location, parse_s3_uri
from mps.storage.memory import MemoryStorage

if TYPE_CHECKING:
    from mps.storage.s3 import S3Storage, map_s3_errors
    from mps.storage.url import download_url, is_public_address

#: Loaded on first use: boto3 takes a third of a second to import and httpx a few hundredths,
#: which `mps process` on local files (and every short command) should not pay.
_LAZY = {
    "S3Storage": "mps.storage.s3",
    "map_s3_errors": "mps.storage.s3",
    "download_url": "mps.storage.url",
    "is_public_address": "mps.storage.url",
}


__getattr__ = lazy_exports(__name__, _LAZY)


__all__ = [
    "TASK_METADATA_KEY",
    "LocalStorage",
    "MemoryStorage",
    "ObjectInfo",
    "S3Storage",
    "Storage",
    "download_url",
    "input_location",
    "is_public_address",
    "map_s3_errors",
    "output_location",
    "parse_s3_uri",
]
