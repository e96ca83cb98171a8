"""The README stays true: the two commands first, and every setting documented."""

from __future__ import annotations

from pathlib import Path

from mps.settings import Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def test_readme_opens_with_the_two_commands() -> None:
    head = "\n".join(README.splitlines()[:12])
    assert "make run" in head and "make test" in head


def test_every_setting_is_in_the_configuration_table() -> None:
    missing = [
        f"MPS_{name.upper()}" for name in Settings.model_fields if f"`MPS_{name.upper()}`" not in README
    ]
    assert missing == []
