"""The console's pages and actions on in-memory twins (FastAPI TestClient)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mps.api.console import STATIC_DIR
from tests.console.harness import VIEWER_PASSWORD, add_task, console_app, login, store_of

PLAYERS_LOCK = Path(__file__).resolve().parents[1] / "players" / "package-lock.json"


@pytest.fixture
def app(tmp_path: Path):  # type: ignore[no-untyped-def]
    return console_app(tmp_path)


@pytest.fixture
def client(app) -> TestClient:  # type: ignore[no-untyped-def]
    return TestClient(app)


def test_every_page_requires_a_login(client: TestClient, app) -> None:  # type: ignore[no-untyped-def]
    task_id = add_task(app)
    for path in ("/console/tasks", f"/console/tasks/{task_id}", "/console/workflows", "/console/templates"):
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/console/login")
    assert client.get("/console/api/tasks").status_code == 401
    refused = client.post(f"/console/tasks/{task_id}/abort", data={"csrf": "x"}, follow_redirects=False)
    assert refused.status_code == 303
    assert store_of(app).get_task(task_id).status == "WAITING"


def test_a_wrong_password_is_refused(client: TestClient) -> None:
    page = client.get("/console/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    answer = client.post("/console/login", data={"user": "admin", "password": "nope", "csrf": token})
    assert "Wrong user or password" in answer.text
    assert client.get("/console/api/tasks").status_code == 401


def test_a_login_without_the_form_token_is_refused(client: TestClient) -> None:
    answer = client.post("/console/login", data={"user": "admin", "password": "admin-secret"})
    assert answer.status_code == 403
    assert client.get("/console/api/tasks").status_code == 401


def test_a_forged_session_cookie_is_ignored(client: TestClient) -> None:
    client.cookies.set("mps_console", "eyJ1IjoiYWRtaW4ifQ.forged.sig", path="/console")
    assert client.get("/console/api/tasks").status_code == 401


def test_the_admin_aborts_a_waiting_task_through_manage_task(client: TestClient, app) -> None:  # type: ignore[no-untyped-def]
    task_id = add_task(app)
    csrf = login(client)
    assert 'id="abort"' in client.get(f"/console/tasks/{task_id}").text
    answer = client.post(f"/console/tasks/{task_id}/abort", data={"csrf": csrf})
    assert answer.status_code == 200 and "Task aborted." in answer.text
    task = store_of(app).get_task(task_id)
    assert task.status == "FINISH" and task.err_code == 70000
    # The same handler's rules: a finished task cannot be aborted again, and the page says why.
    again = client.post(f"/console/tasks/{task_id}/abort", data={"csrf": csrf})
    assert "ManageTask refused: FailedOperation" in again.text


def test_a_post_without_the_csrf_token_is_refused(client: TestClient, app) -> None:  # type: ignore[no-untyped-def]
    task_id = add_task(app)
    login(client)
    assert client.post(f"/console/tasks/{task_id}/abort", data={}).status_code == 403
    assert client.post(f"/console/tasks/{task_id}/abort", data={"csrf": "wrong"}).status_code == 403
    assert store_of(app).get_task(task_id).status == "WAITING"


def test_a_viewer_sees_pages_without_buttons_and_cannot_post(client: TestClient, app) -> None:  # type: ignore[no-untyped-def]
    task_id = add_task(app)
    csrf = login(client, "viewer", VIEWER_PASSWORD)
    page = client.get(f"/console/tasks/{task_id}")
    assert page.status_code == 200 and task_id in page.text and 'id="abort"' not in page.text
    assert client.post(f"/console/tasks/{task_id}/abort", data={"csrf": csrf}).status_code == 403
    assert store_of(app).get_task(task_id).status == "WAITING"


def test_logout_ends_the_session(client: TestClient) -> None:
    csrf = login(client)
    client.post("/console/logout", data={"csrf": csrf})
    assert client.get("/console/api/tasks").status_code == 401


def test_the_console_is_off_without_any_credential(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO", logger="mps.api.console"):
        app = console_app(tmp_path, console_password=None, console_viewer_password=None)
    client = TestClient(app)
    assert client.get("/console/login").status_code == 404
    assert client.get("/console/tasks").status_code == 404
    assert any("console off" in r.message for r in caplog.records)


def test_the_api_credentials_log_in_as_admin_when_no_console_password_is_set(tmp_path: Path) -> None:
    app = console_app(tmp_path, console_password=None, console_viewer_password=None,
                      secret_id="AKIDtest", secret_key="sk-test")  # fmt: skip
    client = TestClient(app)
    login(client, "AKIDtest", "sk-test")
    assert client.get("/console/api/tasks").status_code == 200


def _ids(client: TestClient, query: str = "") -> list[str]:
    return [row["TaskId"] for row in client.get("/console/api/tasks" + query).json()["Tasks"]]


def test_the_list_filters_by_status_failure_workflow_search_and_pages(client: TestClient, app) -> None:  # type: ignore[no-untyped-def]
    store = store_of(app)
    waiting = add_task(app, key="cats/one.mp4")
    running = add_task(app, key="dogs/two.mp4", workflow_id=7)
    store.start_subtask(running, 0)
    store.update_progress(running, 0, 40)
    failed = add_task(app, key="cats/three.mp4")
    store.start_subtask(failed, 0)
    store.finish_subtask(failed, 0, {"Type": "Transcode"}, "FAIL")
    login(client)

    assert _ids(client) == [failed, running, waiting]
    assert _ids(client, "?status=WAITING") == [waiting]
    assert _ids(client, "?failed=1") == [failed]
    assert _ids(client, "?workflow=7") == [running]
    assert _ids(client, "?q=CATS/") == [failed, waiting]
    assert _ids(client, f"?q={running}") == [running]
    assert _ids(client, "?from=2999-01-01T00:00") == []
    row = client.get("/console/api/tasks?status=PROCESSING&workflow=7").json()["Tasks"][0]
    assert (row["Progress"], row["SubTasks"], row["Input"]) == (40, 1, "media/dogs/two.mp4")
    html = client.get("/console/tasks?failed=1").text
    assert failed in html and waiting not in html


def test_the_list_is_paged_newest_first(client: TestClient, app) -> None:  # type: ignore[no-untyped-def]
    ids = [add_task(app) for _ in range(55)]
    login(client)
    first = client.get("/console/api/tasks").json()
    assert [r["TaskId"] for r in first["Tasks"]] == ids[::-1][:50]
    second = client.get(f"/console/api/tasks?before={first['Next']}").json()
    assert [r["TaskId"] for r in second["Tasks"]] == ids[::-1][50:] and second["Next"] is None
    assert 'id="older"' in client.get("/console/tasks").text


def test_the_task_page_shows_each_subtask_status_error_and_previews(client: TestClient, app) -> None:  # type: ignore[no-untyped-def]
    store = store_of(app)
    task_id = add_task(app, ("Transcode", "SnapshotByTimeOffset"))
    store.start_subtask(task_id, 0)
    store.finish_subtask(task_id, 0, {"Type": "Transcode", "TranscodeTask": {
        "Status": "SUCCESS", "ErrCode": 0, "Message": "SUCCESS",
        "Output": {"Path": "/out/clip_transcode_100010.mp4", "Definition": 100010,
                   "OutputStorage": {"Type": "COS", "CosOutputStorage": {"Bucket": "outs", "Region": "r"}}}}},
        "SUCCESS")  # fmt: skip
    store.start_subtask(task_id, 1)
    store.finish_subtask(task_id, 1, {"Type": "SnapshotByTimeOffset", "SnapshotByTimeOffsetTask": {
        "Status": "FAIL", "ErrCode": 30010, "ErrCodeExt": "InvalidParameterValue.Definition",
        "Message": "no such template"}}, "FAIL")  # fmt: skip
    login(client)
    page = client.get(f"/console/tasks/{task_id}").text
    assert page.count('<tr data-index="') == 2
    assert "SUCCESS" in page and "FAIL" in page
    assert "30010 (InvalidParameterValue.Definition): no such template" in page
    video = '<video controls muted preload="metadata" src="http://s3.test/outs/out/clip_transcode_100010.mp4'
    assert video in page
    detail = client.get(f"/console/api/tasks/{task_id}").json()
    assert [s["Status"] for s in detail["SubTasks"]] == ["SUCCESS", "FAIL"]
    assert detail["SubTasks"][1]["ErrCode"] == 30010


def test_an_unknown_task_page_says_so(client: TestClient) -> None:
    login(client)
    assert "not found" in client.get("/console/tasks/0-WorkflowTask-nonet0").text
    assert client.get("/console/api/tasks/0-WorkflowTask-nonet0").status_code == 404


def test_workflows_are_listed_and_enabled_through_the_api_handlers(client: TestClient, app) -> None:  # type: ignore[no-untyped-def]
    body = {"WorkflowName": "wf", "Trigger": {"Type": "CosFileUpload", "CosFileUploadTrigger": {
        "Bucket": "media", "Region": "r", "Dir": "/in/"}},
        "MediaProcessTask": {"TranscodeTaskSet": [{"Definition": 100010}]}}  # fmt: skip
    record = store_of(app).create_workflow("wf", body, "media", "/in/")
    csrf = login(client)
    assert "wf" in client.get("/console/workflows").text
    page = client.get(f"/console/workflows/{record.workflow_id}").text
    assert "TranscodeTaskSet" in page and 'id="workflow-enable"' in page
    client.post(f"/console/workflows/{record.workflow_id}/enable", data={"csrf": csrf})
    assert store_of(app).get_workflow(record.workflow_id).status == "Enabled"
    client.post(f"/console/workflows/{record.workflow_id}/disable", data={"csrf": csrf})
    assert store_of(app).get_workflow(record.workflow_id).status == "Disabled"


def test_templates_of_each_family_are_listed_read_only(client: TestClient) -> None:
    login(client)
    page = client.get("/console/templates?family=TranscodeTemplateSet").text
    assert "100010" in page and "<form" not in page.split("</header>")[1]
    assert client.get("/console/templates?family=WatermarkTemplateSet").status_code == 200


def test_pages_forbid_inline_scripts_and_framing(client: TestClient) -> None:
    login(client)
    headers = client.get("/console/tasks").headers
    assert "script-src 'self'" in headers["content-security-policy"] and headers["x-frame-options"] == "DENY"


def test_the_vendored_players_are_the_locked_versions() -> None:
    lock = json.loads(PLAYERS_LOCK.read_text())["packages"]
    hls = (STATIC_DIR / "vendor" / "hls.min.js").read_text(encoding="utf-8")
    dash = (STATIC_DIR / "vendor" / "dash.all.min.js").read_text(encoding="utf-8")
    assert f'"{lock["node_modules/hls.js"]["version"]}"' in hls
    assert lock["node_modules/dashjs"]["version"] in dash
