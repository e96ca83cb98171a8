"""The real API service under uvicorn, driven by the official SDK with TC3 signatures.

The handlers run against a :class:`SqlTaskStore` on SQLite in a temporary directory, a
:class:`StubBroker` (so the published work messages can be read back) and a :class:`MemoryStorage`
for watermark images. No external service is needed.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.mps.v20190612 import models, mps_client

from mps.api.handlers import ApiServices
from mps.api.service import build_api
from mps.app import build_api_app
from mps.broker.rabbitmq import RabbitmqBroker
from mps.broker.stub import StubBroker
from mps.models import MediaMetaData
from mps.runner import FakeRunner
from mps.settings import Settings
from mps.storage.memory import MemoryStorage
from mps.storage.s3 import S3Storage
from mps.store.sql import SqlTaskStore
from mps.templates import TemplateCatalog, load_presets
from mps.workflow.messages import WorkMessage
from mps.workflow.templates import StoreTemplates
from tests.apiserver import running

pytestmark = pytest.mark.integration

SECRET_ID = "AKIDservice"
SECRET_KEY = "service-secret"
REGION = "ap-guangzhou"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32


class Service:
    """The running service: its address and the twins behind it."""

    def __init__(self, host: str, services: ApiServices, broker: StubBroker) -> None:
        self.host, self.services, self.broker = host, services, broker

    def client(self, key: str = SECRET_KEY) -> mps_client.MpsClient:
        profile = ClientProfile(httpProfile=HttpProfile(protocol="http", endpoint=self.host))
        return mps_client.MpsClient(credential.Credential(SECRET_ID, key), REGION, profile)

    def work(self) -> list[WorkMessage]:
        return [WorkMessage.model_validate(m.json()) for m in self.broker.messages(self.broker.work_queue)]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The API of :func:`build_api` with auth on, over SQLite, a stub broker and memory storage."""
    tmp = tmp_path_factory.mktemp("api")
    settings = Settings(secret_id=SECRET_ID, secret_key=SECRET_KEY, work_dir=tmp)
    store = SqlTaskStore(f"sqlite:///{tmp / 'mps.db'}")
    broker = StubBroker()
    services = ApiServices(
        store=store,
        broker=broker,
        storage=MemoryStorage(),
        runner=FakeRunner(MediaMetaData()),
        templates=StoreTemplates(TemplateCatalog(load_presets()), store),
        settings=settings,
    )
    with pytest.MonkeyPatch.context() as env, running(build_api(settings, services)) as host:
        # The SDK uses requests, which honours proxy variables.
        env.setenv("NO_PROXY", "127.0.0.1,localhost")
        env.setenv("no_proxy", "127.0.0.1,localhost")
        yield Service(host, services, broker)
    store.close()


def _request(model: Any, params: dict[str, Any]) -> Any:
    request = model()
    request.from_json_string(json.dumps(params))
    return request


def _sdk_error(call: Any) -> TencentCloudSDKException:
    with pytest.raises(TencentCloudSDKException) as info:
        call()
    return info.value


def _process_request(**extra: Any) -> models.ProcessMediaRequest:
    params = {
        "InputInfo": {
            "Type": "COS",
            "CosInputInfo": {"Bucket": "media", "Region": REGION, "Object": "/in/a.mp4"},
        },
        "OutputDir": "/out/",
        "MediaProcessTask": {
            "SnapshotByTimeOffsetTaskSet": [{"Definition": 10, "TimeOffsetSet": [1.0]}],
            "TranscodeTaskSet": [{"Definition": 100010}],
            "ImageSpriteTaskSet": [{"Definition": 10}],
            "AnimatedGraphicTaskSet": [{"Definition": 20000, "StartTimeOffset": 0, "EndTimeOffset": 2}],
        },
        **extra,
    }
    request: models.ProcessMediaRequest = _request(models.ProcessMediaRequest, params)
    return request


def _process(service: Service, **extra: Any) -> str:
    task_id: str = service.client().ProcessMedia(_process_request(**extra)).TaskId
    return task_id


def test_process_media_returns_a_task_id_and_publishes_its_work(service: Service) -> None:
    before = len(service.work())

    task_id = _process(service, TasksPriority=5)

    published = [m for m in service.work()[before:] if m.task_id == task_id]
    assert sorted(m.indexes for m in published) == [(0,), (1,), (2,), (3,)]
    assert {d.priority for d in service.broker.messages(service.broker.work_queue)[before:]} == {5}


def test_describe_task_detail_shows_every_subtask_in_request_order(service: Service) -> None:
    request = _process_request(SessionContext="ctx")
    task_id = service.client().ProcessMedia(request).TaskId
    # The SDK serializes the sets in its model's order, not the caller's: that order is the request's.
    sent = [name for name, items in json.loads(request.to_json_string())["MediaProcessTask"].items() if items]
    tags = {
        "TranscodeTaskSet": "Transcode",
        "AnimatedGraphicTaskSet": "AnimatedGraphics",
        "SnapshotByTimeOffsetTaskSet": "SnapshotByTimeOffset",
        "ImageSpriteTaskSet": "ImageSprites",
    }

    detail = service.client().DescribeTaskDetail(
        _request(models.DescribeTaskDetailRequest, {"TaskId": task_id})
    )

    assert (detail.TaskType, detail.Status, detail.SessionContext) == ("WorkflowTask", "WAITING", "ctx")
    results = detail.WorkflowTask.MediaProcessResultSet
    assert [r.Type for r in results] == [tags[name] for name in sent]
    assert len(results) == 4
    by_type = {r.Type: r for r in results}
    assert by_type["ImageSprites"].ImageSpriteTask.Status == "WAITING"
    assert by_type["Transcode"].TranscodeTask.Input.Definition == 100010
    assert detail.WorkflowTask.TaskId == task_id


def test_an_unknown_task_is_task_not_found_through_the_sdk(service: Service) -> None:
    request = _request(models.DescribeTaskDetailRequest, {"TaskId": "0-WorkflowTask-nope"})

    error = _sdk_error(lambda: service.client().DescribeTaskDetail(request))

    assert error.get_code() == "ResourceNotFound.TaskNotFound"


def test_a_wrong_secret_is_a_signature_failure(service: Service) -> None:
    request = _request(models.DescribeTaskDetailRequest, {"TaskId": "x"})

    error = _sdk_error(lambda: service.client(key="wrong").DescribeTaskDetail(request))

    assert error.get_code() == "AuthFailure.SignatureFailure"


def test_describe_tasks_lists_waiting_tasks(service: Service) -> None:
    task_id = _process(service)

    listed = service.client().DescribeTasks(
        _request(models.DescribeTasksRequest, {"Status": "WAITING", "Limit": 1})
    )

    assert [t.TaskId for t in listed.TaskSet] == [task_id]
    assert listed.ScrollToken


def test_watermark_template_round_trip(service: Service) -> None:
    create = {
        "Type": "image",
        "Name": "logo",
        "CoordinateOrigin": "TopRight",
        "XPos": "10px",
        "ImageTemplate": {"ImageContent": base64.b64encode(PNG).decode(), "Width": "15%"},
    }
    created = service.client().CreateWatermarkTemplate(
        _request(models.CreateWatermarkTemplateRequest, create)
    )

    describe = {"Definitions": [created.Definition]}
    listed = service.client().DescribeWatermarkTemplates(
        _request(models.DescribeWatermarkTemplatesRequest, describe)
    )

    assert created.Definition >= 1_000_001 and created.ImageUrl.startswith("s3://")
    assert listed.TotalCount == 1
    template = listed.WatermarkTemplateSet[0]
    assert (template.Name, template.Type, template.CoordinateOrigin) == ("logo", "image", "TopRight")
    assert (template.ImageTemplate.ImageUrl, template.ImageTemplate.Width) == (created.ImageUrl, "15%")


def test_transcode_presets_are_listed_with_string_definitions(service: Service) -> None:
    params = {"Type": "Preset", "Limit": 100}
    listed = service.client().DescribeTranscodeTemplates(
        _request(models.DescribeTranscodeTemplatesRequest, params)
    )

    definitions = [t.Definition for t in listed.TranscodeTemplateSet]
    assert listed.TotalCount == len(definitions) > 0
    assert all(isinstance(d, str) for d in definitions) and "100010" in definitions
    assert {t.Type for t in listed.TranscodeTemplateSet} == {"Preset"}


def test_a_preset_cannot_be_deleted_through_the_sdk(service: Service) -> None:
    request = _request(models.DeleteTranscodeTemplateRequest, {"Definition": 100010})

    error = _sdk_error(lambda: service.client().DeleteTranscodeTemplate(request))

    assert error.get_code() == "InvalidParameterValue.DeleteDefaultTemplate"


def test_build_api_wires_the_production_services(tmp_path: Path) -> None:
    # Nothing here touches the network: RabbitMQ and S3 are reached lazily, at first use.
    app = build_api_app(Settings(database_url=f"sqlite:///{tmp_path / 'mps.db'}", queue_prefix="t"))
    services: ApiServices = app.state.services
    try:
        assert isinstance(services.store, SqlTaskStore)
        assert isinstance(services.broker, RabbitmqBroker) and services.broker.work_queue.startswith("t")
        assert isinstance(services.storage, S3Storage)
        assert services.templates.get("TranscodeTemplateSet", 100010).Definition == "100010"  # type: ignore[attr-defined]
    finally:
        services.store.close()
