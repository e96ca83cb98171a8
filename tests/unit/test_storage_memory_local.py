"""MemoryStorage and LocalStorage: the same semantics as S3, checked on both; then local-only rules."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from mps.errors import InvalidParameterError, ResourceNotFoundError
from mps.storage import LocalStorage, MemoryStorage, Storage

BUCKET = "media"


@pytest.fixture(params=["memory", "local"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    """Each adapter with one existing bucket, ``media``."""
    store: Storage = MemoryStorage() if request.param == "memory" else LocalStorage(tmp_path / "root")
    store.ensure_bucket(BUCKET)
    return store


@pytest.fixture
def src(tmp_path: Path) -> Path:
    path = tmp_path / "src.bin"
    path.write_bytes(b"some media bytes")
    return path


def test_both_adapters_satisfy_the_protocol(storage: Storage) -> None:
    assert isinstance(storage, Storage)


def test_put_then_get_round_trips_bytes_metadata_and_md5_etag(
    storage: Storage, src: Path, tmp_path: Path
) -> None:
    put = storage.put(BUCKET, "in/a.mov", src, content_type="video/quicktime", metadata={"MPS-Task": "T1"})

    dest = tmp_path / "dest.bin"
    got = storage.get(BUCKET, "in/a.mov", dest)

    assert dest.read_bytes() == src.read_bytes()
    assert put.etag == got.etag == hashlib.md5(src.read_bytes()).hexdigest()
    # Metadata keys come back lower-cased, as S3 returns them.
    assert got.metadata == {"mps-task": "T1"}
    assert (got.size, got.content_type, got.key, got.bucket) == (16, "video/quicktime", "in/a.mov", BUCKET)
    assert got.last_modified is not None and got.last_modified.tzinfo is not None


def test_put_replaces_an_object_and_its_metadata(storage: Storage, src: Path, tmp_path: Path) -> None:
    storage.put(BUCKET, "a", src, metadata={"mps-task": "T1"})
    other = tmp_path / "other"
    other.write_bytes(b"new")
    storage.put(BUCKET, "a", other)

    head = storage.head(BUCKET, "a")
    assert head is not None and head.size == 3 and head.metadata == {}
    assert head.content_type == "binary/octet-stream"


def test_head_of_a_missing_object_is_none_and_get_is_a_download_error(
    storage: Storage, tmp_path: Path
) -> None:
    assert storage.head(BUCKET, "nope") is None
    with pytest.raises(ResourceNotFoundError) as caught:
        storage.get(BUCKET, "nope", tmp_path / "x")
    assert caught.value.code == "ResourceNotFound.DownloadError"


def test_a_missing_bucket_is_cos_bucket_not_exist_for_every_call(
    storage: Storage, src: Path, tmp_path: Path
) -> None:
    calls: list[Callable[[], object]] = [
        lambda: storage.head("nobucket", "k"),
        lambda: storage.get("nobucket", "k", tmp_path / "x"),
        lambda: storage.put("nobucket", "k", src),
        lambda: list(storage.list("nobucket")),
        lambda: storage.delete("nobucket", "k"),
    ]
    for call in calls:
        with pytest.raises(ResourceNotFoundError) as caught:
            call()
        assert caught.value.code == "ResourceNotFound.CosBucketNotExist"


def test_list_is_filtered_by_prefix_sorted_and_cheap_unless_metadata_is_asked(
    storage: Storage, src: Path
) -> None:
    for key in ["out/b.jpg", "out/a.jpg", "out/sub/c.jpg", "outer.txt", "in/x.mov"]:
        storage.put(BUCKET, key, src, metadata={"mps-task": "T"})

    listed = list(storage.list(BUCKET, "out/"))

    assert [info.key for info in listed] == ["out/a.jpg", "out/b.jpg", "out/sub/c.jpg"]
    assert all(info.metadata == {} and info.size == 16 for info in listed)
    assert [info.metadata for info in storage.list(BUCKET, "in/", with_metadata=True)] == [{"mps-task": "T"}]
    assert len(list(storage.list(BUCKET))) == 5


def test_delete_removes_and_tolerates_a_missing_object(storage: Storage, src: Path) -> None:
    storage.put(BUCKET, "d/a", src)
    storage.delete(BUCKET, "d/a")
    storage.delete(BUCKET, "d/a")
    assert storage.head(BUCKET, "d/a") is None
    assert list(storage.list(BUCKET)) == []


@pytest.mark.parametrize("key", ["", "/leading/slash", "nul\x00byte"])
def test_malformed_keys_are_refused(storage: Storage, src: Path, key: str) -> None:
    with pytest.raises(InvalidParameterError):
        storage.put(BUCKET, key, src)


@pytest.mark.parametrize("metadata", [{"mps-task": "caf\u00e9"}, {"bad key": "v"}, {"k": "line\nbreak"}])
def test_metadata_that_cannot_be_an_http_header_is_refused(
    storage: Storage, src: Path, metadata: dict[str, str]
) -> None:
    with pytest.raises(InvalidParameterError):
        storage.put(BUCKET, "a", src, metadata=metadata)


def test_keys_with_spaces_and_non_ascii_characters_work(storage: Storage, src: Path, tmp_path: Path) -> None:
    key = "dir with space/vidéo 東京.mp4"
    storage.put(BUCKET, key, src)
    assert [info.key for info in storage.list(BUCKET)] == [key]
    assert storage.get(BUCKET, key, tmp_path / "x").size == 16


def test_there_is_no_presigned_url_and_ensure_bucket_is_idempotent(storage: Storage, src: Path) -> None:
    storage.put(BUCKET, "a", src)
    storage.ensure_bucket(BUCKET)
    assert storage.presigned_url(BUCKET, "a") is None
    assert storage.head(BUCKET, "a") is not None


# --- LocalStorage only ----------------------------------------------------------------------


@pytest.fixture
def local(tmp_path: Path) -> LocalStorage:
    store = LocalStorage(tmp_path / "root")
    store.ensure_bucket(BUCKET)
    return store


@pytest.mark.parametrize("key", ["../escape", "a/../../escape", "a/./b", "a//b", "dir/", ".mps-meta/x.json"])
def test_local_keys_cannot_climb_out_or_touch_reserved_names(
    local: LocalStorage, src: Path, key: str
) -> None:
    with pytest.raises(InvalidParameterError):
        local.put(BUCKET, key, src)
    with pytest.raises(InvalidParameterError):
        local.head(BUCKET, key)
    assert not (local.root / "escape").exists()


def test_a_symlink_out_of_the_bucket_is_refused(local: LocalStorage, tmp_path: Path) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("secret")
    (local.root / BUCKET / "link").symlink_to(outside)
    with pytest.raises(InvalidParameterError):
        local.get(BUCKET, "link", tmp_path / "x")


@pytest.mark.parametrize("bucket", ["..", "../x", ".hidden", ""])
def test_local_bucket_names_cannot_climb_either(local: LocalStorage, bucket: str) -> None:
    with pytest.raises(ResourceNotFoundError) as caught:
        local.head(bucket, "a")
    assert caught.value.code == "ResourceNotFound.CosBucketNameInvalid"


def test_a_dropped_in_file_is_listed_without_metadata_and_with_a_cheap_etag(local: LocalStorage) -> None:
    path = local.root / BUCKET / "in" / "dropped.mov"
    path.parent.mkdir()
    path.write_bytes(b"12345")

    head = local.head(BUCKET, "in/dropped.mov")

    stat = path.stat()
    assert head is not None and head.metadata == {} and head.size == 5
    assert head.etag == f"{stat.st_size:x}-{stat.st_mtime_ns:x}"


def test_a_file_changed_behind_our_back_loses_its_stale_metadata(local: LocalStorage, src: Path) -> None:
    local.put(BUCKET, "a", src, metadata={"mps-task": "T1"})
    path = local.root / BUCKET / "a"
    path.write_bytes(b"changed by someone else")
    os.utime(path, ns=(1, 1))

    head = local.head(BUCKET, "a")

    assert head is not None and head.metadata == {} and head.size == 23


def test_sidecars_stay_hidden_and_delete_prunes_empty_directories(local: LocalStorage, src: Path) -> None:
    local.put(BUCKET, "x/y/z.jpg", src, metadata={"mps-task": "T"})
    assert [info.key for info in local.list(BUCKET)] == ["x/y/z.jpg"]

    local.delete(BUCKET, "x/y/z.jpg")

    # Nothing is left but the bucket itself: no empty x/y/, no orphan sidecar.
    assert list((local.root / BUCKET).iterdir()) == []
