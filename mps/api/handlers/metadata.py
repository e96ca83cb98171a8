"""``DescribeMediaMetaData``: probe a source and answer its MediaMetaData (mps-api.md §7).

- COS and AWS-S3 inputs are probed through a presigned URL of the object store: ffprobe reads the
  few ranges it needs instead of the whole file. A store without URLs (memory, tests) is read into
  a scratch file instead.
- URL inputs are caller-chosen addresses. Unless ``MPS_URL_ALLOW_PRIVATE`` is set they are fetched
  with the URL downloader, which refuses loopback and private addresses on every hop and pins the
  address it checked; ffprobe itself follows redirects unchecked, so it is given the URL directly
  only when private addresses are allowed anyway. The price is a full download (capped by
  ``MPS_URL_MAX_BYTES``) for public URLs.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from mps.api.actions import Handler, RequestContext
from mps.api.handlers import ApiServices, parse_params
from mps.errors import ResourceNotFoundError
from mps.models import MediaInputInfo, MediaMetaData, WireModel
from mps.storage.base import Storage
from mps.storage.locations import input_location
from mps.storage.url import UrlDownloader
from mps.workflow.submit import check_input

#: Seconds a presigned URL given to ffprobe stays valid.
PRESIGN_SECONDS = 600


class DescribeMediaMetaDataRequest(WireModel):
    """``InputInfo`` is required; ``Mode`` (``slow`` for a deeper probe) is accepted and ignored."""

    InputInfo: MediaInputInfo
    Mode: str | None = None


class MetadataActions:
    """The metadata action.

    Parameters:
        services: the runner (ffprobe), the object store and the settings (URL policy, scratch).
    """

    def __init__(self, services: ApiServices) -> None:
        self.services = services

    def actions(self) -> dict[str, Handler]:
        """Action name -> handler."""
        return {"DescribeMediaMetaData": self.describe_media_meta_data}

    def describe_media_meta_data(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        """Probe ``InputInfo`` and answer ``MetaData``.

        Raises:
            InvalidParameterError: a malformed input, or a URL that is refused.
            ResourceNotFoundError: the object does not exist.
            SourceError: the source is not readable media.
        """
        request = parse_params(DescribeMediaMetaDataRequest, params)
        return {"MetaData": self.probe(request.InputInfo).model_dump(mode="json")}

    def probe(self, info: MediaInputInfo) -> MediaMetaData:
        """The metadata of the source ``info`` names (see the module docstring for how it is read)."""
        check_input(info)
        if info.Type == "URL":
            url = info.UrlInputInfo.Url if info.UrlInputInfo is not None else ""
            return self._probe_url(url)
        bucket, key = input_location(info)
        storage = self._storage(info)
        if storage.head(bucket, key) is None:
            raise ResourceNotFoundError(
                f"object {bucket}/{key} does not exist", code="ResourceNotFound.DownloadError"
            )
        presigned = storage.presigned_url(bucket, key, expires=PRESIGN_SECONDS)
        if presigned is not None:
            return self.services.runner.probe(presigned)
        with tempfile.TemporaryDirectory(dir=self.services.settings.work_dir) as scratch:
            path = Path(scratch) / "source"
            storage.get(bucket, key, path)
            return self.services.runner.probe(path)

    def _probe_url(self, url: str) -> MediaMetaData:
        settings = self.services.settings
        if settings.url_allow_private and self.services.download_url is None:
            return self.services.runner.probe(url)
        download = (
            self.services.download_url
            or UrlDownloader(
                max_bytes=settings.url_max_bytes, allow_private=settings.url_allow_private
            ).download
        )
        with tempfile.TemporaryDirectory(dir=settings.work_dir) as scratch:
            path = Path(scratch) / "source"
            download(url, path)
            return self.services.runner.probe(path)

    def _storage(self, info: MediaInputInfo) -> Storage:
        """The object store, with the request's own keys when an AWS-S3 input carries them."""
        s3 = info.S3InputInfo if info.Type == "AWS-S3" else None
        storage = self.services.storage
        with_credentials = getattr(storage, "with_credentials", None)
        if s3 is not None and s3.S3SecretId and s3.S3SecretKey and with_credentials is not None:
            switched: Storage = with_credentials(s3.S3SecretId, s3.S3SecretKey, s3.S3Region)
            return switched
        return storage


__all__ = ["DescribeMediaMetaDataRequest", "MetadataActions"]
