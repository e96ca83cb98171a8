"""The layering of design.md, checked: dependency arrows point down only."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "mps"

#: Each layer and the mps packages it may import (besides itself).
ALLOWED: dict[str, set[str]] = {
    "models": {"errors"},
    "media": {"errors", "models"},
    "runner": {"errors", "models", "media"},
    "templates": {"errors", "models", "settings"},
    # mps.lazy (PEP 562 exports) is a leaf with no mps import, like mps.errors.
    "storage": {"errors", "lazy", "models", "settings"},
    "store": {"errors", "lazy", "models", "settings"},
    "broker": {"errors", "models", "settings"},
    "metrics": {"errors", "models", "settings", "store", "broker"},
    "workflow": {
        "errors",
        "models",
        "media",
        "runner",
        "templates",
        "storage",
        "store",
        "broker",
        "metrics",
        "settings",
    },
}
#: Everything below the processes.
_BELOW_PROCESSES = {"errors", "models", "media", "runner", "templates", "storage", "store", "broker",
                    "settings", "workflow", "metrics"}  # fmt: skip
#: The processes: siblings that never import each other; only the composition root (``mps.app``)
#: and the CLI, which starts processes through it, see them all.
PROCESSES = ("api", "worker", "relay", "listener", "cli")
ALLOWED.update({process: set(_BELOW_PROCESSES) for process in PROCESSES})
ALLOWED["cli"].add("app")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def _files(layer: str) -> list[Path]:
    return sorted((PACKAGE / layer).rglob("*.py"))


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports_only_what_is_below_it(layer: str) -> None:
    wrong = []
    for path in _files(layer):
        for module in _imports(path):
            parts = module.split(".")
            if parts[0] != "mps" or len(parts) < 2 or parts[1] == layer:
                continue
            if parts[1] not in ALLOWED[layer]:
                wrong.append(f"{path.relative_to(PACKAGE)} imports {module}")
    assert wrong == []


def test_only_the_runner_starts_processes() -> None:
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if "runner" not in path.relative_to(PACKAGE).parts and {"subprocess", "os.system"} & _imports(path)
    ]
    assert offenders == []


def test_the_composition_root_is_the_only_module_that_wires_processes_together() -> None:
    """mps.app imports the processes; nothing below the processes imports mps.app."""
    below = [path for layer in _BELOW_PROCESSES - {"errors", "settings"} for path in _files(layer)]
    offenders = [
        str(p.relative_to(PACKAGE)) for p in below if any(m.startswith("mps.app") for m in _imports(p))
    ]
    assert offenders == []
