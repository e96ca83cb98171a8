"""The schedule actions under uvicorn, driven by the official SDK with TC3 signatures.

Same set-up as ``test_workflow_api_sdk.py`` (SQLite in a temporary directory, a stub broker,
memory storage). Every answer is read by the SDK's typed models; pytest turns the SDK's warnings
about fields it does not know into errors, so an answer with a field Tencent lacks fails here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tencentcloud.mps.v20190612 import models

from mps.workflow.schedules import SCHEDULE_NOT_FOUND
from tests.integration.test_workflow_api_sdk import Service, _request, _sdk_error
from tests.integration.test_workflow_api_sdk import service as _service
from tests.schedules import EXAMPLE_PREDRIVE, REFUSED, TRIGGER, chain, example, trans

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    yield from _service.__wrapped__(tmp_path_factory)  # type: ignore[attr-defined]


def _create(service: Service, name: str, **extra: Any) -> int:
    params = {"ScheduleName": name, "Trigger": TRIGGER, "Activities": example(), **extra}
    schedule_id: int = (
        service.client().CreateSchedule(_request(models.CreateScheduleRequest, params)).ScheduleId
    )
    return schedule_id


def _describe(service: Service, schedule_id: int) -> models.SchedulesInfo:
    response = service.client().DescribeSchedules(
        _request(models.DescribeSchedulesRequest, {"ScheduleIds": [schedule_id]})
    )
    assert response.TotalCount == 1
    info: models.SchedulesInfo = response.ScheduleInfoSet[0]
    return info


def _by_id(model: Any, schedule_id: int) -> Any:
    return _request(model, {"ScheduleId": schedule_id})


def test_a_schedule_lifecycle_through_the_sdk(service: Service) -> None:
    client = service.client()
    schedule_id = _create(service, "lifecycle", OutputDir="/out/")

    created = _describe(service, schedule_id)
    assert (created.ScheduleName, created.Status, created.Type, created.OutputDir) == (
        "lifecycle", "Disabled", "Custom", "/out/",
    )  # fmt: skip
    assert created.Trigger.CosFileUploadTrigger.Dir == "/in/"
    assert [a.PredriveIndex for a in created.Activities] == EXAMPLE_PREDRIVE
    rules = created.Activities[1].ActivityPara.ExecRulesTask.Rules
    assert (rules[0].Conditions[0].Key, rules[0].Conditions[0].Value, rules[0].RearDriveIndexs) == (
        "Height", ">=720", [2],
    )  # fmt: skip
    assert created.Activities[2].ActivityPara.TranscodeTask.Definition == 100030
    assert created.CreateTime.endswith("Z")
    assert service.store.get_workflow(schedule_id).kind == "schedule"

    client.EnableSchedule(_by_id(models.EnableScheduleRequest, schedule_id))
    assert _describe(service, schedule_id).Status == "Enabled"
    for refused in (
        lambda: client.DeleteSchedule(_by_id(models.DeleteScheduleRequest, schedule_id)),
        lambda: client.ModifySchedule(
            _request(models.ModifyScheduleRequest, {"ScheduleId": schedule_id, "ScheduleName": "x"})
        ),
    ):
        assert _sdk_error(refused).get_code() == "FailedOperation"

    client.DisableSchedule(_by_id(models.DisableScheduleRequest, schedule_id))
    modify = {
        "ScheduleId": schedule_id,
        "ScheduleName": "lifecycle-2",
        "Activities": chain(trans()),
        "OutputDir": "",
    }
    client.ModifySchedule(_request(models.ModifyScheduleRequest, modify))
    after = _describe(service, schedule_id)
    assert (after.ScheduleName, after.OutputDir, len(after.Activities)) == ("lifecycle-2", "", 3)
    assert [a.PredriveIndex for a in after.Activities] == [[], [0], [1]]

    client.DeleteSchedule(_by_id(models.DeleteScheduleRequest, schedule_id))
    gone = _sdk_error(lambda: client.EnableSchedule(_by_id(models.EnableScheduleRequest, schedule_id)))
    assert gone.get_code() == SCHEDULE_NOT_FOUND


def test_describe_filters_through_the_sdk(service: Service) -> None:
    timed = {"Type": "Schedule", "ScheduleTrigger": {"IntervalSeconds": 60, "Bucket": "media", "Dir": "/t/"}}
    upload_id = _create(service, "filter-upload")
    timed_id = service.client().call_json(
        "CreateSchedule", {"ScheduleName": "filter-timed", "Trigger": timed, "Activities": example()}
    )["Response"]["ScheduleId"]

    response = service.client().DescribeSchedules(
        _request(
            models.DescribeSchedulesRequest, {"ScheduleIds": [upload_id, timed_id], "TriggerType": "Schedule"}
        )
    )

    assert response.TotalCount == 1
    described = response.ScheduleInfoSet[0]
    assert (described.ScheduleId, described.Trigger.Type) == (timed_id, "Schedule")
    assert described.Trigger.CosFileUploadTrigger.Dir == "/t/"  # Tencent's shape, no ScheduleTrigger


def test_a_workflow_id_is_not_a_schedule_id(service: Service) -> None:
    workflow = {"WorkflowName": "not-a-schedule", "Trigger": TRIGGER,
                "MediaProcessTask": {"TranscodeTaskSet": [{"Definition": 100010}]}}  # fmt: skip
    workflow_id = service.client().CreateWorkflow(_request(models.CreateWorkflowRequest, workflow)).WorkflowId

    error = _sdk_error(
        lambda: service.client().EnableSchedule(_by_id(models.EnableScheduleRequest, workflow_id))
    )

    assert error.get_code() == SCHEDULE_NOT_FOUND


@pytest.mark.parametrize("shape", sorted(REFUSED))
def test_every_refused_dag_shape_through_the_sdk(service: Service, shape: str) -> None:
    activities, code, piece = REFUSED[shape]

    error = _sdk_error(lambda: _create(service, f"refused-{shape}", Activities=activities))

    assert error.get_code() == code
    assert piece in error.get_message()
    names = [r.name for r in service.store.list_workflows(limit=100, kind="schedule")[1]]
    assert f"refused-{shape}" not in names


def test_an_unknown_definition_is_refused_at_create(service: Service) -> None:
    error = _sdk_error(
        lambda: _create(service, "unknown-template", Activities=chain(trans(Definition=99999)))
    )

    assert error.get_code() == "ResourceNotFound.TemplateNotExist"
    assert "activity 1" in error.get_message()
