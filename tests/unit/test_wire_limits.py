"""Numbers and JSON from outside are bounded: a huge number or a deep body is a clear 400-class
error, never an ``InternalError`` from SQLite or a ``RecursionError``.

Through the real HTTP app on a SQLite task store (the store the overflow came from), the webhook,
the bucket-event and notification decoders, and every wire model.
"""

from __future__ import annotations

import json
import logging
import typing
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from pydantic import BaseModel, ValidationError

import mps.api.handlers.tasks
import mps.api.handlers.templates
import mps.api.handlers.workflows
import mps.models
import mps.workflow.submit
from mps.api import ActionRegistry, create_app, register_builtin_actions
from mps.api.handlers import ApiServices, register_handlers
from mps.broker.base import DecodeError, Delivery
from mps.broker.stub import StubBroker
from mps.errors import InvalidParameterError
from mps.models import MediaMetaData
from mps.models.base import INT64_MAX, WireModel
from mps.models.jsontext import MAX_JSON_DEPTH, json_depth, parse_json
from mps.runner import FakeRunner
from mps.settings import Settings
from mps.storage.memory import MemoryStorage
from mps.store.sql import SqlTaskStore
from mps.templates import TemplateCatalog, load_presets
from mps.workflow.intake import parse_bucket_message
from mps.workflow.templates import StoreTemplates
from tests.unit.test_api_wire import AppClient
from tests.unit.test_webhook import Hook, _auth, _post

HUGE = 2**70
COS_INPUT = {"Type": "COS", "CosInputInfo": {"Bucket": "media", "Object": "/in/a.mp4"}}


class SqliteApi:
    """The real API app over a SQLite task store, called as a client would (JSON or GET mode)."""

    def __init__(self, tmp_path: Path) -> None:
        self.store = SqlTaskStore(f"sqlite:///{tmp_path / 'mps.db'}")
        settings = Settings(work_dir=tmp_path, secret_id=None, secret_key=None)
        services = ApiServices(
            store=self.store,
            broker=StubBroker(),
            storage=MemoryStorage(["media"]),
            runner=FakeRunner(MediaMetaData(Duration=3.0)),
            templates=StoreTemplates(TemplateCatalog(load_presets()), self.store),
            settings=settings,
        )
        registry = register_builtin_actions(register_handlers(ActionRegistry(), services))
        self.client = AppClient(create_app(settings, registry))

    def post(self, action: str, body: bytes | dict[str, Any]) -> dict[str, Any]:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"X-TC-Action": action, "Content-Type": "application/json"}
        response = self.client.post("/", content=content, headers=headers)
        assert response.status_code == 200
        result: dict[str, Any] = response.json()["Response"]
        return result

    def get(self, action: str, **flat: str) -> dict[str, Any]:
        response = self.client.get("/?" + urlencode(flat), headers={"X-TC-Action": action})
        result: dict[str, Any] = response.json()["Response"]
        return result


@pytest.fixture
def api(tmp_path: Path) -> SqliteApi:
    return SqliteApi(tmp_path)


def _code(response: dict[str, Any]) -> str | None:
    error = response.get("Error")
    return error["Code"] if error else None


# -- integers through the API, on SQLite ----------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "body", "code"),
    [
        ("ProcessMedia", {"InputInfo": COS_INPUT,
                          "MediaProcessTask": {"TranscodeTaskSet": [{"Definition": HUGE}]}},
         "InvalidParameterValue.Definition"),
        ("DescribeWatermarkTemplates", {"Definitions": [1, HUGE]}, "InvalidParameterValue.Definitions"),
        ("DescribeTranscodeTemplates", {"Offset": HUGE}, "InvalidParameterValue.Offset"),
        ("DeleteTranscodeTemplate", {"Definition": HUGE}, "InvalidParameterValue.Definition"),
        ("ModifySampleSnapshotTemplate", {"Definition": -HUGE}, "InvalidParameterValue.Definition"),
        ("DescribeWorkflows", {"WorkflowIds": [HUGE]}, "InvalidParameterValue.WorkflowIds"),
        ("EnableWorkflow", {"WorkflowId": HUGE}, "InvalidParameterValue.WorkflowId"),
        ("DescribeTasks", {"Status": "FINISH", "Limit": HUGE}, "InvalidParameterValue.Limit"),
        ("ProcessMedia", {"InputInfo": COS_INPUT, "TasksPriority": HUGE,
                          "MediaProcessTask": {"TranscodeTaskSet": [{"Definition": 100010}]}},
         "InvalidParameterValue.TasksPriority"),
        ("ProcessMedia", {"InputInfo": COS_INPUT, "MediaProcessTask": {"TranscodeTaskSet": [
            {"Definition": 100010, "WatermarkSet": [{"Definition": HUGE}]}]}},
         "InvalidParameterValue.Definition"),
        ("ProcessMedia", {"InputInfo": COS_INPUT, "MediaProcessTask": {"SnapshotByTimeOffsetTaskSet": [
            {"Definition": 10, "TimeOffsetSet": [1e300]}]}}, "InvalidParameterValue.TimeOffsetSet"),
        ("ProcessMedia", {"InputInfo": COS_INPUT, "MediaProcessTask": {"SnapshotByTimeOffsetTaskSet": [
            {"Definition": 10, "ExtTimeOffsetSet": ["1e300s"]}]}}, "InvalidParameterValue.ExtTimeOffsetSet"),
        ("CreateTranscodeTemplate",
         {"Container": "mp4", "RemoveVideo": HUGE, "AudioTemplate": {"Codec": "aac"}},
         "InvalidParameterValue.RemoveVideo"),
    ],
)  # fmt: skip
def test_a_huge_number_is_invalid_parameter_value_before_sqlite_sees_it(
    api: SqliteApi, action: str, body: dict[str, Any], code: str
) -> None:
    response = api.post(action, body)

    assert _code(response) == code
    assert "Traceback" not in response["Error"]["Message"]
    assert api.store.list_tasks("WAITING")[0] == []
    assert api.store.list_templates("TranscodeTemplate", None, None, offset=0, limit=10)[0] == 0


def test_flattened_get_values_are_bounded_too(api: SqliteApi) -> None:
    # GET-mode clients send strings: "1180591620717411303424" and "inf" parse, and must still be refused.
    huge = api.get("DescribeWatermarkTemplates", **{"Definitions.0": str(HUGE)})
    infinite = api.get(
        "ProcessMedia",
        **{"InputInfo.Type": "COS", "InputInfo.CosInputInfo.Bucket": "media",
           "InputInfo.CosInputInfo.Object": "/in/a.mp4",
           "MediaProcessTask.TranscodeTaskSet.0.Definition": "100010",
           "MediaProcessTask.TranscodeTaskSet.0.StartTimeOffset": "inf"},
    )  # fmt: skip

    assert _code(huge) == "InvalidParameterValue.Definitions"
    assert _code(infinite) == "InvalidParameterValue.StartTimeOffset"
    assert api.store.list_tasks("WAITING")[0] == []


def test_the_largest_int64_reaches_the_store_and_is_simply_not_found(api: SqliteApi) -> None:
    response = api.post("DeleteTranscodeTemplate", {"Definition": INT64_MAX})
    listed = api.post("DescribeWatermarkTemplates", {"Definitions": [INT64_MAX]})

    assert _code(response) == "ResourceNotFound.TemplateNotExist"
    assert _code(listed) is None and listed["TotalCount"] == 0


# -- nesting ----------------------------------------------------------------------------------------


def test_a_body_nested_ten_thousand_deep_is_invalid_parameter(api: SqliteApi) -> None:
    deep = b'{"Status": "FINISH", "Limit": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"

    response = api.post("DescribeTasks", deep)

    assert _code(response) == "InvalidParameter"
    assert f"deeper than {MAX_JSON_DEPTH} levels" in response["Error"]["Message"]


def test_a_body_just_past_the_limit_is_refused_and_one_at_it_reaches_the_handler(api: SqliteApi) -> None:
    def nested(depth: int) -> bytes:  # {"Status": ..., "SessionContext": [[...]]}: depth levels in all
        return b'{"Status": "FINISH", "ScrollToken": ' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"

    assert _code(api.post("DescribeTasks", nested(MAX_JSON_DEPTH + 1))) == "InvalidParameter"
    # At the limit, the body is decoded and the model refuses the list: a field error, not a body error.
    assert _code(api.post("DescribeTasks", nested(MAX_JSON_DEPTH))) == "InvalidParameterValue.ScrollToken"


def test_parse_notification_refuses_deep_content(api: SqliteApi) -> None:
    response = api.post("ParseNotification", {"Content": "[" * 10_000 + "]" * 10_000})

    assert _code(response) == "InvalidParameterValue.Content"


def test_the_webhook_answers_400_to_a_deep_body(caplog: pytest.LogCaptureFixture) -> None:
    hook = Hook()
    deep = b'{"Records": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"

    with caplog.at_level(logging.ERROR):
        response = _post(hook.app, deep, _auth())

    assert response.status_code == 400
    assert "deeper than" in response.json()["error"]
    assert hook.queued() == []
    assert "Traceback" not in caplog.text and "RecursionError" not in caplog.text


def test_a_deep_amqp_bucket_event_is_a_decode_error_for_the_dead_letter_queue() -> None:
    delivery = Delivery(body=b"[" * 10_000 + b"]" * 10_000)

    with pytest.raises(DecodeError, match="deeper than"):
        parse_bucket_message(delivery.json())


def test_json_depth_counts_levels_without_recursing() -> None:
    assert json_depth(1) == 0 and json_depth({}) == 1 and json_depth({"a": [1, {"b": []}]}) == 4
    deep: Any = []
    for _ in range(100_000):  # far deeper than the interpreter could recurse
        deep = [deep]
    assert json_depth(deep, limit=40) == 41
    with pytest.raises(InvalidParameterError) as caught:
        parse_json(json.dumps({"a": 1, "b": float("nan")}, allow_nan=True))
    assert caught.value.code == "InvalidParameter"


# -- every wire model ---------------------------------------------------------------------------------


def _wire_models() -> list[type[WireModel]]:
    modules = [mps.models, mps.workflow.submit, mps.api.handlers.tasks, mps.api.handlers.templates,
               mps.api.handlers.workflows]  # fmt: skip
    found: set[type[WireModel]] = set()
    for module in modules:
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, WireModel) and value is not WireModel:
                found.add(value)
    pending = list(found)
    while pending:  # and the models nested in them
        for sub in pending.pop().__subclasses__():
            if sub not in found:
                found.add(sub)
                pending.append(sub)
    return sorted(found, key=lambda cls: cls.__name__)


def _number_fields(model: type[BaseModel]) -> list[tuple[str, type]]:
    fields = []
    for name, info in model.model_fields.items():
        args = set(typing.get_args(info.annotation)) | {info.annotation}
        for kind in (int, float):
            if kind in args or any(kind in typing.get_args(a) for a in args):
                fields.append((name, kind))
                break
    return fields


@pytest.mark.parametrize("model", _wire_models(), ids=lambda cls: cls.__name__)
def test_every_number_field_of_every_wire_model_is_bounded(model: type[WireModel]) -> None:
    for name, kind in _number_fields(model):
        huge = HUGE if kind is int else 1e300
        annotation = model.model_fields[name].annotation
        value = (
            [huge]
            if typing.get_origin(annotation) is list
            or list in map(typing.get_origin, typing.get_args(annotation))
            else huge
        )
        with pytest.raises(ValidationError) as caught:
            model.model_validate({name: value})
        at_field = [e for e in caught.value.errors() if e["loc"][:1] == (name,)]
        assert at_field, f"{model.__name__}.{name} accepted {value!r}"
