"""The console's orchestration pages on in-memory twins: a ScheduleTask's DAG with each activity's
state, the history panel, schedules (list, detail, Enable/Disable, Run once), Run once of a workflow."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from mps.models.schedules import Activity
from mps.store.base import NewTask, TaskQuery
from mps.workflow.dag import build_dag
from mps.workflow.orchestration import advance, new_activities, new_schedule_task_id, stored_activities
from tests.console.harness import VIEWER_PASSWORD, console_app, login, store_of
from tests.schedules import TRIGGER, example

NODE = re.compile(r'<g class="node st-(\w+)" data-node="(\d+)"')
INPUT = {"Type": "COS", "CosInputInfo": {"Bucket": "media", "Region": "r", "Object": "/in/clip.mp4"}}


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    return console_app(tmp_path)


@pytest.fixture
def client(app: FastAPI) -> TestClient:
    return TestClient(app)


def _api(client: TestClient, action: str, **params: Any) -> dict[str, Any]:
    """An API action on the same app (its authentication is off in these tests)."""
    answer = client.post("/", json=params, headers={"X-TC-Action": action}).json()["Response"]
    assert "Error" not in answer, answer
    return answer  # type: ignore[no-any-return]


def _schedule_task(app: FastAPI, activities: list[dict[str, Any]] | None = None) -> str:
    """An orchestration task of the README's example (or ``activities``), as ProcessMedia stores it."""
    models = [Activity.model_validate(a) for a in activities or example()]
    request = {"InputInfo": INPUT, "Activities": stored_activities(models)}
    task, _ = store_of(app).create_task(
        NewTask(new_schedule_task_id("0"), request, subtasks=new_activities(build_dag(models)))
    )
    return task.task_id


def _finish(app: FastAPI, task_id: str, index: int, status: str, result: dict[str, Any]) -> None:
    store = store_of(app)
    store.start_subtask(task_id, index, host="test:1")
    store.finish_subtask(task_id, index, result, status, then=advance)  # type: ignore[arg-type]


def _states(html: str) -> dict[int, str]:
    return {int(index): state for state, index in NODE.findall(html)}


def _running_example(app: FastAPI) -> str:
    """The example mid-run: the rule chose 2 (3 skipped), 2 running, the sprite (4) failed."""
    task_id = _schedule_task(app)
    _finish(app, task_id, 1, "SUCCESS", {"Type": "ExecRules", "ExecRuleTask": {
        "Status": "SUCCESS", "Output": {"RearDriveIndex": [2]}}})  # fmt: skip
    store_of(app).start_subtask(task_id, 2, host="test:1")
    failure = {"Status": "FAIL", "ErrCode": 30010, "ErrCodeExt": "InvalidParameterValue.Definition"}
    _finish(app, task_id, 4, "FAIL", {"Type": "ImageSprites", "ImageSpriteTask": failure})
    return task_id


def test_a_schedule_task_page_draws_one_node_per_activity_with_its_state(
    client: TestClient, app: FastAPI
) -> None:
    task_id = _running_example(app)
    login(client)
    page = client.get(f"/console/tasks/{task_id}").text

    assert page.count('<svg class="dag"') == 1
    states = _states(page)
    assert sorted(states) == list(range(7))
    assert (states[0], states[1], states[2], states[3], states[4], states[5]) == (
        "ran", "ran", "running", "skipped", "failed", "waiting",
    )  # fmt: skip
    assert page.count('<path class="edge') == 8
    assert '<a href="#sub-2">' in page and 'id="sub-2"' in page  # a node leads to its row
    assert "2 Transcode 100030" in page and "4 ImageSprites 10" in page
    assert 'id="abort"' in page  # the buttons are on the DAG page too
    detail = client.get(f"/console/api/tasks/{task_id}").json()
    assert [s["Status"] for s in detail["SubTasks"]][:5] == [
        "SUCCESS",
        "SUCCESS",
        "PROCESSING",
        "SKIPPED",
        "FAIL",
    ]


def test_an_ordinary_task_has_no_dag(client: TestClient, app: FastAPI) -> None:
    from tests.console.harness import add_task

    task_id = add_task(app)
    login(client)
    assert '<svg class="dag"' not in client.get(f"/console/tasks/{task_id}").text


def test_the_history_panel_lists_every_event_newest_last(client: TestClient, app: FastAPI) -> None:
    task_id = _running_example(app)
    login(client)
    page = client.get(f"/console/tasks/{task_id}").text
    history = store_of(app).task_history(task_id)

    panel = page.split('<tbody id="history-rows">')[1].split("</tbody>")[0]
    seqs = [int(s) for s in re.findall(r'<tr data-seq="(\d+)"', panel)]
    assert seqs == [h.seq for h in history] == sorted(seqs) and len(seqs) >= 6
    events = re.findall(r'<span class="event e-(\w+)">', panel)
    assert events == [h.event for h in history]
    assert events[0] == "created" and "skipped" in events and "failed" in events
    failed = panel.split('<span class="event e-failed">')[1].split("</tr>")[0]
    assert '<a href="#sub-4">4</a>' in failed and "<td>1</td>" in failed  # sub-task and attempt
    assert "InvalidParameterValue.Definition" in failed  # the detail
    # The timeline marks each sub-task's events; the JSON the page polls carries both.
    assert 'class="mark m-started"' in page and 'class="mark m-failed"' in page
    detail = client.get(f"/console/api/tasks/{task_id}").json()
    assert [h["Seq"] for h in detail["History"]] == seqs
    assert [m["Event"] for m in detail["SubTasks"][4]["Marks"]][-2:] == ["started", "failed"]


def test_a_finished_orchestration_shows_redo_with_its_dag(client: TestClient, app: FastAPI) -> None:
    task_id = _running_example(app)
    csrf = login(client)
    client.post(f"/console/tasks/{task_id}/abort", data={"csrf": csrf})
    page = client.get(f"/console/tasks/{task_id}").text
    assert 'id="redo"' in page and 'id="abort"' not in page
    assert _states(page)[2] == "failed"  # the abort failed the running activity
    assert "aborted" in re.findall(r'<span class="event e-(\w+)">', page) or "finished" in page


def _create_schedule(client: TestClient, name: str = "web") -> int:
    activities = example()
    activities[4]["OnFailureIndex"] = [6]  # a failure edge, drawn dashed
    schedule_id: int = _api(client, "CreateSchedule", ScheduleName=name, Trigger=TRIGGER,
                            Activities=activities)["ScheduleId"]  # fmt: skip
    return schedule_id


def _create_workflow(client: TestClient, name: str = "wf") -> int:
    body = {
        "WorkflowName": name,
        "Trigger": TRIGGER,
        "MediaProcessTask": {"TranscodeTaskSet": [{"Definition": 100010}]},
    }
    workflow_id: int = _api(client, "CreateWorkflow", **body)["WorkflowId"]
    return workflow_id


def test_schedules_are_listed_apart_from_workflows(client: TestClient) -> None:
    schedule_id, workflow_id = _create_schedule(client), _create_workflow(client)
    login(client)

    schedules = client.get("/console/schedules").text
    assert f'<tr data-schedule="{schedule_id}">' in schedules and "web" in schedules
    assert f'data-schedule="{workflow_id}"' not in schedules
    workflows = client.get("/console/workflows").text
    assert (
        f'<tr data-workflow="{workflow_id}">' in workflows
        and f'data-workflow="{schedule_id}"' not in workflows
    )
    # an id of the other kind is not found, with a link to where it is
    wrong = client.get(f"/console/workflows/{schedule_id}").text
    assert "not found" in wrong and f'href="/console/schedules/{schedule_id}"' in wrong
    assert 'id="workflow-enable"' not in wrong
    other = client.get(f"/console/schedules/{workflow_id}").text
    assert "not found" in other and f'href="/console/workflows/{workflow_id}"' in other
    assert "not found" in client.get("/console/schedules/99999").text
    assert "not found" in client.get("/console/schedules/abc").text


def test_a_schedule_page_draws_its_dag_and_enables_through_the_api(client: TestClient, app: FastAPI) -> None:
    schedule_id = _create_schedule(client)
    csrf = login(client)
    page = client.get(f"/console/schedules/{schedule_id}").text

    assert set(_states(page).values()) == {"plan"} and len(_states(page)) == 7
    assert page.count('<path class="edge failure"') == 1 and page.count('<path class="edge"') == 8
    assert '<a href="#sub-' not in page  # no rows to lead to
    assert 'id="schedule-enable"' in page and 'id="schedule-run"' in page and "CosFileUpload" in page
    answer = client.post(f"/console/schedules/{schedule_id}/enable", data={"csrf": csrf})
    assert "Schedule enabled." in answer.text and 'id="schedule-disable"' in answer.text
    assert store_of(app).get_workflow(schedule_id).status == "Enabled"
    client.post(f"/console/schedules/{schedule_id}/disable", data={"csrf": csrf})
    assert store_of(app).get_workflow(schedule_id).status == "Disabled"
    assert client.post(f"/console/schedules/{schedule_id}/delete", data={"csrf": csrf}).status_code == 404


def test_run_once_starts_a_task_per_object_for_schedules_and_workflows(
    client: TestClient, app: FastAPI
) -> None:
    storage = app.state.services.storage
    storage.ensure_bucket("media")
    for name in ("a", "b"):
        storage.put_bytes("media", f"in/{name}.mp4", b"not really a video")
    schedule_id, workflow_id = _create_schedule(client), _create_workflow(client)
    csrf = login(client)
    store = store_of(app)

    refused = client.post(f"/console/schedules/{schedule_id}/run", data={"csrf": csrf}).text
    assert "RunSchedule refused: FailedOperation" in refused
    client.post(f"/console/schedules/{schedule_id}/enable", data={"csrf": csrf})
    answer = client.post(f"/console/schedules/{schedule_id}/run", data={"csrf": csrf}).text
    assert "Run once: 2 task(s) started." in answer
    tasks = store.find_tasks(TaskQuery(workflow_id=schedule_id)).tasks
    assert len(tasks) == 2 and all("-ScheduleTask-" in t.task_id for t in tasks)
    assert "Run once: 0 task(s) started." in client.post(f"/console/schedules/{schedule_id}/run",
                                                        data={"csrf": csrf}).text  # fmt: skip
    page = client.get(f"/console/schedules/{schedule_id}").text
    assert all(t.task_id in page for t in tasks)  # its latest tasks
    task_page = client.get(f"/console/tasks/{tasks[0].task_id}").text
    assert f'href="/console/schedules/{schedule_id}"' in task_page and len(_states(task_page)) == 7

    client.post(f"/console/workflows/{workflow_id}/enable", data={"csrf": csrf})
    assert 'id="workflow-run"' in client.get(f"/console/workflows/{workflow_id}").text
    answer = client.post(f"/console/workflows/{workflow_id}/run", data={"csrf": csrf}).text
    assert "Run once: 2 task(s) started." in answer
    assert len(store.find_tasks(TaskQuery(workflow_id=workflow_id)).tasks) == 2


def test_the_new_posts_need_the_csrf_token_and_an_admin(client: TestClient, app: FastAPI) -> None:
    storage = app.state.services.storage
    storage.ensure_bucket("media")
    storage.put_bytes("media", "in/a.mp4", b"x")
    schedule_id, workflow_id = _create_schedule(client), _create_workflow(client)
    _api(client, "EnableWorkflow", WorkflowId=workflow_id)
    login(client)
    store = store_of(app)
    for path in (f"/console/schedules/{schedule_id}/enable", f"/console/schedules/{schedule_id}/run",
                 f"/console/workflows/{workflow_id}/run"):  # fmt: skip
        assert client.post(path, data={}).status_code == 403
        assert client.post(path, data={"csrf": "wrong"}).status_code == 403
    assert store.get_workflow(schedule_id).status == "Disabled"
    assert store.find_tasks(TaskQuery()).tasks == []

    viewer = TestClient(app)
    csrf = login(viewer, "viewer", VIEWER_PASSWORD)
    task_id = _running_example(app)
    page = viewer.get(f"/console/schedules/{schedule_id}").text
    assert "<svg" in page and "<button id=" not in page and "/run" not in page
    assert 'id="workflow-run"' not in viewer.get(f"/console/workflows/{workflow_id}").text
    task_page = viewer.get(f"/console/tasks/{task_id}").text
    assert "<svg" in task_page and 'id="abort"' not in task_page and 'id="redo"' not in task_page
    assert viewer.post(f"/console/schedules/{schedule_id}/enable", data={"csrf": csrf}).status_code == 403
    assert viewer.post(f"/console/workflows/{workflow_id}/run", data={"csrf": csrf}).status_code == 403
    assert store.get_workflow(schedule_id).status == "Disabled"
    assert len(store.find_tasks(TaskQuery()).tasks) == 1  # only the one made above


def test_logged_out_the_schedule_pages_redirect(client: TestClient) -> None:
    for path in ("/console/schedules", "/console/schedules/1"):
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/console/login")
