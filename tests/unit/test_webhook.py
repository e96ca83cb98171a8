"""POST /webhooks/bucket-events: token rules, a fast 202, the SeaweedFS and MinIO bodies queued."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from mps.api.handlers import ApiServices
from mps.api.service import build_api
from mps.api.webhooks import MAX_BODY_BYTES, WEBHOOK_PATH, add_webhook_route, bearer_matches
from mps.broker.stub import StubBroker
from mps.models import MediaMetaData
from mps.runner.fake import FakeRunner
from mps.settings import Settings
from mps.storage.memory import MemoryStorage
from mps.store.memory import MemoryTaskStore
from mps.templates import TemplateCatalog, load_presets
from mps.workflow.intake import S3, SEAWEEDFS, parse_bucket_message
from mps.workflow.templates import StoreTemplates

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "events"
TOKEN = "s3cr3t-token"
QUEUE = "t.mps.bucket-events"


def _fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _post(app: FastAPI, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://mps.test") as http:
            return await http.post(WEBHOOK_PATH, content=body, headers=headers or {})

    return asyncio.run(go())


def _auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


class Hook:
    """An app with only the webhook route, on a stub broker."""

    def __init__(self, token: str | None = TOKEN) -> None:
        self.broker = StubBroker(prefix="t.")
        self.settings = Settings(webhook_token=token, queue_prefix="t.")
        self.app = FastAPI()
        add_webhook_route(self.app, self.settings, self.broker)

    def queued(self) -> list[dict[str, Any]]:
        return [json.loads(d.body) for d in self.broker.messages(QUEUE)]


@pytest.fixture
def hook() -> Hook:
    return Hook()


def test_the_seaweedfs_filer_event_is_queued_in_an_envelope_with_202(hook: Hook) -> None:
    response = _post(hook.app, _fixture("seaweedfs-filer-create-webhook.json"), _auth())

    assert response.status_code == 202 and response.json() == {"queued": True, "objects": 1}
    [envelope] = hook.queued()
    assert envelope["source"] == SEAWEEDFS and envelope["schema_version"] == 1
    assert [(e.bucket, e.key) for e in parse_bucket_message(envelope)] == [("media", "in/b.mp4")]


def test_the_minio_event_is_queued_and_the_queue_is_bound_to_the_bucket_events_exchange(hook: Hook) -> None:
    response = _post(hook.app, _fixture("minio-put-amqp.json"), _auth())

    assert response.status_code == 202
    [envelope] = hook.queued()
    assert envelope["source"] == S3
    assert [e.key for e in parse_bucket_message(envelope)] == ["uploads/视频 测试 (1).mp4"]
    # Declared as the listener declares it: what MinIO publishes to the exchange lands there too.
    hook.broker.publish_bucket_event("mps.bucket-events", _fixture("minio-put-amqp.json"))
    assert len(hook.queued()) == 2


def test_the_answer_comes_before_any_work_is_done(hook: Hook) -> None:
    started = time.perf_counter()
    for _ in range(20):
        assert _post(hook.app, _fixture("minio-put-amqp.json"), _auth()).status_code == 202
    assert (time.perf_counter() - started) / 20 < 0.2
    assert len(hook.queued()) == 20


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no header"),
        pytest.param({"Authorization": "Bearer wrong"}, id="wrong token"),
        pytest.param({"Authorization": f"Basic {TOKEN}"}, id="wrong scheme"),
        pytest.param({"Authorization": f"Bearer {TOKEN}x"}, id="token plus a suffix"),
        pytest.param({"Authorization": "Bearer"}, id="empty token"),
    ],
)
def test_a_missing_or_wrong_token_is_401(hook: Hook, headers: dict[str, str]) -> None:
    response = _post(hook.app, _fixture("minio-put-amqp.json"), headers)
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
    assert hook.queued() == []


def test_the_webhook_is_off_without_a_token() -> None:
    off = Hook(token=None)
    assert _post(off.app, _fixture("minio-put-amqp.json"), _auth()).status_code == 404
    assert _post(Hook(token="").app, _fixture("minio-put-amqp.json"), _auth("")).status_code == 404
    assert off.queued() == []


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"not json", id="not JSON"),
        pytest.param(b"\xff\xfe", id="not UTF-8"),
        pytest.param(b"[1, 2]", id="a list"),
        pytest.param(b'{"hello": "world"}', id="unknown shape"),
        pytest.param(b'{"Records": "nope"}', id="Records not a list"),
        pytest.param(b'{"event_type": "create", "message": "nope"}', id="SeaweedFS without a message"),
    ],
)
def test_junk_is_400_and_not_queued(hook: Hook, body: bytes) -> None:
    response = _post(hook.app, body, _auth())
    assert response.status_code == 400 and response.json()["error"]
    assert hook.queued() == []


def test_an_oversized_body_is_413(hook: Hook) -> None:
    response = _post(hook.app, b" " * (MAX_BODY_BYTES + 1), _auth())
    assert response.status_code == 413 and hook.queued() == []


def test_events_that_announce_no_new_object_are_answered_but_not_queued(hook: Hook) -> None:
    delete = _fixture("seaweedfs-filer-delete.json")
    output = json.loads(_fixture("seaweedfs-filer-create-webhook.json"))
    output["message"]["new_entry"]["extended"]["X-Amz-Meta-Mps-Task"] = base64.b64encode(b"t").decode()

    for body in (delete, json.dumps(output).encode()):
        response = _post(hook.app, body, _auth())
        assert response.status_code == 200 and response.json() == {"queued": False, "objects": 0}
    assert hook.queued() == []


def test_an_unavailable_broker_is_503_so_the_sender_retries(hook: Hook) -> None:
    hook.broker.unavailable = True
    response = _post(hook.app, _fixture("minio-put-amqp.json"), _auth())
    assert response.status_code == 503 and response.headers["retry-after"]


def test_bearer_matches_is_exact_and_case_insensitive_on_the_scheme() -> None:
    assert bearer_matches(f"bearer {TOKEN}", TOKEN) and bearer_matches(f"  Bearer   {TOKEN} ", TOKEN)
    assert not bearer_matches(None, TOKEN) and not bearer_matches(TOKEN, TOKEN)


def test_build_api_mounts_the_webhook(tmp_path: Path) -> None:
    store, broker = MemoryTaskStore(), StubBroker()
    services = ApiServices(
        store=store,
        broker=broker,
        storage=MemoryStorage(),
        runner=FakeRunner(MediaMetaData()),
        templates=StoreTemplates(TemplateCatalog(load_presets()), store),
        settings=Settings(work_dir=tmp_path),
    )
    settings = Settings(webhook_token=TOKEN, secret_id=None, secret_key=None)
    response = _post(build_api(settings, services), _fixture("minio-put-amqp.json"), _auth())
    assert response.status_code == 202
    assert len(broker.messages(broker.names.bucket_events)) == 1
