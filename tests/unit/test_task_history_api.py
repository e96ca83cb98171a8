"""``DescribeTaskHistory`` (ours, orchestration.md §5) over real HTTP: the API under uvicorn with TC3
on, the official SDK's ``CommonClient.call_json``, and a worker (real ffmpeg, memory twins)
running what ``ProcessMedia`` queued."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tencentcloud.common import credential
from tencentcloud.common.common_client import CommonClient
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile

from mps.api.handlers import ApiServices
from mps.api.service import build_api
from mps.models import MediaMetaData
from mps.runner import FakeRunner
from mps.settings import Settings
from mps.templates import TemplateCatalog, load_presets
from mps.worker.handler import worker_host
from mps.workflow.templates import StoreTemplates
from tests.apiserver import running
from tests.unit.test_worker import BAD_CODEC, BUCKET, SNAPSHOT, World

SECRET = ("AKIDhistory", "history-secret")
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


class Served:
    """The worker's world behind a running API, and an SDK client for it."""

    def __init__(self, world: World, host: str) -> None:
        self.world = world
        profile = ClientProfile(httpProfile=HttpProfile(protocol="http", endpoint=host))
        self.client = CommonClient(
            "mps", "2019-06-12", credential.Credential(*SECRET), "ap-guangzhou", profile
        )

    def __call__(self, action: str, **params: Any) -> dict[str, Any]:
        answer: dict[str, Any] = self.client.call_json(action, params)["Response"]
        return answer


@pytest.fixture
def served(tmp_path: Path, clip: Callable[..., Path]) -> Iterator[Served]:
    world = World(tmp_path, clip(duration=1.0, width=160, height=120).read_bytes())
    settings = Settings(secret_id=SECRET[0], secret_key=SECRET[1], work_dir=tmp_path / "api")
    services = ApiServices(
        store=world.store, broker=world.broker, storage=world.storage, runner=FakeRunner(MediaMetaData()),
        templates=StoreTemplates(TemplateCatalog(load_presets()), world.store), settings=settings,
    )  # fmt: skip
    with pytest.MonkeyPatch.context() as env, running(build_api(settings, services)) as host:
        env.setenv("NO_PROXY", "127.0.0.1,localhost")
        env.setenv("no_proxy", "127.0.0.1,localhost")
        yield Served(world, host)


def test_describe_task_history_answers_the_run_in_order_over_http(served: Served) -> None:
    task_id = served(
        "ProcessMedia",
        InputInfo={
            "Type": "COS",
            "CosInputInfo": {"Bucket": BUCKET, "Region": "r1", "Object": "/in/clip.mp4"},
        },
        OutputDir="/out/",
        MediaProcessTask={"TranscodeTaskSet": [BAD_CODEC], "SnapshotByTimeOffsetTaskSet": [SNAPSHOT]},
    )["TaskId"]
    queued = served("DescribeTaskHistory", TaskId=task_id)
    assert [e["Event"] for e in queued["Events"]] == ["created", "ready", "ready"]

    world = served.world
    with world.broker.consumer(world.broker.work_queue, world.handler, prefetch=1):
        world.broker.join(world.broker.work_queue, timeout=60)
    answer = served("DescribeTaskHistory", TaskId=task_id)

    assert answer["TaskId"] == task_id and set(answer) == {"TaskId", "Events", "RequestId"}
    events = answer["Events"]
    assert [e["Seq"] for e in events] == list(range(1, len(events) + 1))
    assert all(set(e) == {"Seq", "Time", "Event", "SubTaskIndex", "Attempt", "Detail"} for e in events)
    assert all(TIME.match(e["Time"]) for e in events)
    by_event = {(e["Event"], e["SubTaskIndex"]): e for e in events}
    assert (
        by_event[("started", 0)]["Attempt"] == 1
        and by_event[("started", 0)]["Detail"]["Host"] == worker_host()
    )
    failed = by_event[("failed", 0)]
    assert failed["Attempt"] == 1 and failed["Detail"]["ErrCode"] != 0 and failed["Detail"]["Message"]
    assert by_event[("succeeded", 1)]["Attempt"] == 1
    assert events[-1]["Event"] == "finished" and events[-1]["Detail"]["ErrCode"] == 0
    assert ("probed", None) in by_event
    # The history agrees with DescribeTaskDetail: FINISH, sub-task 0 failed with the same ErrCode.
    detail = served("DescribeTaskDetail", TaskId=task_id)
    transcode = detail["WorkflowTask"]["MediaProcessResultSet"][0]["TranscodeTask"]
    assert detail["Status"] == "FINISH" and transcode["ErrCode"] == failed["Detail"]["ErrCode"]


def test_the_history_of_an_unknown_task_is_task_not_found_over_http(served: Served) -> None:
    with pytest.raises(TencentCloudSDKException) as err:
        served("DescribeTaskHistory", TaskId="0-WorkflowTask-nosuchtaskt0")
    assert err.value.code == "ResourceNotFound.TaskNotFound"
