"""Where a task reads and writes: wire locations (mps-api.md §4) as ``(bucket, key)``. Pure.

Our mapping (not Tencent's): a COS ``Bucket`` is a bucket of the configured S3 store and
``Object`` loses its leading ``/``; ``Region`` is accepted and ignored. ``AWS-S3`` inputs use
``S3Bucket``/``S3Object`` the same way. Output buckets are inherited level by level: the
sub-task's ``OutputStorage``, then the task's, then the input's bucket; a URL input has no
bucket, so it needs an explicit ``OutputStorage``.
"""

from __future__ import annotations

from mps.errors import InvalidParameterError
from mps.models.common import MediaInputInfo, TaskOutputStorage

#: Wire code of a missing or unusable output storage.
OUTPUT_STORAGE = "InvalidParameter.OutputStorage"
#: Wire code of a malformed input location.
INPUT_INFO = "InvalidParameterValue.InputInfo"
#: Wire code of a malformed output directory.
OUTPUT_DIR = "InvalidParameterValue.OutputDir"


def input_location(info: MediaInputInfo) -> tuple[str, str]:
    """The bucket and key of a COS or AWS-S3 input.

    Parameters:
        info: the task's ``InputInfo``.

    Returns:
        ``(bucket, key)``, the key without its leading ``/``.

    Raises:
        InvalidParameterError: ``InvalidParameterValue.InputInfo`` for a URL input (it has no
            bucket), an empty bucket, or a key that is empty or names a directory.
    """
    if info.CosInputInfo is not None and info.Type == "COS":
        bucket, obj = info.CosInputInfo.Bucket, info.CosInputInfo.Object
    elif info.S3InputInfo is not None and info.Type == "AWS-S3":
        bucket, obj = info.S3InputInfo.S3Bucket, info.S3InputInfo.S3Object
    else:
        raise InvalidParameterError(f"a {info.Type} input has no bucket and key", code=INPUT_INFO)
    key = obj.lstrip("/")
    if not bucket or not key or key.endswith("/"):
        raise InvalidParameterError(f"input object {bucket}/{obj} is not a file", code=INPUT_INFO)
    return bucket, key


def output_location(
    input: MediaInputInfo,
    task_storage: TaskOutputStorage | None,
    subtask_storage: TaskOutputStorage | None = None,
    output_dir: str | None = None,
) -> tuple[str, str]:
    """The bucket and key prefix that a sub-task's outputs go to.

    Parameters:
        input: the task's ``InputInfo``.
        task_storage: the task's ``OutputStorage``.
        subtask_storage: the sub-task's own ``OutputStorage``, which wins over the task's.
        output_dir: the sub-task's (or task's) ``OutputDir``; by default, the input's directory.

    Returns:
        ``(bucket, prefix)``: ``prefix`` is empty or ends with ``/``, never starts with one.

    Raises:
        InvalidParameterError: ``InvalidParameter.OutputStorage`` when no level names a
            bucket (a URL input without ``OutputStorage``); ``InvalidParameterValue.OutputDir``
            for a directory that climbs (``..``).
    """
    bucket = _output_bucket(subtask_storage) or _output_bucket(task_storage)
    if bucket is None:
        if input.Type == "URL":
            raise InvalidParameterError("OutputStorage is required for a URL input", code=OUTPUT_STORAGE)
        bucket = input_location(input)[0]
    if output_dir is None or output_dir == "":
        return bucket, _input_dir(input)
    return bucket, _prefix(output_dir)


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """Split ``s3://bucket/key`` (the CLI's notation) into bucket and key.

    Parameters:
        uri: ``s3://bucket``, ``s3://bucket/`` or ``s3://bucket/some/key``.

    Returns:
        ``(bucket, key)``; the key is empty for the bucket itself. No percent-decoding,
        as in the AWS CLI.

    Raises:
        InvalidParameterError: not an ``s3://`` URI, or no bucket.
    """
    scheme, sep, rest = uri.partition("://")
    if scheme.lower() != "s3" or not sep:
        raise InvalidParameterError(f"not an s3:// URI: {uri!r}", code=INPUT_INFO)
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise InvalidParameterError(f"no bucket in {uri!r}", code=INPUT_INFO)
    return bucket, key


def _output_bucket(storage: TaskOutputStorage | None) -> str | None:
    """The bucket one level names, or None to inherit from the level above."""
    if storage is None:
        return None
    if storage.Type == "AWS-S3":
        if storage.S3OutputStorage is None or not storage.S3OutputStorage.S3Bucket:
            raise InvalidParameterError("AWS-S3 OutputStorage needs S3OutputStorage.S3Bucket", OUTPUT_STORAGE)
        return storage.S3OutputStorage.S3Bucket
    cos = storage.CosOutputStorage
    return cos.Bucket if cos is not None and cos.Bucket else None


def _input_dir(input: MediaInputInfo) -> str:
    # A URL's path says nothing about the output bucket's layout: write at its root.
    if input.Type == "URL":
        return ""
    key = input_location(input)[1]
    return key.rpartition("/")[0] + "/" if "/" in key else ""


def _prefix(output_dir: str) -> str:
    """``/out/x/`` -> ``out/x/``; a missing trailing ``/`` is added, ``/`` is the bucket root."""
    segments = [seg for seg in output_dir.split("/") if seg]
    if any(seg in (".", "..") for seg in segments):
        raise InvalidParameterError(f"OutputDir {output_dir!r} may not contain . or ..", code=OUTPUT_DIR)
    return "".join(seg + "/" for seg in segments)
