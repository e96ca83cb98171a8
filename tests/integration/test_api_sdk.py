"""The official Tencent Cloud SDK against the real ASGI app under uvicorn (mps-api.md §0-§3).

No external service is needed: the server runs in a thread of the test process, with demo
handlers (the real MPS actions are tested where they are wired).
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

import httpx
import pytest
import uvicorn
from tencentcloud.common import credential
from tencentcloud.common.common_client import CommonClient
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.common.sign import Sign
from tencentcloud.mps.v20190612 import models, mps_client

from mps.api import ActionRegistry, RequestContext, create_app, register_builtin_actions
from mps.errors import ResourceNotFoundError
from mps.settings import Settings

pytestmark = pytest.mark.integration

SECRET_ID = "AKIDlocal"
SECRET_KEY = "local-secret"
REGION = "ap-guangzhou"
NESTED: dict[str, Any] = {
    "InputInfo": {"Type": "COS", "CosInputInfo": {"Bucket": "b", "Region": REGION, "Object": "/in/a.mov"}},
    "MediaProcessTask": {
        "TranscodeTaskSet": [
            {"Definition": 100010},
            {"Definition": 100020, "WatermarkSet": [{"Definition": 1}, {"Definition": 2}]},
        ]
    },
    "OutputDir": "/out/",
}


def demo_registry() -> ActionRegistry:
    """Handlers standing in for the real actions: a task lookup and an echo of what arrived."""
    registry = register_builtin_actions(ActionRegistry())

    @registry.register("DescribeTaskDetail")
    def describe_task_detail(params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        task_id = params.get("TaskId", "")
        if task_id == "no-such-task":
            raise ResourceNotFoundError(f"Task {task_id} does not exist.", "ResourceNotFound.TaskNotFound")
        result = {"Type": "Transcode", "TranscodeTask": {"Status": "SUCCESS", "ErrCode": 0, "Progress": 100}}
        task = {"TaskId": task_id, "Status": "FINISH", "ErrCode": 0, "MediaProcessResultSet": [result]}
        return {"TaskType": "WorkflowTask", "Status": "FINISH", "WorkflowTask": task}

    @registry.register("Echo")
    def echo(params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        return {"Params": params, "Context": asdict(ctx)}

    return registry


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """``host:port`` of the app under uvicorn in a background thread, auth on."""
    app = create_app(Settings(secret_id=SECRET_ID, secret_key=SECRET_KEY), demo_registry())
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))  # a free port, held from the start: no race with other processes
    host = f"127.0.0.1:{sock.getsockname()[1]}"
    config = uvicorn.Config(app, log_level="warning", lifespan="off", ws="none", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("NO_PROXY", "127.0.0.1,localhost")  # the SDK uses requests, which honours proxies
        env.setenv("no_proxy", "127.0.0.1,localhost")
        thread.start()
        _wait_healthy(host)
        yield host
        server.should_exit = True
        thread.join(timeout=10)
    sock.close()


def _wait_healthy(host: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://{host}/healthz", timeout=1.0, trust_env=False).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"uvicorn did not answer on {host} within {timeout} s")


def _profile(endpoint: str, **client: Any) -> ClientProfile:
    method = client.pop("reqMethod", "POST")
    profile = ClientProfile(
        httpProfile=HttpProfile(protocol="http", endpoint=endpoint, reqMethod=method), **client
    )
    return profile


def mps(
    endpoint: str, key: str = SECRET_KEY, secret_id: str = SECRET_ID, **client: Any
) -> mps_client.MpsClient:
    return mps_client.MpsClient(credential.Credential(secret_id, key), REGION, _profile(endpoint, **client))


def common(endpoint: str, **client: Any) -> CommonClient:
    unsigned = client.pop("unsignedPayload", False)
    profile = _profile(endpoint, **client)
    profile.unsignedPayload = unsigned
    return CommonClient("mps", "2019-06-12", credential.Credential(SECRET_ID, SECRET_KEY), REGION, profile)


def _detail_request(task_id: str) -> models.DescribeTaskDetailRequest:
    req = models.DescribeTaskDetailRequest()
    req.TaskId = task_id
    return req


def _sdk_error(call: Any) -> TencentCloudSDKException:
    with pytest.raises(TencentCloudSDKException) as info:
        call()
    return info.value


# -- the SDK, signed with TC3 -------------------------------------------------------------------


def test_signed_call_reaches_the_handler_and_the_sdk_parses_it(endpoint: str) -> None:
    resp = mps(endpoint).DescribeTaskDetail(_detail_request("t-42"))
    assert resp.WorkflowTask.TaskId == "t-42"
    assert resp.WorkflowTask.MediaProcessResultSet[0].TranscodeTask.Progress == 100
    assert uuid.UUID(resp.RequestId).version == 4


def test_wrong_secret_is_signature_failure(endpoint: str) -> None:
    err = _sdk_error(lambda: mps(endpoint, key="wrong").DescribeTaskDetail(_detail_request("t")))
    assert err.get_code() == "AuthFailure.SignatureFailure"
    assert err.get_request_id()


def test_unknown_secret_id(endpoint: str) -> None:
    err = _sdk_error(lambda: mps(endpoint, secret_id="AKIDother").DescribeTaskDetail(_detail_request("t")))
    assert err.get_code() == "AuthFailure.SecretIdNotFound"


def test_handler_error_reaches_the_sdk(endpoint: str) -> None:
    err = _sdk_error(lambda: mps(endpoint).DescribeTaskDetail(_detail_request("no-such-task")))
    assert err.get_code() == "ResourceNotFound.TaskNotFound"
    assert err.get_message() == "Task no-such-task does not exist."
    assert uuid.UUID(err.get_request_id()).version == 4


def test_unknown_action_is_invalid_action(endpoint: str) -> None:
    err = _sdk_error(lambda: common(endpoint).call_json("NoSuchAction", {}))
    assert err.get_code() == "InvalidAction"


def test_context_carries_the_caller(endpoint: str) -> None:
    out = common(endpoint, language="en-US").call_json("Echo", {"A": 1})["Response"]
    ctx = out["Context"]
    assert (ctx["action"], ctx["region"], ctx["language"], ctx["version"]) == (
        "Echo",
        REGION,
        "en-US",
        "2019-06-12",
    )
    assert (ctx["secret_id"], ctx["client_ip"], ctx["request_id"]) == (
        SECRET_ID,
        "127.0.0.1",
        out["RequestId"],
    )
    assert out["Params"] == {"A": 1}


def test_get_mode_rebuilds_nested_params_as_strings(endpoint: str) -> None:
    out = common(endpoint, reqMethod="GET").call_json("Echo", NESTED)["Response"]
    sets = out["Params"]["MediaProcessTask"]["TranscodeTaskSet"]
    assert sets[1]["WatermarkSet"][1] == {"Definition": "2"}
    assert sets[0] == {"Definition": "100010"}
    assert out["Params"]["InputInfo"]["CosInputInfo"]["Object"] == "/in/a.mov"
    assert (
        mps(endpoint, reqMethod="GET").DescribeTaskDetail(_detail_request("t-get")).WorkflowTask.TaskId
        == "t-get"
    )


def test_unsigned_payload(endpoint: str) -> None:
    out = common(endpoint, unsignedPayload=True).call_json("Echo", NESTED)["Response"]
    assert out["Params"] == NESTED


@pytest.mark.parametrize("sign_method", ["HmacSHA256", "HmacSHA1"])
def test_legacy_signatures_are_verified(endpoint: str, sign_method: str) -> None:
    resp = mps(endpoint, signMethod=sign_method).DescribeTaskDetail(_detail_request("t-legacy"))
    assert resp.WorkflowTask.TaskId == "t-legacy"
    out = common(endpoint, signMethod=sign_method).call_json("Echo", NESTED)["Response"]
    assert out["Params"]["MediaProcessTask"]["TranscodeTaskSet"][1]["WatermarkSet"][0] == {"Definition": "1"}
    assert out["Context"]["secret_id"] == SECRET_ID
    err = _sdk_error(
        lambda: mps(endpoint, key="bad", signMethod=sign_method).DescribeTaskDetail(_detail_request("t"))
    )
    assert err.get_code() == "AuthFailure.SignatureFailure"


def test_parse_notification(endpoint: str) -> None:
    event = {"EventType": "WorkflowTask", "WorkflowTaskEvent": {"TaskId": "t-ev", "Status": "FINISH"}}
    req = models.ParseNotificationRequest()
    req.Content = json.dumps(event)
    resp = mps(endpoint).ParseNotification(req)
    assert (resp.EventType, resp.WorkflowTaskEvent.TaskId) == ("WorkflowTask", "t-ev")


# -- raw HTTP: what the SDK relies on without checking ------------------------------------------


def _signed(endpoint: str, body: bytes, timestamp: int, action: str = "DescribeTaskDetail") -> dict[str, str]:
    """TC3 headers computed by hand with the SDK's own ``Sign.sign_tc3``."""
    date = time.strftime("%Y-%m-%d", time.gmtime(timestamp))
    canonical = (
        f"POST\n/\n\ncontent-type:application/json\nhost:{endpoint}\n\ncontent-type;host\n"
        f"{hashlib.sha256(body).hexdigest()}"
    )
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    to_sign = f"TC3-HMAC-SHA256\n{timestamp}\n{date}/mps/tc3_request\n{digest}"
    signature = Sign.sign_tc3(SECRET_KEY, date, "mps", to_sign)
    return {
        "Content-Type": "application/json",
        "Host": endpoint,
        "X-TC-Action": action,
        "X-TC-Version": "2019-06-12",
        "X-TC-Timestamp": str(timestamp),
        "Authorization": f"TC3-HMAC-SHA256 Credential={SECRET_ID}/{date}/mps/tc3_request, "
        f"SignedHeaders=content-type;host, Signature={signature}",
    }


def _post(endpoint: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"http://{endpoint}/", content=body, headers=headers, timeout=10.0, trust_env=False)


def test_hand_signed_request_succeeds_with_exact_content_type(endpoint: str) -> None:
    body = b'{"TaskId": "t-raw"}'
    resp = _post(endpoint, body, _signed(endpoint, body, int(time.time())))
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/json"
    assert resp.json()["Response"]["WorkflowTask"]["TaskId"] == "t-raw"


def test_expired_timestamp_is_http_200_signature_expire(endpoint: str) -> None:
    body = b'{"TaskId": "t"}'
    resp = _post(endpoint, body, _signed(endpoint, body, int(time.time()) - 600))
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/json"
    out = resp.json()["Response"]
    assert out["Error"]["Code"] == "AuthFailure.SignatureExpire"
    assert uuid.UUID(out["RequestId"]).version == 4


def test_unsigned_request_is_refused_with_json(endpoint: str) -> None:
    resp = _post(endpoint, b"{}", {"Content-Type": "application/json", "X-TC-Action": "Echo"})
    assert (resp.status_code, resp.headers["content-type"]) == (200, "application/json")
    assert resp.json()["Response"]["Error"]["Code"] == "AuthFailure.InvalidAuthorization"


def test_oversized_body_gets_an_answer_not_a_reset(endpoint: str) -> None:
    body = b'{"TaskId": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    resp = _post(endpoint, body, _signed(endpoint, body, int(time.time())))
    assert (resp.status_code, resp.headers["content-type"]) == (200, "application/json")
    assert resp.json()["Response"]["Error"]["Code"] == "InvalidParameter"


def test_legacy_garbage_does_not_crash(endpoint: str) -> None:
    form = {"Action": "Echo", "SignatureMethod": "HmacSHA256", "Signature": "x", "SecretId": SECRET_ID}
    resp = httpx.post(f"http://{endpoint}/", data=form, timeout=10.0, trust_env=False)
    assert (resp.status_code, resp.headers["content-type"]) == (200, "application/json")
    assert resp.json()["Response"]["Error"]["Code"].startswith("AuthFailure.")


def test_healthz_is_not_signed(endpoint: str) -> None:
    resp = httpx.get(f"http://{endpoint}/healthz", timeout=5.0, trust_env=False)
    assert (resp.status_code, resp.text) == (200, "ok")
