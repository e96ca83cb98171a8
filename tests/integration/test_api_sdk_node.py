"""The official Node.js SDK (``tencentcloud-sdk-nodejs-mps`` from npm) against mps on ``host:port``.

That SDK signs the credential scope with the endpoint's first label as the service (``127``) and
the ``Host`` without its port, unlike the Python SDK. ``tests/js/mps_sdk.js`` makes the calls;
its dependencies come from ``npm ci`` in ``tests/js`` (``make js-deps``, or the fixture below).
Node.js missing is a skip locally and a failure in CI.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ClipFactory
from tests.integration.conftest import require_service
from tests.integration.inprocess_service import (
    SMALL_TEMPLATE,
    InProcessService,
    assert_transcoded,
    child_env,
    process_media_params,
    serving,
)
from tests.seaweed import SeaweedServer

pytestmark = pytest.mark.integration

JS_DIR = Path(__file__).resolve().parents[1] / "js"
SECRET = ("AKIDnode", "node-secret")


def _install_js_deps() -> None:
    """``npm ci`` in tests/js when the SDK is not there yet (``make test`` has done it already)."""
    if (JS_DIR / "node_modules" / "tencentcloud-sdk-nodejs-mps").is_dir():
        return
    require_service("npm", shutil.which("npm") is not None, "install Node.js 18+ with npm")
    subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund"], cwd=JS_DIR, check=True, capture_output=True, timeout=300
    )


@pytest.fixture(scope="module")
def service(seaweed: SeaweedServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessService]:
    require_service("node", shutil.which("node") is not None, "install Node.js 18+")
    _install_js_deps()
    with serving(seaweed, tmp_path_factory.mktemp("node-api"), SECRET) as running:
        yield running


def node(service: InProcessService, *args: str, secret_key: str | None = None) -> dict[str, Any]:
    """Run ``node mps_sdk.js ARGS`` against ``service``; its one line of JSON output."""
    env = child_env(
        MPS_ENDPOINT=service.host,  # host:port, with protocol "http://" in the script's HttpProfile
        TENCENTCLOUD_SECRET_ID=service.secret_id,
        TENCENTCLOUD_SECRET_KEY=secret_key or service.secret_key,
    )
    done = subprocess.run(
        ["node", "mps_sdk.js", *args], cwd=JS_DIR, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    out: dict[str, Any] = json.loads(done.stdout)
    return out


def _ok(out: dict[str, Any]) -> dict[str, Any]:
    assert out["ok"], out
    response: dict[str, Any] = out["response"]
    return response


def test_a_whole_lifecycle_through_the_nodejs_sdk(
    service: InProcessService, bucket: str, clip: ClipFactory, tmp_path: Path
) -> None:
    # Given a clip in a bucket and a custom template created through the Node.js SDK
    service.storage.put(bucket, "in/node.mp4", clip(duration=1.0))
    definition = _ok(node(service, "call", "CreateTranscodeTemplate", json.dumps(SMALL_TEMPLATE)))[
        "Definition"
    ]
    # When it is processed with that template
    params = process_media_params(bucket, "in/node.mp4", definition)
    task_id = _ok(node(service, "call", "ProcessMedia", json.dumps(params)))["TaskId"]
    # Then DescribeTaskDetail through the same SDK reaches FINISH with the output in the bucket
    detail = _ok(node(service, "wait", task_id, "30"))
    assert detail["WorkflowTask"]["TaskId"] == task_id
    path = assert_transcoded(service, bucket, detail, tmp_path)
    assert path == f"/out/node_transcode_{definition}.mp4"


def test_a_wrong_secret_key_is_signature_failure(service: InProcessService) -> None:
    out = node(service, "call", "DescribeTaskDetail", '{"TaskId": "x"}', secret_key="not-the-secret")

    assert (out["ok"], out["code"]) == (False, "AuthFailure.SignatureFailure")
    assert out["requestId"]


def test_an_unknown_template_is_template_not_exist(service: InProcessService) -> None:
    params = process_media_params("media", "in/a.mp4", 777777)

    out = node(service, "call", "ProcessMedia", json.dumps(params))

    assert (out["ok"], out["code"]) == (False, "ResourceNotFound.TemplateNotExist")
