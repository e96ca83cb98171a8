"""Our wire models against the official SDK: every field name we emit is one the SDK knows."""

from __future__ import annotations

import json
import warnings

import pytest
from tencentcloud.mps.v20190612 import models as sdk

from mps.errors import InvalidParameterError
from mps.models import (
    MediaImageSpriteItem,
    MediaInputInfo,
    MediaMetaData,
    MediaProcessTaskInput,
    MediaProcessTaskResult,
    MediaSnapshotByTimeOffsetItem,
    MediaSnapshotByTimePicInfoItem,
    MediaTranscodeItem,
    MediaVideoStreamItem,
    TaskOutputStorage,
    WorkflowTask,
    parse_wire,
)
from mps.models import tasks as our_tasks
from mps.models import templates as our_templates
from mps.models.schedules import ScheduleTask

PAIRS = [
    (our_tasks.TranscodeTaskInput, sdk.TranscodeTaskInput),
    (our_tasks.SnapshotByTimeOffsetTaskInput, sdk.SnapshotByTimeOffsetTaskInput),
    (our_tasks.SampleSnapshotTaskInput, sdk.SampleSnapshotTaskInput),
    (our_tasks.ImageSpriteTaskInput, sdk.ImageSpriteTaskInput),
    (our_tasks.AnimatedGraphicTaskInput, sdk.AnimatedGraphicTaskInput),
    (our_tasks.WatermarkInput, sdk.WatermarkInput),
    (our_tasks.RawWatermarkParameter, sdk.RawWatermarkParameter),
    (our_tasks.RawImageWatermarkInput, sdk.RawImageWatermarkInput),
    (our_tasks.MediaProcessTaskInput, sdk.MediaProcessTaskInput),
    (our_templates.VideoTemplateInfo, sdk.VideoTemplateInfo),
    (our_templates.AudioTemplateInfo, sdk.AudioTemplateInfo),
    (our_templates.TranscodeTemplate, sdk.TranscodeTemplate),
    (our_templates.SnapshotByTimeOffsetTemplate, sdk.SnapshotByTimeOffsetTemplate),
    (our_templates.SampleSnapshotTemplate, sdk.SampleSnapshotTemplate),
    (our_templates.ImageSpriteTemplate, sdk.ImageSpriteTemplate),
    (our_templates.AnimatedGraphicsTemplate, sdk.AnimatedGraphicsTemplate),
    (our_templates.WatermarkTemplate, sdk.WatermarkTemplate),
    (MediaMetaData, sdk.MediaMetaData),
    (MediaVideoStreamItem, sdk.MediaVideoStreamItem),
    (MediaTranscodeItem, sdk.MediaTranscodeItem),
    (MediaSnapshotByTimeOffsetItem, sdk.MediaSnapshotByTimeOffsetItem),
    (MediaSnapshotByTimePicInfoItem, sdk.MediaSnapshotByTimePicInfoItem),
    (MediaImageSpriteItem, sdk.MediaImageSpriteItem),
    (MediaProcessTaskResult, sdk.MediaProcessTaskResult),
    (WorkflowTask, sdk.WorkflowTask),
    (MediaInputInfo, sdk.MediaInputInfo),
    (TaskOutputStorage, sdk.TaskOutputStorage),
]


@pytest.mark.parametrize(("ours", "theirs"), PAIRS, ids=lambda c: c.__name__)
def test_every_field_is_spelled_as_in_the_sdk(ours: type, theirs: type) -> None:
    known = {name.lstrip("_") for name in vars(theirs())}
    emitted = {name for name, field in ours.model_fields.items() if not field.exclude}
    assert emitted - known == set()


def _finished_task() -> WorkflowTask:
    storage = TaskOutputStorage(Type="COS", CosOutputStorage={"Bucket": "media"})  # type: ignore[arg-type]
    transcode = {
        "Status": "SUCCESS",
        "Progress": 100,
        "Input": {"Definition": 100030},
        "Output": {
            "OutputStorage": storage,
            "Path": "/out/a_transcode_100030.mp4",
            "Definition": 100030,
            "Width": 1280,
            "Height": 720,
            "Bitrate": 1900000,
            "Container": "mov,mp4,m4a,3gp,3g2,mj2",
        },
    }
    sprite = {
        "Status": "SUCCESS",
        "Input": {"Definition": 10},
        "BeginProcessTime": "2026-01-01T00:00:00Z",
        "Output": {
            "Definition": 10,
            "Width": 142,
            "Height": 80,
            "TotalCount": 100,
            "Storage": storage,
            "ImagePathSet": ["/out/a_imageSprite_10_0.jpg"],
            "WebVttPath": "/out/a_imageSprite_10.vtt",
        },
    }
    return WorkflowTask.model_validate(
        {
            "TaskId": "t-1",
            "Status": "FINISH",
            "InputInfo": {
                "Type": "COS",
                "CosInputInfo": {"Bucket": "media", "Region": "r", "Object": "/in/a.mov"},
            },
            "MetaData": {"Width": 1920, "Height": 1080, "Duration": 4.0},
            "MediaProcessResultSet": [
                {"Type": "Transcode", "TranscodeTask": transcode},
                {"Type": "ImageSprites", "ImageSpriteTask": sprite},
            ],
        }
    )


def test_the_sdk_reads_a_result_without_complaint() -> None:
    wire = _finished_task().to_wire()
    response = sdk.DescribeTaskDetailResponse()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the SDK warns about every key it does not know
        response._deserialize(
            {"TaskType": "WorkflowTask", "Status": "FINISH", "WorkflowTask": wire, "RequestId": "r"}
        )
    results = response.WorkflowTask.MediaProcessResultSet
    assert results[0].TranscodeTask.Output.Path == "/out/a_transcode_100030.mp4"
    assert results[0].TranscodeTask.Output.OutputStorage.CosOutputStorage.Bucket == "media"
    assert results[1].Type == "ImageSprites"
    assert results[1].ImageSpriteTask.Output.Storage.CosOutputStorage.Bucket == "media"


def test_the_tagged_union_names_the_other_members_as_nulls() -> None:
    entry = _finished_task().to_wire()["MediaProcessResultSet"][1]
    assert entry["Type"] == "ImageSprites"
    assert entry["ImageSpriteTask"]["Output"]["TotalCount"] == 100
    for other in (
        "TranscodeTask",
        "AnimatedGraphicTask",
        "SnapshotByTimeOffsetTask",
        "SampleSnapshotTask",
        "AdaptiveDynamicStreamingTask",
    ):
        assert other in entry and entry[other] is None
    assert "Progress" not in entry["ImageSpriteTask"] and "BeginProcessTime" in entry["ImageSpriteTask"]


def test_result_round_trips_through_json() -> None:
    task = _finished_task()
    again = WorkflowTask.model_validate(json.loads(json.dumps(task.to_wire())))
    assert again.to_wire() == task.to_wire()


#: The members both task objects of DescribeTaskDetail start with, in Tencent's order.
_TASK_HEAD = ["TaskId", "Status", "ErrCode", "Message", "InputInfo", "MetaData"]
_AI_MEMBERS = [
    "AiContentReviewResultSet",
    "AiAnalysisResultSet",
    "AiRecognitionResultSet",
    "AiQualityControlTaskResult",
    "SmartSubtitlesTaskResult",
    "SmartEraseTaskResult",
    "AiDubbingTaskResult",
]


def test_both_task_objects_send_the_same_head_then_their_own_sets() -> None:
    workflow = _finished_task().to_wire()
    activity = {"ActivityType": "Transcode", "ActivityResItem": {"TranscodeTask": {"Status": "SUCCESS"}}}
    head = {name: workflow[name] for name in _TASK_HEAD}
    schedule = ScheduleTask.model_validate({**head, "ActivityResultSet": [activity]}).to_wire()

    assert list(workflow) == [*_TASK_HEAD, "MediaProcessResultSet", *_AI_MEMBERS]
    assert list(schedule) == [*_TASK_HEAD, "ActivityResultSet"]
    assert {name: schedule[name] for name in _TASK_HEAD} == head
    assert schedule["ActivityResultSet"] == [activity]
    # InputInfo leaves out what is not set; MetaData sends every field, zeros and empty lists included
    assert head["InputInfo"] == {
        "Type": "COS",
        "CosInputInfo": {"Bucket": "media", "Region": "r", "Object": "/in/a.mov"},
    }
    assert head["MetaData"] == {
        "Size": 0,
        "Container": "",
        "Bitrate": 0,
        "Height": 1080,
        "Width": 1920,
        "Duration": 4.0,
        "Rotate": 0,
        "VideoStreamSet": [],
        "AudioStreamSet": [],
        "VideoDuration": 0.0,
        "AudioDuration": 0.0,
    }


def test_a_fresh_task_object_sends_its_defaults_and_nulls() -> None:
    defaults = {
        "TaskId": "t",
        "Status": "WAITING",
        "ErrCode": 0,
        "Message": "",
        "InputInfo": None,
        "MetaData": None,
    }
    assert WorkflowTask(TaskId="t").to_wire() == {
        **defaults,
        "MediaProcessResultSet": [],
        **{name: [] if name.endswith("Set") else None for name in _AI_MEMBERS},
    }
    assert ScheduleTask(TaskId="t").to_wire() == {**defaults, "ActivityResultSet": []}


def test_request_order_is_kept() -> None:
    task = parse_wire(
        MediaProcessTaskInput,
        {
            "ImageSpriteTaskSet": [{"Definition": 10}],
            "TranscodeTaskSet": [{"Definition": 100010}, {"Definition": 100020}],
        },
    )
    assert [item.Definition for item in task.subtasks()] == [10, 100010, 100020]
    again = parse_wire(MediaProcessTaskInput, json.loads(json.dumps(task.to_wire())))
    assert [item.Definition for item in again.subtasks()] == [10, 100010, 100020]


def test_string_values_are_coerced_as_get_mode_clients_send_them() -> None:
    task = parse_wire(
        MediaProcessTaskInput, {"TranscodeTaskSet": [{"Definition": "100010", "StartTimeOffset": "1.5"}]}
    )
    assert task.TranscodeTaskSet[0].Definition == 100010
    assert task.TranscodeTaskSet[0].StartTimeOffset == 1.5


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({}, "InvalidParameterValue.MediaProcessTask"),
        ({"TranscodeTaskSet": [{"Definition": "x"}]}, "InvalidParameterValue.Definition"),
        (
            {"SnapshotByTimeOffsetTaskSet": [{"Definition": 10, "ExtTimeOffsetSet": ["3x"]}]},
            "InvalidParameterValue.ExtTimeOffsetSet",
        ),
        (
            {"AnimatedGraphicTaskSet": [{"Definition": 20000, "StartTimeOffset": 5, "EndTimeOffset": 2}]},
            "InvalidParameterValue.AnimatedGraphicTaskSet",
        ),
        (
            {"TranscodeTaskSet": [{"Definition": 100010, "MosaicSet": [{"XPos": "1px"}]}]},
            "UnsupportedOperation",
        ),
        ({"TranscodeTaskSet": [{"Definition": 100010, "Mosaics": []}]}, "UnknownParameter"),
    ],
)
def test_bad_requests_name_the_field(data: dict[str, object], code: str) -> None:
    with pytest.raises(InvalidParameterError) as info:
        parse_wire(MediaProcessTaskInput, data, where="MediaProcessTask", known_fields=True)
    assert info.value.code == code
    assert "\n" not in info.value.message
