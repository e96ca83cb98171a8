"""Trigger rules: Dir and Formats normalised, uploads matched, dedupe keys, the task's InputInfo."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mps.errors import InvalidParameterError
from mps.models.workflows import WorkflowTrigger
from mps.store.base import BucketTrigger
from mps.workflow.events import ObjectCreated, parse_s3_notification, parse_seaweedfs_event
from mps.workflow.triggers import (
    ANY_FORMAT,
    DEFAULT_FORMATS,
    TriggerRule,
    dedupe_key,
    input_info_for,
    matches,
    normalise_dir,
    normalise_formats,
    trigger_rule,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "events"


def _trigger(
    dir: str | None = None, formats: list[str] | None = None, bucket: str = "media"
) -> WorkflowTrigger:
    body: dict[str, Any] = {"Bucket": bucket, "Region": "ap-guangzhou"}
    if dir is not None:
        body["Dir"] = dir
    if formats is not None:
        body["Formats"] = formats
    return WorkflowTrigger.model_validate({"Type": "CosFileUpload", "CosFileUploadTrigger": body})


def _event(key: str, bucket: str = "media", **fields: Any) -> ObjectCreated:
    return ObjectCreated(bucket=bucket, key=key, etag="abc", **fields)


# -- Formats and Dir ----------------------------------------------------------------------------


def test_the_default_formats_are_tencents_list() -> None:
    assert {"mp4", "mkv", "m4v", "rmvb", "mp3", "flac", "amr", "vtt", "srt"} <= DEFAULT_FORMATS
    assert len(DEFAULT_FORMATS) == 15 + 7 + 2


@pytest.mark.parametrize("formats", [None, [], [""], ["", " "]])
def test_no_formats_means_the_default_set(formats: list[str] | None) -> None:
    assert normalise_formats(formats) == DEFAULT_FORMATS


def test_formats_take_an_optional_dot_and_any_case() -> None:
    assert normalise_formats([".MP4", "mov", "Flv", ""]) == {"mp4", "mov", "flv"}


def test_a_star_lets_everything_through() -> None:
    assert normalise_formats(["mp4", "*"]) == {ANY_FORMAT}


@pytest.mark.parametrize("bad", ["m p4", "mp4.", "..mp4", ".", "a" * 65, "mp-4", "*.mp4", "视频"])
def test_bad_formats_are_refused(bad: str) -> None:
    with pytest.raises(InvalidParameterError) as info:
        normalise_formats([bad])
    assert info.value.code == "InvalidParameterValue.Formats"


@pytest.mark.parametrize(
    "given, expected",
    [(None, "/"), ("", "/"), ("/", "/"), ("/in/", "/in/"), ("/in", "/in/"), ("/a/b/", "/a/b/")],
)
def test_dir_is_an_absolute_directory(given: str | None, expected: str) -> None:
    assert normalise_dir(given) == expected


@pytest.mark.parametrize("bad", ["in/", "/a/../b/", "/a/./b/", "/a//b/", "/a\\b/", "/.."])
def test_bad_dirs_are_refused(bad: str) -> None:
    with pytest.raises(InvalidParameterError) as info:
        normalise_dir(bad)
    assert info.value.code == "InvalidParameterValue.Dir"


def test_trigger_rule_reads_either_trigger_type() -> None:
    s3 = WorkflowTrigger.model_validate(
        {"Type": "AwsS3FileUpload", "AwsS3FileUploadTrigger": {"S3Bucket": "b", "S3Region": "r", "Dir": "/x"}}
    )

    assert trigger_rule(s3) == TriggerRule(bucket="b", dir="/x/", formats=DEFAULT_FORMATS, region="r")
    assert trigger_rule(_trigger(formats=["mp4"])) == TriggerRule(
        "media", "/", frozenset({"mp4"}), "ap-guangzhou"
    )


# -- matching -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key, fires",
    [
        ("in/a.mp4", True),
        ("in/deeper/a.MP4", True),  # sub-directories count, extensions in any case
        ("in/a.mp4.part", False),  # wrong suffix
        ("in/a", False),
        ("in/.mp4", False),  # a hidden file, not an .mp4
        ("inbox/a.mp4", False),  # outside Dir, though it shares the prefix "in"
        ("a.mp4", False),
    ],
)
def test_matching_by_dir_and_suffix(key: str, fires: bool) -> None:
    assert matches(_trigger("/in/", ["mp4"]), _event(key)) is fires


def test_the_default_formats_apply_when_none_are_given() -> None:
    trigger = _trigger("/")

    assert matches(trigger, _event("a.mkv")) and matches(trigger, _event("sub/t.srt"))
    assert not matches(trigger, _event("a.jpg"))


def test_a_star_matches_files_without_extensions_too() -> None:
    trigger = _trigger("/in/", ["*"])

    assert matches(trigger, _event("in/README")) and matches(trigger, _event("in/a.jpg"))
    assert not matches(trigger, _event("out/a.jpg"))


def test_case_of_formats_and_extensions_does_not_matter() -> None:
    assert matches(_trigger(formats=[".MOV"]), _event("clip.mov"))
    assert matches(_trigger(formats=["mov"]), _event("CLIP.MOV"))


def test_another_bucket_never_matches() -> None:
    assert not matches(_trigger(), _event("a.mp4", bucket="other"))


def test_objects_written_by_mps_never_match() -> None:
    rule = trigger_rule(_trigger("/", ["*"]))

    assert not matches(rule, _event("out/a.mp4", metadata={"mps-task": "1-WorkflowTask-x"}))
    assert matches(rule, _event("out/a.mp4", metadata={"other": "x"}))


def test_the_captured_seaweedfs_output_of_mps_does_not_fire() -> None:
    [event] = parse_seaweedfs_event((FIXTURES / "seaweedfs-filer-create-metadata.json").read_bytes())

    assert not matches(_trigger("/", ["*"]), event)


# -- dedupe and input ---------------------------------------------------------------------------


def test_the_same_object_from_minio_and_seaweedfs_claims_the_same_key() -> None:
    [seaweed] = parse_seaweedfs_event((FIXTURES / "seaweedfs-filer-multipart-complete.json").read_bytes())
    record = {
        "eventName": "s3:ObjectCreated:CompleteMultipartUpload",
        "eventSource": "minio:s3",
        "s3": {
            "bucket": {"name": "media"},
            "object": {"key": "in/big.mp4", "eTag": '"34d4c179026ab040d35d264b856c514a-2"', "size": 5242890},
        },
    }
    [minio] = parse_s3_notification(json.dumps({"Records": [record]}))

    assert (
        dedupe_key(7, minio)
        == dedupe_key(7, seaweed)
        == BucketTrigger(
            workflow_id=7, bucket="media", key="in/big.mp4", etag="34d4c179026ab040d35d264b856c514a-2"
        )
    )


def test_a_new_version_or_new_content_is_a_new_key() -> None:
    first, again = _event("a.mp4", version_id="v1"), _event("a.mp4", version_id="v2")

    assert dedupe_key(1, first) != dedupe_key(1, again)
    assert dedupe_key(1, first).etag == "version:v1"
    assert dedupe_key(1, _event("a.mp4")) != dedupe_key(1, ObjectCreated("media", "a.mp4", etag="def"))
    assert dedupe_key(1, _event("a.mp4")) != dedupe_key(2, _event("a.mp4"))


def test_without_etag_or_version_the_size_stands_in() -> None:
    assert dedupe_key(1, ObjectCreated("media", "a.mp4", size=5)).etag == "size:5"


def test_the_task_input_is_a_cos_object_with_a_leading_slash() -> None:
    info = input_info_for(_event("uploads/视频 测试 (1).mp4"), region="ap-guangzhou")

    assert info.to_wire() == {
        "Type": "COS",
        "CosInputInfo": {"Bucket": "media", "Region": "ap-guangzhou", "Object": "/uploads/视频 测试 (1).mp4"},
    }
