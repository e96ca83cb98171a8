"""The MPS action handlers against in-memory twins: task store, broker, object store, runner."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mps.api import ActionRegistry, RequestContext
from mps.api.handlers import ApiServices, register_handlers
from mps.broker.stub import StubBroker
from mps.errors import MpsError
from mps.models import MediaMetaData
from mps.runner import FakeRunner
from mps.settings import Settings
from mps.storage.memory import MemoryStorage
from mps.store.base import TEMPLATE_LIMITS
from mps.store.memory import MemoryTaskStore
from mps.templates import FAMILIES, TemplateCatalog, load_presets
from mps.workflow.templates import StoreTemplates

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32
COS_INPUT = {"Type": "COS", "CosInputInfo": {"Bucket": "media", "Region": "r", "Object": "/in/a.mp4"}}
PROCESS: dict[str, Any] = {
    "InputInfo": COS_INPUT,
    "MediaProcessTask": {
        "TranscodeTaskSet": [{"Definition": 100010}],
        "ImageSpriteTaskSet": [{"Definition": 10}],
    },
}
#: A valid Create request per family (watermark: text; the image case has its own tests).
CREATE: dict[str, dict[str, Any]] = {
    "TranscodeTemplate": {
        "Name": "t",
        "Container": "mp4",
        "VideoTemplate": {"Codec": "h264", "Fps": 25, "Bitrate": 1000},
        "AudioTemplate": {"Codec": "aac", "Bitrate": 64, "SampleRate": 44100},
    },
    "SnapshotByTimeOffsetTemplate": {"Name": "t", "Width": 320},
    "SampleSnapshotTemplate": {"Name": "t", "SampleType": "Time", "SampleInterval": 5},
    "ImageSpriteTemplate": {
        "Name": "t", "SampleType": "Time", "SampleInterval": 5, "RowCount": 2, "ColumnCount": 2,
    },
    "AnimatedGraphicsTemplate": {"Name": "t", "Fps": 10},
    "WatermarkTemplate": {
        "Name": "t", "Type": "text", "TextTemplate": {"TextContent": "hi", "FontSize": "20px"},
    },
    "AdaptiveDynamicStreamingTemplate": {
        "Name": "t", "Format": "HLS", "SegmentType": "mp4-segment",
        "StreamInfos": [{"Video": {"Codec": "H264", "Bitrate": 800, "Height": 360},
                         "Audio": {"Codec": "aac", "Bitrate": 64, "SampleRate": 44100}}],
    },
}  # fmt: skip
KINDS = [fam.kind for fam in FAMILIES.values()]


class Api:
    """Calls handlers the way the edge does, with the twins behind them."""

    def __init__(
        self, tmp_path: Path, plan: str = "auto", clock: Callable[[], datetime] | None = None
    ) -> None:
        self.store = MemoryTaskStore(clock) if clock is not None else MemoryTaskStore()
        self.broker = StubBroker()
        self.storage = MemoryStorage(["media"])
        self.runner = FakeRunner(MediaMetaData(Duration=3.0, Container="mov,mp4", Width=64, Height=48))
        self.downloaded: list[str] = []
        self.services = ApiServices(
            store=self.store,
            broker=self.broker,
            storage=self.storage,
            runner=self.runner,
            templates=StoreTemplates(TemplateCatalog(load_presets()), self.store),
            settings=Settings(work_dir=tmp_path, plan=plan),
            download_url=self._download,
        )
        self.registry = register_handlers(ActionRegistry(), self.services)

    def _download(self, url: str, dest: Path) -> int:
        self.downloaded.append(url)
        dest.write_bytes(b"media")
        return 5

    def __call__(self, action: str, **params: Any) -> dict[str, Any]:
        result = self.registry.get(action)(params, RequestContext(request_id="r", action=action))
        assert isinstance(result, dict)
        return result

    def error(self, action: str, **params: Any) -> str:
        with pytest.raises(MpsError) as caught:
            self(action, **params)
        return caught.value.code


@pytest.fixture
def api(tmp_path: Path) -> Api:
    return Api(tmp_path)


# -- tasks -----------------------------------------------------------------------------------


def test_process_media_answers_a_task_id_and_queues_its_subtasks(api: Api) -> None:
    task_id = api("ProcessMedia", **PROCESS, TasksPriority=-3)["TaskId"]

    assert api.store.get_task(task_id).status == "WAITING"
    messages = api.broker.messages(api.broker.work_queue)
    assert [m.priority for m in messages] == [-3, -3]


@pytest.mark.parametrize(("plan", "groups"), [("split", [(0,), (1,), (2,)]), ("fused", [(0, 1, 2)]),
                                             ("auto", [(0, 1), (2,)])])  # fmt: skip
def test_process_media_groups_work_as_mps_plan_says(
    tmp_path: Path, plan: str, groups: list[tuple[int, ...]]
) -> None:
    api = Api(tmp_path, plan=plan)
    two_transcodes = {"TranscodeTaskSet": [{"Definition": 100010}, {"Definition": 100020}],
                      "ImageSpriteTaskSet": [{"Definition": 10}]}  # fmt: skip
    api("ProcessMedia", InputInfo=COS_INPUT, MediaProcessTask=two_transcodes)
    sent = [tuple(m.json()["indexes"]) for m in api.broker.messages(api.broker.work_queue)]
    assert sorted(sent) == groups


def test_process_media_refuses_a_loopback_notify_url_unless_private_addresses_are_allowed(
    api: Api,
) -> None:
    request = {
        "InputInfo": {"Type": "COS", "CosInputInfo": {"Bucket": "media", "Region": "r", "Object": "/a.mp4"}},
        "MediaProcessTask": {"SnapshotByTimeOffsetTaskSet": [{"Definition": 10, "ExtTimeOffsetSet": ["1s"]}]},
        "TaskNotifyConfig": {"NotifyType": "URL", "NotifyUrl": "http://127.0.0.1:9000/hook"},
    }
    assert api.error("ProcessMedia", **request) == "InvalidParameterValue.NotifyUrl"

    api.services.settings.url_allow_private = True
    assert api("ProcessMedia", **request)["TaskId"]


def test_process_media_refuses_an_unknown_definition_with_nothing_created(api: Api) -> None:
    request = {**PROCESS, "MediaProcessTask": {"TranscodeTaskSet": [{"Definition": 99999}]}}

    assert api.error("ProcessMedia", **request) == "ResourceNotFound.TemplateNotExist"
    assert api.store.list_tasks("WAITING")[0] == []
    assert api.broker.messages(api.broker.work_queue) == []


def test_process_media_without_input_info_is_a_missing_parameter(api: Api) -> None:
    assert api.error("ProcessMedia", MediaProcessTask=PROCESS["MediaProcessTask"]) == "MissingParameter"


def test_describe_task_detail_shows_every_subtask_waiting_in_request_order(api: Api) -> None:
    task_id = api("ProcessMedia", **PROCESS, SessionId="s", SessionContext="ctx")["TaskId"]

    detail = api("DescribeTaskDetail", TaskId=task_id)

    assert detail["TaskType"] == "WorkflowTask"
    assert detail["Status"] == "WAITING"
    assert detail["CreateTime"].endswith("Z") and detail["BeginProcessTime"] == "0000-00-00T00:00:00Z"
    assert (detail["SessionId"], detail["SessionContext"], detail["TasksPriority"]) == ("s", "ctx", 0)
    assert detail["ExtInfo"] == "" and detail["EditMediaTask"] is None
    results = detail["WorkflowTask"]["MediaProcessResultSet"]
    assert [r["Type"] for r in results] == ["Transcode", "ImageSprites"]
    assert results[1]["ImageSpriteTask"]["Status"] == "WAITING"
    assert detail["WorkflowTask"]["TaskId"] == task_id


def test_describe_task_detail_of_an_unknown_task(api: Api) -> None:
    assert api.error("DescribeTaskDetail", TaskId="nope") == "ResourceNotFound.TaskNotFound"
    assert api.error("DescribeTaskDetail") == "MissingParameter"


def test_describe_tasks_pages_newest_first_with_a_scroll_token(api: Api) -> None:
    ids = [api("ProcessMedia", **PROCESS)["TaskId"] for _ in range(3)]

    first = api("DescribeTasks", Status="WAITING", Limit="2")
    second = api("DescribeTasks", Status="WAITING", Limit=2, ScrollToken=first["ScrollToken"])

    assert [t["TaskId"] for t in first["TaskSet"] + second["TaskSet"]] == ids[::-1]
    assert (first["TotalCount"], second["TotalCount"]) == (3, 3)  # every match, not the page
    assert first["ScrollToken"] and second["ScrollToken"] == ""
    info = first["TaskSet"][0]
    assert info["TaskType"] == "WorkflowTask" and info["FinishTime"] == "0000-00-00T00:00:00Z"
    assert info["SubTaskTypes"] == ["action-trans", "action-image-sprite"]
    assert api("DescribeTasks", Status="FINISH")["TaskSet"] == []


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({}, "MissingParameter"),
        ({"Status": "DONE"}, "InvalidParameterValue.Status"),
        ({"Status": "WAITING", "Limit": 101}, "InvalidParameterValue.Limit"),
        ({"Status": "WAITING", "Limit": 0}, "InvalidParameterValue.Limit"),
        ({"Status": "WAITING", "StartTime": "yesterday"}, "InvalidParameterValue.StartTime"),
    ],
)
def test_describe_tasks_refuses_bad_filters(api: Api, params: dict[str, Any], code: str) -> None:
    assert api.error("DescribeTasks", **params) == code


def test_describe_tasks_filters_by_time(api: Api) -> None:
    api("ProcessMedia", **PROCESS)

    assert api("DescribeTasks", Status="WAITING", StartTime="2000-01-01T00:00:00Z")["TotalCount"] == 1
    assert api("DescribeTasks", Status="WAITING", EndTime="2000-01-01T00:00:00Z")["TotalCount"] == 0


def test_describe_tasks_lists_the_last_seven_days_like_tencent(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    created = [now - timedelta(days=8)]  # the store's clock: the first task is 8 days old
    api = Api(tmp_path, clock=lambda: created[-1])
    old_task = api("ProcessMedia", **PROCESS)["TaskId"]
    created.append(now - timedelta(days=6))
    recent = api("ProcessMedia", **PROCESS)["TaskId"]

    listed = api("DescribeTasks", Status="WAITING")
    assert [t["TaskId"] for t in listed["TaskSet"]] == [recent] and listed["TotalCount"] == 1
    long_ago = api("DescribeTasks", Status="WAITING", StartTime="2000-01-01T00:00:00Z")
    assert [t["TaskId"] for t in long_ago["TaskSet"]] == [recent]  # an earlier StartTime is clamped
    assert api("DescribeTaskDetail", TaskId=old_task)["Status"] == "WAITING"  # still readable


def test_manage_task_aborts_a_waiting_task_and_refuses_it_afterwards(api: Api) -> None:
    task_id = api("ProcessMedia", **PROCESS)["TaskId"]

    assert api("ManageTask", OperationType="Abort", TaskId=task_id) == {}

    detail = api("DescribeTaskDetail", TaskId=task_id)
    assert detail["Status"] == "FINISH"
    assert {r["TranscodeTask"]["Status"] for r in detail["WorkflowTask"]["MediaProcessResultSet"][:1]} == {
        "FAIL"
    }
    assert api.error("ManageTask", OperationType="Abort", TaskId=task_id) == "FailedOperation"


def test_an_aborted_task_sends_its_finish_event_to_the_exchange_and_the_notify_target(api: Api) -> None:
    notify = {"NotifyType": "URL", "NotifyUrl": "https://hooks.example.com/x", "NotifyKey": "k"}
    task_id = api("ProcessMedia", **PROCESS, TaskNotifyConfig=notify, SessionContext="ctx")["TaskId"]

    api("ManageTask", OperationType="Abort", TaskId=task_id)

    events = api.store.list_events(task_id)
    assert [(e.target.kind, e.target.name) for e in events] == [
        ("exchange", "mps.events"), ("url", "https://hooks.example.com/x"),
    ]  # fmt: skip
    payload = events[0].payload
    assert payload == events[1].payload
    assert payload["SessionContext"] == "ctx"
    workflow = payload["WorkflowTaskEvent"]
    assert (workflow["Status"], workflow["ErrCode"]) == ("FINISH", 70000)
    assert {r["Type"] for r in workflow["MediaProcessResultSet"]} == {"Transcode", "ImageSprites"}
    assert workflow["MediaProcessResultSet"][0]["TranscodeTask"]["Status"] == "FAIL"


def test_manage_task_refuses_other_operations_and_unknown_tasks(api: Api) -> None:
    task_id = api("ProcessMedia", **PROCESS)["TaskId"]

    assert (
        api.error("ManageTask", OperationType="Pause", TaskId=task_id)
        == "InvalidParameterValue.OperationType"
    )
    assert api.error("ManageTask", OperationType="Abort", TaskId="nope") == "ResourceNotFound.TaskNotFound"
    assert api.store.get_task(task_id).status == "WAITING"


# -- metadata --------------------------------------------------------------------------------


def test_describe_media_meta_data_of_a_stored_object(api: Api) -> None:
    api.storage.put_bytes("media", "in/a.mp4", b"media")

    meta = api("DescribeMediaMetaData", InputInfo=COS_INPUT)["MetaData"]

    assert (meta["Width"], meta["Height"], meta["Container"]) == (64, 48, "mov,mp4")
    assert len(api.runner.probed) == 1


def test_describe_media_meta_data_of_a_missing_object(api: Api) -> None:
    assert api.error("DescribeMediaMetaData", InputInfo=COS_INPUT) == "ResourceNotFound.DownloadError"


def test_describe_media_meta_data_of_a_url_goes_through_the_checked_downloader(api: Api) -> None:
    url_input = {"Type": "URL", "UrlInputInfo": {"Url": "https://example.com/a.mp4"}}

    assert api("DescribeMediaMetaData", InputInfo=url_input)["MetaData"]["Width"] == 64
    assert api.downloaded == ["https://example.com/a.mp4"]
    file_input = {"Type": "URL", "UrlInputInfo": {"Url": "file:///etc/passwd"}}
    assert api.error("DescribeMediaMetaData", InputInfo=file_input) == "InvalidParameterValue.InputInfo"


# -- templates -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_template_create_describe_modify_delete(api: Api, kind: str) -> None:
    definition = api(f"Create{kind}", **CREATE[kind])["Definition"]
    assert definition >= 1_000_001

    api(f"Modify{kind}", Definition=definition, Name="renamed", Comment="c")
    listed = api(f"Describe{kind}s", Definitions=[definition])
    assert listed["TotalCount"] == 1
    template = listed[f"{kind}Set"][0]
    assert int(template["Definition"]) == definition
    assert (template["Name"], template["Comment"]) == ("renamed", "c")
    assert template["CreateTime"].endswith("Z")
    if kind != "WatermarkTemplate":
        assert template["Type"] == "Custom"

    assert api(f"Delete{kind}", Definition=definition) == {}
    assert api(f"Describe{kind}s", Definitions=[definition])["TotalCount"] == 0
    assert api.error(f"Delete{kind}", Definition=definition) == "ResourceNotFound.TemplateNotExist"
    assert api.error(f"Modify{kind}", Definition=definition, Name="x") == "ResourceNotFound.TemplateNotExist"


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "WatermarkTemplate"])
def test_presets_are_listed_as_preset_and_are_read_only(api: Api, kind: str) -> None:
    custom = api(f"Create{kind}", **CREATE[kind])["Definition"]

    presets = api(f"Describe{kind}s", Type="Preset", Limit=100)
    everything = api(f"Describe{kind}s", Limit=100)

    preset = presets[f"{kind}Set"][0]
    assert preset["Type"] == "Preset"
    assert everything["TotalCount"] == presets["TotalCount"] + 1
    assert int(everything[f"{kind}Set"][-1]["Definition"]) == custom
    assert api(f"Describe{kind}s", Type="Custom")["TotalCount"] == 1
    definition = int(preset["Definition"])
    assert (
        api.error(f"Modify{kind}", Definition=definition, Name="x")
        == "InvalidParameterValue.ModifyDefaultTemplate"
    )
    assert api.error(f"Delete{kind}", Definition=definition) == "InvalidParameterValue.DeleteDefaultTemplate"


def test_transcode_definitions_are_strings_in_describe(api: Api) -> None:
    listed = api("DescribeTranscodeTemplates", Definitions=[100010, 10])

    assert [t["Definition"] for t in listed["TranscodeTemplateSet"]] == ["10", "100010"]


def test_describe_pages_presets_then_custom_templates(api: Api) -> None:
    created = [api("CreateTranscodeTemplate", **CREATE["TranscodeTemplate"])["Definition"] for _ in range(3)]
    total = api("DescribeTranscodeTemplates")["TotalCount"]

    last_page = api("DescribeTranscodeTemplates", Offset=total - 2, Limit=10)

    assert [int(t["Definition"]) for t in last_page["TranscodeTemplateSet"]] == created[1:]
    assert api("DescribeTranscodeTemplates", Name="t")["TotalCount"] == 3


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"Limit": 101}, "InvalidParameterValue.Limit"),
        ({"Offset": -1}, "InvalidParameterValue.Offset"),
        ({"Definitions": list(range(1, 102))}, "InvalidParameterValue.Definitions"),
        ({"Type": "Other"}, "InvalidParameterValue.Type"),
    ],
)
def test_describe_refuses_bad_paging(api: Api, params: dict[str, Any], code: str) -> None:
    assert api.error("DescribeSampleSnapshotTemplates", **params) == code


@pytest.mark.parametrize(
    ("kind", "params", "code"),
    [
        ("TranscodeTemplate", {"Container": "avi"}, "InvalidParameterValue.Container"),
        ("TranscodeTemplate", {"Container": "mp4"}, "InvalidParameterValue"),
        ("SampleSnapshotTemplate", {"SampleType": "Time"}, "MissingParameter"),
        ("AnimatedGraphicsTemplate", {"Fps": 31}, "InvalidParameterValue.Fps"),
        ("SnapshotByTimeOffsetTemplate", {"Name": "x" * 65}, "InvalidParameterValue.Name"),
        ("WatermarkTemplate", {"Type": "svg"}, "InvalidParameterValue.Type"),
        ("WatermarkTemplate", {"Type": "image", "ImageTemplate": {}}, "MissingParameter"),
        ("WatermarkTemplate", {"Type": "image", "ImageTemplate": {"ImageContent": "!!"}},
         "InvalidParameterValue.ImageContent"),
        ("WatermarkTemplate", {"Type": "image", "ImageTemplate": {"ImageContent": "aGVsbG8="}},
         "InvalidParameterValue.ImageContent"),
    ],
)  # fmt: skip
def test_create_refuses_invalid_templates(api: Api, kind: str, params: dict[str, Any], code: str) -> None:
    assert api.error(f"Create{kind}", **params) == code
    assert all(api.store.list_templates(family)[0] == 0 for family in TEMPLATE_LIMITS)


def test_modify_merges_nested_fields_and_revalidates(api: Api) -> None:
    definition = api("CreateTranscodeTemplate", **CREATE["TranscodeTemplate"])["Definition"]

    api("ModifyTranscodeTemplate", Definition=definition, VideoTemplate={"Bitrate": 2000})
    template = api("DescribeTranscodeTemplates", Definitions=[definition])["TranscodeTemplateSet"][0]

    assert template["VideoTemplate"]["Bitrate"] == 2000 and template["VideoTemplate"]["Fps"] == 25
    code = api.error("ModifyTranscodeTemplate", Definition=definition, VideoTemplate={"Bitrate": 5})
    assert code == "InvalidParameterValue.Bitrate"


def test_modify_resets_a_field_to_automatic_with_its_reset_value(api: Api) -> None:
    create = {
        **CREATE["TranscodeTemplate"],
        "VideoTemplate": {"Codec": "h264", "Fps": 25, "Bitrate": 0, "Vcrf": 23},
    }
    definition = api("CreateTranscodeTemplate", **create)["Definition"]

    api("ModifyTranscodeTemplate", Definition=definition, VideoTemplate={"Vcrf": 100})

    template = api("DescribeTranscodeTemplates", Definitions=[definition])["TranscodeTemplateSet"][0]
    assert "Vcrf" not in template["VideoTemplate"]


def test_image_watermark_is_stored_in_the_assets_bucket(api: Api) -> None:
    content = base64.b64encode(PNG).decode()
    image = {"ImageContent": content, "Width": "20%"}
    chosen_url = {**image, "ImageUrl": "http://169.254.169.254/x"}

    # The image's URL is the server's to choose: a request naming one is refused, not stripped.
    assert api.error("CreateWatermarkTemplate", Type="image", ImageTemplate=chosen_url) == "UnknownParameter"
    assert api("DescribeWatermarkTemplates")["TotalCount"] == 0
    created = api("CreateWatermarkTemplate", Name="logo", Type="image", ImageTemplate=image, XPos="10px")

    url = created["ImageUrl"]
    assert url.startswith("s3://mps-assets/watermarks/") and url.endswith(".png")
    bucket, key = url.removeprefix("s3://").split("/", 1)
    assert api.storage.get_bytes(bucket, key) == PNG
    template = api("DescribeWatermarkTemplates", Type="image")["WatermarkTemplateSet"][0]
    assert template["ImageTemplate"] == {
        "ImageUrl": url,
        "Width": "20%",
        "Height": "0px",
        "RepeatType": "repeat",
    }
    assert template["Type"] == "image" and template["XPos"] == "10px"
    assert api("DescribeWatermarkTemplates", Type="text")["TotalCount"] == 0
    looked_up = api.services.templates.get("WatermarkTemplateSet", created["Definition"])
    assert looked_up.ImageTemplate.ImageUrl == url  # type: ignore[attr-defined]


def test_modify_image_watermark_replaces_the_image_only_when_given(api: Api) -> None:
    image = {"ImageContent": base64.b64encode(PNG).decode()}
    created = api("CreateWatermarkTemplate", Type="image", ImageTemplate=image)

    assert (
        api("ModifyWatermarkTemplate", Definition=created["Definition"], ImageTemplate={"Width": "5%"}) == {}
    )
    jpeg = base64.b64encode(b"\xff\xd8\xff\xe0" + b"\0" * 16).decode()
    changed = api(
        "ModifyWatermarkTemplate", Definition=created["Definition"], ImageTemplate={"ImageContent": jpeg}
    )

    assert changed["ImageUrl"].endswith(".jpg")
    template = api("DescribeWatermarkTemplates")["WatermarkTemplateSet"][0]
    assert template["ImageTemplate"]["ImageUrl"] == changed["ImageUrl"]
    assert template["ImageTemplate"]["Width"] == "5%"


def test_a_full_family_is_a_limit_exceeded(api: Api) -> None:
    for _ in range(16):
        api("CreateAnimatedGraphicsTemplate", Fps=10)

    assert api.error("CreateAnimatedGraphicsTemplate", Fps=10) == "LimitExceeded.TooMuchTemplate"


def test_every_action_is_registered(api: Api) -> None:
    expected = {"ProcessMedia", "DescribeTaskDetail", "DescribeTasks", "ManageTask", "DescribeMediaMetaData"}
    for kind in KINDS:
        expected |= {f"Create{kind}", f"Modify{kind}", f"Delete{kind}", f"Describe{kind}s"}
    expected |= {f"{verb}Workflow" for verb in ("Create", "Enable", "Disable", "Delete", "Reset")}
    expected |= {"DescribeWorkflows"}
    expected |= {f"{verb}Schedule" for verb in ("Create", "Modify", "Enable", "Disable", "Delete")}
    expected |= {"DescribeSchedules"}
    expected |= {"RunWorkflow", "DescribeWorkflowTrigger", "RunSchedule"}  # ours (orchestration.md §4)
    expected |= {"DescribeTaskHistory"}  # ours (orchestration.md §5)

    assert set(api.registry) == expected
