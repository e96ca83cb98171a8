"""The `make run` demo: an upload to a watched bucket runs a workflow, end to end.

Starts SeaweedFS (the S3 store, its filer webhook pointed at mps) and `mps up` (API, workers,
relay and bucket listener) on free local ports. Through the official Tencent SDK it creates
custom templates and a workflow bound to `media:/in/` with every sub-task type, and enables it;
then it uploads the sample clip with boto3, finds the task the upload started (DescribeTasks),
follows it with DescribeTaskDetail, and shows the outputs in the bucket and the completion event
received from RabbitMQ.
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
#: The console's admin password in the demo (user ``admin``).
CONSOLE_PASSWORD = "mps-demo"
WEBHOOK_TOKEN = "mps-demo-webhook-token"
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


def webhook_config(port: int) -> str:
    """SeaweedFS's notification.toml: its filer POSTs every change to mps's webhook."""
    return f"""
[notification.webhook]
enabled = true
endpoint = "http://127.0.0.1:{port}/webhooks/bucket-events"
bearer_token = "{WEBHOOK_TOKEN}"
event_types = ["create", "update", "rename"]
"""


def create_workflow(client: mps_client.MpsClient, ids: dict[str, int]) -> int:
    workflow = call(client, "CreateWorkflow", {
        "WorkflowName": "demo: every sub-task type",
        "Trigger": {"Type": "CosFileUpload", "CosFileUploadTrigger": {
            "Bucket": "media", "Region": "local", "Dir": "/in/", "Formats": ["mp4"]}},
        "OutputStorage": {"Type": "COS", "CosOutputStorage": {"Bucket": "media", "Region": "local"}},
        "OutputDir": "/out/", "MediaProcessTask": task_for(ids),
    })  # fmt: skip
    call(client, "EnableWorkflow", {"WorkflowId": workflow.WorkflowId})
    return int(workflow.WorkflowId)


def find_task(client: mps_client.MpsClient, timeout: float = 60) -> str:
    """The task the upload started: the listener creates it within a second or two."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for status in ("WAITING", "PROCESSING", "FINISH"):
            tasks = call(client, "DescribeTasks", {"Status": status, "Limit": 10}).TaskSet or []
            if tasks:
                return str(tasks[0].TaskId)
        time.sleep(0.3)
    raise SystemExit("no task started: see .mps-run/mps-up.log")


def delete_queues(prefix: str) -> None:
    """The demo's own queues go away with it."""
    channel = pika.BlockingConnection(pika.URLParameters(AMQP_URL)).channel()
    for queue in ("mps.work", "mps.work.dlq", "mps.bucket-events", "mps.bucket-events.dlq"):
        channel.queue_delete(prefix + queue)
    for exchange in ("mps.work.dlx", "mps.bucket-events.dlx"):
        channel.exchange_delete(prefix + exchange)
    channel.connection.close()


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
    prefix, port = f"demo{os.getpid()}", free_port()
    with (
        tempfile.TemporaryDirectory(prefix="mps-demo-") as tmp,
        SeaweedServer(workdir=Path(tmp) / "weed", notification_toml=webhook_config(port)) as weed,
    ):
        s3 = boto3.client("s3", endpoint_url=weed.endpoint_url, aws_access_key_id=weed.access_key,
                          aws_secret_access_key=weed.secret_key, region_name="us-east-1")  # fmt: skip
        s3.create_bucket(Bucket="media")
        console.print(f"SeaweedFS S3 at {weed.endpoint_url}, its filer webhook -> mps on port {port}")
        env = {**os.environ, "MPS_S3_ENDPOINT_URL": weed.endpoint_url, "MPS_S3_ACCESS_KEY": weed.access_key,
               "MPS_S3_SECRET_KEY": weed.secret_key, "MPS_SECRET_ID": SECRET_ID, "MPS_SECRET_KEY": SECRET_KEY,
               "MPS_WEBHOOK_TOKEN": WEBHOOK_TOKEN, "MPS_DATABASE_URL": f"sqlite:///{tmp}/mps.db",
               "MPS_QUEUE_PREFIX": prefix, "MPS_WORK_DIR": tmp, "MPS_LOG_LEVEL": "INFO",
               "MPS_CONSOLE_PASSWORD": CONSOLE_PASSWORD}  # fmt: skip
        log = (run_dir / "mps-up.log").open("wb")
        up = subprocess.Popen([sys.executable, "-m", "mps", "up", "--workers", "2", "--port", str(port)],
                              env=env, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        try:
            wait_for_api(port, up)
            console.print(
                f"mps up: API http://127.0.0.1:{port}, workers, relay, listener (.mps-run/mps-up.log)"
            )
            endpoint = HttpProfile(protocol="http", endpoint=f"127.0.0.1:{port}")
            client = mps_client.MpsClient(credential.Credential(SECRET_ID, SECRET_KEY), "ap-guangzhou",
                                          ClientProfile(httpProfile=endpoint))  # fmt: skip
            channel, queue = listen_for_events(prefix)
            ids = create_templates(client, logo)
            workflow_id = create_workflow(client, ids)
            console.print(
                f"CreateWorkflow + EnableWorkflow -> WorkflowId {workflow_id} on s3://media/in/*.mp4"
            )
            time.sleep(2)  # the listener binds its queue as it starts; give the first upload a bound queue
            s3.upload_file(str(clip), "media", "in/clip.mp4")
            console.print("uploaded s3://media/in/clip.mp4 with boto3")
            task_id = find_task(client)
            console.print(f"the upload started TaskId {task_id}")
            console.print(
                f"follow it in the console: http://127.0.0.1:{port}/console/tasks/{task_id} "
                f"(user admin, password {CONSOLE_PASSWORD})"
            )
            detail = poll(client, task_id)
            event = wait_event(channel, queue)
            show(detail, s3, event)
            channel.connection.close()
            if os.environ.get("MPS_DEMO_KEEP"):
                console.print(
                    f"mps keeps running for the console at http://127.0.0.1:{port}/console: Ctrl-C stops it"
                )
                try:
                    up.wait()
                except KeyboardInterrupt:
                    pass
        finally:
            up.send_signal(signal.SIGTERM)
            try:
                up.wait(timeout=30)
            except subprocess.TimeoutExpired:
                up.kill()
            delete_queues(prefix)


def wait_event(channel: Any, queue: str, timeout: float = 10) -> dict[str, Any] | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _method, _props, body = channel.basic_get(queue, auto_ack=True)
        if body:
            event: dict[str, Any] = json.loads(body)
            # what a consumer written against the SDK does with the message body
            models.ParseNotificationResponse().from_json_string(json.dumps(event))
            return event
        time.sleep(0.25)
    return None


if __name__ == "__main__":
    main()
