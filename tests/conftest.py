"""Shared fixtures: tiny media generated with ffmpeg's lavfi sources, cached per session."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.mediatools import make_clip, make_image

ClipFactory = Callable[..., Path]

#: The database fixtures (``database_url``, ``postgres_store_url``...) of every integration test.
pytest_plugins = ["tests.integration.store_fixtures"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if shutil.which("ffmpeg") is None:
        raise pytest.UsageError("ffmpeg is not installed: run `make install` (apt-get install ffmpeg)")


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def clip(media_dir: Path) -> ClipFactory:
    """Make (once per session and set of arguments) a clip; see :func:`tests.mediatools.make_clip`."""
    cache: dict[tuple[object, ...], Path] = {}

    def factory(**kwargs: object) -> Path:
        key = tuple(sorted(kwargs.items()))
        if key not in cache:
            cache[key] = make_clip(media_dir / f"clip{len(cache)}", **kwargs)  # type: ignore[arg-type]
        return cache[key]

    return factory


@pytest.fixture(scope="session")
def sample_clip(clip: ClipFactory) -> Path:
    """4 s of 320x240 at 25 fps with a 440 Hz tone: the default input of media tests."""
    return clip()


@pytest.fixture(scope="session")
def logo_png(media_dir: Path) -> Path:
    """A 64x32 opaque pure-red PNG, easy to find in output pixels."""
    return make_image(media_dir / "logo.png", size=(64, 32), color=(255, 0, 0))
