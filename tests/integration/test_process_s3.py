"""`mps process` with an s3:// input and an s3:// output directory, on real SeaweedFS."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mps.storage import S3Storage
from tests.conftest import ClipFactory
from tests.mediatools import video_stream
from tests.seaweed import SeaweedServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_s3_input_and_output(
    seaweed: SeaweedServer, s3: S3Storage, bucket: str, clip: ClipFactory, tmp_path: Path
) -> None:
    s3.put(bucket, "in/film one.mp4", clip(duration=2.0, width=640, height=360))
    task = tmp_path / "task.json"
    task.write_text(
        json.dumps(
            {
                "TranscodeTaskSet": [{"Definition": 100010}],
                "SnapshotByTimeOffsetTaskSet": [{"Definition": 10, "TimeOffsetSet": [1]}],
            }
        )
    )
    env = {**os.environ, "MPS_S3_ENDPOINT_URL": seaweed.endpoint_url, "MPS_S3_ACCESS_KEY": seaweed.access_key,
           "MPS_S3_SECRET_KEY": seaweed.secret_key, "MPS_X264_PRESET": "ultrafast"}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "mps", "process", f"s3://{bucket}/in/film one.mp4", "--task", str(task),
         "--output-dir", f"s3://{bucket}/results/", "-q"],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    s3.get(bucket, "results/result.json", tmp_path / "result.json")
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["InputInfo"]["CosInputInfo"] == {
        "Bucket": bucket,
        "Region": "us-east-1",
        "Object": "/in/film one.mp4",
    }
    output = result["MediaProcessResultSet"][0]["TranscodeTask"]["Output"]
    assert output["Path"] == "/results/film one_transcode_100010.mp4"
    assert output["OutputStorage"]["CosOutputStorage"]["Bucket"] == bucket
    s3.get(bucket, "results/film one_transcode_100010.mp4", tmp_path / "out.mp4")
    assert video_stream(tmp_path / "out.mp4")["height"] == 360
    shot = result["MediaProcessResultSet"][1]["SnapshotByTimeOffsetTask"]["Output"]
    assert shot["Storage"]["CosOutputStorage"]["Bucket"] == bucket
    head = s3.head(bucket, shot["PicInfoSet"][0]["Path"].lstrip("/"))
    assert head is not None and head.metadata.get("mps-task") == result["TaskId"]


def test_missing_s3_input(seaweed: SeaweedServer, bucket: str, tmp_path: Path) -> None:
    task = tmp_path / "task.json"
    task.write_text(json.dumps({"TranscodeTaskSet": [{"Definition": 100010}]}))
    env = {**os.environ, "MPS_S3_ENDPOINT_URL": seaweed.endpoint_url, "MPS_S3_ACCESS_KEY": seaweed.access_key,
           "MPS_S3_SECRET_KEY": seaweed.secret_key}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "mps", "process", f"s3://{bucket}/nope.mp4", "--task", str(task),
         "--output-dir", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert done.returncode == 2 and "ResourceNotFound.DownloadError" in done.stderr
    assert "Traceback" not in done.stderr
    assert json.loads((tmp_path / "out" / "result.json").read_text())["ErrCode"] == 40000
