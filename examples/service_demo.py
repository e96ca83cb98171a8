"""The `make run` demo of service mode.

Starts SeaweedFS (the S3 store) and `mps up` (API + workers + relay) on free local ports,
uploads the sample clip with boto3, and drives everything through the official Tencent SDK:
custom templates, ProcessMedia with every sub-task type, DescribeTaskDetail polling, then shows
the outputs found in the bucket and the completion event received from RabbitMQ.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.seaweed, the SeaweedFS launcher the tests use too

import boto3  # noqa: E402
import pika  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import BarColumn, Progress, TextColumn  # noqa: E402
from rich.table import Table  # noqa: E402
from tencentcloud.common import credential  # noqa: E402
from tencentcloud.common.profile.client_profile import ClientProfile  # noqa: E402
from tencentcloud.common.profile.http_profile import HttpProfile  # noqa: E402
from tencentcloud.mps.v20190612 import models, mps_client  # noqa: E402

from tests.seaweed import SeaweedServer  # noqa: E402

SECRET_ID, SECRET_KEY = "AKIDmpsdemo", "mps-demo-secret"
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
console = Console()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def call(client: mps_client.MpsClient, action: str, params: dict[str, Any]) -> Any:
    request = getattr(models, f"{action}Request")()
    request.from_json_string(json.dumps(params))
    return getattr(client, action)(request)


def wait_for_api(port: int, process: subprocess.Popen[bytes], deadline: float = 60) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if process.poll() is not None:
            raise SystemExit("mps up exited early; see .mps-run/mps-up.log")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("mps up did not open its port")


def create_templates(client: mps_client.MpsClient, logo: Path) -> dict[str, int]:
    logo_b64 = base64.b64encode(logo.read_bytes()).decode()
    image = call(
        client,
        "CreateWatermarkTemplate",
        {
            "Type": "image",
            "Name": "demo logo",
            "CoordinateOrigin": "TopRight",
            "XPos": "16px",
            "YPos": "16px",
            "ImageTemplate": {"ImageContent": logo_b64, "Width": "12%"},
        },
    )
    text = call(
        client,
        "CreateWatermarkTemplate",
        {
            "Type": "text",
            "Name": "demo caption",
            "CoordinateOrigin": "BottomLeft",
            "XPos": "5%",
            "YPos": "5%",
            "TextTemplate": {
                "FontType": "arial.ttf",
                "FontSize": "36px",
                "FontColor": "0xFFFF00",
                "FontAlpha": 0.8,
            },
        },
    )
    sprite = call(
        client,
        "CreateImageSpriteTemplate",
        {
            "Name": "demo sprite",
            "SampleType": "Time",
            "SampleInterval": 2,
            "RowCount": 3,
            "ColumnCount": 3,
            "Width": 160,
            "Height": 90,
            "ResolutionAdaptive": "close",
        },
    )
    return {"image": image.Definition, "text": text.Definition, "sprite": sprite.Definition}


def task_for(ids: dict[str, int]) -> dict[str, Any]:
    return {
        "TranscodeTaskSet": [
            {"Definition": 100010},
            {"Definition": 100210},
            {
                "Definition": 100030,
                "WatermarkSet": [
                    {"Definition": ids["image"]},
                    {
                        "Definition": ids["text"],
                        "TextContent": "mps demo",
                        "StartTimeOffset": 2,
                        "EndTimeOffset": -2,
                    },
                ],
            },
            {"Definition": 1010},
        ],
        "SnapshotByTimeOffsetTaskSet": [{"Definition": 10, "ExtTimeOffsetSet": ["1s", "50%"]}],
        "SampleSnapshotTaskSet": [{"Definition": 10}],
        "ImageSpriteTaskSet": [{"Definition": ids["sprite"]}],
        "AnimatedGraphicTaskSet": [{"Definition": 20000, "StartTimeOffset": 2, "EndTimeOffset": 5}],
    }


def listen_for_events(prefix: str) -> tuple[Any, str]:
    """A private queue bound to the events exchange, declared before the task exists."""
    channel = pika.BlockingConnection(pika.URLParameters(AMQP_URL)).channel()
    channel.exchange_declare("mps.events", exchange_type="topic", durable=True)
    queue = channel.queue_declare(f"{prefix}.demo-events", exclusive=True).method.queue
    channel.queue_bind(queue, "mps.events", routing_key="WorkflowTask.#")
    return channel, queue


def poll(client: mps_client.MpsClient, task_id: str) -> Any:
    with Progress(
        TextColumn("{task.description:<26}"),
        BarColumn(),
        TextColumn("{task.fields[status]}"),
        console=console,
    ) as bars:
        rows: dict[int, Any] = {}
        while True:
            detail = call(client, "DescribeTaskDetail", {"TaskId": task_id})
            for index, entry in enumerate(detail.WorkflowTask.MediaProcessResultSet):
                field = {"ImageSprites": "ImageSpriteTask", "AnimatedGraphics": "AnimatedGraphicTask"}.get(
                    entry.Type, f"{entry.Type}Task"
                )
                sub = getattr(entry, field)
                done = 100 if sub.Status in ("SUCCESS", "FAIL") else (getattr(sub, "Progress", 0) or 0)
                if index not in rows:
                    rows[index] = bars.add_task(f"{entry.Type} {sub.Input.Definition}", total=100, status="")
                bars.update(rows[index], completed=done, status=sub.Status)
            if detail.Status == "FINISH":
                return detail
            time.sleep(0.5)


def show(detail: Any, s3: Any, event: dict[str, Any] | None) -> None:
    table = Table(title=f"{detail.WorkflowTask.TaskId}: {detail.Status}")
    for column in ("sub-task", "status", "outputs in s3://media"):
        table.add_column(column)
    for entry in json.loads(detail.to_json_string())["WorkflowTask"]["MediaProcessResultSet"]:
        sub = next(value for key, value in entry.items() if key.endswith("Task") and value)
        output = sub.get("Output") or {}
        paths = [output["Path"]] if "Path" in output else []
        paths += [p["Path"] for p in output.get("PicInfoSet") or []] + list(output.get("ImagePathSet") or [])
        paths += [output["WebVttPath"]] if output.get("WebVttPath") else []
        table.add_row(
            f"{entry['Type']} {sub['Input']['Definition']}",
            sub["Status"],
            "\n".join(paths[:3] + ([f"... {len(paths) - 3} more"] if len(paths) > 3 else [])),
        )
    console.print(table)
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket="media", Prefix="out/").get("Contents", [])]
    console.print(f"{len(keys)} objects under s3://media/out/")
    if event:
        console.print(
            f"completion event: EventType={event['EventType']} "
            f"Status={event['WorkflowTaskEvent']['Status']} SessionContext={event['SessionContext']!r}"
        )


def main() -> None:
    clip, logo = ROOT / "sample" / "clip.mp4", ROOT / "sample" / "logo.png"
    run_dir = ROOT / ".mps-run"
    run_dir.mkdir(exist_ok=True)
    prefix = f"demo{os.getpid()}"
    with (
        tempfile.TemporaryDirectory(prefix="mps-demo-") as tmp,
        SeaweedServer(workdir=Path(tmp) / "weed") as weed,
    ):
        s3 = boto3.client(
            "s3",
            endpoint_url=weed.endpoint_url,
            aws_access_key_id=weed.access_key,
            aws_secret_access_key=weed.secret_key,
            region_name="us-east-1",
        )
        s3.create_bucket(Bucket="media")
        s3.upload_file(str(clip), "media", "in/clip.mp4")
        console.print(f"SeaweedFS S3 at {weed.endpoint_url}; uploaded s3://media/in/clip.mp4")
        port = free_port()
        env = {
            **os.environ,
            "MPS_S3_ENDPOINT_URL": weed.endpoint_url,
            "MPS_S3_ACCESS_KEY": weed.access_key,
            "MPS_S3_SECRET_KEY": weed.secret_key,
            "MPS_SECRET_ID": SECRET_ID,
            "MPS_SECRET_KEY": SECRET_KEY,
            "MPS_DATABASE_URL": f"sqlite:///{tmp}/mps.db",
            "MPS_QUEUE_PREFIX": prefix,
            "MPS_WORK_DIR": tmp,
            "MPS_LOG_LEVEL": "INFO",
        }
        log = (run_dir / "mps-up.log").open("wb")
        up = subprocess.Popen(
            [sys.executable, "-m", "mps", "up", "--workers", "2", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_api(port, up)
            console.print(
                f"mps up: API on http://127.0.0.1:{port}, 2 workers, relay (log: .mps-run/mps-up.log)"
            )
            client = mps_client.MpsClient(
                credential.Credential(SECRET_ID, SECRET_KEY),
                "ap-guangzhou",
                ClientProfile(httpProfile=HttpProfile(protocol="http", endpoint=f"127.0.0.1:{port}")),
            )
            channel, queue = listen_for_events(prefix)
            ids = create_templates(client, logo)
            task_id = call(
                client,
                "ProcessMedia",
                {
                    "InputInfo": {
                        "Type": "COS",
                        "CosInputInfo": {"Bucket": "media", "Region": "local", "Object": "/in/clip.mp4"},
                    },
                    "OutputDir": "/out/",
                    "MediaProcessTask": task_for(ids),
                    "SessionContext": "make run",
                },
            ).TaskId
            console.print(f"ProcessMedia -> TaskId {task_id}")
            detail = poll(client, task_id)
            event = None
            for _ in range(40):
                _method, _props, body = channel.basic_get(queue, auto_ack=True)
                if body:
                    event = json.loads(body)
                    break
                time.sleep(0.25)
            if event:  # what a consumer written against the SDK does with the message body
                models.ParseNotificationResponse().from_json_string(json.dumps(event))
            show(detail, s3, event)
            channel.connection.close()
        finally:
            up.send_signal(signal.SIGTERM)
            try:
                up.wait(timeout=30)
            except subprocess.TimeoutExpired:
                up.kill()


if __name__ == "__main__":
    main()
