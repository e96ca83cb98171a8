"""The workflow actions under uvicorn, driven by the official SDK with TC3 signatures.

Same set-up as ``test_api_service.py``: :func:`build_api` over a :class:`SqlTaskStore` on SQLite in
a temporary directory, a stub broker and memory storage; no external service is needed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.mps.v20190612 import models, mps_client

from mps.api.handlers import ApiServices
from mps.api.service import build_api
from mps.broker.stub import StubBroker
from mps.models import MediaMetaData
from mps.runner import FakeRunner
from mps.settings import Settings
from mps.storage.memory import MemoryStorage
from mps.store.sql import SqlTaskStore
from mps.templates import TemplateCatalog, load_presets
from mps.workflow.templates import StoreTemplates
from tests.apiserver import running

pytestmark = pytest.mark.integration

SECRET_ID = "AKIDworkflows"
SECRET_KEY = "workflow-secret"
REGION = "ap-guangzhou"
TRIGGER: dict[str, Any] = {
    "Type": "CosFileUpload",
    "CosFileUploadTrigger": {"Bucket": "media", "Region": REGION, "Dir": "/in", "Formats": ["mp4", ".MOV"]},
}
WORK: dict[str, Any] = {"TranscodeTaskSet": [{"Definition": 100010}]}


class Service:
    """The running service: an SDK client factory and the store behind it."""

    def __init__(self, host: str, store: SqlTaskStore) -> None:
        self.host, self.store = host, store

    def client(self) -> mps_client.MpsClient:
        profile = ClientProfile(httpProfile=HttpProfile(protocol="http", endpoint=self.host))
        return mps_client.MpsClient(credential.Credential(SECRET_ID, SECRET_KEY), REGION, profile)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The API of :func:`build_api` with auth on, over SQLite, a stub broker and memory storage."""
    tmp = tmp_path_factory.mktemp("workflows")
    settings = Settings(secret_id=SECRET_ID, secret_key=SECRET_KEY, work_dir=tmp)
    store = SqlTaskStore(f"sqlite:///{tmp / 'mps.db'}")
    services = ApiServices(
        store=store,
        broker=StubBroker(),
        storage=MemoryStorage(),
        runner=FakeRunner(MediaMetaData()),
        templates=StoreTemplates(TemplateCatalog(load_presets()), store),
        settings=settings,
    )
    with pytest.MonkeyPatch.context() as env, running(build_api(settings, services)) as host:
        # The SDK uses requests, which honours proxy variables.
        env.setenv("NO_PROXY", "127.0.0.1,localhost")
        env.setenv("no_proxy", "127.0.0.1,localhost")
        yield Service(host, store)
    store.close()


def _request(model: Any, params: dict[str, Any]) -> Any:
    request = model()
    request.from_json_string(json.dumps(params))
    return request


def _sdk_error(call: Callable[[], Any]) -> TencentCloudSDKException:
    with pytest.raises(TencentCloudSDKException) as info:
        call()
    return info.value


def _create(service: Service, name: str, **extra: Any) -> int:
    params = {"WorkflowName": name, "Trigger": TRIGGER, "MediaProcessTask": WORK, **extra}
    workflow_id: int = (
        service.client().CreateWorkflow(_request(models.CreateWorkflowRequest, params)).WorkflowId
    )
    return workflow_id


def _describe(service: Service, workflow_id: int) -> models.WorkflowInfo:
    request = _request(models.DescribeWorkflowsRequest, {"WorkflowIds": [workflow_id]})
    response = service.client().DescribeWorkflows(request)
    assert response.TotalCount == 1
    info: models.WorkflowInfo = response.WorkflowInfoSet[0]
    return info


def _by_id(model: Any, workflow_id: int) -> Any:
    return _request(model, {"WorkflowId": workflow_id})


def test_a_workflow_lifecycle_through_the_sdk(service: Service) -> None:
    client = service.client()
    workflow_id = _create(service, "lifecycle", TaskPriority=4)

    created = _describe(service, workflow_id)
    assert (created.WorkflowName, created.Status, created.TaskPriority) == ("lifecycle", "Disabled", 4)
    assert created.Trigger.CosFileUploadTrigger.Bucket == "media"
    assert created.MediaProcessTask.TranscodeTaskSet[0].Definition == 100010
    assert created.MediaProcessTask.ImageSpriteTaskSet == []
    assert created.AiAnalysisTask is None
    assert created.CreateTime.endswith("Z")
    assert service.store.get_workflow(workflow_id).trigger_dir == "/in/"

    client.EnableWorkflow(_by_id(models.EnableWorkflowRequest, workflow_id))
    assert _describe(service, workflow_id).Status == "Enabled"

    refused = _sdk_error(lambda: client.DeleteWorkflow(_by_id(models.DeleteWorkflowRequest, workflow_id)))
    assert refused.get_code() == "FailedOperation"

    client.DisableWorkflow(_by_id(models.DisableWorkflowRequest, workflow_id))
    reset = {
        "WorkflowId": workflow_id,
        "WorkflowName": "lifecycle-2",
        "Trigger": {"Type": "CosFileUpload", "CosFileUploadTrigger": {"Bucket": "raw", "Region": REGION}},
        "MediaProcessTask": {"SnapshotByTimeOffsetTaskSet": [{"Definition": 10, "TimeOffsetSet": [1.0]}]},
    }
    client.ResetWorkflow(_request(models.ResetWorkflowRequest, reset))
    after = _describe(service, workflow_id)
    assert (after.WorkflowName, after.Status, after.TaskPriority) == ("lifecycle-2", "Disabled", 0)
    assert after.Trigger.CosFileUploadTrigger.Bucket == "raw"
    assert after.MediaProcessTask.TranscodeTaskSet == []

    client.DeleteWorkflow(_by_id(models.DeleteWorkflowRequest, workflow_id))
    gone = _sdk_error(lambda: client.EnableWorkflow(_by_id(models.EnableWorkflowRequest, workflow_id)))
    assert gone.get_code() == "ResourceNotFound"


def test_a_duplicate_name_is_refused_through_the_sdk(service: Service) -> None:
    _create(service, "twice")

    error = _sdk_error(lambda: _create(service, "twice"))

    assert error.get_code() == "InvalidParameterValue.WorkflowName"


def test_an_unknown_definition_is_refused_at_create(service: Service) -> None:
    work = {"TranscodeTaskSet": [{"Definition": 99999}]}

    error = _sdk_error(lambda: _create(service, "unknown-template", MediaProcessTask=work))

    assert error.get_code() == "ResourceNotFound.TemplateNotExist"
    assert all(w.name != "unknown-template" for w in service.store.list_workflows(limit=100)[1])
