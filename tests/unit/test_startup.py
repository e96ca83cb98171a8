"""``mps process`` starts without the services' libraries: they are imported only where used."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: Libraries only the services need (the database, the metrics endpoint, URL downloads), which
#: together cost `mps process` about half a second at every start when imported eagerly.
SERVICE_ONLY = ("sqlalchemy", "alembic", "prometheus_client", "httpx")


def test_mps_process_imports_no_service_library() -> None:
    # A fresh interpreter: this one has imported everything the other tests use.
    code = "import json, sys, mps.cli.process; print(json.dumps(sorted(sys.modules)))"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    loaded = {name.split(".")[0] for name in json.loads(done.stdout)}
    assert sorted(loaded & set(SERVICE_ONLY)) == []


@pytest.mark.parametrize("package", ["mps.store", "mps.storage"])
def test_every_exported_name_resolves(package: str) -> None:
    """The names loaded on first use are still there, under the same names."""
    module = importlib.import_module(package)
    missing = [name for name in module.__all__ if getattr(module, name, None) is None]
    assert missing == []
