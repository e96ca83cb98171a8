"""The whole service in the test process, for clients that are not Python (the Node.js SDK, tccli).

The real API (:func:`mps.api.service.build_api`, TC3 on) under uvicorn in a thread, a real worker
(:func:`mps.app.work_handler`, real ffmpeg) consuming a :class:`StubBroker` in another
thread, a SQLite task store and the session's SeaweedFS as the object store. RabbitMQ is not
needed: the broker's delivery is not what these tests are about.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mps.api.handlers import ApiServices
from mps.api.service import build_api
from mps.app import build_runner, work_handler
from mps.broker.stub import StubBroker
from mps.settings import Settings
from mps.storage import S3Storage
from mps.store import SqlTaskStore
from mps.templates import TemplateCatalog, load_presets
from mps.workflow.templates import StoreTemplates
from tests.apiserver import running
from tests.mediatools import video_stream
from tests.seaweed import SeaweedServer


@dataclass(frozen=True)
class InProcessService:
    """A running service: its ``host:port``, its credentials and its object store."""

    host: str
    secret_id: str
    secret_key: str
    storage: S3Storage

    @property
    def url(self) -> str:
        """``http://host:port``, the endpoint users give to tccli and the Node.js SDK."""
        return f"http://{self.host}"


@contextmanager
def serving(seaweed: SeaweedServer, work_dir: Path, secret: tuple[str, str]) -> Iterator[InProcessService]:
    """Run the API and one worker until the ``with`` block ends.

    Parameters:
        seaweed: the object store of inputs and outputs.
        work_dir: the SQLite file and the worker's scratch space.
        secret: the (SecretId, SecretKey) the API accepts.

    Yields:
        The running service.
    """
    settings = Settings(
        database_url=f"sqlite:///{work_dir / 'mps.db'}", s3_endpoint_url=seaweed.endpoint_url,
        s3_access_key=seaweed.access_key, s3_secret_key=seaweed.secret_key, work_dir=work_dir,
        secret_id=secret[0], secret_key=secret[1], x264_preset="ultrafast", concurrency=1,
    )  # fmt: skip
    store = SqlTaskStore(settings.database_url)
    storage = S3Storage.from_settings(settings)
    broker = StubBroker()
    templates = StoreTemplates(TemplateCatalog(load_presets()), store)
    services = ApiServices(
        store=store,
        broker=broker,
        storage=storage,
        runner=build_runner(settings),
        templates=templates,
        settings=settings,
    )
    with ExitStack() as stack, pytest.MonkeyPatch.context() as env:
        stack.callback(store.close)
        # Clients on loopback must not go through a proxy from the environment.
        env.setenv("NO_PROXY", "127.0.0.1,localhost")
        env.setenv("no_proxy", "127.0.0.1,localhost")
        handler = stack.enter_context(work_handler(settings, store, storage, templates=templates))
        stack.enter_context(broker.consumer(broker.work_queue, handler, prefetch=2))
        host = stack.enter_context(running(build_api(settings, services)))
        yield InProcessService(host, secret[0], secret[1], storage)


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a client subprocess: ours, minus proxies and MPS settings, plus ``extra``."""
    drop = {"http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"}
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("MPS_")}
    return {**env, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost", **extra}


#: A small custom transcode template (CreateTranscodeTemplate parameters): 160 px wide H.264 + AAC.
SMALL_TEMPLATE: dict[str, Any] = {
    "Name": "small",
    "Container": "mp4",
    "VideoTemplate": {"Codec": "libx264", "Fps": 25, "Bitrate": 200, "Width": 160, "Height": 0},
    "AudioTemplate": {"Codec": "libfdk_aac", "Bitrate": 64, "SampleRate": 44100, "AudioChannel": 2},
}


def process_media_params(bucket: str, key: str, definition: int) -> dict[str, Any]:
    """ProcessMedia parameters: transcode ``s3://bucket/key`` with ``definition`` into ``/out/``."""
    return {
        "InputInfo": {"Type": "COS", "CosInputInfo": {"Bucket": bucket, "Region": "r", "Object": f"/{key}"}},
        "OutputDir": "/out/",
        "MediaProcessTask": {"TranscodeTaskSet": [{"Definition": definition}]},
    }


def assert_transcoded(service: InProcessService, bucket: str, detail: dict[str, Any], tmp: Path) -> Path:
    """Check a DescribeTaskDetail response (as JSON) of :func:`process_media_params`'s task: FINISH
    without error, one successful transcode, and its output in the bucket at 160 px wide.

    Returns:
        The output path in the bucket (``/out/...``).
    """
    task = detail["WorkflowTask"]
    assert (detail["Status"], task["Status"], task["ErrCode"]) == ("FINISH", "FINISH", 0), detail
    [result] = task["MediaProcessResultSet"]
    transcode = result["TranscodeTask"]
    assert (result["Type"], transcode["Status"], transcode["ErrCode"]) == ("Transcode", "SUCCESS", 0)
    path: str = transcode["Output"]["Path"]
    local = tmp / "output.mp4"
    service.storage.get(bucket, path.lstrip("/"), local)
    stream = video_stream(local)
    assert (stream["codec_name"], stream["width"], stream["height"]) == ("h264", 160, 120)
    return path
