"""The registry of kinds: each kind of work is described once, and everything else reads it.

A kind is added with one module in ``mps/workflow/kinds/`` and one line in the registry: these tests
fail when a table elsewhere starts spelling a kind out again, or when a kind's description does not
match the wire models it names.
"""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest

from mps.models import MediaProcessTaskInput, MediaProcessTaskResult
from mps.models.schedules import ActivityPara
from mps.models.tasks import _SET_NAMES
from mps.store.base import TEMPLATE_LIMITS
from mps.templates import TemplateCatalog, load_presets
from mps.workflow.kind import Kind
from mps.workflow.kinds import KINDS, Registry, UnknownKindError

PACKAGE = Path(__file__).resolve().parents[2] / "mps"
KIND_IDS = [kind.name for kind in KINDS]
TEMPLATE_ACTIONS = PACKAGE / "api" / "handlers" / "templates.py"


def _kind(name: str) -> Kind:
    return KINDS.named(name)


def _kind_module(kind: Kind) -> Path:
    module = kind.resolve.__module__
    return PACKAGE.parent / (module.replace(".", "/") + ".py")


@pytest.mark.parametrize("name", KIND_IDS)
def test_a_kind_is_spelled_only_in_its_module_and_the_wire_models(name: str) -> None:
    # Given every identifier of the kind
    kind = _kind(name)
    named = [kind.name, kind.set_name, kind.result_field, kind.activity_type, kind.template_family]
    identifiers = [identifier for identifier in named if identifier]
    allowed = {_kind_module(kind)}
    wire = {*PACKAGE.joinpath("models").rglob("*.py"), *PACKAGE.joinpath("templates").rglob("*.py")}
    # When mps's sources are searched for them as string literals
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path in allowed or path in wire:
            continue
        text = path.read_text(encoding="utf-8")
        for identifier in identifiers:
            if not re.search(rf"[\"']{re.escape(identifier)}[\"']", text):
                continue
            # The store's template limits name template families (ImageSprite...), a concept of
            # their own that may share a kind's spelling.
            if path.name == "base.py" and path.parent.name == "store" and identifier in TEMPLATE_LIMITS:
                continue
            # The template actions serve template families, and may single one out by its set key.
            if path == TEMPLATE_ACTIONS and identifier == kind.template_family:
                continue
            offenders.append(f"{path.relative_to(PACKAGE)}: {identifier}")
    # Then only the kind's own module and the wire models spell it
    assert offenders == []


@pytest.mark.parametrize("name", KIND_IDS)
def test_a_kind_matches_the_wire_models_it_names(name: str) -> None:
    kind = _kind(name)
    if kind.set_name is not None:  # a kind that also runs in a MediaProcessTask
        set_field = MediaProcessTaskInput.model_fields[kind.set_name]
        assert typing.get_args(set_field.annotation) == (kind.input_model,)
    para_field = ActivityPara.model_fields[kind.para_member]
    assert kind.input_model in typing.get_args(para_field.annotation)
    result_field = MediaProcessTaskResult.model_fields[kind.result_field]
    assert kind.result_class in typing.get_args(result_field.annotation)
    assert kind.activity_type.startswith("action-")


@pytest.mark.parametrize("name", KIND_IDS)
def test_every_kind_has_preset_templates_in_its_family(name: str) -> None:
    catalog = TemplateCatalog(load_presets())
    family = _kind(name).template_family
    if family:  # the rule activity has no templates
        assert catalog.describe(family), f"no presets in {family}"


def test_every_set_the_request_model_lists_is_a_kind_and_the_other_way_round() -> None:
    assert set(_SET_NAMES) == {kind.set_name for kind in KINDS if kind.set_name}
    assert [KINDS.of_set(name) for name in _SET_NAMES] == [kind for kind in KINDS if kind.set_name]


def test_a_request_runs_its_sets_in_the_order_it_named_them() -> None:
    task = MediaProcessTaskInput.model_validate(
        {"ImageSpriteTaskSet": [{"Definition": 10}], "TranscodeTaskSet": [{"Definition": 100010}]}
    )
    assert [KINDS.of_input(item).name for item in task.subtasks()] == ["ImageSprites", "Transcode"]


def test_an_unknown_kind_is_a_clear_error() -> None:
    with pytest.raises(UnknownKindError, match="Upscale"):
        KINDS.named("Upscale")


def test_two_kinds_cannot_share_a_name() -> None:
    first = next(iter(KINDS))
    with pytest.raises(ValueError, match="share"):
        Registry([first, first])
