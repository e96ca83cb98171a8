"""An ``mps api`` app on in-memory twins, with console logins, for the console's tests."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from mps.api.handlers import ApiServices
from mps.api.service import build_api
from mps.app import build_metrics
from mps.broker.stub import StubBroker
from mps.runner import FakeRunner
from mps.settings import Settings
from mps.storage.base import Storage
from mps.storage.memory import MemoryStorage
from mps.store.base import NewSubtask, NewTask, new_task_id
from mps.store.memory import MemoryTaskStore
from mps.templates import TemplateCatalog, load_presets
from mps.workflow.templates import StoreTemplates

ADMIN_PASSWORD = "admin-secret"
#: A valid sub-task input per kind (preset templates).
INPUTS: dict[str, dict[str, Any]] = {
    "Transcode": {"Definition": 100010},
    "SnapshotByTimeOffset": {"Definition": 10, "TimeOffsetSet": [1.0]},
    "ImageSprites": {"Definition": 10},
    "AnimatedGraphics": {"Definition": 20000, "StartTimeOffset": 0, "EndTimeOffset": 2},
}
VIEWER_PASSWORD = "viewer-secret"


class PresigningStorage(MemoryStorage):
    """MemoryStorage with URLs: a fixed fake origin, enough for pages that only link to them."""

    def __init__(self, base: str = "http://s3.test") -> None:
        super().__init__()
        self.base = base

    def presigned_url(self, bucket: str, key: str, expires: int = 3600) -> str | None:
        return f"{self.base}/{bucket}/{key}?X-Amz-Signature=test"


def console_app(tmp_path: Path, storage: Storage | None = None, **settings: Any) -> FastAPI:
    """The API app with the console on (admin and viewer passwords unless ``settings`` say else),
    on ``storage`` (a :class:`PresigningStorage` by default: URLs that lead nowhere)."""
    values: dict[str, Any] = {"console_password": ADMIN_PASSWORD, "console_viewer_password": VIEWER_PASSWORD,
                              "console_secret": "test-secret", "work_dir": tmp_path}  # fmt: skip
    values.update(settings)
    config = Settings(**values)
    store, broker = MemoryTaskStore(), StubBroker()
    services = ApiServices(
        store=store,
        broker=broker,
        storage=storage if storage is not None else PresigningStorage(),
        runner=FakeRunner(),
        templates=StoreTemplates(TemplateCatalog(load_presets()), store),
        settings=config,
    )
    return build_api(config, services, metrics=build_metrics(store, broker))


def store_of(app: FastAPI) -> MemoryTaskStore:
    store: MemoryTaskStore = app.state.services.store
    return store


def add_task(
    app: FastAPI, kinds: tuple[str, ...] = ("Transcode",), key: str = "in/clip.mp4", **kw: Any
) -> str:
    """A WAITING task on ``bucket/key`` with one sub-task per kind; returns its TaskId."""
    cos = {"Bucket": "media", "Region": "r", "Object": "/" + key}
    request = {"InputInfo": {"Type": "COS", "CosInputInfo": cos}}
    subtasks = [NewSubtask(kind, dict(INPUTS[kind])) for kind in kinds]
    task, _ = store_of(app).create_task(NewTask(new_task_id("0"), request, subtasks=subtasks, **kw))
    return task.task_id


def login(client: TestClient, user: str = "admin", password: str = ADMIN_PASSWORD) -> str:
    """Log in through the form; returns the session's CSRF token (read from the next page)."""
    page = client.get("/console/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token is not None
    form = {"user": user, "password": password, "csrf": token.group(1), "next": "/console/tasks"}
    answer = client.post("/console/login", data=form, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    tasks = client.get("/console/tasks")
    csrf = re.search(r'name="csrf" value="([^"]+)"', tasks.text)
    assert csrf is not None
    return csrf.group(1)
