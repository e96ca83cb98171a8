"""Wire locations to (bucket, key): inputs, inherited output storage, OutputDir, s3:// URIs."""

from __future__ import annotations

from typing import Any

import pytest

from mps.errors import InvalidParameterError
from mps.models.common import MediaInputInfo, TaskOutputStorage
from mps.storage import input_location, output_location, parse_s3_uri


def _cos_input(obj: str = "/in/a.mov", bucket: str = "src-125") -> MediaInputInfo:
    return MediaInputInfo.model_validate(
        {"Type": "COS", "CosInputInfo": {"Bucket": bucket, "Region": "ap-x", "Object": obj}}
    )


def _url_input() -> MediaInputInfo:
    return MediaInputInfo.model_validate({"Type": "URL", "UrlInputInfo": {"Url": "https://e.com/v/a.mp4"}})


def _cos_out(bucket: str | None) -> TaskOutputStorage:
    body: dict[str, Any] = {"Region": "ap-x"} if bucket is None else {"Bucket": bucket, "Region": "ap-x"}
    return TaskOutputStorage.model_validate({"Type": "COS", "CosOutputStorage": body})


def test_a_cos_input_is_its_bucket_and_its_object_without_the_leading_slash() -> None:
    assert input_location(_cos_input("/movie/201907/a.mov")) == ("src-125", "movie/201907/a.mov")


def test_an_aws_s3_input_uses_s3bucket_and_s3object() -> None:
    info = MediaInputInfo.model_validate(
        {"Type": "AWS-S3", "S3InputInfo": {"S3Bucket": "b", "S3Region": "r", "S3Object": "x/y.mp4"}}
    )
    assert input_location(info) == ("b", "x/y.mp4")


@pytest.mark.parametrize("obj", ["/", "/dir/", ""])
def test_an_input_that_is_not_a_file_is_refused(obj: str) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        input_location(_cos_input(obj))
    assert caught.value.code == "InvalidParameterValue.InputInfo"


def test_a_url_input_has_no_bucket() -> None:
    with pytest.raises(InvalidParameterError):
        input_location(_url_input())


def test_outputs_default_to_the_input_bucket_and_directory() -> None:
    assert output_location(_cos_input("/in/a.mov"), None, None, None) == ("src-125", "in/")
    assert output_location(_cos_input("/a.mov"), None, None, None) == ("src-125", "")


def test_subtask_storage_wins_over_task_storage_which_wins_over_the_input() -> None:
    task, sub = _cos_out("task-out"), _cos_out("sub-out")
    assert output_location(_cos_input(), task, None, None)[0] == "task-out"
    assert output_location(_cos_input(), task, sub, None)[0] == "sub-out"


def test_a_cos_output_storage_without_bucket_inherits_from_the_level_above() -> None:
    assert output_location(_cos_input(), _cos_out("task-out"), _cos_out(None), None)[0] == "task-out"
    assert output_location(_cos_input(), _cos_out(None), _cos_out(None), None)[0] == "src-125"
    assert output_location(_cos_input(), _cos_out(None), None, None)[0] == "src-125"


def test_an_aws_s3_output_storage_names_its_bucket() -> None:
    storage = TaskOutputStorage.model_validate(
        {"Type": "AWS-S3", "S3OutputStorage": {"S3Bucket": "s3-out", "S3Region": "r"}}
    )
    assert output_location(_cos_input(), storage, None, "/o/") == ("s3-out", "o/")


def test_a_url_input_needs_an_output_storage_with_a_bucket() -> None:
    for task_storage in (None, _cos_out(None)):
        with pytest.raises(InvalidParameterError) as caught:
            output_location(_url_input(), task_storage, None, "/out/")
        assert caught.value.code == "InvalidParameter.OutputStorage"
    # With one, outputs go to the bucket root unless OutputDir says otherwise.
    assert output_location(_url_input(), _cos_out("out"), None, None) == ("out", "")


@pytest.mark.parametrize(
    ("output_dir", "prefix"),
    [("/out/", "out/"), ("/out/x/", "out/x/"), ("/", ""), ("out", "out/"), ("/a//b/", "a/b/"), ("", "in/")],
)
def test_output_dir_becomes_a_key_prefix(output_dir: str, prefix: str) -> None:
    assert output_location(_cos_input("/in/a.mov"), None, None, output_dir) == ("src-125", prefix)


@pytest.mark.parametrize("output_dir", ["/../x/", "/a/../../b/", "/./"])
def test_an_output_dir_that_climbs_is_refused(output_dir: str) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        output_location(_cos_input(), None, None, output_dir)
    assert caught.value.code == "InvalidParameterValue.OutputDir"


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://bucket/key.mp4", ("bucket", "key.mp4")),
        ("s3://bucket/dir/sub/a b.mp4", ("bucket", "dir/sub/a b.mp4")),
        ("s3://bucket/out/", ("bucket", "out/")),
        ("s3://bucket", ("bucket", "")),
        ("S3://bucket/k", ("bucket", "k")),
    ],
)
def test_s3_uris_split_into_bucket_and_key(uri: str, expected: tuple[str, str]) -> None:
    assert parse_s3_uri(uri) == expected


@pytest.mark.parametrize("uri", ["s3:///key", "https://bucket/key", "/local/path", "bucket/key"])
def test_malformed_s3_uris_are_refused(uri: str) -> None:
    with pytest.raises(InvalidParameterError):
        parse_s3_uri(uri)
