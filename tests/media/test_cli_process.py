"""``mps process`` end to end: real ffmpeg, every sub-task type, result.json as Tencent shapes it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tencentcloud.mps.v20190612 import models as sdk

from tests.conftest import ClipFactory
from tests.mediatools import duration_of, has_audio, image_size, video_stream

pytestmark = pytest.mark.slow


def run_mps(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mps", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env={**__import__("os").environ, "MPS_X264_PRESET": "ultrafast"},
    )


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


EVERY_TYPE = {
    "TranscodeTaskSet": [
        {"Definition": 100010},
        {"Definition": 100210},
        {"Definition": 1010},
        {"Definition": 100030, "WatermarkSet": [{"Definition": 501}]},
    ],
    "SnapshotByTimeOffsetTaskSet": [
        {"Definition": 10, "ExtTimeOffsetSet": ["1s", "50%"], "TimeOffsetSet": [3.5]}
    ],
    "SampleSnapshotTaskSet": [{"Definition": 10}],
    "ImageSpriteTaskSet": [{"Definition": 9001}],
    "AnimatedGraphicTaskSet": [{"Definition": 20000, "StartTimeOffset": 1, "EndTimeOffset": 3}],
    "AdaptiveDynamicStreamingTaskSet": [{"Definition": 10}],
}


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory, logo_png: Path) -> Path:
    return write_json(
        tmp_path_factory.mktemp("tpl") / "templates.json",
        {
            "WatermarkTemplateSet": [
                {
                    "Definition": 501,
                    "Type": "image",
                    "CoordinateOrigin": "TopRight",
                    "XPos": "0px",
                    "YPos": "0px",
                    "ImageTemplate": {"ImageUrl": str(logo_png), "Width": "64px"},
                }
            ],
            "ImageSpriteTemplateSet": [
                {
                    "Definition": 9001,
                    "SampleType": "Time",
                    "SampleInterval": 1,
                    "RowCount": 2,
                    "ColumnCount": 2,
                    "Width": 80,
                    "Height": 60,
                    "ResolutionAdaptive": "close",
                }
            ],
        },
    )


@pytest.fixture(scope="module")
def every_type_run(
    tmp_path_factory: pytest.TempPathFactory, clip: ClipFactory, templates: Path
) -> tuple[subprocess.CompletedProcess[str], Path]:
    work = tmp_path_factory.mktemp("every")
    source = clip(duration=4.0, width=640, height=360)
    task = write_json(work / "task.json", EVERY_TYPE)
    out = work / "out"
    return run_mps(
        "process", source, "--task", task, "--templates", templates, "--output-dir", out, "-q"
    ), out


def test_every_sub_task_type_succeeds(every_type_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    done, out = every_type_run
    assert done.returncode == 0, done.stderr
    result = json.loads((out / "result.json").read_text())
    assert result["Status"] == "FINISH" and result["ErrCode"] == 0
    kinds = [entry["Type"] for entry in result["MediaProcessResultSet"]]
    assert kinds == ["Transcode"] * 4 + [
        "SnapshotByTimeOffset",
        "SampleSnapshot",
        "ImageSprites",
        "AnimatedGraphics",
        "AdaptiveDynamicStreaming",
    ]
    statuses = [
        entry[field]["Status"]
        for entry in result["MediaProcessResultSet"]
        for field in entry
        if field.endswith("Task") and entry[field]
    ]
    assert statuses == ["SUCCESS"] * 9
    assert result["MetaData"]["Width"] == 640 and result["MetaData"]["Height"] == 360


def test_outputs_are_where_the_result_says(
    every_type_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    _, out = every_type_run
    result = json.loads((out / "result.json").read_text())
    entries = result["MediaProcessResultSet"]
    flu = entries[0]["TranscodeTask"]["Output"]
    assert flu["Path"] == "/clip0_transcode_100010.mp4" or flu["Path"].endswith("_transcode_100010.mp4")
    assert (flu["Width"], flu["Height"]) == (640, 360)
    stream = video_stream(out / flu["Path"].lstrip("/"))
    assert (stream["width"], stream["height"]) == (640, 360)
    assert abs(duration_of(out / flu["Path"].lstrip("/")) - 4.0) < 0.3
    hls = entries[1]["TranscodeTask"]["Output"]
    assert hls["Path"].endswith(".m3u8") and (out / hls["Path"].lstrip("/")).is_file()
    mp3 = out / entries[2]["TranscodeTask"]["Output"]["Path"].lstrip("/")
    assert mp3.suffix == ".mp3" and has_audio(mp3)
    shots = entries[4]["SnapshotByTimeOffsetTask"]["Output"]["PicInfoSet"]
    assert [round(p["TimeOffset"], 1) for p in shots] == [1.0, 2.0, 3.5]
    assert all(image_size(out / p["Path"].lstrip("/")) == (640, 360) for p in shots)
    samples = entries[5]["SampleSnapshotTask"]["Output"]["ImagePathSet"]
    assert len(samples) == 10
    sprite = entries[6]["ImageSpriteTask"]["Output"]
    assert (sprite["Width"], sprite["Height"], sprite["TotalCount"]) == (80, 60, 4)
    assert (out / sprite["WebVttPath"].lstrip("/")).read_text().startswith("WEBVTT")
    gif = entries[7]["AnimatedGraphicTask"]["Output"]
    assert gif["Container"] == "gif" and (out / gif["Path"].lstrip("/")).stat().st_size == gif["Size"]
    ladder = entries[8]["AdaptiveDynamicStreamingTask"]["Output"]
    assert (ladder["Definition"], ladder["Package"]) == (10, "HLS")
    master = (out / ladder["Path"].lstrip("/")).read_text()
    # Preset 10 on a 640x360 source: the rungs above it are dropped and one is kept at its size.
    assert "RESOLUTION=640x360" in master and "RESOLUTION=1280x720" not in master
    for rung in [line for line in master.splitlines() if line.endswith(".m3u8")]:
        assert (out / ladder["Path"].lstrip("/")).parent.joinpath(rung).is_file()


def test_the_sdk_parses_result_json(every_type_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    _, out = every_type_run
    event = sdk.ParseNotificationResponse()
    event._deserialize(
        {"EventType": "WorkflowTask", "WorkflowTaskEvent": json.loads((out / "result.json").read_text())}
    )
    shots = event.WorkflowTaskEvent.MediaProcessResultSet[4].SnapshotByTimeOffsetTask.Output.PicInfoSet
    assert shots[0].Path.endswith("_snapshotByTimeOffset_10_0.jpg")


def test_unknown_definition_is_refused_before_any_work(tmp_path: Path, sample_clip: Path) -> None:
    task = write_json(
        tmp_path / "task.json", {"TranscodeTaskSet": [{"Definition": 100010}, {"Definition": 424242}]}
    )
    done = run_mps("process", sample_clip, "--task", task, "--output-dir", tmp_path / "out")
    assert done.returncode == 2
    assert "ResourceNotFound.TemplateNotExist" in done.stderr and "424242" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["result.json"]
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    assert result["ErrCode"] == 40000 and "424242" in result["Message"]


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("{not json", "task file"),
        ('{"TranscodeTaskSet": [{"Definition": "abc"}]}', "InvalidParameterValue.Definition"),
        (
            '{"TranscodeTaskSet": [{"Definition": 100010, "OutputObjectPath": "../../x.mp4"}]}',
            "OutputObjectPath",
        ),
    ],
)
def test_bad_task_file(tmp_path: Path, sample_clip: Path, content: str, needle: str) -> None:
    (tmp_path / "task.json").write_text(content)
    done = run_mps("process", sample_clip, "--task", tmp_path / "task.json", "--output-dir", tmp_path / "out")
    assert done.returncode == 2
    assert needle in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "x.mp4").exists()


def test_missing_input(tmp_path: Path) -> None:
    task = write_json(tmp_path / "task.json", {"TranscodeTaskSet": [{"Definition": 100010}]})
    done = run_mps("process", tmp_path / "nope.mp4", "--task", task, "--output-dir", tmp_path / "out")
    assert done.returncode == 1
    assert "does not exist" in done.stderr and "Traceback" not in done.stderr
    assert json.loads((tmp_path / "out" / "result.json").read_text())["ErrCode"] == 60000


def test_an_input_ffmpeg_cannot_size_fails_the_task_like_any_unreadable_input(
    tmp_path: Path, clip: ClipFactory
) -> None:
    # A truncated MPEG-TS: its streams are declared, but ffprobe can size none of them.
    whole = tmp_path / "whole.ts"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", clip(duration=2.0), "-c", "copy", whole], check=True
    )
    truncated = tmp_path / "truncated.ts"
    truncated.write_bytes(whole.read_bytes()[: 188 * 3])  # SDT, PAT, PMT: streams declared, no data
    task = write_json(
        tmp_path / "task.json",
        {"TranscodeTaskSet": [{"Definition": 100010}], "ImageSpriteTaskSet": [{"Definition": 10}]},
    )
    done = run_mps("process", truncated, "--task", task, "--output-dir", tmp_path / "out")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    assert result["ErrCode"] == 60000 and "frame size" in result["Message"]
    statuses = [
        v["Status"] for e in result["MediaProcessResultSet"] for k, v in e.items() if k.endswith("Task") and v
    ]
    assert statuses == ["FAIL", "FAIL"]


def test_input_that_is_not_media(tmp_path: Path) -> None:
    fake = tmp_path / "notes.mp4"
    fake.write_text("this is not a video\n" * 100)
    task = write_json(
        tmp_path / "task.json",
        {"TranscodeTaskSet": [{"Definition": 100010}], "SampleSnapshotTaskSet": [{"Definition": 10}]},
    )
    done = run_mps("process", fake, "--task", task, "--output-dir", tmp_path / "out")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    assert result["ErrCode"] == 60000 and result["Message"]
    assert [
        e[f]["Status"] for e in result["MediaProcessResultSet"] for f in e if f.endswith("Task") and e[f]
    ] == ["FAIL", "FAIL"]


def test_an_unreadable_input_is_reported_without_any_local_path(tmp_path: Path) -> None:
    # Deep in a directory, as a worker's scratch copy would be: the path must not reach result.json.
    where = tmp_path / "mps-inputs-1234" / "mps-input-abcd"
    where.mkdir(parents=True)
    broken = where / "input.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\xde\xad" * 500)  # an MP4 header, then garbage
    task = write_json(tmp_path / "task.json", {"TranscodeTaskSet": [{"Definition": 100010}]})

    done = run_mps("process", broken, "--task", task, "--output-dir", tmp_path / "out", "-q")

    result = json.loads((tmp_path / "out" / "result.json").read_text())
    messages = [result["Message"]] + [e["TranscodeTask"]["Message"] for e in result["MediaProcessResultSet"]]
    assert done.returncode == 1 and result["ErrCode"] == 60000
    assert all("the source" in message for message in messages), messages
    # (InputInfo echoes the user's own input as a file:// URL; the messages never name a path.)
    assert not [m for m in messages if str(tmp_path) in m or "mps-input" in m or "input.mp4" in m]
    assert str(tmp_path) not in done.stderr


def test_one_failing_sub_task_does_not_fail_the_others(tmp_path: Path, sample_clip: Path) -> None:
    task = write_json(
        tmp_path / "task.json",
        {
            "TranscodeTaskSet": [
                {
                    "Definition": 0,
                    "RawParameter": {
                        "Container": "mp4",
                        "RemoveAudio": 1,
                        "VideoTemplate": {"Codec": "h266", "Fps": 0, "Bitrate": 0},
                    },
                },
                {"Definition": 100010},
            ]
        },
    )
    done = run_mps("process", sample_clip, "--task", task, "--output-dir", tmp_path / "out", "-q")
    assert done.returncode == 1
    entries = json.loads((tmp_path / "out" / "result.json").read_text())["MediaProcessResultSet"]
    assert entries[0]["TranscodeTask"]["Status"] == "FAIL"
    assert entries[0]["TranscodeTask"]["ErrCodeExt"].startswith("InvalidParameterValue")
    assert entries[1]["TranscodeTask"]["Status"] == "SUCCESS"


def test_the_mp3_preset_makes_a_320_kbps_mp3(tmp_path: Path, clip: ClipFactory) -> None:
    # 1020 lies outside the client's bitrate range (26-256 kbps); a preset may, a client may not.
    task = write_json(tmp_path / "task.json", {"TranscodeTaskSet": [{"Definition": 1020}]})
    done = run_mps("process", clip(duration=2.0), "--task", task, "--output-dir", tmp_path / "out", "-q")
    assert done.returncode == 0, done.stderr
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    output = result["MediaProcessResultSet"][0]["TranscodeTask"]["Output"]
    mp3 = tmp_path / "out" / output["Path"].lstrip("/")
    entries = "stream=codec_name,codec_type,bit_rate"
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", entries, "-of", "json", mp3],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    streams = json.loads(probe.stdout)["streams"]
    assert [s["codec_type"] for s in streams] == ["audio"] and streams[0]["codec_name"] == "mp3"
    assert int(streams[0]["bit_rate"]) == 320000
