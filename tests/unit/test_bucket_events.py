"""Bucket events: MinIO/Ceph/AWS S3 notifications and SeaweedFS filer webhooks into ObjectCreated.

The SeaweedFS fixtures under ``tests/fixtures/events/`` were captured from ``weed mini`` 4.48 (the
filer's ``[notification.webhook]``) while boto3 wrote objects through its S3 gateway.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from mps.errors import InvalidParameterError
from mps.workflow.events import (
    SEAWEEDFS_SOURCE,
    ObjectCreated,
    is_written_by_mps,
    parse_s3_notification,
    parse_seaweedfs_event,
)

#: Captured payloads; minio-put-amqp.json and seaweedfs-filer-create-webhook.json are copies of the
#: project's shared fixtures, the other seaweedfs-*.json files were captured for these tests.
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "events"


def _load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@pytest.fixture
def minio_put() -> dict[str, Any]:
    return _load("minio-put-amqp.json")


def _record(name: str, key: str, **obj: Any) -> dict[str, Any]:
    return {
        "eventName": name,
        "eventSource": "minio:s3",
        "s3": {"bucket": {"name": "media"}, "object": {"key": key, **obj}},
    }


# -- S3 notifications ---------------------------------------------------------------------------


def test_the_minio_fixture_gives_one_event_with_its_key_decoded(minio_put: dict[str, Any]) -> None:
    raw = json.dumps(minio_put).encode()

    events = parse_s3_notification(raw)

    assert events == [
        ObjectCreated(
            bucket="media",
            key="uploads/视频 测试 (1).mp4",
            etag="5d41402abc4b2a76b9719d911017c592",
            size=2097152,
            source="minio:s3",
            metadata={"content-type": "video/mp4"},
        )
    ]
    assert not is_written_by_mps(events[0])


def test_every_created_record_of_a_message_is_kept_in_order() -> None:
    body = {
        "Records": [
            _record("s3:ObjectCreated:Put", "a+b.mp4", eTag='"e1"', size=1),
            _record("s3:ObjectRemoved:Delete", "gone.mp4"),
            _record("s3:ObjectCreated:CompleteMultipartUpload", "dir/c%2Bd.mov", eTag="e2-3", size=9),
            _record("s3:ObjectCreated:Copy", "x/y.mkv", eTag="e3", versionId="v7"),
        ]
    }

    events = parse_s3_notification(body)

    assert [(e.key, e.etag, e.version_id, e.size) for e in events] == [
        ("a b.mp4", "e1", "", 1),
        ("dir/c+d.mov", "e2-3", "", 9),
        ("x/y.mkv", "e3", "v7", 0),
    ]


@pytest.mark.parametrize(
    "name",
    [
        "s3:ObjectRemoved:Delete",
        "s3:ObjectAccessed:Get",
        "s3:ObjectRemoved:DeleteMarkerCreated",
        "s3:ObjectCreated:PutTagging",  # MinIO files tag changes under ObjectCreated; no new bytes
        "s3:ObjectCreated:PutRetention",
    ],
)
def test_events_that_create_nothing_are_ignored(name: str) -> None:
    assert parse_s3_notification({"Records": [_record(name, "a.mp4")]}) == []


def test_the_aws_test_event_is_ignored() -> None:
    body = {
        "Service": "Amazon S3",
        "Event": "s3:TestEvent",
        "Time": "2026-11-20T08:00:00Z",
        "Bucket": "media",
    }

    assert parse_s3_notification(json.dumps(body)) == []


def test_a_ceph_record_without_the_s3_prefix_and_with_listed_metadata() -> None:
    record = _record("ObjectCreated:Put", "in/a.mp4", eTag="abc", size="1024", versionId="")
    record["eventSource"] = "ceph:s3"
    record["s3"]["object"]["metadata"] = [{"key": "x-amz-meta-mps-task", "val": "t9"}]

    [event] = parse_s3_notification({"Records": [record]})

    assert (event.source, event.size, event.metadata) == ("ceph:s3", 1024, {"mps-task": "t9"})
    assert is_written_by_mps(event)


@pytest.mark.parametrize("name", ["X-Amz-Meta-Mps-Task", "x-amz-meta-mps-task", "MPS-TASK", "mps-task"])
def test_minio_user_metadata_marks_objects_written_by_mps(minio_put: dict[str, Any], name: str) -> None:
    body = copy.deepcopy(minio_put)
    body["Records"][0]["s3"]["object"]["userMetadata"][name] = "1-WorkflowTask-abc"

    [event] = parse_s3_notification(body)

    assert event.metadata["mps-task"] == "1-WorkflowTask-abc"
    assert is_written_by_mps(event)


def test_directory_markers_and_null_versions() -> None:
    body = {"Records": [_record("s3:ObjectCreated:Put", "folder/"), _record("s3:ObjectCreated:Put", "a.mp4")]}
    body["Records"][1]["s3"]["object"]["versionId"] = "null"

    [event] = parse_s3_notification(body)

    assert (event.key, event.version_id) == ("a.mp4", "")


@pytest.mark.parametrize(
    "body, fragment",
    [
        (b"not json", "not valid JSON"),
        (b'{"Records":' + b"[" * 10_000 + b"]" * 10_000 + b"}", "deeper than 32 levels"),
        (b"[1, 2]", "not a JSON object"),
        ({"Key": "media/a.mp4"}, "no Records"),
        ({"Records": "x"}, "no Records"),
        ({"Records": [1]}, "Records[0] is not an object"),
        ({"Records": [{"eventName": "s3:ObjectCreated:Put", "s3": {}}]}, "Records[0].s3.bucket"),
        ({"Records": [_record("s3:ObjectCreated:Put", "")]}, "no bucket name or key"),
        ({"Records": [_record("s3:ObjectCreated:Put", "a.mp4", size="big")]}, "not a number"),
    ],
)
def test_malformed_notifications_are_refused_clearly(body: Any, fragment: str) -> None:
    with pytest.raises(InvalidParameterError, match=re.escape(fragment)):
        parse_s3_notification(body)


# -- SeaweedFS filer webhook --------------------------------------------------------------------


def test_the_seaweedfs_fixture_names_bucket_and_key() -> None:
    [event] = parse_seaweedfs_event((FIXTURES / "seaweedfs-filer-create-webhook.json").read_bytes())

    assert (event.bucket, event.key, event.size, event.source) == (
        "media",
        "in/b.mp4",
        5000,
        SEAWEEDFS_SOURCE,
    )
    # Seaweed-X-Amz-ETag is base64 of the hex ETag; the entry's md5 is the same digest.
    assert event.etag == "a1afb2336d5b67da1f874c942dcf58f3"
    assert not is_written_by_mps(event)


def test_the_captured_upload_with_mps_metadata_is_recognised() -> None:
    [event] = parse_seaweedfs_event(_load("seaweedfs-filer-create-metadata.json"))

    assert (event.bucket, event.key) == ("media", "out/视频 测试 (1).mp4")
    assert event.metadata == {"mps-task": "t1", "other-key": "Value"}
    assert event.etag == "398533d48111e9f664b1f64cb10c4b63"
    assert is_written_by_mps(event)


def test_an_overwrite_is_an_update_event_and_counts() -> None:
    [event] = parse_seaweedfs_event(_load("seaweedfs-filer-update.json"))

    # boto3 sent Metadata={"MPS-TASK": ...}; the gateway stored X-Amz-Meta-Mps-Task.
    assert (event.key, event.metadata) == ("in/a.mp4", {"mps-task": "t2"})


def test_a_multipart_upload_fires_once_for_the_object_not_its_parts() -> None:
    assert parse_seaweedfs_event(_load("seaweedfs-filer-multipart-part.json")) == []

    [event] = parse_seaweedfs_event(_load("seaweedfs-filer-multipart-complete.json"))

    assert (event.key, event.etag, event.size) == (
        "in/big.mp4",
        "34d4c179026ab040d35d264b856c514a-2",
        5242890,
    )


def test_a_version_file_is_the_object_with_its_version() -> None:
    [event] = parse_seaweedfs_event(_load("seaweedfs-filer-versioned-create.json"))

    assert (event.key, event.version_id) == ("in/v.mp4", "6715b05cfea64bfedfddf054127a6b0b")


@pytest.mark.parametrize("name", ["seaweedfs-filer-directory.json", "seaweedfs-filer-delete.json"])
def test_directories_and_deletes_are_ignored(name: str) -> None:
    assert parse_seaweedfs_event(_load(name)) == []


def _seaweed(path: str, **message: Any) -> dict[str, Any]:
    parent, _, name = path.rpartition("/")
    entry = {"name": name, "attributes": {"file_size": 3}, "extended": {}}
    return {
        "event_type": "create",
        "key": path,
        "message": {"new_entry": entry, "new_parent_path": parent, **message},
    }


def test_a_rename_fires_for_its_new_path() -> None:
    body = _seaweed("/buckets/media/in/new.mp4", old_entry={"name": "old.tmp"})
    body["event_type"], body["key"] = "rename", "/buckets/media/in/old.tmp"

    [event] = parse_seaweedfs_event(body)

    assert event.key == "in/new.mp4"


@pytest.mark.parametrize(
    "path", ["/topics/x/a.mp4", "/buckets/media", "/buckets/media/.uploads/u1/0001.part"]
)
def test_entries_that_are_not_objects_are_ignored(path: str) -> None:
    assert parse_seaweedfs_event(_seaweed(path)) == []


def test_a_delete_without_new_entry_is_ignored() -> None:
    body = {
        "event_type": "delete",
        "key": "/buckets/media/a.mp4",
        "message": {"old_entry": {"name": "a.mp4"}},
    }

    assert parse_seaweedfs_event(body) == []


@pytest.mark.parametrize(
    "body, fragment",
    [
        (b"{", "not valid JSON"),
        ({"key": "/buckets/media/a.mp4"}, "event_type and a message"),
        ({"event_type": "create", "message": {"new_entry": {"name": "a"}}}, "no key"),
    ],
)
def test_malformed_seaweedfs_events_are_refused_clearly(body: Any, fragment: str) -> None:
    with pytest.raises(InvalidParameterError, match=fragment):
        parse_seaweedfs_event(body)


def test_extended_values_must_be_base64() -> None:
    body = _seaweed("/buckets/media/a.mp4")
    body["message"]["new_entry"]["extended"] = {"X-Amz-Meta-Mps-Task": "not base64!"}

    with pytest.raises(InvalidParameterError, match="X-Amz-Meta-Mps-Task is not base64"):
        parse_seaweedfs_event(body)
