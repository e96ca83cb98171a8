"""``mps process --schedule`` end to end: real ffmpeg, a rule on the height choosing one of two
transcode branches, a snapshot after the transcode, a sprite branch beside them, result.json as the
SDK's ScheduleTask."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from tencentcloud.mps.v20190612 import models as sdk

from tests.conftest import ClipFactory
from tests.media.test_cli_process import run_mps, write_json
from tests.mediatools import image_size, video_stream

pytestmark = pytest.mark.slow


def _transcode(width: int, name: str) -> dict[str, Any]:
    return {
        "Definition": 0,
        "RawParameter": {
            "Container": "mp4",
            "RemoveAudio": 1,
            "VideoTemplate": {"Codec": "libx264", "Fps": 10, "Bitrate": 200, "Width": width, "Height": 0},
        },
        "OutputObjectPath": f"{name}.mp4",
    }


#: input -> rule (Height >= 720: activity 2, else 3) -> transcode -> snapshot (5); input -> sprite (4);
#: snapshot and sprite -> output.
ACTIVITIES: list[dict[str, Any]] = [
    {"ActivityType": "input", "ReardriveIndex": [1, 4]},
    {
        "ActivityType": "action-exec-rules",
        "ReardriveIndex": [2, 3],
        "ActivityPara": {
            "ExecRulesTask": {
                "Rules": [
                    {"Id": "hd", "Conditions": [{"Key": "Height", "Value": ">=720"}], "RearDriveIndexs": [2]},
                    {"Id": "sd", "Conditions": [], "RearDriveIndexs": [3]},
                ]
            }
        },
    },
    {
        "ActivityType": "action-trans",
        "ReardriveIndex": [5],
        "ActivityPara": {"TranscodeTask": _transcode(320, "hd")},
    },
    {
        "ActivityType": "action-trans",
        "ReardriveIndex": [5],
        "ActivityPara": {"TranscodeTask": _transcode(160, "sd")},
    },
    {
        "ActivityType": "action-image-sprite",
        "ReardriveIndex": [6],
        "ActivityPara": {"ImageSpriteTask": {"Definition": 10}},
    },
    {
        "ActivityType": "action-snapshotByTimeOffset",
        "ReardriveIndex": [6],
        "ActivityPara": {"SnapshotByTimeOffsetTask": {"Definition": 10, "TimeOffsetSet": [0.5]}},
    },
    {"ActivityType": "output"},
]


def _schedule_task(out: Path) -> sdk.ScheduleTask:
    """result.json read by the official SDK (its "fields are useless" warnings are errors here)."""
    task = sdk.ScheduleTask()
    task._deserialize(json.loads((out / "result.json").read_text()))
    return task


@pytest.mark.parametrize(
    ("height", "chosen", "other", "width", "quiet"),
    [(720, "hd", "sd", 320, False), (360, "sd", "hd", 160, True)],
    ids=["720p-hd-branch", "360p-sd-branch-quiet"],
)
def test_the_rule_on_the_height_runs_one_branch_and_the_dag_joins_at_output(
    tmp_path: Path, clip: ClipFactory, height: int, chosen: str, other: str, width: int, quiet: bool
) -> None:
    source = clip(duration=1.5, width=height * 16 // 9, height=height)
    # As DescribeSchedules returns it: the activities inside the schedule's SchedulesInfo.
    schedule = write_json(
        tmp_path / "schedule.json",
        {"ScheduleInfoSet": [{"ScheduleId": 1, "ScheduleName": "by-height", "Activities": ACTIVITIES}]},
    )
    out = tmp_path / "out"

    done = run_mps("process", source, "--schedule", schedule, "--output-dir", out, *(["-q"] if quiet else []))

    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    task = _schedule_task(out)
    assert (task.Status, task.ErrCode, task.Message) == ("FINISH", 0, "SUCCESS")
    assert "-ScheduleTask-" in task.TaskId and task.MetaData.Height == height
    # Index order, the skipped transcode, input and output left out.
    assert [r.ActivityType for r in task.ActivityResultSet] == [
        "ExecRules",
        "Transcode",
        "ImageSprites",
        "SnapshotByTimeOffset",
    ]
    rule, transcode, sprite, snapshot = (r.ActivityResItem for r in task.ActivityResultSet)
    branch = 2 if chosen == "hd" else 3
    assert rule.ExecRuleTask.Status == "SUCCESS" and rule.ExecRuleTask.Output.RearDriveIndex == [branch]
    # The chosen branch wrote its file, the other one nothing.
    assert (out / f"{chosen}.mp4").is_file() and not (out / f"{other}.mp4").exists()
    assert transcode.TranscodeTask.Output.Path == f"/{chosen}.mp4"
    assert video_stream(out / f"{chosen}.mp4")["width"] == width
    # The snapshot after the transcode, and the sprite branch beside them.
    (picture,) = snapshot.SnapshotByTimeOffsetTask.Output.PicInfoSet
    assert image_size(out / picture.Path.lstrip("/")) == (height * 16 // 9, height)
    assert (out / f"{chosen}.mp4").stat().st_mtime <= (out / picture.Path.lstrip("/")).stat().st_mtime
    assert (out / sprite.ImageSpriteTask.Output.WebVttPath.lstrip("/")).read_text().startswith("WEBVTT")
    if quiet:
        assert done.stdout == ""
    else:  # the table names every activity, the skipped one included
        assert "ExecRules" in done.stdout and "SKIPPED" in done.stdout


def test_a_dag_that_cannot_run_is_refused_before_any_work(tmp_path: Path, clip: ClipFactory) -> None:
    activities = [
        {"ActivityType": "input", "ReardriveIndex": [1, 2]},
        {"ActivityType": "action-trans", "ActivityPara": {"TranscodeTask": {"Definition": 100010}}},
        {"ActivityType": "output"},
    ]
    schedule = write_json(tmp_path / "schedule.json", {"Activities": activities})
    out = tmp_path / "out"

    done = run_mps("process", clip(duration=1.0), "--schedule", schedule, "--output-dir", out)

    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert "activity 1" in line and "[InvalidParameterValue.Activities]" in line
    assert sorted(p.name for p in out.iterdir()) == ["result.json"]
    task = _schedule_task(out)
    assert task.ErrCode == 40000 and task.ActivityResultSet == []


def test_task_and_schedule_together_are_refused(tmp_path: Path, clip: ClipFactory) -> None:
    schedule = write_json(tmp_path / "schedule.json", ACTIVITIES)
    task = write_json(tmp_path / "task.json", {"TranscodeTaskSet": [{"Definition": 100010}]})
    source = clip(duration=1.0)
    both = run_mps("process", source, "--schedule", schedule, "--task", task, "--output-dir", tmp_path / "o")
    neither = run_mps("process", source, "--output-dir", tmp_path / "o")
    for done in (both, neither):
        assert done.returncode == 2 and "exactly one of --task and --schedule" in done.stderr
    assert not (tmp_path / "o").exists()


def test_a_source_that_cannot_be_probed_fails_every_activity(tmp_path: Path) -> None:
    source = tmp_path / "broken.mp4"
    source.write_bytes(b"not media at all")
    schedule = write_json(tmp_path / "schedule.json", ACTIVITIES)
    out = tmp_path / "out"

    done: subprocess.CompletedProcess[str] = run_mps(
        "process", source, "--schedule", schedule, "--output-dir", out
    )

    assert done.returncode == 1
    task = _schedule_task(out)
    assert task.ErrCode == 60000 and task.Message
    statuses = [next(v for v in vars(r.ActivityResItem).values() if v).Status for r in task.ActivityResultSet]
    assert statuses == ["FAIL"] * 5  # every activity but input and output
