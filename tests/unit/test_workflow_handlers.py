"""The workflow actions (mps-api.md §9) against a memory task store and the real presets."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mps.api import ActionRegistry, RequestContext
from mps.api.handlers import ApiServices, register_handlers
from mps.api.handlers.workflows import WORKFLOW_ENABLED, WORKFLOW_NOT_FOUND
from mps.broker.stub import StubBroker
from mps.errors import MpsError
from mps.models import MediaMetaData
from mps.models.workflows import ECHOED_TASK_SETS, UNSUPPORTED_WORKFLOW_FIELDS, CreateWorkflowRequest
from mps.runner import FakeRunner
from mps.settings import Settings
from mps.storage.memory import MemoryStorage
from mps.store.memory import MemoryTaskStore
from mps.templates import TemplateCatalog, load_presets
from mps.workflow.templates import StoreTemplates
from mps.workflow.triggers import DEFAULT_FORMATS, trigger_rule

TRIGGER: dict[str, Any] = {
    "Type": "CosFileUpload",
    "CosFileUploadTrigger": {"Bucket": "media", "Region": "ap-guangzhou", "Dir": "/in/", "Formats": ["mp4"]},
}
WORK: dict[str, Any] = {
    "TranscodeTaskSet": [{"Definition": 100010}],
    "SnapshotByTimeOffsetTaskSet": [{"Definition": 10, "TimeOffsetSet": [1.0]}],
}
#: Work naming a Definition that is neither a preset nor a custom template.
UNKNOWN_WORK: dict[str, Any] = {"TranscodeTaskSet": [{"Definition": 99999}]}
T0 = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


class Clock:
    """A settable clock for the store, so update times can be told apart."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class Api:
    """Calls the registered handlers as the edge does."""

    def __init__(self, tmp_path: Path) -> None:
        self.clock = Clock()
        self.store = MemoryTaskStore(clock=self.clock)
        self.services = ApiServices(
            store=self.store,
            broker=StubBroker(),
            storage=MemoryStorage(),
            runner=FakeRunner(MediaMetaData()),
            templates=StoreTemplates(TemplateCatalog(load_presets()), self.store),
            settings=Settings(work_dir=tmp_path),
        )
        self.registry = register_handlers(ActionRegistry(), self.services)

    def __call__(self, action: str, **params: Any) -> dict[str, Any]:
        result = self.registry.get(action)(params, RequestContext(request_id="r", action=action))
        assert isinstance(result, dict)
        return result

    def error(self, action: str, **params: Any) -> str:
        with pytest.raises(MpsError) as caught:
            self(action, **params)
        return caught.value.code

    def create(self, name: str = "w", **params: Any) -> int:
        request = {"Trigger": TRIGGER, "MediaProcessTask": WORK, **params}
        workflow_id: int = self("CreateWorkflow", WorkflowName=name, **request)["WorkflowId"]
        return workflow_id

    def info(self, workflow_id: int) -> dict[str, Any]:
        listed = self("DescribeWorkflows", WorkflowIds=[workflow_id])["WorkflowInfoSet"]
        assert len(listed) == 1
        info: dict[str, Any] = listed[0]
        return info


@pytest.fixture
def api(tmp_path: Path) -> Api:
    return Api(tmp_path)


def _trigger(**fields: Any) -> dict[str, Any]:
    return {"Type": "CosFileUpload", "CosFileUploadTrigger": {"Bucket": "media", "Region": "r", **fields}}


# -- CreateWorkflow --------------------------------------------------------------------------


def test_create_answers_an_int_id_and_stores_the_request_disabled(api: Api) -> None:
    workflow_id = api.create(TaskPriority=3, OutputDir="/out/")

    record = api.store.get_workflow(workflow_id)
    assert isinstance(workflow_id, int)
    assert (record.name, record.status, record.trigger_bucket, record.trigger_dir) == (
        "w", "Disabled", "media", "/in/",
    )  # fmt: skip
    # The body is the request's wire JSON: the listener parses it back as a CreateWorkflow request.
    parsed = CreateWorkflowRequest.model_validate(record.body)
    assert record.body == parsed.to_wire()
    assert (parsed.WorkflowName, parsed.TaskPriority, parsed.OutputDir) == ("w", 3, "/out/")


def test_create_stores_the_normalised_dir_for_the_listener(api: Api) -> None:
    nested = api.create("nested", Trigger=_trigger(Dir="/in/sub"))
    whole = api.create("whole", Trigger=_trigger())

    assert api.store.get_workflow(nested).trigger_dir == "/in/sub/"
    assert api.store.get_workflow(whole).trigger_dir == "/"


def test_create_with_an_aws_trigger_watches_its_s3_bucket(api: Api) -> None:
    trigger = {"Type": "AwsS3FileUpload", "AwsS3FileUploadTrigger": {"S3Bucket": "raw", "S3Region": "x"}}

    record = api.store.get_workflow(api.create(Trigger=trigger))

    assert (record.trigger_bucket, record.trigger_dir) == ("raw", "/")


def test_absent_formats_are_echoed_as_given_and_mean_the_default_set(api: Api) -> None:
    absent = api.create("absent", Trigger=_trigger())
    blank = api.create("blank", Trigger=_trigger(Formats=[""]))

    absent_trigger = api.info(absent)["Trigger"]["CosFileUploadTrigger"]
    blank_trigger = api.info(blank)["Trigger"]["CosFileUploadTrigger"]
    assert "Formats" not in absent_trigger
    assert blank_trigger["Formats"] == [""]
    for workflow_id in (absent, blank):
        body = CreateWorkflowRequest.model_validate(api.store.get_workflow(workflow_id).body)
        assert trigger_rule(body.Trigger).formats == DEFAULT_FORMATS


def test_a_duplicate_name_is_refused(api: Api) -> None:
    api.create("same")

    assert api.error("CreateWorkflow", WorkflowName="same", Trigger=TRIGGER, MediaProcessTask=WORK) == (
        "InvalidParameterValue.WorkflowName"
    )
    assert api.store.list_workflows()[0] == 1


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"WorkflowName": "x" * 129}, "InvalidParameterValue.WorkflowName"),
        ({"WorkflowName": None}, "MissingParameter"),
        ({"Trigger": None}, "MissingParameter"),
        ({"Trigger": {"Type": "CosFileUpload"}}, "InvalidParameterValue.Trigger"),
        ({"Trigger": _trigger(Dir="in/")}, "InvalidParameterValue.Dir"),
        ({"Trigger": _trigger(Dir="/in/../x/")}, "InvalidParameterValue.Dir"),
        ({"Trigger": _trigger(Formats=["mp4", "m p4"])}, "InvalidParameterValue.Formats"),
        ({"TaskPriority": 11}, "InvalidParameterValue.TaskPriority"),
        ({"OutputDir": "out"}, "InvalidParameterValue.OutputDir"),
        ({"MediaProcessTask": None}, "MissingParameter"),
        ({"MediaProcessTask": UNKNOWN_WORK}, "ResourceNotFound.TemplateNotExist"),
        ({"AiAnalysisTask": {"Definition": 10}}, "UnsupportedOperation"),
        ({"TaskNotifyConfig": {"NotifyType": "SCF"}}, "UnsupportedOperation"),
        ({"TaskNotifyConfig": {"NotifyType": "URL"}}, "InvalidParameterValue.NotifyUrl"),
        ({"OutputDir": "/out/../up/"}, "InvalidParameterValue.OutputDir"),
    ],
)  # fmt: skip
def test_a_workflow_that_could_never_run_is_refused_and_not_stored(
    api: Api, params: dict[str, Any], code: str
) -> None:
    request = {"WorkflowName": "w", "Trigger": TRIGGER, "MediaProcessTask": WORK, **params}

    assert api.error("CreateWorkflow", **{k: v for k, v in request.items() if v is not None}) == code
    assert api.store.list_workflows()[0] == 0


def test_a_workflow_notify_url_on_a_private_address_is_refused_on_create_and_reset(api: Api) -> None:
    private = {"NotifyType": "URL", "NotifyUrl": "http://10.0.0.5/hook"}
    workflow_id = api.create()

    assert api.error("CreateWorkflow", WorkflowName="w2", Trigger=TRIGGER, MediaProcessTask=WORK,
                     TaskNotifyConfig=private) == "InvalidParameterValue.NotifyUrl"  # fmt: skip
    request = {"WorkflowName": "r", "Trigger": TRIGGER, "MediaProcessTask": WORK, "TaskNotifyConfig": private}
    assert api.error("ResetWorkflow", WorkflowId=workflow_id, **request) == "InvalidParameterValue.NotifyUrl"
    assert api.store.list_workflows()[0] == 1
    assert api.info(workflow_id).get("TaskNotifyConfig") in (None, {})

    # Allowed when the deployment says so
    api.services.settings.url_allow_private = True
    assert api("ResetWorkflow", WorkflowId=workflow_id, **request) == {}


def test_the_stored_body_is_a_copy_of_the_request(api: Api) -> None:
    work = copy.deepcopy(WORK)
    workflow_id = api.create(MediaProcessTask=work)

    work["TranscodeTaskSet"][0]["Definition"] = 99999

    info = api.info(workflow_id)
    assert info["MediaProcessTask"]["TranscodeTaskSet"][0]["Definition"] == 100010


# -- DescribeWorkflows ---------------------------------------------------------------------------


def test_describe_echoes_every_task_set_ai_nulls_and_iso_times(api: Api) -> None:
    notify = {"NotifyType": "URL", "NotifyUrl": "http://hook.example/mps"}
    workflow_id = api.create(TaskNotifyConfig=notify, TaskPriority=-2)

    info = api.info(workflow_id)

    assert (info["WorkflowId"], info["WorkflowName"], info["Status"]) == (workflow_id, "w", "Disabled")
    assert info["Trigger"] == TRIGGER
    assert list(info["MediaProcessTask"]) == list(ECHOED_TASK_SETS)
    assert info["MediaProcessTask"]["ImageSpriteTaskSet"] == []
    assert info["MediaProcessTask"]["AdaptiveDynamicStreamingTaskSet"] == []
    assert info["MediaProcessTask"]["TranscodeTaskSet"][0]["Definition"] == 100010
    assert {name: info[name] for name in UNSUPPORTED_WORKFLOW_FIELDS} == dict.fromkeys(
        UNSUPPORTED_WORKFLOW_FIELDS
    )
    assert info["TaskNotifyConfig"]["NotifyUrl"] == notify["NotifyUrl"]
    assert info["TaskPriority"] == -2
    assert info["CreateTime"] == info["UpdateTime"] == "2024-05-06T07:08:09Z"


def test_describe_filters_by_status_and_ids_and_pages_by_id(api: Api) -> None:
    ids = [api.create(f"w{n}") for n in range(12)]
    api("EnableWorkflow", WorkflowId=ids[3])

    everything = api("DescribeWorkflows")
    second_page = api("DescribeWorkflows", Offset=10, Limit=5)
    enabled = api("DescribeWorkflows", Status="Enabled")
    chosen = api("DescribeWorkflows", WorkflowIds=[ids[5], ids[1]], Status="Disabled")

    assert everything["TotalCount"] == 12 and len(everything["WorkflowInfoSet"]) == 10
    assert [w["WorkflowId"] for w in second_page["WorkflowInfoSet"]] == ids[10:]
    assert [w["WorkflowId"] for w in enabled["WorkflowInfoSet"]] == [ids[3]]
    assert enabled["TotalCount"] == 1
    assert [w["WorkflowId"] for w in chosen["WorkflowInfoSet"]] == [ids[1], ids[5]]


def test_describe_reads_string_values_and_empty_filters(api: Api) -> None:
    workflow_id = api.create()

    listed = api("DescribeWorkflows", WorkflowIds=[], Status="", Offset="0", Limit="1")

    assert [w["WorkflowId"] for w in listed["WorkflowInfoSet"]] == [workflow_id]


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"WorkflowIds": list(range(1, 102))}, "InvalidParameterValue.WorkflowIds"),
        ({"Status": "On"}, "InvalidParameterValue.Status"),
        ({"Limit": 101}, "InvalidParameterValue.Limit"),
        ({"Limit": 0}, "InvalidParameterValue.Limit"),
        ({"Offset": -1}, "InvalidParameterValue.Offset"),
    ],
)
def test_describe_refuses_bad_filters(api: Api, params: dict[str, Any], code: str) -> None:
    assert api.error("DescribeWorkflows", **params) == code


# -- Enable / Disable / Delete -------------------------------------------------------------------


def test_enable_and_disable_switch_the_status_and_bump_the_update_time(api: Api) -> None:
    workflow_id = api.create()
    api.clock.now = T0 + timedelta(minutes=1)

    api("EnableWorkflow", WorkflowId=workflow_id)
    enabled = api.info(workflow_id)
    api("EnableWorkflow", WorkflowId=str(workflow_id))  # again: still Enabled, no error
    api("DisableWorkflow", WorkflowId=workflow_id)

    assert (enabled["Status"], enabled["UpdateTime"]) == ("Enabled", "2024-05-06T07:09:09Z")
    assert enabled["CreateTime"] == "2024-05-06T07:08:09Z"
    assert api.info(workflow_id)["Status"] == "Disabled"


def test_an_enabled_workflow_is_what_the_listener_finds(api: Api) -> None:
    workflow_id = api.create()
    api.create("other")
    api("EnableWorkflow", WorkflowId=workflow_id)

    total, records = api.store.list_workflows(status="Enabled", trigger_bucket="media")

    assert total == 1 and records[0].workflow_id == workflow_id


def test_delete_is_refused_while_enabled_and_allowed_once_disabled(api: Api) -> None:
    workflow_id = api.create()
    api("EnableWorkflow", WorkflowId=workflow_id)

    assert api.error("DeleteWorkflow", WorkflowId=workflow_id) == WORKFLOW_ENABLED == "FailedOperation"
    assert api.store.get_workflow(workflow_id).status == "Enabled"

    api("DisableWorkflow", WorkflowId=workflow_id)
    assert api("DeleteWorkflow", WorkflowId=workflow_id) == {}
    assert api("DescribeWorkflows")["TotalCount"] == 0


def test_enable_refuses_a_workflow_whose_template_was_deleted(api: Api) -> None:
    definition = api("CreateSnapshotByTimeOffsetTemplate", Name="s", Width=320)["Definition"]
    work = {"SnapshotByTimeOffsetTaskSet": [{"Definition": definition, "TimeOffsetSet": [1.0]}]}
    workflow_id = api.create(MediaProcessTask=work)
    api("DeleteSnapshotByTimeOffsetTemplate", Definition=definition)

    assert api.error("EnableWorkflow", WorkflowId=workflow_id) == "ResourceNotFound.TemplateNotExist"
    assert api.store.get_workflow(workflow_id).status == "Disabled"


@pytest.mark.parametrize("action", ["EnableWorkflow", "DisableWorkflow", "DeleteWorkflow"])
def test_an_unknown_workflow_id_is_resource_not_found(api: Api, action: str) -> None:
    assert api.error(action, WorkflowId=404) == WORKFLOW_NOT_FOUND == "ResourceNotFound"


@pytest.mark.parametrize("action", ["EnableWorkflow", "DisableWorkflow", "DeleteWorkflow"])
def test_a_workflow_id_is_required_and_positive(api: Api, action: str) -> None:
    assert api.error(action) == "MissingParameter"
    assert api.error(action, WorkflowId=0) == "InvalidParameterValue.WorkflowId"


# -- ResetWorkflow -----------------------------------------------------------------------------


def _reset(api: Api, workflow_id: int, **params: Any) -> dict[str, Any]:
    request = {"WorkflowName": "renamed", "Trigger": _trigger(Bucket="other", Dir="/x"), **params}
    return api("ResetWorkflow", WorkflowId=workflow_id, **request)


def test_reset_replaces_everything_but_id_status_and_create_time(api: Api) -> None:
    workflow_id = api.create(TaskPriority=5, OutputDir="/out/")
    api.clock.now = T0 + timedelta(hours=1)

    _reset(api, workflow_id, MediaProcessTask={"ImageSpriteTaskSet": [{"Definition": 10}]})

    record = api.store.get_workflow(workflow_id)
    info = api.info(workflow_id)
    assert (record.name, record.status, record.trigger_bucket, record.trigger_dir) == (
        "renamed", "Disabled", "other", "/x/",
    )  # fmt: skip
    assert "WorkflowId" not in record.body and record.body["WorkflowName"] == "renamed"
    assert (info["TaskPriority"], info["OutputDir"]) == (0, "")
    assert info["MediaProcessTask"]["TranscodeTaskSet"] == []
    assert info["MediaProcessTask"]["ImageSpriteTaskSet"] == [{"Definition": 10}]
    assert (info["CreateTime"], info["UpdateTime"]) == ("2024-05-06T07:08:09Z", "2024-05-06T08:08:09Z")


def test_reset_is_refused_while_enabled(api: Api) -> None:
    workflow_id = api.create()
    api("EnableWorkflow", WorkflowId=workflow_id)

    with pytest.raises(MpsError) as caught:
        _reset(api, workflow_id, MediaProcessTask=WORK)

    assert caught.value.code == "FailedOperation"
    assert api.store.get_workflow(workflow_id).name == "w"


def test_reset_keeps_names_unique_but_may_keep_its_own(api: Api) -> None:
    workflow_id = api.create("mine")
    api.create("theirs")

    _reset(api, workflow_id, WorkflowName="mine", MediaProcessTask=WORK)
    with pytest.raises(MpsError) as caught:
        _reset(api, workflow_id, WorkflowName="theirs", MediaProcessTask=WORK)

    assert caught.value.code == "InvalidParameterValue.WorkflowName"
    assert api.store.get_workflow(workflow_id).name == "mine"


def test_reset_validates_like_create_and_changes_nothing_when_refused(api: Api) -> None:
    workflow_id = api.create()

    with pytest.raises(MpsError) as unknown:
        _reset(api, workflow_id, MediaProcessTask=UNKNOWN_WORK)
    with pytest.raises(MpsError) as bad_dir:
        _reset(api, workflow_id, MediaProcessTask=WORK, Trigger=_trigger(Dir="rel/"))

    assert (unknown.value.code, bad_dir.value.code) == (
        "ResourceNotFound.TemplateNotExist", "InvalidParameterValue.Dir",
    )  # fmt: skip
    assert api.store.get_workflow(workflow_id).trigger_bucket == "media"


@pytest.mark.parametrize("missing", ["WorkflowId", "WorkflowName", "Trigger"])
def test_reset_requires_id_name_and_trigger(api: Api, missing: str) -> None:
    workflow_id = api.create()
    request = {"WorkflowId": workflow_id, "WorkflowName": "w", "Trigger": TRIGGER, "MediaProcessTask": WORK}
    del request[missing]

    assert api.error("ResetWorkflow", **request) == "MissingParameter"


def test_reset_of_an_unknown_workflow_is_resource_not_found(api: Api) -> None:
    with pytest.raises(MpsError) as caught:
        _reset(api, 404, MediaProcessTask=WORK)

    assert caught.value.code == "ResourceNotFound"
