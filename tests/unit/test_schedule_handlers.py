"""The schedule actions (orchestration.md §1-§2) against a memory task store and the real presets."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from mps.models.schedules import CreateScheduleRequest
from mps.workflow.schedules import SCHEDULE_NOT_FOUND, stored_schedule
from tests.schedules import EXAMPLE_PREDRIVE, REFUSED, TRIGGER, chain, example, trans
from tests.unit.test_workflow_handlers import Api


@pytest.fixture
def api(tmp_path: Path) -> Api:
    return Api(tmp_path)


def _create(api: Api, name: str = "s", **params: Any) -> int:
    request = {"Trigger": TRIGGER, "Activities": example(), **params}
    schedule_id: int = api("CreateSchedule", ScheduleName=name, **request)["ScheduleId"]
    return schedule_id


def _info(api: Api, schedule_id: int) -> dict[str, Any]:
    listed = api("DescribeSchedules", ScheduleIds=[schedule_id])["ScheduleInfoSet"]
    assert len(listed) == 1
    info: dict[str, Any] = listed[0]
    return info


def test_create_stores_the_request_disabled_with_predrive_indexes(api: Api) -> None:
    sent = example()
    sent[2]["PredriveIndex"] = [5]  # computed by the server: what is sent is ignored

    schedule_id = _create(api, Activities=sent, OutputDir="/out/")

    record = api.store.get_workflow(schedule_id)
    assert (record.kind, record.status, record.name, record.trigger_bucket, record.trigger_dir) == (
        "schedule", "Disabled", "s", "media", "/in/",
    )  # fmt: skip
    assert [a["PredriveIndex"] for a in record.body["Activities"]] == EXAMPLE_PREDRIVE
    assert record.body["Activities"][1]["ActivityPara"]["ExecRulesTask"]["Rules"][0]["RearDriveIndexs"] == [2]
    assert CreateScheduleRequest.model_validate(record.body).OutputDir == "/out/"
    assert stored_schedule(api.store, schedule_id)[0] == record


def test_schedule_and_workflow_ids_share_one_sequence_and_stay_apart(api: Api) -> None:
    workflow_id = api.create("same")
    schedule_id = _create(api, "same")  # names are unique per kind

    assert schedule_id == workflow_id + 1
    assert api.error("EnableSchedule", ScheduleId=workflow_id) == SCHEDULE_NOT_FOUND
    assert api.error("DeleteSchedule", ScheduleId=workflow_id) == SCHEDULE_NOT_FOUND
    assert api.error("EnableWorkflow", WorkflowId=schedule_id) == "ResourceNotFound"
    assert api.error("DeleteWorkflow", WorkflowId=schedule_id) == "ResourceNotFound"
    assert api("DescribeWorkflows")["TotalCount"] == 1
    assert api("DescribeSchedules")["TotalCount"] == 1
    assert api.error("CreateSchedule", ScheduleName="same", Trigger=TRIGGER, Activities=example()) == (
        "InvalidParameterValue.ScheduleName"
    )


@pytest.mark.parametrize("shape", sorted(REFUSED))
def test_a_dag_that_cannot_run_is_refused_before_it_is_stored(api: Api, shape: str) -> None:
    activities, code, _ = REFUSED[shape]

    assert api.error("CreateSchedule", ScheduleName="bad", Trigger=TRIGGER, Activities=activities) == code
    assert api.store.list_workflows(kind=None)[0] == 0


def test_unknown_templates_and_bad_triggers_are_refused_at_create(api: Api) -> None:
    unknown = chain(trans(Definition=99999))
    bad_dir = {**TRIGGER, "CosFileUploadTrigger": {**TRIGGER["CosFileUploadTrigger"], "Dir": "/a/../b/"}}
    climbing = chain(trans(OutputObjectPath="../../etc/x"))

    assert api.error("CreateSchedule", ScheduleName="a", Trigger=TRIGGER, Activities=unknown) == (
        "ResourceNotFound.TemplateNotExist"
    )
    assert api.error("CreateSchedule", ScheduleName="b", Trigger=bad_dir, Activities=example()) == (
        "InvalidParameterValue.Dir"
    )
    assert api.error("CreateSchedule", ScheduleName="c", Trigger=TRIGGER, Activities=climbing).startswith(
        "InvalidParameterValue"
    )
    assert api.store.list_workflows(kind=None)[0] == 0


def test_a_timed_trigger_is_accepted_and_described_in_tencents_shape(api: Api) -> None:
    timed = {"Type": "Schedule", "ScheduleTrigger": {"IntervalSeconds": 60, "Bucket": "media", "Dir": "/in/"}}

    schedule_id = _create(api, Trigger=timed)

    assert _info(api, schedule_id)["Trigger"] == {
        "Type": "Schedule",
        "CosFileUploadTrigger": {"Bucket": "media", "Region": "", "Dir": "/in/"},
    }
    bad = {"Type": "Schedule", "ScheduleTrigger": {"Cron": "nope", "Bucket": "media"}}
    assert api.error("CreateSchedule", ScheduleName="t2", Trigger=bad, Activities=example()) == (
        "InvalidParameterValue.Trigger"
    )


def test_describe_filters_and_pages(api: Api) -> None:
    timed = {"Type": "Schedule", "ScheduleTrigger": {"IntervalSeconds": 60, "Bucket": "media"}}
    ids = [_create(api, f"s{i}", **({"Trigger": timed} if i % 2 else {})) for i in range(5)]
    api("EnableSchedule", ScheduleId=ids[0])

    def listed(**params: Any) -> tuple[int, list[int]]:
        answer = api("DescribeSchedules", **params)
        return answer["TotalCount"], [info["ScheduleId"] for info in answer["ScheduleInfoSet"]]

    assert listed() == (5, ids)
    assert listed(Limit=2, Offset=1) == (5, ids[1:3])
    assert listed(Status="Enabled") == (1, ids[:1])
    assert listed(TriggerType="Schedule") == (2, [ids[1], ids[3]])
    assert listed(TriggerType="CosFileUpload", Limit=1, Offset=1) == (3, [ids[2]])
    assert listed(ScheduleIds=[ids[4], 999]) == (1, [ids[4]])
    assert api.error("DescribeSchedules", ScheduleIds=list(range(101))) == "InvalidParameterValue.ScheduleIds"
    assert api.error("DescribeSchedules", Limit=101) == "InvalidParameterValue.Limit"


def test_describe_answers_schedules_info(api: Api) -> None:
    schedule_id = _create(api, OutputStorage={"Type": "COS", "CosOutputStorage": {"Bucket": "out"}})

    info = _info(api, schedule_id)

    assert (info["ScheduleName"], info["Type"], info["Status"], info["OutputDir"]) == (
        "s", "Custom", "Disabled", "",
    )  # fmt: skip
    assert [a["PredriveIndex"] for a in info["Activities"]] == EXAMPLE_PREDRIVE
    assert (
        info["Activities"][1]["ActivityPara"]["ExecRulesTask"]
        == example()[1]["ActivityPara"]["ExecRulesTask"]
    )
    assert info["OutputStorage"]["CosOutputStorage"]["Bucket"] == "out"
    assert info["CreateTime"].endswith("Z") and info["UpdateTime"] == info["CreateTime"]


def test_modify_replaces_the_fields_given_and_clears_output_dir(api: Api) -> None:
    schedule_id = _create(api, OutputDir="/out/")
    api.clock.now += timedelta(minutes=1)

    api("ModifySchedule", ScheduleId=schedule_id, Activities=chain(trans()), OutputDir="")

    info = _info(api, schedule_id)
    assert [a["ActivityType"] for a in info["Activities"]] == ["input", "action-trans", "output"]
    assert [a["PredriveIndex"] for a in info["Activities"]] == [[], [0], [1]]
    assert (info["OutputDir"], info["ScheduleName"]) == ("", "s")
    assert info["UpdateTime"] > info["CreateTime"]
    assert "OutputDir" not in api.store.get_workflow(schedule_id).body

    api("ModifySchedule", ScheduleId=schedule_id, ScheduleName="renamed")
    assert _info(api, schedule_id)["ScheduleName"] == "renamed"


def test_modify_checks_the_result_as_create_does(api: Api) -> None:
    schedule_id = _create(api)
    before = api.store.get_workflow(schedule_id)

    cycle = REFUSED["cycle"][0]
    assert api.error("ModifySchedule", ScheduleId=schedule_id, Activities=cycle) == (
        "InvalidParameterValue.Activities"
    )
    assert api.error("ModifySchedule", ScheduleId=schedule_id, Activities=chain(trans(Definition=99999))) == (
        "ResourceNotFound.TemplateNotExist"
    )
    _create(api, "taken")
    assert api.error("ModifySchedule", ScheduleId=schedule_id, ScheduleName="taken") == (
        "InvalidParameterValue.ScheduleName"
    )
    assert api.error("ModifySchedule", ScheduleId=999, ScheduleName="x") == SCHEDULE_NOT_FOUND
    assert api.store.get_workflow(schedule_id) == before


def test_enabled_schedules_are_neither_modified_nor_deleted(api: Api) -> None:
    schedule_id = _create(api)
    api("EnableSchedule", ScheduleId=schedule_id)
    api("EnableSchedule", ScheduleId=schedule_id)  # a no-op

    assert api.error("ModifySchedule", ScheduleId=schedule_id, ScheduleName="x") == "FailedOperation"
    assert api.error("DeleteSchedule", ScheduleId=schedule_id) == "FailedOperation"
    assert _info(api, schedule_id)["Status"] == "Enabled"

    api("DisableSchedule", ScheduleId=schedule_id)
    api("DeleteSchedule", ScheduleId=schedule_id)
    assert api.error("DisableSchedule", ScheduleId=schedule_id) == SCHEDULE_NOT_FOUND
    assert api("DescribeSchedules")["TotalCount"] == 0


def test_enable_checks_the_stored_schedule_again(api: Api) -> None:
    created = api(
        "CreateTranscodeTemplate", Container="mp4", RemoveVideo=0, RemoveAudio=0,
        VideoTemplate={"Codec": "libx264", "Fps": 25, "Bitrate": 500, "Height": 360},
        AudioTemplate={"Codec": "libfdk_aac", "Bitrate": 64, "SampleRate": 44100},
    )  # fmt: skip
    definition = created["Definition"]
    schedule_id = _create(api, Activities=chain(trans(Definition=definition)))
    api("DeleteTranscodeTemplate", Definition=definition)

    assert api.error("EnableSchedule", ScheduleId=schedule_id) == "ResourceNotFound.TemplateNotExist"
    assert _info(api, schedule_id)["Status"] == "Disabled"


def test_run_schedule_needs_an_enabled_schedule(api: Api) -> None:
    schedule_id = _create(api)

    assert api.error("RunSchedule", ScheduleId=schedule_id) == "FailedOperation"
    assert api.error("RunSchedule", ScheduleId=12345) == SCHEDULE_NOT_FOUND
    api("EnableSchedule", ScheduleId=schedule_id)
    api.services.storage.ensure_bucket("media")
    assert api("RunSchedule", ScheduleId=schedule_id) == {"TaskCount": 0}  # an empty bucket
