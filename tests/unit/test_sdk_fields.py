"""No field of Tencent's request models is dropped silently.

The test walks ``tencentcloud.mps.v20190612.models``: for every action this server answers, every
field of its request class, and every field of the classes nested in the fields it honours. Each
field is set, alone, on a valid request, to a plausible non-empty value:

- a field listed in :data:`HONOURED` (what mps acts on) may succeed, or fail for its value, but is
  never refused as unknown or unsupported;
- any other field of Tencent's must be refused with ``UnsupportedOperation`` (or
  ``InvalidParameterValue.<Field>``) and a message naming it: never a silent accept;
- a field Tencent does not have is ``UnknownParameter``, at every level.
"""

from __future__ import annotations

import copy
import inspect
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from tencentcloud.mps.v20190612 import models as sdk

from mps.api import register_builtin_actions
from mps.api.errors import wire_error
from mps.api.handlers.schedules import EXTENSION_ACTIONS as SCHEDULE_EXTENSIONS
from mps.api.handlers.tasks import EXTENSION_ACTIONS as TASK_EXTENSIONS
from mps.api.handlers.workflows import EXTENSION_ACTIONS as WORKFLOW_EXTENSIONS
from mps.templates import FAMILIES
from tests.unit.test_api_handlers import COS_INPUT, CREATE, Api

_TEMPLATE_FIELDS = {"Name", "Comment", "Width", "Height", "ResolutionAdaptive", "Format", "FillType"}
_TRANSCODE = {"Container", "Name", "Comment", "RemoveVideo", "RemoveAudio", "VideoTemplate", "AudioTemplate"}
_VIDEO = {"Codec", "Fps", "Bitrate", "ResolutionAdaptive", "Width", "Height", "Gop", "GopUnit", "FillType",
          "Vcrf", "HlsTime", "SegmentType", "FpsDenominator", "VideoProfile", "VideoLevel", "Bframes",
          "Mode"}  # fmt: skip
_WORKFLOW = {"WorkflowName", "Trigger", "OutputStorage", "OutputDir", "MediaProcessTask", "TaskNotifyConfig",
             "TaskPriority"}  # fmt: skip
_SCHEDULE = {"ScheduleName", "Trigger", "Activities", "OutputStorage", "OutputDir", "TaskNotifyConfig",
             "ResourceId"}  # fmt: skip
_WATERMARK = {"Name", "Comment", "CoordinateOrigin", "XPos", "YPos", "ImageTemplate", "TextTemplate"}
_DESCRIBE = {"Definitions", "Offset", "Limit", "Type", "Name"}
_ADAPTIVE = {"Format", "StreamInfos", "Name", "Comment", "DisableHigherVideoBitrate",
             "DisableHigherVideoResolution", "PureAudio", "SegmentType"}  # fmt: skip

#: SDK class -> the fields mps honours. Anything else of Tencent's must be refused by name.
#: Some are honoured by having nothing to do: ``Region``s (one object store, one broker),
#: ``ResourceId`` (no billing), ``TaskType: Offline`` (runs as soon as a worker is free),
#: ``SkipMateData`` (the probe is needed to plan anyway), ``DescribeMediaMetaData.Mode`` (the probe
#: is always the full one), ``RepeatType`` (watermark images are PNG/JPEG stills).
HONOURED: dict[str, set[str]] = {
    "ProcessMediaRequest": {"InputInfo", "OutputStorage", "OutputDir", "MediaProcessTask", "TaskNotifyConfig",
                            "TasksPriority", "SessionId", "SessionContext", "TaskType", "ResourceId",
                            "SkipMateData", "Activities", "ScheduleId"},
    "Activity": {"ActivityType", "ReardriveIndex", "PredriveIndex", "ActivityPara"},
    "ActivityPara": {"TranscodeTask", "AnimatedGraphicTask", "SnapshotByTimeOffsetTask", "SampleSnapshotTask",
                     "ImageSpriteTask", "AdaptiveDynamicStreamingTask", "ExecRulesTask"},
    "ExecRulesTask": {"Rules"},
    "Rules": {"Id", "Conditions", "Linker", "RearDriveIndexs"},
    "RuleConditionItem": {"Key", "Value"},
    "MediaInputInfo": {"Type", "CosInputInfo", "UrlInputInfo", "S3InputInfo"},
    "CosInputInfo": {"Bucket", "Region", "Object"},
    "UrlInputInfo": {"Url"},
    "S3InputInfo": {"S3Bucket", "S3Region", "S3Object", "S3SecretId", "S3SecretKey"},
    "TaskOutputStorage": {"Type", "CosOutputStorage", "S3OutputStorage"},
    "CosOutputStorage": {"Bucket", "Region"},
    "S3OutputStorage": {"S3Bucket", "S3Region", "S3SecretId", "S3SecretKey"},
    "MediaProcessTaskInput": {"TranscodeTaskSet", "AnimatedGraphicTaskSet", "SnapshotByTimeOffsetTaskSet",
                              "SampleSnapshotTaskSet", "ImageSpriteTaskSet",
                              "AdaptiveDynamicStreamingTaskSet"},
    "AdaptiveDynamicStreamingTaskInput": {"Definition", "WatermarkSet", "OutputStorage", "OutputObjectPath",
                                          "SubStreamObjectName", "SegmentObjectName", "DefinitionType",
                                          "StdExtStreamInfos"},
    "AdaptiveStreamTemplate": {"Audio", "Video", "RemoveAudio", "RemoveVideo"},
    "CreateAdaptiveDynamicStreamingTemplateRequest": _ADAPTIVE,
    "ModifyAdaptiveDynamicStreamingTemplateRequest": _ADAPTIVE | {"Definition"},
    "TranscodeTaskInput": {"Definition", "RawParameter", "OverrideParameter", "WatermarkSet",
                           "StartTimeOffset", "EndTimeOffset", "OutputStorage", "OutputObjectPath",
                           "SegmentObjectName",
                           "ObjectNumberFormat"},
    "RawTranscodeParameter": _TRANSCODE - {"Name", "Comment"},
    "OverrideTranscodeParameter": _TRANSCODE - {"Name", "Comment"},
    "VideoTemplateInfo": _VIDEO,
    "VideoTemplateInfoForUpdate": _VIDEO,
    "AudioTemplateInfo": {"Codec", "Bitrate", "SampleRate", "AudioChannel"},
    "AudioTemplateInfoForUpdate": {"Codec", "Bitrate", "SampleRate", "AudioChannel"},
    "WatermarkInput": {"Definition", "RawParameter", "TextContent", "StartTimeOffset", "EndTimeOffset"},
    "RawWatermarkParameter": {"Type", "CoordinateOrigin", "XPos", "YPos", "ImageTemplate"},
    "RawImageWatermarkInput": {"ImageContent", "Width", "Height", "RepeatType"},
    "NumberFormat": {"InitialValue", "Increment", "MinLength", "PlaceHolder"},
    "AnimatedGraphicTaskInput": {"Definition", "StartTimeOffset", "EndTimeOffset", "OutputStorage",
                                 "OutputObjectPath"},
    "SnapshotByTimeOffsetTaskInput": {"Definition", "ExtTimeOffsetSet", "TimeOffsetSet", "WatermarkSet",
                                      "OutputStorage", "OutputObjectPath", "ObjectNumberFormat"},
    "SampleSnapshotTaskInput": {"Definition", "WatermarkSet", "OutputStorage", "OutputObjectPath",
                                "ObjectNumberFormat"},
    "ImageSpriteTaskInput": {"Definition", "OutputStorage", "OutputObjectPath", "WebVttObjectName",
                             "ObjectNumberFormat"},
    "TaskNotifyConfig": {"NotifyType", "NotifyMode", "NotifyUrl", "CmqModel", "CmqRegion", "TopicName",
                         "QueueName", "NotifyKey"},
    "DescribeTaskDetailRequest": {"TaskId"},
    "DescribeTasksRequest": {"Status", "SubTaskHasFailed", "Limit", "ScrollToken", "StartTime", "EndTime"},
    "ManageTaskRequest": {"OperationType", "TaskId"},
    "DescribeMediaMetaDataRequest": {"InputInfo", "Mode"},
    "ParseNotificationRequest": {"Content"},
    "CreateWorkflowRequest": _WORKFLOW,
    "ResetWorkflowRequest": _WORKFLOW | {"WorkflowId"},
    "WorkflowTrigger": {"Type", "CosFileUploadTrigger", "AwsS3FileUploadTrigger"},
    "CosFileUploadTrigger": {"Bucket", "Region", "Dir", "Formats"},
    "AwsS3FileUploadTrigger": {"S3Bucket", "S3Region", "Dir", "Formats", "S3SecretId", "S3SecretKey"},
    "DescribeWorkflowsRequest": {"WorkflowIds", "Status", "Offset", "Limit"},
    "EnableWorkflowRequest": {"WorkflowId"},
    "DisableWorkflowRequest": {"WorkflowId"},
    "DeleteWorkflowRequest": {"WorkflowId"},
    "CreateScheduleRequest": _SCHEDULE,
    "ModifyScheduleRequest": _SCHEDULE | {"ScheduleId"},
    "DescribeSchedulesRequest": {"ScheduleIds", "TriggerType", "Status", "Offset", "Limit"},
    "EnableScheduleRequest": {"ScheduleId"},
    "DisableScheduleRequest": {"ScheduleId"},
    "DeleteScheduleRequest": {"ScheduleId"},
    "CreateTranscodeTemplateRequest": _TRANSCODE,
    "ModifyTranscodeTemplateRequest": _TRANSCODE | {"Definition"},
    "CreateSnapshotByTimeOffsetTemplateRequest": _TEMPLATE_FIELDS,
    "ModifySnapshotByTimeOffsetTemplateRequest": _TEMPLATE_FIELDS | {"Definition"},
    "CreateSampleSnapshotTemplateRequest": _TEMPLATE_FIELDS | {"SampleType", "SampleInterval"},
    "ModifySampleSnapshotTemplateRequest": _TEMPLATE_FIELDS | {"SampleType", "SampleInterval", "Definition"},
    "CreateImageSpriteTemplateRequest": _TEMPLATE_FIELDS | {"SampleType", "SampleInterval", "RowCount",
                                                            "ColumnCount"},
    "ModifyImageSpriteTemplateRequest": _TEMPLATE_FIELDS | {"SampleType", "SampleInterval", "RowCount",
                                                            "ColumnCount", "Definition"},
    "CreateAnimatedGraphicsTemplateRequest": {"Fps", "Width", "Height", "ResolutionAdaptive", "Format",
                                              "Quality", "Name", "Comment"},
    "ModifyAnimatedGraphicsTemplateRequest": {"Fps", "Width", "Height", "ResolutionAdaptive", "Format",
                                              "Quality", "Name", "Comment", "Definition"},
    "CreateWatermarkTemplateRequest": _WATERMARK | {"Type"},
    "ModifyWatermarkTemplateRequest": _WATERMARK | {"Definition"},
    "ImageWatermarkInput": {"ImageContent", "Width", "Height", "RepeatType"},
    "ImageWatermarkInputForUpdate": {"ImageContent", "Width", "Height", "RepeatType"},
    "TextWatermarkTemplateInput": {"FontType", "FontSize", "FontColor", "FontAlpha", "TextContent"},
    "TextWatermarkTemplateInputForUpdate": {"FontType", "FontSize", "FontColor", "FontAlpha", "TextContent"},
    **{f"Delete{fam.kind}Request": {"Definition"} for fam in FAMILIES.values()},
    **{f"Describe{fam.kind}sRequest": _DESCRIBE for fam in FAMILIES.values()},
}  # fmt: skip

_WORKFLOW_BODY: dict[str, Any] = {
    "WorkflowName": "w",
    "Trigger": {"Type": "CosFileUpload", "CosFileUploadTrigger": {"Bucket": "media", "Dir": "/in/"}},
    "MediaProcessTask": {
        "TranscodeTaskSet": [{"Definition": 100010}],
        "AdaptiveDynamicStreamingTaskSet": [{"Definition": 10}],
    },
}
#: Fields under test land on ``Activities[0]``; it carries an AdaptiveDynamicStreamingTask so that
#: those of that member meet a complete object (the refusal of an unsupported member is the
#: member's own check, which needs its Definition). The DAG check refuses that input activity
#: later (``InvalidParameterValue.Activities``): every field is judged before it.
_SCHEDULE_BODY: dict[str, Any] = {
    "ScheduleName": "s",
    "Trigger": {"Type": "CosFileUpload", "CosFileUploadTrigger": {"Bucket": "media", "Dir": "/in/"}},
    "Activities": [
        {"ActivityType": "input", "ReardriveIndex": [1],
         "ActivityPara": {"AdaptiveDynamicStreamingTask": {"Definition": 10}}},
        {"ActivityType": "action-trans", "ReardriveIndex": [2],
         "ActivityPara": {"TranscodeTask": {"Definition": 100010}}},
        {"ActivityType": "output"},
    ],
}  # fmt: skip
#: A valid request per action: each field under test is merged into it, alone.
BASE: dict[str, dict[str, Any]] = {
    "ProcessMedia": {"InputInfo": COS_INPUT, "MediaProcessTask": {
        "TranscodeTaskSet": [{"Definition": 100010}],
        "SnapshotByTimeOffsetTaskSet": [{"Definition": 10, "TimeOffsetSet": [1]}],
        "SampleSnapshotTaskSet": [{"Definition": 10}],
        "ImageSpriteTaskSet": [{"Definition": 10}],
        "AnimatedGraphicTaskSet": [{"Definition": 20000, "StartTimeOffset": 0, "EndTimeOffset": 1}],
        "AdaptiveDynamicStreamingTaskSet": [{"Definition": 10}]}},
    "DescribeTaskDetail": {"TaskId": "nope"},
    "DescribeTasks": {"Status": "FINISH"},
    "ManageTask": {"TaskId": "nope", "OperationType": "Abort"},
    "DescribeMediaMetaData": {"InputInfo": COS_INPUT},
    "ParseNotification": {"Content": "{}"},
    "CreateWorkflow": _WORKFLOW_BODY,
    "ResetWorkflow": {**_WORKFLOW_BODY, "WorkflowId": 1},
    "DescribeWorkflows": {},
    # Not workflow 1: ResetWorkflow needs it Disabled and present.
    "EnableWorkflow": {"WorkflowId": 999},
    "DisableWorkflow": {"WorkflowId": 999},
    "DeleteWorkflow": {"WorkflowId": 999},
    "CreateSchedule": _SCHEDULE_BODY,
    "ModifySchedule": {"ScheduleId": 999, "Activities": _SCHEDULE_BODY["Activities"]},
    "DescribeSchedules": {},
    "EnableSchedule": {"ScheduleId": 999},
    "DisableSchedule": {"ScheduleId": 999},
    "DeleteSchedule": {"ScheduleId": 999},
    **{f"Create{kind}": body for kind, body in CREATE.items()},
    **{f"Modify{fam.kind}": {"Definition": 1_000_001} for fam in FAMILIES.values()},
    **{f"Delete{fam.kind}": {"Definition": 1_000_001} for fam in FAMILIES.values()},
    **{f"Describe{fam.kind}s": {} for fam in FAMILIES.values()},
}  # fmt: skip
ACTIONS = sorted(BASE)

_NESTED = re.compile(
    r'params\.get\("(\w+)"\) is not None:\s*\n\s*self\._\w+ = (\w+)\(\)'
    r'|for item in params\.get\("(\w+)"\):\s*\n\s*obj = (\w+)\(\)'
)
_RTYPE = re.compile(r":rtype: (.+)")
#: Codes that refuse a field of Tencent's by name (``UnknownParameter`` is for fields Tencent lacks).
REFUSALS = ("UnsupportedOperation", "InvalidParameterValue.")


@cache
def sdk_fields(class_name: str) -> dict[str, tuple[str | None, bool, str]]:
    """field -> (nested SDK class or None, is a list, scalar type) of one SDK model."""
    cls = getattr(sdk, class_name)
    nested: dict[str, tuple[str, bool]] = {}
    for one, one_cls, many, many_cls in _NESTED.findall(inspect.getsource(cls._deserialize)):
        if one:
            nested[one] = (one_cls, False)
        else:
            nested[many] = (many_cls, True)
    fields = {}
    for attr in vars(cls()):
        name = attr[1:]
        rtype = (_RTYPE.findall(getattr(cls, name).__doc__ or "") or ["str"])[0].strip()
        sub, many = nested.get(name, (None, rtype.startswith("list of ")))
        fields[name] = (sub, many, rtype.removeprefix("list of "))
    return fields


def plausible(class_name: str | None, many: bool, scalar: str) -> Any:
    """A value that asks for something: never null, "", 0, [] or {}."""
    if class_name is not None:
        name, (sub, sub_many, sub_scalar) = next(iter(sdk_fields(class_name).items()))
        value: Any = {name: plausible(sub, sub_many, sub_scalar)}
    else:
        value = {"int": 7, "float": 1.5, "bool": True}.get(scalar, "on")
    return [value] if many else value


def paths(action: str) -> list[tuple[tuple[str | int, ...], str, str, Any]]:
    """(path, SDK class, field, value) for every field reachable through honoured fields."""
    found: list[tuple[tuple[str | int, ...], str, str, Any]] = []

    def walk(class_name: str, prefix: tuple[str | int, ...], depth: int) -> None:
        for name, (sub, many, scalar) in sdk_fields(class_name).items():
            path = (*prefix, name)
            found.append((path, class_name, name, plausible(sub, many, scalar)))
            if sub is not None and name in HONOURED.get(class_name, set()) and depth < 8:
                walk(sub, (*path, 0) if many else path, depth + 1)

    walk(f"{action}Request", (), 0)
    return found


def merged(base: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    """``base`` with ``value`` set at ``path``, creating the objects and first list items on the way."""
    request = copy.deepcopy(base)
    node: Any = request
    for step, after in zip(path, path[1:], strict=False):
        if isinstance(step, int):
            while len(node) <= step:
                node.append({})
            node = node[step]
            continue
        if not isinstance(node.get(step), dict | list):
            node[step] = [] if isinstance(after, int) else {}
        node = node[step]
    node[path[-1]] = value
    return request


#: ProcessMedia running an orchestration: the fields under ``Activities`` are merged into this one
#: (a valid DAG: input -> transcode -> output) instead of a MediaProcessTask request.
ORCHESTRATION: dict[str, Any] = {
    "InputInfo": COS_INPUT,
    "Activities": [
        {"ActivityType": "input", "ReardriveIndex": [1]},
        {
            "ActivityType": "action-trans",
            "ReardriveIndex": [2],
            "ActivityPara": {"TranscodeTask": {"Definition": 100010}},
        },
        {"ActivityType": "output"},
    ],
}


def _base(action: str, path: tuple[str | int, ...]) -> dict[str, Any]:
    return ORCHESTRATION if action == "ProcessMedia" and path[:1] == ("Activities",) else BASE[action]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Api:
    api = Api(Path(tmp_path_factory.mktemp("sdk-fields")))
    register_builtin_actions(api.registry)
    assert api("CreateWorkflow", **_WORKFLOW_BODY)["WorkflowId"] == 1  # Disabled, so Reset may replace it
    return api


def _answer(api: Api, action: str, params: dict[str, Any]) -> tuple[str | None, str]:
    try:
        api(action, **params)
    except Exception as exc:  # noqa: BLE001 - every failure is judged by its wire code below
        code, message = wire_error(exc)
        return code, message
    return None, ""


def test_every_served_action_has_a_base_request() -> None:
    registered = set(register_builtin_actions(Api(Path("/nonexistent")).registry))
    ours = WORKFLOW_EXTENSIONS | SCHEDULE_EXTENSIONS | TASK_EXTENSIONS  # no SDK class to compare with
    assert set(BASE) == registered - ours


@pytest.mark.parametrize("action", ACTIONS)
def test_the_base_request_is_not_refused_for_a_field(api: Api, action: str) -> None:
    code, message = _answer(api, action, BASE[action])
    assert not (code or "").startswith(("UnknownParameter", "UnsupportedOperation")), message


@pytest.mark.parametrize("action", ACTIONS)
def test_every_sdk_field_is_honoured_or_refused_by_name(api: Api, action: str) -> None:
    silently_accepted, refused_but_honoured = [], []
    for path, class_name, name, value in paths(action):
        code, message = _answer(api, action, merged(_base(action, path), path, value))
        where = ".".join(map(str, path))
        if name in HONOURED.get(class_name, set()):
            # A value of an honoured field may be refused ("NotifyType 'on' is not supported"),
            # the field itself never.
            if code in ("UnknownParameter", "UnsupportedOperation") and f"{where} is not" in message:
                refused_but_honoured.append(f"{where}: {code} {message}")
        elif not (code and code.startswith(REFUSALS) and name in message):
            silently_accepted.append(f"{where}={value!r} -> {code} {message}")
    assert silently_accepted == [], "Tencent fields neither honoured nor refused by name"
    assert refused_but_honoured == []


@pytest.mark.parametrize("action", ACTIONS)
def test_a_field_tencent_does_not_have_is_unknown_parameter_at_every_level(api: Api, action: str) -> None:
    objects = [((), f"{action}Request")] + [
        ((*path, 0) if isinstance(value, list) else path, sdk_fields(class_name)[name][0])
        for path, class_name, name, value in paths(action)
        if sdk_fields(class_name)[name][0] is not None and name in HONOURED.get(class_name, set())
    ]
    for where, _ in objects:
        request = merged(_base(action, where), (*where, "NotATencentField"), "x")
        code, message = _answer(api, action, request)
        assert code == "UnknownParameter", f"{'.'.join(map(str, where))}: {code} {message}"
        assert "NotATencentField" in message


def test_the_honoured_table_names_only_fields_tencent_has() -> None:
    stale = {
        f"{cls}.{field}"
        for cls, fields in HONOURED.items()
        if hasattr(sdk, cls)
        for field in fields - set(sdk_fields(cls))
    }
    assert stale == set()
    assert all(hasattr(sdk, cls) for cls in HONOURED)


def test_denoising_asked_of_a_transcode_template_is_refused_and_nothing_is_stored(api: Api) -> None:
    # The example: EnhanceConfig and StdExtInfo used to succeed and be ignored.
    before = api("DescribeTranscodeTemplates", Type="Custom")["TotalCount"]
    enhance = {"VideoEnhance": {"Denoise": {"Switch": "ON", "Type": "weak"}}}

    code, message = _answer(
        api, "CreateTranscodeTemplate", {**CREATE["TranscodeTemplate"], "EnhanceConfig": enhance}
    )
    std_code, std_message = _answer(
        api, "CreateTranscodeTemplate", {**CREATE["TranscodeTemplate"], "StdExtInfo": "{}x"}
    )

    assert (code, std_code) == ("UnsupportedOperation", "UnsupportedOperation")
    assert "EnhanceConfig" in message and "StdExtInfo" in std_message
    assert api("DescribeTranscodeTemplates", Type="Custom")["TotalCount"] == before
    # An SDK model with nothing set serializes as {}: that asks for nothing and is accepted.
    assert _answer(api, "CreateTranscodeTemplate", {**CREATE["TranscodeTemplate"], "EnhanceConfig": {}}) == (
        None,
        "",
    )
