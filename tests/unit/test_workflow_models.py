"""Workflow wire models against Tencent's SDK: the same field names, both ways."""

from __future__ import annotations

import json
import warnings
from typing import Any

import pytest
from pydantic import BaseModel

from mps.errors import InvalidParameterError
from mps.models import parse_wire
from mps.models.workflows import (
    ECHOED_TASK_SETS,
    AwsS3FileUploadTrigger,
    CosFileUploadTrigger,
    CreateWorkflowRequest,
    ResetWorkflowRequest,
    WorkflowInfo,
    WorkflowTrigger,
)

sdk = pytest.importorskip("tencentcloud.mps.v20190612.models")

CREATE: dict[str, Any] = {
    "WorkflowName": "uploads-to-hls",
    "Trigger": {
        "Type": "CosFileUpload",
        "CosFileUploadTrigger": {"Bucket": "media", "Region": "ap-guangzhou", "Dir": "/in/", "Formats": [""]},
    },
    "OutputStorage": {"Type": "COS", "CosOutputStorage": {"Bucket": "media", "Region": "ap-guangzhou"}},
    "OutputDir": "/out/",
    "MediaProcessTask": {
        "SnapshotByTimeOffsetTaskSet": [{"Definition": 10, "TimeOffsetSet": [1.0]}],
        "TranscodeTaskSet": [{"Definition": 100010}],
    },
    "TaskNotifyConfig": {"NotifyType": "URL", "NotifyUrl": "http://hooks.example/mps"},
    "TaskPriority": 5,
}
S3_TRIGGER: dict[str, Any] = {
    "Type": "AwsS3FileUpload",
    "AwsS3FileUploadTrigger": {
        "S3Bucket": "media",
        "S3Region": "us-east-1",
        "Dir": "/in/",
        "Formats": ["mp4", "flv"],
        "S3SecretId": "id",
        "S3SecretKey": "key",
    },
}


def _sdk_accepts(sdk_class: type, wire: dict[str, Any]) -> Any:
    # The SDK warns "<names> fileds are useless." for every key its class (or a nested one) lacks.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        instance = sdk_class()
        instance._deserialize(json.loads(json.dumps(wire)))
    return instance


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (CreateWorkflowRequest, "CreateWorkflowRequest"),
        (ResetWorkflowRequest, "ResetWorkflowRequest"),
        (WorkflowTrigger, "WorkflowTrigger"),
        (CosFileUploadTrigger, "CosFileUploadTrigger"),
        (AwsS3FileUploadTrigger, "AwsS3FileUploadTrigger"),
        (WorkflowInfo, "WorkflowInfo"),
    ],
)
def test_every_field_exists_on_the_sdk_class(ours: type[BaseModel], theirs: str) -> None:
    sdk_fields = {name[1:] for name in vars(getattr(sdk, theirs)())}
    # Our extensions (orchestration.md §4) are declared as such, and never answered.
    extensions: frozenset[str] = getattr(ours, "extension_fields", frozenset())

    assert set(ours.model_fields) - extensions <= sdk_fields
    # ...and nothing of Tencent's is dropped: each is a field or refused (AwsSQS of a trigger).
    assert sdk_fields - set(ours.model_fields) - set(ours.unsupported_fields) == set()


def test_a_create_request_round_trips_through_the_sdk() -> None:
    request = parse_wire(CreateWorkflowRequest, CREATE)

    wire = request.to_wire()
    their = _sdk_accepts(sdk.CreateWorkflowRequest, wire)

    assert list(wire["MediaProcessTask"])[:2] == ["SnapshotByTimeOffsetTaskSet", "TranscodeTaskSet"]
    assert {k: v for k, v in wire.items() if k != "MediaProcessTask"} == {
        k: v for k, v in CREATE.items() if k != "MediaProcessTask"
    }
    assert parse_wire(CreateWorkflowRequest, their._serialize()).to_wire() == wire


def test_an_sdk_built_request_parses() -> None:
    # _serialize() is what the SDK client sends: unset members are left out.
    their = sdk.CreateWorkflowRequest()
    their.WorkflowName = "w"
    their.Trigger = sdk.WorkflowTrigger()
    their.Trigger.Type = "AwsS3FileUpload"
    their.Trigger.AwsS3FileUploadTrigger = sdk.AwsS3FileUploadTrigger()
    their.Trigger.AwsS3FileUploadTrigger.S3Bucket = "media"
    their.Trigger.AwsS3FileUploadTrigger.S3Region = "us-east-1"
    their.MediaProcessTask = sdk.MediaProcessTaskInput()
    their.MediaProcessTask.TranscodeTaskSet = [sdk.TranscodeTaskInput()]
    their.MediaProcessTask.TranscodeTaskSet[0].Definition = 100010

    request = parse_wire(CreateWorkflowRequest, their._serialize())

    assert (request.Trigger.bucket, request.Trigger.region, request.TaskPriority) == ("media", "us-east-1", 0)


def test_a_reset_request_carries_the_workflow_id() -> None:
    request = parse_wire(ResetWorkflowRequest, {**CREATE, "WorkflowId": "42"})

    assert request.WorkflowId == 42
    _sdk_accepts(sdk.ResetWorkflowRequest, request.to_wire())


def test_the_aws_trigger_keeps_every_field() -> None:
    trigger = WorkflowTrigger.model_validate(S3_TRIGGER)

    assert trigger.to_wire() == S3_TRIGGER
    assert (trigger.bucket, trigger.dir, trigger.formats) == ("media", "/in/", ["mp4", "flv"])
    _sdk_accepts(sdk.WorkflowTrigger, trigger.to_wire())


@pytest.mark.parametrize(
    "trigger, code",
    [
        ({"Type": "CosFileUpload"}, "InvalidParameterValue.Trigger"),
        (
            {"Type": "AwsS3FileUpload", "CosFileUploadTrigger": {"Bucket": "b"}},
            "InvalidParameterValue.Trigger",
        ),
        ({"Type": "Upload", "CosFileUploadTrigger": {"Bucket": "b"}}, "InvalidParameterValue.Type"),
        ({"Type": "CosFileUpload", "CosFileUploadTrigger": {"Bucket": ""}}, "InvalidParameterValue.Bucket"),
    ],
)
def test_bad_triggers_are_refused_with_a_field_code(trigger: dict[str, Any], code: str) -> None:
    with pytest.raises(InvalidParameterError) as info:
        parse_wire(CreateWorkflowRequest, {**CREATE, "Trigger": trigger})

    assert info.value.code == code


@pytest.mark.parametrize(
    "change, code",
    [
        ({"WorkflowName": ""}, "InvalidParameterValue.WorkflowName"),
        ({"WorkflowName": "x" * 129}, "InvalidParameterValue.WorkflowName"),
        ({"TaskPriority": 11}, "InvalidParameterValue.TaskPriority"),
        ({"OutputDir": "out"}, "InvalidParameterValue.OutputDir"),
    ],
)
def test_bad_requests_are_refused_with_a_field_code(change: dict[str, Any], code: str) -> None:
    with pytest.raises(InvalidParameterError) as info:
        parse_wire(CreateWorkflowRequest, {**CREATE, **change})

    assert info.value.code == code


def test_workflow_info_echoes_every_task_set_and_the_sdk_reads_it() -> None:
    request = parse_wire(CreateWorkflowRequest, CREATE)

    info = WorkflowInfo.from_request(
        request,
        workflow_id=7,
        status="Disabled",
        create_time="2026-11-20T08:00:00Z",
        update_time="2026-11-20T08:00:01Z",
    ).to_wire()
    their = _sdk_accepts(sdk.WorkflowInfo, info)

    assert list(info["MediaProcessTask"]) == list(ECHOED_TASK_SETS)
    assert info["MediaProcessTask"]["ImageSpriteTaskSet"] == []
    assert info["MediaProcessTask"]["TranscodeTaskSet"] == [{"Definition": 100010, "WatermarkSet": []}]
    assert (info["AiAnalysisTask"], info["TaskPriority"], info["OutputDir"]) == (None, 5, "/out/")
    assert (their.WorkflowId, their.Status, their.Trigger.CosFileUploadTrigger.Dir) == (7, "Disabled", "/in/")
    assert their.CreateTime == "2026-11-20T08:00:00Z"
