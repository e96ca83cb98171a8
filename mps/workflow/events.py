"""Bucket events from the object stores, turned into one internal shape: :class:`ObjectCreated`. Pure.

Two wire formats arrive at the listener:

- **S3 event notifications** (:func:`parse_s3_notification`): MinIO over AMQP or webhook, Ceph RGW
  and AWS S3 all send ``{"Records": [...]}`` with ``eventName`` ``s3:ObjectCreated:Put`` (Ceph may
  leave out the ``s3:`` prefix). Keys are form-encoded (``+`` is a space). MinIO carries user
  metadata in ``userMetadata`` (keys with their ``X-Amz-Meta-`` prefix, plus ``content-type``);
  Ceph in ``metadata``, a list of ``{"key", "val"}``; AWS not at all.
- **SeaweedFS filer webhook** (:func:`parse_seaweedfs_event`): one filer change per POST,
  ``{"event_type", "key", "message": {"old_entry", "new_entry", "new_parent_path"}}``. Objects of
  the S3 gateway live under ``/buckets/<bucket>/``. Every value of ``new_entry.extended`` is
  base64 (Go's ``[]byte`` in JSON). Observed on SeaweedFS 4.48 (fixtures in
  ``tests/fixtures/events/``): user metadata is stored as ``X-Amz-Meta-<Canonical-Name>`` keys
  (``mps-task`` arrives as ``X-Amz-Meta-Mps-Task``), the S3 ETag as ``Seaweed-X-Amz-ETag`` (the
  hex digest, or ``<hex>-<parts>`` for a multipart upload, whose entry has no ``md5``), an
  overwrite is ``event_type: update``, multipart parts are staged as files under
  ``<bucket>/.uploads/``, and a versioned bucket stores each version as
  ``<key>.versions/v_<id>`` with ``Seaweed-X-Amz-Version-Id``.

Everything that is not a new object (deletes, directories, test events, staging files) parses to
no event at all; a payload that is not one of these formats raises ``InvalidParameterError``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

from mps.errors import InvalidParameterError
from mps.models.jsontext import parse_json
from mps.storage.base import TASK_METADATA_KEY

#: Prefix of user metadata headers; stripped so that metadata keys match what ``Storage.head`` returns.
USER_METADATA_PREFIX = "x-amz-meta-"
#: ``source`` of events parsed from the SeaweedFS filer webhook.
SEAWEEDFS_SOURCE = "seaweedfs:filer"
#: ``source`` of S3 records that do not name their ``eventSource``.
S3_SOURCE = "s3"
#: Filer directory under which the SeaweedFS S3 gateway keeps its buckets.
SEAWEEDFS_BUCKETS_DIR = "/buckets/"
#: Top-level directory of a bucket where SeaweedFS stages multipart parts (not objects).
SEAWEEDFS_UPLOADS_DIR = ".uploads"
#: Suffix of the directory holding the versions of one key in a versioned SeaweedFS bucket.
SEAWEEDFS_VERSIONS_SUFFIX = ".versions"
#: ``extended`` keys of the SeaweedFS S3 gateway (values base64).
SEAWEEDFS_ETAG_KEY = "Seaweed-X-Amz-ETag"
SEAWEEDFS_VERSION_KEY = "Seaweed-X-Amz-Version-Id"
#: Filer event types that leave a new entry behind (``delete`` does not).
SEAWEEDFS_NEW_ENTRY_TYPES = frozenset({"create", "update", "rename"})
#: MinIO's ``ObjectCreated:*`` events that change an object's tags or locks, not its bytes.
METADATA_ONLY_EVENTS = frozenset(
    {
        "ObjectCreated:PutTagging",
        "ObjectCreated:DeleteTagging",
        "ObjectCreated:PutRetention",
        "ObjectCreated:PutLegalHold",
    }
)
#: What S3 reports as the version of an object written while versioning was off or suspended.
NULL_VERSION = "null"


@dataclass(frozen=True)
class ObjectCreated:
    """A new object (or a new version of one) in a bucket, whatever store announced it.

    Attributes:
        bucket: the bucket.
        key: the object key, URL-decoded, without a leading ``/``.
        etag: the S3 ETag without quotes (MD5 hex, or ``<hex>-<parts>`` for multipart); may be empty.
        version_id: the version, for versioned buckets; empty otherwise.
        size: length in bytes (0 when the event does not say).
        source: who announced it: the record's ``eventSource`` (``minio:s3``, ``ceph:s3``,
            ``aws:s3``) or :data:`SEAWEEDFS_SOURCE`.
        metadata: user metadata, keys lower-case without ``x-amz-meta-`` (as ``Storage.head``).
    """

    bucket: str
    key: str
    etag: str = ""
    version_id: str = ""
    size: int = 0
    source: str = S3_SOURCE
    # Left out of the hash so that events stay usable as set members and dict keys.
    metadata: Mapping[str, str] = field(default_factory=dict, hash=False)


def is_written_by_mps(event: ObjectCreated) -> bool:
    """Whether mps wrote this object (it carries the ``mps-task`` metadata of every output).

    Parameters:
        event: the parsed event.

    Returns:
        True for mps's own outputs, which must never start a workflow (no loops through an
        output directory under a watched one).
    """
    return TASK_METADATA_KEY in event.metadata


def parse_s3_notification(body: bytes | str | Mapping[str, Any]) -> list[ObjectCreated]:
    """The new objects of an S3 event notification (MinIO, Ceph RGW, AWS).

    Parameters:
        body: the message body as received (JSON bytes or text) or already decoded.

    Returns:
        One event per ``ObjectCreated`` record, in record order; ``[]`` for removals, accesses,
        tag and lock changes (:data:`METADATA_ONLY_EVENTS`), ``s3:TestEvent`` messages and
        directory markers (keys ending in ``/``).

    Raises:
        InvalidParameterError: not JSON, no ``Records`` list, or a created-object record without
            a bucket name or key.
    """
    data = _decode(body, "S3 event notification")
    records = data.get("Records")
    if records is None and "Event" in data:
        return []  # AWS's s3:TestEvent when a notification is configured: nothing was written
    if not isinstance(records, list):
        raise InvalidParameterError("S3 event notification: no Records list")
    events = []
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise InvalidParameterError(f"S3 event notification: Records[{index}] is not an object")
        event = _s3_record(record, index)
        if event is not None:
            events.append(event)
    return events


def _s3_record(record: Mapping[str, Any], index: int) -> ObjectCreated | None:
    name = str(record.get("eventName") or "").removeprefix("s3:")
    if not name.startswith("ObjectCreated:") or name in METADATA_ONLY_EVENTS:
        return None
    s3 = _object(record.get("s3"), f"Records[{index}].s3")
    bucket = _object(s3.get("bucket"), f"Records[{index}].s3.bucket").get("name")
    obj = _object(s3.get("object"), f"Records[{index}].s3.object")
    raw_key = obj.get("key")
    if not isinstance(bucket, str) or not bucket or not isinstance(raw_key, str) or not raw_key:
        raise InvalidParameterError(f"S3 event notification: Records[{index}] has no bucket name or key")
    key = unquote_plus(raw_key).lstrip("/")
    if not key or key.endswith("/"):
        return None  # a "directory" marker object, not a file
    version = str(obj.get("versionId") or "")
    return ObjectCreated(
        bucket=bucket,
        key=key,
        etag=str(obj.get("eTag") or "").strip('"'),
        version_id="" if version == NULL_VERSION else version,
        size=_size(obj.get("size"), f"Records[{index}].s3.object.size"),
        source=str(record.get("eventSource") or S3_SOURCE),
        metadata=_s3_metadata(obj),
    )


def _s3_metadata(obj: Mapping[str, Any]) -> dict[str, str]:
    pairs: list[tuple[Any, Any]] = []
    user = obj.get("userMetadata")  # MinIO: {"X-Amz-Meta-Mps-Task": "t1", "content-type": ...}
    if isinstance(user, dict):
        pairs.extend(user.items())
    listed = obj.get("metadata")  # Ceph RGW: [{"key": "x-amz-meta-mps-task", "val": "t1"}]
    if isinstance(listed, list):
        pairs.extend((item.get("key"), item.get("val")) for item in listed if isinstance(item, dict))
    return {_metadata_key(str(k)): str(v) for k, v in pairs if isinstance(k, str) and v is not None}


def parse_seaweedfs_event(body: bytes | str | Mapping[str, Any]) -> list[ObjectCreated]:
    """The new object of one SeaweedFS filer webhook event, if it is one.

    Parameters:
        body: the POST body as received (JSON bytes or text) or already decoded.

    Returns:
        ``[event]`` for a file created, overwritten or renamed into place under ``/buckets/``;
        ``[]`` for deletes, directories, entries outside ``/buckets/`` and multipart staging files.

    Raises:
        InvalidParameterError: not JSON, no ``event_type`` or ``message`` object, or an
            ``extended`` value that is not base64.
    """
    data = _decode(body, "SeaweedFS event")
    event_type = data.get("event_type")
    message = data.get("message")
    if not isinstance(event_type, str) or not isinstance(message, dict):
        raise InvalidParameterError("SeaweedFS event: needs an event_type and a message object")
    entry = message.get("new_entry")
    if event_type not in SEAWEEDFS_NEW_ENTRY_TYPES or not isinstance(entry, dict):
        return []  # a delete, or the old side of a rename: nothing new to process
    if entry.get("is_directory"):
        return []
    location = _seaweedfs_location(data, message, entry)
    if location is None:
        return []
    bucket, key = location
    extended = _extended(entry.get("extended"))
    version = extended.get(SEAWEEDFS_VERSION_KEY, "")
    if version and _is_version_file(key):
        key = key.rsplit("/", 1)[0].removesuffix(SEAWEEDFS_VERSIONS_SUFFIX)
    raw_attributes = entry.get("attributes")
    attributes: Mapping[str, Any] = raw_attributes if isinstance(raw_attributes, dict) else {}
    return [
        ObjectCreated(
            bucket=bucket,
            key=key,
            etag=_seaweedfs_etag(extended, attributes),
            version_id="" if version == NULL_VERSION else version,
            size=_size(attributes.get("file_size"), "new_entry.attributes.file_size"),
            source=SEAWEEDFS_SOURCE,
            metadata={
                _metadata_key(name): value
                for name, value in extended.items()
                if name.lower().startswith(USER_METADATA_PREFIX)
            },
        )
    ]


def _seaweedfs_location(
    data: Mapping[str, Any], message: Mapping[str, Any], entry: Mapping[str, Any]
) -> tuple[str, str] | None:
    # The new path is new_parent_path + name: for a rename, "key" is the old path.
    parent, name = message.get("new_parent_path"), entry.get("name")
    if isinstance(parent, str) and parent and isinstance(name, str) and name:
        path = parent.rstrip("/") + "/" + name
    elif isinstance(data.get("key"), str):
        path = data["key"]
    else:
        raise InvalidParameterError("SeaweedFS event: no key or new_parent_path and name")
    if not path.startswith(SEAWEEDFS_BUCKETS_DIR):
        return None
    bucket, _, key = path.removeprefix(SEAWEEDFS_BUCKETS_DIR).partition("/")
    key = key.lstrip("/")
    if not bucket or not key or key.endswith("/") or key.split("/", 1)[0] == SEAWEEDFS_UPLOADS_DIR:
        return None
    return bucket, key


def _is_version_file(key: str) -> bool:
    directory, _, _ = key.rpartition("/")
    return directory.endswith(SEAWEEDFS_VERSIONS_SUFFIX) and len(directory) > len(SEAWEEDFS_VERSIONS_SUFFIX)


def _seaweedfs_etag(extended: Mapping[str, str], attributes: Mapping[str, Any]) -> str:
    # The gateway's own ETag is what S3 clients (and MinIO-format events) see; the entry's md5
    # is the same digest for single-part writes and is absent for multipart ones.
    if extended.get(SEAWEEDFS_ETAG_KEY):
        return extended[SEAWEEDFS_ETAG_KEY].strip('"')
    md5 = attributes.get("md5")
    if isinstance(md5, str) and md5:
        return _b64(md5, "new_entry.attributes.md5").hex()
    return ""


def _extended(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidParameterError("SeaweedFS event: new_entry.extended is not an object")
    return {
        str(name): _b64(value, f"new_entry.extended.{name}").decode("utf-8", errors="replace")
        for name, value in raw.items()
        if isinstance(value, str)
    }


def _b64(value: str, where: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidParameterError(f"SeaweedFS event: {where} is not base64") from exc


def _metadata_key(name: str) -> str:
    lowered = name.strip().lower()
    return lowered.removeprefix(USER_METADATA_PREFIX)


def _size(value: Any, where: str) -> int:
    if value is None or value == "":
        return 0
    try:
        size = int(value)  # Ceph RGW sends the size as a string
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(f"bucket event: {where} is not a number: {value!r}") from exc
    if size < 0:
        raise InvalidParameterError(f"bucket event: {where} is negative: {size}")
    return size


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise InvalidParameterError(f"S3 event notification: {where} is not an object")
    return value


def _decode(body: bytes | str | Mapping[str, Any], what: str) -> Mapping[str, Any]:
    if isinstance(body, Mapping):
        return body
    try:
        data = parse_json(body, what=f"{what}: the body")
    except InvalidParameterError as exc:
        raise InvalidParameterError(exc.message) from None
    if not isinstance(data, dict):
        raise InvalidParameterError(f"{what}: body is not a JSON object")
    return data


__all__ = [
    "ObjectCreated",
    "SEAWEEDFS_SOURCE",
    "is_written_by_mps",
    "parse_s3_notification",
    "parse_seaweedfs_event",
]
