"""S3Storage against a real SeaweedFS, and the translation of every boto error it can meet."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import httpx
import pytest
from boto3.exceptions import RetriesExceededError as Boto3RetriesExceededError
from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    ReadTimeoutError,
)
from s3transfer.exceptions import RetriesExceededError

from mps.errors import InvalidParameterError, MpsError, ResourceNotFoundError, StorageUnavailableError
from mps.storage import S3Storage, map_s3_errors
from mps.storage.s3 import translate_s3_error
from tests.seaweed import SeaweedServer, free_port

MiB = 1024 * 1024


def _file(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


# --- against SeaweedFS ----------------------------------------------------------------------


@pytest.mark.integration
def test_a_large_file_round_trips_through_multipart_upload_and_ranged_download(
    s3: S3Storage, bucket: str, tmp_path: Path
) -> None:
    # Given a file just over the 5 MiB part size, so that it goes up in two parts
    src = _file(tmp_path, "big.bin", os.urandom(5 * MiB + 1))

    # When it is put and got back
    put = s3.put(bucket, "in/big.bin", src, content_type="video/mp4", metadata={"mps-task": "T-1"})
    dest = tmp_path / "back.bin"
    got = s3.get(bucket, "in/big.bin", dest)

    # Then the bytes are the same and the ETag is a two-part multipart one
    assert _md5(dest) == _md5(src)
    assert put.etag.endswith("-2") and got.etag == put.etag
    assert (got.size, got.content_type, got.metadata) == (5 * MiB + 1, "video/mp4", {"mps-task": "T-1"})


@pytest.mark.integration
def test_user_metadata_round_trips_through_put_head_and_list(
    s3: S3Storage, bucket: str, tmp_path: Path
) -> None:
    src = _file(tmp_path, "a.txt", b"hello")
    put = s3.put(bucket, "a.txt", src, metadata={"mps-task": "T-2", "Other-Key": "v"})

    expected = {"mps-task": "T-2", "other-key": "v"}
    assert put.metadata == expected
    assert put.etag == hashlib.md5(b"hello").hexdigest()
    head = s3.head(bucket, "a.txt")
    assert head is not None and head.metadata == expected and head.size == 5
    # Listing is cheap by default (no metadata) and complete when asked.
    assert [info.metadata for info in s3.list(bucket)] == [{}]
    assert [info.metadata for info in s3.list(bucket, with_metadata=True)] == [expected]


@pytest.mark.integration
def test_head_of_a_missing_key_is_none_and_get_is_a_download_error(
    s3: S3Storage, bucket: str, tmp_path: Path
) -> None:
    assert s3.head(bucket, "nope.mp4") is None
    with pytest.raises(ResourceNotFoundError) as caught:
        s3.get(bucket, "nope.mp4", tmp_path / "x")
    assert caught.value.code == "ResourceNotFound.DownloadError"
    assert not (tmp_path / "x").exists()


@pytest.mark.integration
def test_every_call_on_a_missing_bucket_says_cos_bucket_not_exist(s3: S3Storage, tmp_path: Path) -> None:
    src = _file(tmp_path, "a", b"a")
    calls = [
        lambda: s3.head("no-such-bucket-x", "k"),
        lambda: s3.get("no-such-bucket-x", "k", tmp_path / "out"),
        lambda: s3.put("no-such-bucket-x", "k", src),
        lambda: list(s3.list("no-such-bucket-x")),
        lambda: s3.delete("no-such-bucket-x", "k"),
    ]
    for call in calls:
        with pytest.raises(ResourceNotFoundError) as caught:
            call()
        assert caught.value.code == "ResourceNotFound.CosBucketNotExist"


@pytest.mark.integration
def test_list_filters_by_prefix_and_pages_through_everything(
    s3: S3Storage, bucket: str, tmp_path: Path
) -> None:
    # Given 17 objects under out/ and 3 elsewhere, and pages of 7 keys
    src = _file(tmp_path, "a", b"x")
    keys = [f"out/{i:02d}.jpg" for i in range(17)] + ["other/1", "other/2", "outer.txt"]
    for key in keys:
        s3.put(bucket, key, src)

    listed = [info.key for info in s3.list(bucket, "out/")]

    assert listed == sorted(k for k in keys if k.startswith("out/"))
    assert len(list(s3.list(bucket))) == 20


@pytest.mark.integration
def test_keys_with_spaces_and_non_ascii_characters_work_everywhere(
    s3: S3Storage, bucket: str, tmp_path: Path
) -> None:
    key = "dir with space/vidéo 東京 #1+%20&.mp4"
    s3.put(bucket, key, _file(tmp_path, "a", b"payload"), metadata={"mps-task": "T-3"})

    head = s3.head(bucket, key)
    assert head is not None and head.key == key and head.metadata == {"mps-task": "T-3"}
    assert [info.key for info in s3.list(bucket, "dir with space/")] == [key]
    s3.get(bucket, key, tmp_path / "back")
    assert (tmp_path / "back").read_bytes() == b"payload"
    url = s3.presigned_url(bucket, key)
    assert url is not None and httpx.get(url).content == b"payload"


@pytest.mark.integration
def test_a_presigned_url_reads_the_object_without_credentials(
    s3: S3Storage, bucket: str, tmp_path: Path
) -> None:
    s3.put(bucket, "v/a.mp4", _file(tmp_path, "a", b"0123456789"))
    url = s3.presigned_url(bucket, "v/a.mp4", expires=60)

    assert url is not None
    assert httpx.get(url).content == b"0123456789"
    # Range reads work too: that is how ffmpeg seeks in a presigned input.
    assert httpx.get(url, headers={"Range": "bytes=2-4"}).content == b"234"


@pytest.mark.integration
def test_delete_removes_the_object_and_tolerates_a_missing_one(
    s3: S3Storage, bucket: str, tmp_path: Path
) -> None:
    s3.put(bucket, "a", _file(tmp_path, "a", b"a"))
    s3.delete(bucket, "a")
    s3.delete(bucket, "a")
    assert s3.head(bucket, "a") is None


@pytest.mark.integration
def test_ensure_bucket_is_idempotent(s3: S3Storage, bucket: str) -> None:
    s3.ensure_bucket(bucket)
    assert list(s3.list(bucket)) == []


@pytest.mark.integration
def test_wrong_credentials_are_refused_with_a_clear_error(s3: S3Storage, bucket: str) -> None:
    wrong = s3.with_credentials("mps-test-access", "not-the-secret")
    with pytest.raises(MpsError) as caught:
        wrong.head(bucket, "a")
    assert caught.value.code == "UnauthorizedOperation" and not caught.value.retryable


@pytest.mark.integration
def test_the_seaweed_helper_writes_notification_toml_into_its_working_directory(tmp_path: Path) -> None:
    server = SeaweedServer(notification_toml="[notification.log]\nenabled = false\n", workdir=tmp_path)
    server._write_config()  # no need to start a second server for this
    assert (tmp_path / "notification.toml").read_text().startswith("[notification.log]")
    assert f"-s3.port={server.ports['s3.port']}" in server.argv()


def test_an_endpoint_that_is_down_fails_fast_and_retryably(tmp_path: Path) -> None:
    down = S3Storage(
        f"http://127.0.0.1:{free_port()}", "k", "s", connect_timeout=0.5, read_timeout=1, max_attempts=1
    )
    started = time.monotonic()
    with pytest.raises(StorageUnavailableError) as caught:
        down.head("bucket", "key")
    assert time.monotonic() - started < 5
    assert caught.value.retryable
    with pytest.raises(StorageUnavailableError):
        down.put("bucket", "key", _file(tmp_path, "a", b"a"))


# --- error translation, without a server ----------------------------------------------------


def _client_error(code: str, status: int, operation: str = "GetObject") -> ClientError:
    response = {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, operation)


NO_KEY, NO_BUCKET = "ResourceNotFound.DownloadError", "ResourceNotFound.CosBucketNotExist"
BAD_NAME, DENIED = "ResourceNotFound.CosBucketNameInvalid", "UnauthorizedOperation"
DOWN = "InternalError.StorageUnavailable"
NotFound, Unavailable = ResourceNotFoundError, StorageUnavailableError


@pytest.mark.parametrize(
    ("exc", "key", "expected_type", "expected_code"),
    [
        (_client_error("NoSuchKey", 404), "k", NotFound, NO_KEY),
        (_client_error("404", 404, "HeadObject"), "k", NotFound, NO_KEY),
        (_client_error("NoSuchBucket", 404), "k", NotFound, NO_BUCKET),
        (_client_error("404", 404, "HeadBucket"), None, NotFound, NO_BUCKET),
        (_client_error("InvalidBucketName", 400), None, NotFound, BAD_NAME),
        (_client_error("AccessDenied", 403), "k", MpsError, DENIED),
        (_client_error("InvalidAccessKeyId", 403), "k", MpsError, DENIED),
        (_client_error("SignatureDoesNotMatch", 403), "k", MpsError, DENIED),
        (_client_error("403", 403, "HeadObject"), "k", MpsError, DENIED),
        (_client_error("InternalError", 500), "k", Unavailable, DOWN),
        (_client_error("ServiceUnavailable", 503), "k", Unavailable, DOWN),
        (_client_error("SlowDown", 503), "k", Unavailable, DOWN),
        (_client_error("EntityTooLarge", 400), "k", MpsError, "FailedOperation"),
        (EndpointConnectionError(endpoint_url="http://x"), "k", Unavailable, None),
        (ConnectTimeoutError(endpoint_url="http://x"), "k", Unavailable, None),
        (ReadTimeoutError(endpoint_url="http://x"), "k", Unavailable, None),
        (ConnectionClosedError(endpoint_url="http://x"), "k", Unavailable, None),
        (RetriesExceededError(last_exception=OSError("x")), "k", Unavailable, None),
        (Boto3RetriesExceededError(last_exception=OSError("x")), "k", Unavailable, None),
        (NoCredentialsError(), "k", MpsError, DENIED),
        (ParamValidationError(report="bad"), "k", InvalidParameterError, "InvalidParameterValue"),
    ],
)
def test_every_boto_error_becomes_an_mps_error(
    exc: Exception, key: str | None, expected_type: type[MpsError], expected_code: str | None
) -> None:
    with pytest.raises(MpsError) as caught, map_s3_errors("b", key):
        raise exc
    assert type(caught.value) is expected_type
    assert caught.value.code == (expected_code or expected_type.code)
    assert caught.value.__cause__ is exc


def test_a_failed_upload_is_translated_from_the_client_error_boto3_wrapped() -> None:
    try:
        try:
            raise _client_error("NoSuchBucket", 404, "PutObject")
        except ClientError as inner:
            raise S3UploadFailedError(f"Failed to upload: {inner}")  # noqa: B904 (boto3 does this)
    except S3UploadFailedError as wrapped:
        error = translate_s3_error(wrapped, "b", "k")
    assert error.code == "ResourceNotFound.CosBucketNotExist"
