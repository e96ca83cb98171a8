"""Where ``mps process`` reads and writes: local paths, or ``s3://bucket/key`` in the configured store.

An S3 input is downloaded once into scratch space; S3 outputs are written to a local staging
directory first and uploaded when the task is done (with ``result.json`` beside them), so the
engine itself only ever sees local files.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from mps.errors import InvalidParameterError, SourceError
from mps.models import CosInputInfo, CosOutputStorage, MediaInputInfo, TaskOutputStorage, UrlInputInfo
from mps.settings import Settings
from mps.storage import Storage
from mps.storage.locations import parse_s3_uri
from mps.workflow.outputs import upload_outputs


def is_s3(location: str) -> bool:
    return location.lower().startswith("s3://")


@dataclass
class Source:
    """The input: what ffmpeg opens and how the result echoes it."""

    path: str
    info: MediaInputInfo


@dataclass
class Destination:
    """The output root: a local directory, or an S3 prefix staged in ``root``.

    Attributes:
        root: the local directory outputs are written under.
        output_dir: ``OutputDir`` for the namer (``/prefix/`` for S3, None for the local root).
        bucket: the S3 bucket, or None for a local directory.
        storage: reported in results as ``OutputStorage``/``Storage`` (None locally).
    """

    root: Path
    output_dir: str | None = None
    bucket: str | None = None
    storage: TaskOutputStorage | None = None
    _store: Storage | None = field(default=None, repr=False)

    def publish(self, task_id: str) -> None:
        """Upload the staged outputs (and result.json) when the destination is S3."""
        if self._store is not None and self.bucket is not None:
            upload_outputs(self._store, self.bucket, self.root, task_id)

    def describe(self) -> str:
        return f"s3://{self.bucket}/{(self.output_dir or '/').lstrip('/')}" if self.bucket else str(self.root)


def open_source(location: str, settings: Settings, scratch: Path) -> Source:
    """Resolve INPUT: a local file as is, an ``s3://`` object downloaded into ``scratch``.

    Raises:
        SourceError: the local file does not exist.
        ResourceNotFoundError: the S3 object or bucket does not exist.
        InvalidParameterError: another URL scheme.
    """
    if is_s3(location):
        bucket, key = parse_s3_uri(location)
        target = scratch / Path(key).name
        from mps.storage.s3 import S3Storage  # boto3 is imported only when S3 is used

        S3Storage.from_settings(settings).get(bucket, key, target)
        cos = CosInputInfo(Bucket=bucket, Region=settings.s3_region, Object="/" + key)
        return Source(str(target), MediaInputInfo(Type="COS", CosInputInfo=cos))
    if "://" in location:
        raise InvalidParameterError.field("InputInfo", f"{location!r}: give a local file or an s3:// URI")
    path = Path(location)
    if not path.is_file():
        raise SourceError(
            f"input file {location!r} does not exist or is not a file", code="ResourceNotFound.SourceFile"
        )
    return Source(str(path.absolute()), echo_input(location, settings))


def echo_input(location: str, settings: Settings) -> MediaInputInfo:
    """``InputInfo`` for INPUT before it is opened (used in refusals too)."""
    if is_s3(location):
        bucket, _, key = location[5:].partition("/")
        return MediaInputInfo(Type="COS", CosInputInfo=CosInputInfo(Bucket=bucket or "-", Object="/" + key))
    url = location if "://" in location else Path(location).absolute().as_uri()
    return MediaInputInfo(Type="URL", UrlInputInfo=UrlInputInfo(Url=url))


def open_destination(location: str, settings: Settings, staging: Path) -> Destination:
    """Resolve ``--output-dir``: a local directory (created) or ``s3://bucket/prefix/`` (staged)."""
    if not is_s3(location):
        root = Path(location)
        root.mkdir(parents=True, exist_ok=True)
        return Destination(root)
    bucket, prefix = parse_s3_uri(location)
    prefix = prefix.strip("/")
    from mps.storage.s3 import S3Storage

    store = S3Storage.from_settings(settings)
    store.ensure_bucket(bucket)
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    storage = TaskOutputStorage(
        Type="COS", CosOutputStorage=CosOutputStorage(Bucket=bucket, Region=settings.s3_region)
    )
    return Destination(staging, f"/{prefix}/" if prefix else None, bucket, storage, store)
