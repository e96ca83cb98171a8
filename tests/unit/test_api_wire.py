"""The wire of the API edge: flattening, decoding, the envelope, the error table, the registry, the app."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, ValidationError
from tencentcloud.common import credential
from tencentcloud.common.common_client import CommonClient

import mps.errors
from mps.api import ActionRegistry, ApiError, RequestContext, create_app, register_builtin_actions
from mps.api.errors import INTERNAL_MESSAGE, WIRE_CODES, is_wire_code, wire_error
from mps.api.wire import (
    RawRequest,
    decode_legacy,
    decode_tc3,
    flatten_params,
    legacy_fields,
    parse_json_object,
    unflatten_params,
)
from mps.errors import InvalidParameterError, MpsError, ResourceNotFoundError
from mps.models.base import WireModel
from mps.settings import Settings

NESTED: dict[str, Any] = {
    "InputInfo": {
        "Type": "COS",
        "CosInputInfo": {"Bucket": "b", "Region": "ap-guangzhou", "Object": "/a.mp4"},
    },
    "MediaProcessTask": {
        "TranscodeTaskSet": [
            {"Definition": 100010},
            {
                "Definition": 100020,
                "WatermarkSet": [{"Definition": 1}, {"Definition": 2, "StartTimeOffset": 1.5}],
            },
        ],
        "SnapshotByTimeOffsetTaskSet": [{"Definition": 10, "ExtTimeOffsetSet": ["1s", "2s"]}],
    },
    "OutputDir": "/out/",
    "SkipMateData": True,
}


# -- flattening ---------------------------------------------------------------------------------


def test_flatten_matches_the_sdk_format() -> None:
    # Given the SDK's own flattening (used for GET and legacy requests), with values as urlencode sends them
    sdk = CommonClient("mps", "2019-06-12", credential.Credential("id", "key"), "ap-guangzhou")
    expected = {key: str(value) for key, value in sdk._fix_params(NESTED).items()}
    # Then ours produces the same keys and strings
    assert flatten_params(NESTED) == expected
    assert flatten_params(NESTED)["MediaProcessTask.TranscodeTaskSet.1.WatermarkSet.1.Definition"] == "2"


def test_unflatten_rebuilds_nesting_and_lists_of_objects_with_string_values() -> None:
    flat = flatten_params(NESTED)
    rebuilt = unflatten_params(flat.items())
    task = rebuilt["MediaProcessTask"]
    assert task["TranscodeTaskSet"][1]["WatermarkSet"][1] == {"Definition": "2", "StartTimeOffset": "1.5"}
    assert task["TranscodeTaskSet"][0] == {"Definition": "100010"}
    assert task["SnapshotByTimeOffsetTaskSet"][0]["ExtTimeOffsetSet"] == ["1s", "2s"]
    assert rebuilt["InputInfo"]["CosInputInfo"]["Object"] == "/a.mp4"
    assert rebuilt["SkipMateData"] == "True"
    # Round trip: flattening the rebuilt object gives the same pairs (values are strings already)
    assert flatten_params(rebuilt) == flat


def test_unflatten_orders_list_items_by_index_not_by_arrival() -> None:
    pairs = [("L.10", "k"), *((f"L.{i}", str(i)) for i in range(10))]
    assert unflatten_params(pairs)["L"] == [str(i) for i in range(10)] + ["k"]


@pytest.mark.parametrize(
    ("pairs", "fragment"),
    [
        ([("A.1", "x")], "without gaps"),
        ([("A.0", "x"), ("A.2", "y")], "without gaps"),
        ([("A.0", "x"), ("A.B", "y")], "mixes list indexes"),
        ([("A", "1"), ("A.B", "2")], "both a value and an object"),
        ([("A.B", "2"), ("A", "1")], "more than once"),
        ([("A", "1"), ("A", "2")], "more than once"),
        ([("A..B", "1")], "Malformed"),
        ([(".A", "1")], "Malformed"),
        ([(".".join(["A"] * 40), "1")], "Malformed"),
        ([("0", "x")], "must form an object"),
    ],
)
def test_unflatten_rejects_ambiguous_keys(pairs: list[tuple[str, str]], fragment: str) -> None:
    with pytest.raises(ApiError, match=fragment) as info:
        unflatten_params(pairs)
    assert info.value.code == "InvalidParameter"


# -- decoding -----------------------------------------------------------------------------------


def _raw(method: str = "POST", query: str = "", body: bytes = b"", **headers: str) -> RawRequest:
    names = {key.replace("_", "-").lower(): value for key, value in headers.items()}
    return RawRequest(method=method, query=query, headers=names, body=body)


def test_json_body_is_decoded_with_common_headers() -> None:
    raw = _raw(
        body=json.dumps(NESTED).encode(),
        content_type="application/json",
        x_tc_action="ProcessMedia",
        x_tc_region="ap-guangzhou",
        x_tc_language="en-US",
        x_tc_version="2019-06-12",
    )
    decoded = decode_tc3(raw)
    assert raw.mode == "tc3"
    assert (decoded.action, decoded.region, decoded.language, decoded.version) == (
        "ProcessMedia",
        "ap-guangzhou",
        "en-US",
        "2019-06-12",
    )
    assert decoded.params == NESTED


def test_get_query_is_unflattened() -> None:
    query = (
        "MediaProcessTask.TranscodeTaskSet.0.WatermarkSet.1.Definition=7"
        "&MediaProcessTask.TranscodeTaskSet.0.WatermarkSet.0.Definition=6&OutputDir=%2Fout+dir%2F"
    )
    decoded = decode_tc3(_raw("GET", query=query, x_tc_action="ProcessMedia"))
    task = decoded.params["MediaProcessTask"]["TranscodeTaskSet"][0]
    assert task["WatermarkSet"] == [{"Definition": "6"}, {"Definition": "7"}]
    assert decoded.params["OutputDir"] == "/out dir/"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object, not list"),
        (b'"text"', "must be a JSON object, not str"),
        (b'{"A": NaN}', "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[" * 100_000, "deeper than 32 levels"),
        (b'{"A":' * 33 + b"1" + b"}" * 33, "deeper than 32 levels"),
    ],
)
def test_bad_json_bodies_are_invalid_parameter(body: bytes, fragment: str) -> None:
    with pytest.raises(ApiError, match=fragment) as info:
        parse_json_object(body)
    assert info.value.code == "InvalidParameter"


def test_empty_body_is_an_empty_object() -> None:
    assert parse_json_object(b"  ") == {}


def test_missing_action_header_is_missing_parameter() -> None:
    with pytest.raises(ApiError) as info:
        decode_tc3(_raw(body=b"{}", content_type="application/json"))
    assert info.value.code == "MissingParameter"


def test_legacy_form_keeps_protocol_fields_out_of_params() -> None:
    body = b"Action=DescribeTaskDetail&TaskId=t-1&Region=ap-guangzhou&Nonce=5&Timestamp=1&SecretId=x"
    raw = _raw(body=body, content_type="application/x-www-form-urlencoded")
    assert raw.mode == "legacy"
    decoded = decode_legacy(legacy_fields(raw))
    assert decoded.action == "DescribeTaskDetail"
    assert decoded.params == {"TaskId": "t-1"}
    assert decoded.region == "ap-guangzhou"


def test_legacy_without_action_and_with_duplicates_is_refused() -> None:
    with pytest.raises(ApiError) as missing:
        decode_legacy(legacy_fields(_raw(body=b"TaskId=t")))
    assert missing.value.code == "MissingParameter"
    with pytest.raises(ApiError, match="more than once"):
        legacy_fields(_raw(body=b"Action=A&Action=B"))
    with pytest.raises(ApiError, match="UTF-8"):
        legacy_fields(_raw(body=b"Action=%FF"))


# -- error table --------------------------------------------------------------------------------


def _subclasses(cls: type[MpsError]) -> list[type[MpsError]]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


def test_every_error_class_of_mps_errors_has_an_explicit_wire_code() -> None:
    classes = [getattr(mps.errors, name) for name in mps.errors.__all__]
    error_classes = [c for c in classes if isinstance(c, type) and issubclass(c, MpsError)]
    assert error_classes, "mps.errors exports no error classes?"
    for cls in error_classes:
        assert cls in WIRE_CODES, f"{cls.__name__} has no entry in mps.api.errors.WIRE_CODES"
        assert is_wire_code(WIRE_CODES[cls])


def test_every_mps_error_subclass_maps_to_a_known_code() -> None:
    for cls in [MpsError, *_subclasses(MpsError)]:
        try:
            exc = cls("boom")
        except TypeError:  # a subclass elsewhere with its own constructor: the class default still maps
            exc = cls.__new__(cls)
            exc.message = "boom"
        code, message = wire_error(exc)
        assert is_wire_code(code), f"{cls.__name__} -> {code}"
        assert message == "boom"


def test_specific_codes_pass_through_and_internal_names_do_not() -> None:
    assert (
        wire_error(InvalidParameterError.field("Definition", "bad")).code
        == "InvalidParameterValue.Definition"
    )
    assert wire_error(ResourceNotFoundError("gone", "ResourceNotFound.TaskNotFound")).code == (
        "ResourceNotFound.TaskNotFound"
    )
    assert wire_error(ResourceNotFoundError("gone", "source_not_found")).code == "ResourceNotFound"
    assert wire_error(MpsError("x", "Bogus.Family")).code == "InternalError"


def test_unexpected_exceptions_hide_their_text() -> None:
    assert wire_error(KeyError("/etc/secret")) == (("InternalError", INTERNAL_MESSAGE))


def test_validation_errors_become_invalid_parameter_value() -> None:
    class Probe(BaseModel):
        Definition: int

    with pytest.raises(ValidationError) as info:
        Probe.model_validate({"Definition": "x"})
    code, message = wire_error(info.value)
    assert code == "InvalidParameterValue.Definition"
    assert "Definition" in message


# -- registry -----------------------------------------------------------------------------------


def test_registry_registers_explicitly_and_refuses_mistakes() -> None:
    registry = ActionRegistry()

    @registry.register("Echo")
    def echo(params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        return params

    assert registry.get("Echo") is echo
    assert "Echo" in registry and list(registry) == ["Echo"] and len(registry) == 1
    with pytest.raises(ValueError, match="already registered"):
        registry.add("Echo", echo)
    with pytest.raises(ValueError, match="UpperCamelCase"):
        registry.add("echo", echo)

    async def coro(params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        return {}

    with pytest.raises(TypeError, match="coroutine"):
        registry.add("Async", coro)  # type: ignore[arg-type]
    with pytest.raises(ApiError) as info:
        registry.get("Nope")
    assert info.value.code == "InvalidAction"


def test_parse_notification_returns_the_event_fields() -> None:
    registry = register_builtin_actions(ActionRegistry())
    handler = registry.get("ParseNotification")
    ctx = RequestContext(request_id="r", action="ParseNotification")
    event = {"EventType": "WorkflowTask", "WorkflowTaskEvent": {"TaskId": "t"}, "Error": {}, "RequestId": "x"}
    assert handler({"Content": json.dumps(event)}, ctx) == {
        "EventType": "WorkflowTask",
        "WorkflowTaskEvent": {"TaskId": "t"},
    }
    for params, code in [
        ({}, "MissingParameter"),
        ({"Content": "nope"}, "InvalidParameterValue.Content"),
        ({"Content": "[1]"}, "InvalidParameterValue.Content"),
        ({"Content": {"a": 1}}, "InvalidParameterValue.Content"),
    ]:
        with pytest.raises(MpsError) as info:
            handler(params, ctx)
        assert info.value.code == code


# -- the app, in process (auth off; signatures are covered in test_api_auth and the SDK tests) ----


class ModelOut(WireModel):
    TaskId: str
    Note: str | None = None


def _demo_registry(seen: list[RequestContext]) -> ActionRegistry:
    registry = register_builtin_actions(ActionRegistry())

    @registry.register("Echo")
    def echo(params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        seen.append(ctx)
        return {"Params": params, "RequestId": "handler-cannot-set-this"}

    @registry.register("Crash")
    def crash(params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        raise RuntimeError("secret path /var/lib/mps")

    @registry.register("Weird")
    def weird(params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        return ["not", "a", "dict"]  # type: ignore[return-value]

    @registry.register("Model")
    def model(params: dict[str, Any], ctx: RequestContext) -> WireModel:
        return ModelOut(TaskId="t-1")

    @registry.register("FakeError")
    def fake_error(params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        return {"Error": {"Code": "Oops", "Message": "handlers must raise"}}

    return registry


class AppClient:
    """A synchronous in-process client (starlette's AppClient warns about plain httpx)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://mps.test") as http:
                return await http.request(method, url, **kwargs)

        return asyncio.run(go())

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)


@pytest.fixture
def seen() -> list[RequestContext]:
    return []


@pytest.fixture
def client(seen: list[RequestContext]) -> AppClient:
    app = create_app(Settings(secret_id=None, secret_key=None), _demo_registry(seen), max_body_bytes=1024)
    return AppClient(app)


def _call(client: AppClient, action: str, body: bytes = b"{}") -> tuple[dict[str, Any], Any]:
    resp = client.post("/", content=body, headers={"X-TC-Action": action, "Content-Type": "application/json"})
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/json"
    return resp.json()["Response"], resp


def test_success_envelope_and_context(client: AppClient, seen: list[RequestContext]) -> None:
    out, _ = _call(client, "Echo", b'{"A": {"B": [1]}}')
    assert out["Params"] == {"A": {"B": [1]}}
    assert uuid.UUID(out["RequestId"]).version == 4
    ctx = seen[0]
    assert (ctx.action, ctx.request_id, ctx.secret_id, ctx.client_ip) == (
        "Echo",
        out["RequestId"],
        None,
        "127.0.0.1",
    )


@pytest.mark.parametrize(
    ("action", "body", "code"),
    [
        ("Nope", b"{}", "InvalidAction"),
        ("Echo", b"{bad", "InvalidParameter"),
        ("Echo", b"[]", "InvalidParameter"),
        ("Echo", b"{}" + b" " * 2048, "InvalidParameter"),
        ("Crash", b"{}", "InternalError"),
        ("Weird", b"{}", "InternalError"),
        ("FakeError", b"{}", "InternalError"),
    ],
)
def test_errors_are_http_200_json_envelopes(client: AppClient, action: str, body: bytes, code: str) -> None:
    out, _ = _call(client, action, body)
    assert set(out) == {"Error", "RequestId"}
    assert out["Error"]["Code"] == code
    assert out["Error"]["Message"]
    assert "secret path" not in out["Error"]["Message"]


def test_oversized_body_says_why(client: AppClient) -> None:
    out, _ = _call(client, "Echo", b"{}" + b" " * 100_000)
    assert out["Error"] == {"Code": "InvalidParameter", "Message": "The request body exceeds 1024 bytes."}


def test_crash_is_logged_with_traceback(client: AppClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="mps.api.app"):
        out, _ = _call(client, "Crash")
    assert out["Error"]["Message"] == INTERNAL_MESSAGE
    record = next(r for r in caplog.records if r.exc_info)
    assert "secret path" in str(record.exc_info[1])  # type: ignore[index]
    assert out["RequestId"] in record.getMessage()


def test_get_mode_and_legacy_mode_reach_the_handler_with_strings(client: AppClient) -> None:
    resp = client.get("/?A.B.0.C=1&A.B.1.C=2", headers={"X-TC-Action": "Echo"})
    assert resp.json()["Response"]["Params"] == {"A": {"B": [{"C": "1"}, {"C": "2"}]}}
    form = {"Action": "Echo", "X.0": "a", "Region": "ap-guangzhou"}
    resp = client.post("/", data=form)
    assert resp.headers["content-type"] == "application/json"
    assert resp.json()["Response"]["Params"] == {"X": ["a"]}


def test_a_wire_model_result_is_dumped_without_unset_fields(client: AppClient) -> None:
    out, _ = _call(client, "Model")
    assert set(out) == {"TaskId", "RequestId"} and out["TaskId"] == "t-1"


def test_public_names_resolve() -> None:
    import mps.api

    assert all(hasattr(mps.api, name) for name in mps.api.__all__)


def test_parse_notification_through_the_app(client: AppClient) -> None:
    content = json.dumps({"EventType": "WorkflowTask", "WorkflowTaskEvent": {"TaskId": "t-9"}})
    out, _ = _call(client, "ParseNotification", json.dumps({"Content": content}).encode())
    assert out["WorkflowTaskEvent"] == {"TaskId": "t-9"}


def test_healthz_is_plain_ok(client: AppClient) -> None:
    resp = client.get("/healthz")
    assert (resp.status_code, resp.text) == (200, "ok")


def test_auth_off_warns_once_at_creation(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="mps.api.app"):
        create_app(Settings(secret_id=None, secret_key=None), ActionRegistry())
    assert [r.levelno for r in caplog.records if "AUTHENTICATION IS OFF" in r.getMessage()] == [
        logging.WARNING
    ]


def test_half_configured_credentials_refuse_to_start() -> None:
    with pytest.raises(ValueError, match="together"):
        create_app(Settings(secret_id="AKID", secret_key=None), ActionRegistry())
