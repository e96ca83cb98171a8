"""``tccli`` (PyPI, Tencent Cloud's own command line) against mps with ``--endpoint http://host:port``.

Credentials come from ``TENCENTCLOUD_SECRET_ID``/``TENCENTCLOUD_SECRET_KEY`` as a user would export
them, or from ``--secretId``/``--secretKey``; ``HOME`` is a temporary directory, so no
``~/.tencentcloud`` profile of the machine takes part.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
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

SECRET = ("AKIDtccli", "tccli-secret")
#: tccli's error line: ``[TencentCloudSDKException] code:X message:Y requestId:Z``.
SDK_ERROR = re.compile(r"code:(?P<code>\S+) message:(?P<message>.*) requestId:(?P<request_id>\S+)")


def tccli_binary() -> str | None:
    """The ``tccli`` next to this Python (the venv's ``test`` extra), else one on ``PATH``."""
    beside = Path(sys.executable).with_name("tccli")
    return str(beside) if beside.exists() else shutil.which("tccli")


@pytest.fixture(scope="module")
def service(seaweed: SeaweedServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessService]:
    require_service("tccli", tccli_binary() is not None, "pip install -e '.[test]'")
    with serving(seaweed, tmp_path_factory.mktemp("tccli-api"), SECRET) as running:
        yield running


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tccli-home")


def tccli(
    service: InProcessService, home: Path, action: str, params: dict[str, Any], *flags: str
) -> subprocess.CompletedProcess[str]:
    """``tccli mps ACTION --Param value... --endpoint http://host:port FLAGS``, as a user types it."""
    argv = [tccli_binary() or "tccli", "mps", action, "--endpoint", service.url, *flags]
    for name, value in params.items():
        argv += [f"--{name}", value if isinstance(value, str) else json.dumps(value)]
    env = child_env(
        HOME=str(home),
        TENCENTCLOUD_SECRET_ID=service.secret_id,
        TENCENTCLOUD_SECRET_KEY=service.secret_key,
        TENCENTCLOUD_REGION="ap-guangzhou",
    )
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)


def _ok(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.returncode == 0, done.stdout + done.stderr
    # The waiter prints "Inquiry result is PROCESSING." lines before the response.
    lines = [line for line in done.stdout.splitlines() if not line.startswith("Inquiry result is ")]
    out: dict[str, Any] = json.loads("\n".join(lines))
    return out


def _error(done: subprocess.CompletedProcess[str]) -> re.Match[str]:
    assert done.returncode != 0, done.stdout
    match = SDK_ERROR.search(done.stderr + done.stdout)
    assert match, done.stderr + done.stdout
    return match


def test_a_whole_lifecycle_through_tccli(
    service: InProcessService, home: Path, bucket: str, clip: ClipFactory, tmp_path: Path
) -> None:
    # Given a clip in a bucket and a custom template created with tccli
    service.storage.put(bucket, "in/cli.mp4", clip(duration=1.0))
    definition = _ok(tccli(service, home, "CreateTranscodeTemplate", SMALL_TEMPLATE))["Definition"]
    # When it is processed with that template
    params = process_media_params(bucket, "in/cli.mp4", definition)
    task_id = _ok(tccli(service, home, "ProcessMedia", params))["TaskId"]
    # Then tccli's own waiter sees DescribeTaskDetail reach FINISH, with the output in the bucket
    waiter = "{'expr': 'Status', 'to': 'FINISH', 'timeout': 30, 'interval': 1}"
    detail = _ok(tccli(service, home, "DescribeTaskDetail", {"TaskId": task_id}, "--waiter", waiter))
    assert detail["WorkflowTask"]["TaskId"] == task_id
    path = assert_transcoded(service, bucket, detail, tmp_path)
    assert path == f"/out/cli_transcode_{definition}.mp4"


def test_a_wrong_secret_key_is_signature_failure(service: InProcessService, home: Path) -> None:
    flags = ("--secretId", service.secret_id, "--secretKey", "not-the-secret")

    error = _error(tccli(service, home, "DescribeTaskDetail", {"TaskId": "x"}, *flags))

    assert error["code"] == "AuthFailure.SignatureFailure"
    assert error["request_id"] != "None"


def test_an_unknown_template_is_template_not_exist(service: InProcessService, home: Path) -> None:
    params = process_media_params("media", "in/a.mp4", 777777)

    error = _error(tccli(service, home, "ProcessMedia", params))

    assert error["code"] == "ResourceNotFound.TemplateNotExist"
