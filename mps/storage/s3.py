"""``S3Storage``: MinIO, SeaweedFS or AWS S3 through boto3.

Every boto3/botocore exception is translated here by :func:`map_s3_errors`, so no boto type
leaves this module. One boto3 client per instance, made from its own session: clients are
thread-safe, the default session is not.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from boto3.exceptions import Boto3Error, S3UploadFailedError
from boto3.exceptions import RetriesExceededError as Boto3RetriesExceededError
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError
from s3transfer.exceptions import RetriesExceededError

from mps.errors import InvalidParameterError, MpsError, ResourceNotFoundError, StorageUnavailableError
from mps.storage.base import (
    BUCKET_NAME_INVALID,
    BUCKET_NOT_EXIST,
    DOWNLOAD_ERROR,
    ObjectInfo,
    check_bucket,
    check_key,
    normalize_metadata,
)

if TYPE_CHECKING:
    from mps.settings import Settings

#: Multipart threshold and part size: 8 MiB, boto3's default and above S3's 5 MiB part minimum.
DEFAULT_PART_SIZE = 8 * 1024 * 1024
#: Wire code when the store refuses our credentials (Tencent's common "not authorized").
ACCESS_DENIED = "UnauthorizedOperation"
#: S3 error codes meaning "these credentials may not do this".
_DENIED_CODES = frozenset(
    {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled", "ExpiredToken",
     "InvalidToken", "AccountProblem", "403", "Forbidden"}
)  # fmt: skip
#: S3 error codes that say "try again later", whatever their HTTP status.
_TRANSIENT_CODES = frozenset(
    {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "Throttling", "ThrottlingException",
     "RequestTimeTooSkewed", "OperationAborted"}
)  # fmt: skip


@contextlib.contextmanager
def map_s3_errors(bucket: str, key: str | None = None) -> Iterator[None]:
    """Translate boto3/botocore exceptions raised inside the block into :class:`MpsError`.

    Parameters:
        bucket: the bucket the block works on, for messages.
        key: the object, or None for bucket-level calls; a bare 404 (HEAD responses have
            no body, so no error code) then means the bucket is missing.

    Raises:
        ResourceNotFoundError: ``ResourceNotFound.DownloadError`` (no such key),
            ``ResourceNotFound.CosBucketNotExist`` (no such bucket),
            ``ResourceNotFound.CosBucketNameInvalid``.
        MpsError: ``UnauthorizedOperation`` when credentials are refused or missing.
        StorageUnavailableError: connection failures, timeouts, 5xx and throttling (retryable).
        InvalidParameterError: a request botocore refused to send (bad parameter).
    """
    try:
        yield
    except (BotoCoreError, ClientError, Boto3Error, RetriesExceededError) as exc:
        raise translate_s3_error(exc, bucket, key) from exc


def translate_s3_error(exc: Exception, bucket: str, key: str | None = None) -> MpsError:
    """The :class:`MpsError` for one boto exception (see :func:`map_s3_errors`)."""
    where = f"{bucket}/{key}" if key is not None else bucket
    if isinstance(exc, S3UploadFailedError):
        if isinstance(exc.__context__, ClientError | BotoCoreError):
            exc = exc.__context__  # boto3 wraps the real error of a failed upload
        else:  # its text names the local file uploaded: a worker's scratch path
            return MpsError(f"object store error ({where}): the upload failed", code="FailedOperation")
    if isinstance(exc, ClientError):
        return _translate_client_error(exc, bucket, key)
    if isinstance(
        exc, BotoConnectionError | HTTPClientError | RetriesExceededError | Boto3RetriesExceededError
    ):
        return StorageUnavailableError(f"object store unreachable ({where}): {exc}")
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return MpsError(f"no usable object store credentials ({where}): {exc}", code=ACCESS_DENIED)
    if isinstance(exc, ParamValidationError):
        return InvalidParameterError(f"invalid object store request ({where}): {exc}")
    return MpsError(f"object store error ({where}): {exc}", code="FailedOperation")


def _translate_client_error(exc: ClientError, bucket: str, key: str | None) -> MpsError:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    where = f"{bucket}/{key}" if key is not None else bucket
    if code == "NoSuchBucket" or (code in ("404", "NotFound") and key is None):
        return ResourceNotFoundError(f"bucket {bucket} does not exist", code=BUCKET_NOT_EXIST)
    if code in ("NoSuchKey", "404", "NotFound"):
        return ResourceNotFoundError(f"object {where} does not exist", code=DOWNLOAD_ERROR)
    if code == "InvalidBucketName":
        return ResourceNotFoundError(f"invalid bucket name {bucket!r}", code=BUCKET_NAME_INVALID)
    if code in _DENIED_CODES or status == 403:
        return MpsError(f"object store refused access to {where}: {code}", code=ACCESS_DENIED)
    if code in _TRANSIENT_CODES or status >= 500 or status == 429:
        return StorageUnavailableError(f"object store failed on {where}: {code} (HTTP {status})")
    message = error.get("Message", "")
    return MpsError(f"object store error on {where}: {code} {message}", code="FailedOperation")


class S3Storage:
    """A :class:`~mps.storage.base.Storage` on an S3 API.

    Parameters:
        endpoint_url: e.g. ``http://minio:9000``; None for AWS itself.
        access_key, secret_key, region: credentials and region of the requests.
        addressing_style: ``path`` (MinIO, SeaweedFS) or ``virtual``.
        connect_timeout, read_timeout: seconds per network operation.
        max_attempts: total tries of each request, botocore's own retries included.
        part_size: multipart threshold and part size for uploads and ranged downloads.
        page_size: keys per ListObjectsV2 page.
    """

    def __init__(
        self,
        endpoint_url: str | None,
        access_key: str,
        secret_key: str,
        region: str = "us-east-1",
        *,
        addressing_style: str = "path",
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        max_attempts: int = 3,
        part_size: int = DEFAULT_PART_SIZE,
        page_size: int = 1000,
    ) -> None:
        self.endpoint_url = endpoint_url
        self.region = region
        self._options: dict[str, Any] = dict(
            addressing_style=addressing_style,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            max_attempts=max_attempts,
            part_size=part_size,
            page_size=page_size,
        )
        config = Config(
            s3={"addressing_style": addressing_style},
            signature_version="s3v4",
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"max_attempts": max_attempts, "mode": "standard"},
        )
        session = boto3.session.Session()
        self._client = session.client(
            "s3",
            endpoint_url=endpoint_url,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            region_name=region,
            config=config,
        )
        self._transfer = TransferConfig(multipart_threshold=part_size, multipart_chunksize=part_size)
        self._page_size = page_size

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Storage:
        """The default store of ``settings`` (``MPS_S3_*``)."""
        return cls(
            settings.s3_endpoint_url, settings.s3_access_key, settings.s3_secret_key, settings.s3_region
        )

    def with_credentials(self, access_key: str, secret_key: str, region: str | None = None) -> S3Storage:
        """The same endpoint and options with other keys (``S3SecretId``/``S3SecretKey`` of a request).

        Parameters:
            access_key, secret_key: the request's keys.
            region: the request's region; empty or None keeps this store's.
        """
        return S3Storage(self.endpoint_url, access_key, secret_key, region or self.region, **self._options)

    def get(self, bucket: str, key: str, dest: Path) -> ObjectInfo:
        """Download the object to ``dest``, in ranged parts when it is large.

        Raises:
            ResourceNotFoundError: ``DownloadError`` or ``CosBucketNotExist``.
            StorageUnavailableError: the store did not answer.
        """
        info = self.head(bucket, key)
        if info is None:
            raise ResourceNotFoundError(f"object {bucket}/{key} does not exist", code=DOWNLOAD_ERROR)
        with map_s3_errors(bucket, key):
            # s3transfer writes to a temporary name beside dest and renames it on success.
            self._client.download_file(bucket, key, str(dest), Config=self._transfer)
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
        """Upload ``src`` (multipart above ``part_size``) with its metadata (``x-amz-meta-*``).

        Raises:
            ResourceNotFoundError: ``CosBucketNotExist``.
            InvalidParameterError: malformed key or metadata.
            StorageUnavailableError: the store did not answer.
        """
        extra: dict[str, Any] = {"Metadata": normalize_metadata(metadata)}
        if content_type:
            extra["ContentType"] = content_type
        with map_s3_errors(check_bucket(bucket), check_key(key)):
            self._client.upload_file(str(src), bucket, key, ExtraArgs=extra, Config=self._transfer)
        info = self.head(bucket, key)
        if info is None:  # only if someone deleted it in between
            raise ResourceNotFoundError(f"object {bucket}/{key} vanished after upload", code=DOWNLOAD_ERROR)
        return info

    def head(self, bucket: str, key: str) -> ObjectInfo | None:
        """Describe the object with metadata, or None when the key does not exist.

        Raises:
            ResourceNotFoundError: ``CosBucketNotExist``.
        """
        try:
            with map_s3_errors(check_bucket(bucket), check_key(key)):
                response = self._client.head_object(Bucket=bucket, Key=key)
        except ResourceNotFoundError as exc:
            if exc.code != DOWNLOAD_ERROR:
                raise
            # HEAD answers a bare 404 for a missing bucket too; ask the bucket to tell them apart.
            self._require_bucket(bucket)
            return None
        return ObjectInfo(
            bucket=bucket,
            key=key,
            size=int(response["ContentLength"]),
            etag=_etag(response.get("ETag")),
            metadata={name.lower(): value for name, value in response.get("Metadata", {}).items()},
            last_modified=response.get("LastModified"),
            content_type=response.get("ContentType"),
        )

    def list(self, bucket: str, prefix: str = "", *, with_metadata: bool = False) -> Iterator[ObjectInfo]:
        """Objects under ``prefix`` page by page (``page_size`` keys a request).

        ``with_metadata`` costs one HEAD per object; listings do not carry user metadata.

        Raises:
            ResourceNotFoundError: ``CosBucketNotExist``.
        """
        paginator = self._client.get_paginator("list_objects_v2")
        pages = paginator.paginate(
            Bucket=check_bucket(bucket), Prefix=prefix, PaginationConfig={"PageSize": self._page_size}
        )
        with map_s3_errors(bucket):
            for page in pages:
                for item in page.get("Contents", []):
                    listed = ObjectInfo(
                        bucket,
                        item["Key"],
                        int(item["Size"]),
                        _etag(item.get("ETag")),
                        last_modified=item["LastModified"],
                    )
                    yield (self.head(bucket, listed.key) or listed) if with_metadata else listed

    def delete(self, bucket: str, key: str) -> None:
        """Remove the object; a missing key is fine.

        Raises:
            ResourceNotFoundError: ``CosBucketNotExist``.
        """
        with map_s3_errors(check_bucket(bucket), check_key(key)):
            self._client.delete_object(Bucket=bucket, Key=key)

    def presigned_url(self, bucket: str, key: str, expires: int = 3600) -> str | None:
        """A GET URL signed for ``expires`` seconds (computed locally, no request)."""
        with map_s3_errors(check_bucket(bucket), check_key(key)):
            url = self._client.generate_presigned_url(
                "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires
            )
        return str(url)

    def ensure_bucket(self, bucket: str) -> None:
        """Create the bucket unless it exists (and is ours)."""
        try:
            self._require_bucket(bucket)
            return
        except ResourceNotFoundError as exc:
            if exc.code != BUCKET_NOT_EXIST:
                raise
        kwargs: dict[str, Any] = {"Bucket": bucket}
        if self.region and self.region != "us-east-1":  # us-east-1 refuses an explicit constraint
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        with map_s3_errors(bucket):
            try:
                self._client.create_bucket(**kwargs)
            except ClientError as exc:
                # Created by someone else in between: fine, as long as it is ours.
                if exc.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
                    raise

    def _require_bucket(self, bucket: str) -> None:
        with map_s3_errors(check_bucket(bucket)):
            self._client.head_bucket(Bucket=bucket)


def _etag(value: str | None) -> str:
    return (value or "").strip('"')
