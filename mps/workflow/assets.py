"""Fetching the small files a task needs besides its input: watermark images, fonts."""

from __future__ import annotations

import shutil
import threading
import uuid
from pathlib import Path
from urllib.parse import unquote, urlparse

from mps.errors import InvalidParameterError, ResourceNotFoundError
from mps.models import MediaInputInfo

#: Where Debian (fonts-dejavu-core) and most distributions keep DejaVu Sans.
_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
)

#: Largest watermark image fetched, in bytes: a logo, not a film.
MAX_ASSET_BYTES = 20 * 1024 * 1024


def default_font_file() -> str | None:
    """The font text watermarks use when none is configured (DejaVu Sans), or None."""
    return next((path for path in _FONT_CANDIDATES if Path(path).is_file()), None)


class AssetFetcher:
    """Fetches watermark images into ``directory``: local paths, ``file://``, http(s) and stores.

    Parameters:
        directory: where fetched files are kept for the task's lifetime.
        storage: the object store for COS/AWS-S3 references and ``s3://`` URLs (None: refused).
        allow_private: let http(s) URLs reach loopback and private addresses.
        local_files: allow local paths and ``file://`` URLs (``mps process`` yes; the service no,
            or an API caller could read the server's files).
    """

    def __init__(
        self,
        directory: Path,
        *,
        storage: object | None = None,
        allow_private: bool = False,
        local_files: bool = True,
    ) -> None:
        self.directory, self.storage = directory, storage
        self.allow_private, self.local_files = allow_private, local_files
        self._lock = threading.Lock()

    def __call__(self, ref: str | MediaInputInfo) -> Path:
        """A local file holding the image ``ref`` names.

        Raises:
            ResourceNotFoundError: it does not exist.
            InvalidParameterError: the reference is of a kind this fetcher may not use.
        """
        if isinstance(ref, MediaInputInfo):
            if ref.Type == "URL":
                assert ref.UrlInputInfo is not None
                return self(ref.UrlInputInfo.Url)
            from mps.storage.locations import input_location

            bucket, key = input_location(ref)
            return self._from_store(bucket, key)
        parsed = urlparse(ref)
        if parsed.scheme in ("http", "https"):
            return self._download(ref)
        if parsed.scheme == "s3":
            return self._from_store(parsed.netloc, parsed.path.lstrip("/"))
        if parsed.scheme in ("", "file"):
            return self._local(Path(unquote(parsed.path)) if parsed.scheme else Path(ref))
        raise InvalidParameterError.field("ImageUrl", f"unsupported watermark image reference {ref!r}")

    def _target(self, name: str) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        suffix = Path(name).suffix.lower()[:8]
        return self.directory / f"asset-{uuid.uuid4().hex}{suffix}"

    def _local(self, path: Path) -> Path:
        if not self.local_files:
            raise InvalidParameterError.field(
                "ImageUrl", "local files cannot be used as watermark images here"
            )
        if not path.is_file():
            raise ResourceNotFoundError(
                f"watermark image {str(path)!r} does not exist", code="ResourceNotFound.DownloadError"
            )
        return path

    def _download(self, url: str) -> Path:
        from mps.storage.url import download_url

        target = self._target(urlparse(url).path)
        download_url(url, target, max_bytes=MAX_ASSET_BYTES, allow_private=self.allow_private)
        return target

    def _from_store(self, bucket: str, key: str) -> Path:
        if self.storage is None:
            raise InvalidParameterError.field(
                "ImageUrl", "no object store is configured for watermark images"
            )
        target = self._target(key)
        self.storage.get(bucket, key, target)  # type: ignore[attr-defined]
        return target


def copy_file(source: Path, target: Path) -> None:
    """Copy one file, creating the target's directory."""
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
