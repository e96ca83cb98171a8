"""submit_task: validation before any task exists, one task per SessionId, one message per sub-task."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from mps.broker.stub import StubBroker
from mps.errors import InvalidParameterError, MpsError, ResourceNotFoundError
from mps.store.base import BucketTrigger, NewSubtask
from mps.store.memory import MemoryTaskStore
from mps.templates import TemplateCatalog, load_presets
from mps.workflow.messages import WorkMessage
from mps.workflow.submit import ProcessMediaRequest, group_subtasks, submit_task
from mps.workflow.templates import StoreTemplates

COS_INPUT = {"Type": "COS", "CosInputInfo": {"Bucket": "media", "Region": "r", "Object": "/in/a.mp4"}}
REQUEST: dict[str, Any] = {
    "InputInfo": COS_INPUT,
    "OutputDir": "/out/",
    "MediaProcessTask": {
        "SnapshotByTimeOffsetTaskSet": [{"Definition": 10, "TimeOffsetSet": [1.0]}],
        "TranscodeTaskSet": [{"Definition": 100010}, {"Definition": 100020}],
        "ImageSpriteTaskSet": [{"Definition": 10}],
    },
}


@pytest.fixture
def store() -> MemoryTaskStore:
    return MemoryTaskStore()


@pytest.fixture
def broker() -> StubBroker:
    return StubBroker()


@pytest.fixture
def templates(store: MemoryTaskStore) -> StoreTemplates:
    return StoreTemplates(TemplateCatalog(load_presets()), store)


def submit(
    store: MemoryTaskStore, broker: StubBroker, templates: StoreTemplates, request: Any, plan: str = "split"
) -> str:
    return submit_task(request, store=store, broker=broker, templates=templates, plan=plan)[0]


def with_changes(**changes: Any) -> dict[str, Any]:
    request = copy.deepcopy(REQUEST)
    request.update(changes)
    return request


def test_a_request_becomes_one_waiting_task_with_its_subtasks_in_request_order(
    store: MemoryTaskStore, broker: StubBroker, templates: StoreTemplates
) -> None:
    task_id = submit(store, broker, templates, REQUEST)

    task = store.get_task(task_id)
    assert task.status == "WAITING"
    assert task_id.startswith("0-WorkflowTask-")
    kinds = [(s.kind, s.input["Definition"]) for s in store.get_subtasks(task_id)]
    assert kinds == [
        ("SnapshotByTimeOffset", 10),
        ("Transcode", 100010),
        ("Transcode", 100020),
        ("ImageSprites", 10),
    ]
    named = list(task.request["MediaProcessTask"])[:3]
    assert named == ["SnapshotByTimeOffsetTaskSet", "TranscodeTaskSet", "ImageSpriteTaskSet"]


def test_one_message_per_subtask_is_published_with_the_task_priority(
    store: MemoryTaskStore, broker: StubBroker, templates: StoreTemplates
) -> None:
    task_id = submit(store, broker, templates, with_changes(TasksPriority=7))

    messages = broker.messages(broker.work_queue)
    assert sorted(WorkMessage.model_validate(m.json()).indexes for m in messages) == [(0,), (1,), (2,), (3,)]
    assert {WorkMessage.model_validate(m.json()).task_id for m in messages} == {task_id}
    assert {m.priority for m in messages} == {7}
    assert store.get_task(task_id).priority == 7


def test_a_repeated_session_id_returns_the_same_task_and_publishes_nothing(
    store: MemoryTaskStore, broker: StubBroker, templates: StoreTemplates
) -> None:
    request = with_changes(SessionId="s-1", SessionContext="ctx")
    first = submit_task(request, store=store, broker=broker, templates=templates)
    second = submit_task(request, store=store, broker=broker, templates=templates)

    assert first == (first[0], True)
    assert second == (first[0], False)
    assert len(broker.messages(broker.work_queue)) == 3  # MPS_PLAN auto: the two transcodes travel together
    assert store.get_task(first[0]).session_context == "ctx"


def test_a_repeated_bucket_trigger_returns_the_same_task(
    store: MemoryTaskStore, broker: StubBroker, templates: StoreTemplates
) -> None:
    trigger = BucketTrigger(1, "media", "in/a.mp4", "etag")
    first = submit_task(
        REQUEST, store=store, broker=broker, templates=templates, trigger=trigger, workflow_id=1
    )
    second = submit_task(
        REQUEST, store=store, broker=broker, templates=templates, trigger=trigger, workflow_id=1
    )

    assert second == (first[0], False)
    assert store.get_task(first[0]).workflow_id == 1


def test_an_unknown_definition_is_refused_before_any_task_exists(
    store: MemoryTaskStore, broker: StubBroker, templates: StoreTemplates
) -> None:
    request = with_changes(
        MediaProcessTask={"TranscodeTaskSet": [{"Definition": 100010}, {"Definition": 4242}]}
    )

    with pytest.raises(ResourceNotFoundError) as caught:
        submit(store, broker, templates, request)

    assert caught.value.code == "ResourceNotFound.TemplateNotExist"
    assert store.list_tasks("WAITING")[0] == []
    assert broker.messages(broker.work_queue) == []


def test_a_custom_template_from_the_store_is_accepted(
    store: MemoryTaskStore, broker: StubBroker, templates: StoreTemplates
) -> None:
    record = store.create_template("SampleSnapshot", "s", {"SampleType": "Time", "SampleInterval": 5})
    request = with_changes(MediaProcessTask={"SampleSnapshotTaskSet": [{"Definition": record.definition}]})

    task_id = submit(store, broker, templates, request)

    assert store.get_subtasks(task_id)[0].kind == "SampleSnapshot"


def test_a_url_input_without_output_storage_is_refused(
    store: MemoryTaskStore, broker: StubBroker, templates: StoreTemplates
) -> None:
    request = with_changes(InputInfo={"Type": "URL", "UrlInputInfo": {"Url": "https://example.com/a.mp4"}})

    with pytest.raises(InvalidParameterError) as caught:
        submit(store, broker, templates, request)

    assert caught.value.code == "InvalidParameter.OutputStorage"
    assert broker.messages(broker.work_queue) == []


def test_a_url_input_with_output_storage_is_accepted(
    store: MemoryTaskStore, broker: StubBroker, templates: StoreTemplates
) -> None:
    request = with_changes(
        InputInfo={"Type": "URL", "UrlInputInfo": {"Url": "https://example.com/a.mp4"}},
        OutputStorage={"Type": "COS", "CosOutputStorage": {"Bucket": "out"}},
    )

    assert submit(store, broker, templates, request)


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"OutputDir": "out/"}, "InvalidParameterValue.OutputDir"),
        ({"OutputDir": "/out/../../x/"}, "InvalidParameterValue.OutputDir"),
        ({"TasksPriority": 11}, "InvalidParameterValue.TasksPriority"),
        ({"SessionId": "x" * 51}, "InvalidParameterValue.SessionId"),
        ({"SessionContext": "x" * 1001}, "InvalidParameterValue.SessionContext"),
        ({"AiAnalysisTask": {"Definition": 10}}, "UnsupportedOperation"),
        ({"ScheduleId": 3}, "ResourceNotFound.Schedule"),  # no schedule 3 (and a MediaProcessTask too)
        ({"MediaProcessTask": None}, "MissingParameter"),
        (
            {
                "MediaProcessTask": {
                    "TranscodeTaskSet": [{"Definition": 100010, "OutputObjectPath": "../../etc/x"}]
                }
            },
            "InvalidParameterValue.OutputObjectPath",
        ),
        (
            {"InputInfo": {"Type": "URL", "UrlInputInfo": {"Url": "file:///etc/passwd"}}},
            "InvalidParameterValue.InputInfo",
        ),
        ({"TaskNotifyConfig": {"NotifyType": "URL"}}, "InvalidParameterValue.NotifyUrl"),
        ({"TaskNotifyConfig": {"NotifyType": "SCF"}}, "UnsupportedOperation"),
    ],
)
def test_bad_requests_are_refused_with_their_code_and_leave_nothing_behind(
    store: MemoryTaskStore, broker: StubBroker, templates: StoreTemplates, changes: dict[str, Any], code: str
) -> None:
    with pytest.raises(MpsError) as caught:
        submit(store, broker, templates, with_changes(**changes))

    assert caught.value.code == code
    assert store.list_tasks("WAITING")[0] == []
    assert broker.messages(broker.work_queue) == []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "https://api.localhost./hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[fe80::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://2130706433/hook",
        "http://0x7f.1/hook",
    ],
)
def test_a_notify_url_on_an_internal_address_is_refused_at_submit(
    store: MemoryTaskStore, broker: StubBroker, templates: StoreTemplates, url: str
) -> None:
    request = with_changes(TaskNotifyConfig={"NotifyType": "URL", "NotifyUrl": url})

    with pytest.raises(InvalidParameterError) as caught:
        submit(store, broker, templates, request)

    assert caught.value.code == "InvalidParameterValue.NotifyUrl"
    assert store.list_tasks("WAITING")[0] == []
    # ...unless the deployment allows private addresses
    allowed = {"store": store, "broker": broker, "templates": templates, "allow_private_urls": True}
    task_id, _ = submit_task(request, **allowed)
    assert store.get_task(task_id).notify == {"NotifyType": "URL", "NotifyUrl": url}


def test_a_notify_url_host_name_is_not_resolved_at_submit(
    store: MemoryTaskStore, broker: StubBroker, templates: StoreTemplates
) -> None:
    # A name is judged by what it resolves to when the event is sent (the relay checks it then).
    notify = {"NotifyType": "URL", "NotifyUrl": "https://hooks.nonexistent.invalid/mps"}
    assert submit(store, broker, templates, with_changes(TaskNotifyConfig=notify))


def test_an_empty_unsupported_member_asks_for_nothing(
    store: MemoryTaskStore, broker: StubBroker, templates: StoreTemplates
) -> None:
    assert submit(store, broker, templates, with_changes(AiAnalysisTask={}))


def test_a_broker_outage_still_stores_the_task_for_the_redispatch_sweep(
    store: MemoryTaskStore, broker: StubBroker, templates: StoreTemplates
) -> None:
    broker.unavailable = True

    task_id, created = submit_task(REQUEST, store=store, broker=broker, templates=templates)

    assert created
    assert store.get_task(task_id).status == "WAITING"


def test_notify_config_and_the_model_form_are_stored(
    store: MemoryTaskStore, broker: StubBroker, templates: StoreTemplates
) -> None:
    notify = {"NotifyType": "URL", "NotifyUrl": "https://hooks.example.com/mps", "NotifyKey": "k"}
    request = ProcessMediaRequest.model_validate(with_changes(TaskNotifyConfig=notify))

    task_id = submit(store, broker, templates, request)

    assert store.get_task(task_id).notify == notify


def indexes_published(broker: StubBroker) -> list[tuple[int, ...]]:
    return sorted(WorkMessage.model_validate(m.json()).indexes for m in broker.messages(broker.work_queue))


def test_auto_plan_sends_whole_timeline_transcodes_together_and_pictures_apart(
    store: MemoryTaskStore, broker: StubBroker, templates: StoreTemplates
) -> None:
    submit(store, broker, templates, REQUEST, plan="auto")
    assert indexes_published(broker) == [(0,), (1, 2), (3,)]


def test_fused_plan_sends_one_message_and_a_trimmed_transcode_is_not_grouped_by_auto(
    store: MemoryTaskStore, broker: StubBroker, templates: StoreTemplates
) -> None:
    submit(store, broker, templates, REQUEST, plan="fused")
    assert indexes_published(broker) == [(0, 1, 2, 3)]
    subtasks = [NewSubtask("Transcode", {"Definition": 1}), NewSubtask("Transcode", {"StartTimeOffset": 2.0}),
                NewSubtask("Transcode", {"Definition": 2})]  # fmt: skip
    assert group_subtasks(subtasks, "auto") == [(0, 2), (1,)]
    assert group_subtasks(subtasks[:2], "auto") == [(0,), (1,)]


def test_auto_plan_sends_sampled_snapshots_and_sprites_together() -> None:
    subtasks = [NewSubtask("SampleSnapshot", {"Definition": 1}), NewSubtask("SnapshotByTimeOffset", {}),
                NewSubtask("ImageSprites", {"Definition": 2}), NewSubtask("AnimatedGraphics", {}),
                NewSubtask("SampleSnapshot", {"Definition": 3})]  # fmt: skip
    assert group_subtasks(subtasks, "auto") == [(0, 2, 4), (1,), (3,)]
    assert group_subtasks(subtasks[:2], "auto") == [(0,), (1,)]  # one picture sub-task travels alone
