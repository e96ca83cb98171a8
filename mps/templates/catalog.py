"""Template lookup: Tencent's presets (``presets/*.json``) plus custom templates, in memory.

Preset files and custom template files (``--templates TEMPLATES.json``) share one format, the body
of a Describe*Templates response: ``{"TranscodeTemplateSet": [...], "ImageSpriteTemplateSet": [...]}``
(mps-api.md §10). Both are validated when loaded, so a bad file fails at startup with one line that
names the file, the set and the Definition, never later in the middle of a task.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

from pydantic import ValidationError

from mps.errors import InvalidParameterError, MpsError, ResourceNotFoundError
from mps.models.base import WireModel
from mps.models.templates import (
    PRESET_CONTEXT,
    AdaptiveDynamicStreamingTemplate,
    AnimatedGraphicsTemplate,
    ImageSpriteTemplate,
    SampleSnapshotTemplate,
    SnapshotByTimeOffsetTemplate,
    TranscodeTemplate,
    WatermarkTemplate,
)
from mps.models.validation import invalid_parameter


@dataclass(frozen=True)
class Family:
    """One template family.

    Parameters:
        set_key: the key of its list in a Describe response (``TranscodeTemplateSet``).
        model: the model of one entry.
        kind: the name used in messages and action names (``TranscodeTemplate``).
        preset_typed: whether ``Type`` is ``Preset``/``Custom``; a watermark's ``Type`` is its kind.
    """

    set_key: str
    model: type[WireModel]
    kind: str
    preset_typed: bool = True


#: The seven families by Describe set key: the six of mps-api.md §10, then adaptive streaming (abr.md).
FAMILIES: Mapping[str, Family] = {
    f.set_key: f
    for f in (
        Family("TranscodeTemplateSet", TranscodeTemplate, "TranscodeTemplate"),
        Family(
            "SnapshotByTimeOffsetTemplateSet", SnapshotByTimeOffsetTemplate, "SnapshotByTimeOffsetTemplate"
        ),
        Family("SampleSnapshotTemplateSet", SampleSnapshotTemplate, "SampleSnapshotTemplate"),
        Family("ImageSpriteTemplateSet", ImageSpriteTemplate, "ImageSpriteTemplate"),
        Family("AnimatedGraphicsTemplateSet", AnimatedGraphicsTemplate, "AnimatedGraphicsTemplate"),
        Family("WatermarkTemplateSet", WatermarkTemplate, "WatermarkTemplate", preset_typed=False),
        Family(
            "AdaptiveDynamicStreamingTemplateSet",
            AdaptiveDynamicStreamingTemplate,
            "AdaptiveDynamicStreamingTemplate",
        ),
    )
}

#: Tencent's legacy short transcode IDs still seen in its examples (mps-api.md §14.14). Their real
#: parameters are unknown; we answer them with the matching MP4 preset (FLU, SD, HD, FHD).
LEGACY_TRANSCODE_ALIASES: Mapping[int, int] = {10: 100010, 20: 100020, 30: 100030, 40: 100040}

#: Keys of a pasted Describe response that carry no templates and are skipped.
_RESPONSE_EXTRAS = frozenset({"TotalCount", "RequestId"})

#: Describe paging limits (mps-api.md §10).
MAX_LIMIT = 100
MAX_DEFINITIONS = 100

Templates = dict[str, list[WireModel]]


def family(name: str) -> Family:
    """The family for a set key (``TranscodeTemplateSet``) or kind (``TranscodeTemplate``).

    Raises:
        InvalidParameterError: for any other name.
    """
    found = FAMILIES.get(name) or FAMILIES.get(f"{name}Set")
    if found is None:
        expected = ", ".join(FAMILIES)
        raise InvalidParameterError(f"unknown template family {name!r}; expected one of {expected}")
    return found


def definition_of(template: WireModel) -> int:
    """A template's Definition as an int (``TranscodeTemplate`` keeps it as a string on the wire)."""
    return int(cast(Any, template).Definition)


# --- loading files ----------------------------------------------------------------------------------


def load_template_file(path: Path | str, *, template_type: str = "Custom") -> Templates:
    """Read and validate one template file in Describe shape.

    Parameters:
        path: a JSON object with any of the seven ``*TemplateSet`` keys, each a list of templates.
            ``TotalCount`` and ``RequestId`` are ignored so a saved Describe response loads as is.
        template_type: ``Type`` given to every entry of the Preset/Custom families (a watermark
            keeps its own ``Type``, image or text): ``Custom`` for user files, ``Preset`` for presets.

    Returns:
        The templates by set key, in file order; only the keys present in the file.

    Raises:
        InvalidParameterError: unreadable file, invalid JSON, an unknown key, a missing, bad or
            duplicate Definition, or a value the model refuses; the message names the file, the set
            and the Definition.
    """
    name = str(path)
    document = _read_json(Path(path))
    if not isinstance(document, dict):
        raise InvalidParameterError(f"{name}: expected a JSON object of *TemplateSet lists")
    unknown = sorted(set(document) - set(FAMILIES) - _RESPONSE_EXTRAS)
    if unknown:
        raise InvalidParameterError(
            f"{name}: unknown key {unknown[0]!r}; expected any of {', '.join(FAMILIES)}"
        )
    context = PRESET_CONTEXT if template_type == "Preset" else None
    return {
        key: _load_set(name, FAMILIES[key], entries, template_type, context)
        for key, entries in document.items()
        if key in FAMILIES
    }


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidParameterError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidParameterError(f"{path}: not valid JSON: {exc}") from None


def _load_set(
    name: str, fam: Family, entries: Any, template_type: str, context: dict[str, bool] | None
) -> list[WireModel]:
    if not isinstance(entries, list):
        raise InvalidParameterError(f"{name}: {fam.set_key} must be a list")
    seen: set[int] = set()
    templates = []
    for index, entry in enumerate(entries):
        where = f"{name}: {fam.set_key}[{index}]"
        if not isinstance(entry, dict):
            raise InvalidParameterError(f"{where}: expected a template object")
        definition = _entry_definition(where, entry)
        where = f"{name}: {fam.set_key} Definition {definition}"
        if definition in seen:
            raise InvalidParameterError.field("Definition", f"{where}: duplicate Definition")
        seen.add(definition)
        data = {**entry, "Type": template_type} if fam.preset_typed else entry
        templates.append(_validate(where, fam, data, context))
    return templates


def _entry_definition(where: str, entry: dict[str, Any]) -> int:
    """The entry's Definition as a positive int; strings of digits pass (Tencent's transcode quirk)."""
    if "Definition" not in entry:
        raise InvalidParameterError(f"{where}: missing Definition", code="MissingParameter")
    value = entry["Definition"]
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip().isdigit():
        message = f"{where}: Definition {value!r} is not a positive integer"
        raise InvalidParameterError.field("Definition", message)
    definition = int(value)
    if definition < 1:
        raise InvalidParameterError.field("Definition", f"{where}: Definition must be a positive integer")
    return definition


def _validate(where: str, fam: Family, data: dict[str, Any], context: dict[str, bool] | None) -> WireModel:
    try:
        return fam.model.model_validate(data, context=context)
    except ValidationError as exc:
        error = invalid_parameter(exc)
        raise InvalidParameterError(f"{where}: {error.message}", code=error.code) from None


def load_presets(directory: Path | None = None) -> Mapping[str, tuple[WireModel, ...]]:
    """Load and validate every ``*.json`` preset file of a directory (cached per directory).

    Parameters:
        directory: where the preset files are; the caller passes ``settings.presets_dir`` when set.
            Default: ``mps/_presets`` inside an installed wheel, else the repository's ``presets/``.

    Returns:
        The presets by set key; shared by every caller, so treat it as read-only.

    Raises:
        MpsError: no presets directory was found.
        InvalidParameterError: a preset file is invalid, or two files define the same Definition.
    """
    return _load_preset_dir((directory or default_presets_dir()).resolve())


def default_presets_dir() -> Path:
    """``mps/_presets`` (a wheel install) if present, else the source tree's ``presets/``.

    Raises:
        MpsError: neither exists, i.e. the install is broken.
    """
    here = Path(__file__).resolve()
    candidates = (here.parents[1] / "_presets", here.parents[2] / "presets")
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise MpsError(f"no preset templates found (looked in {', '.join(map(str, candidates))})")


@functools.cache
def _load_preset_dir(directory: Path) -> Mapping[str, tuple[WireModel, ...]]:
    if not directory.is_dir():
        raise MpsError(f"{directory}: presets directory does not exist")
    merged: dict[str, list[WireModel]] = {}
    origin: dict[tuple[str, int], Path] = {}
    for path in sorted(directory.glob("*.json")):
        for key, templates in load_template_file(path, template_type="Preset").items():
            for template in templates:
                ident = (key, definition_of(template))
                if ident in origin:
                    raise InvalidParameterError(
                        f"{path}: {key} Definition {ident[1]}: already defined in {origin[ident]}",
                        code="InvalidParameterValue.Definition",
                    )
                origin[ident] = path
            merged.setdefault(key, []).extend(templates)
    return {key: tuple(templates) for key, templates in merged.items()}


# --- the catalog ------------------------------------------------------------------------------------


class TemplateSource(Protocol):
    """What task planning needs from a template store: look one up. The SQL store implements it too."""

    def get(self, family_name: str, definition: int) -> WireModel:
        """The template ``definition`` of a family (a set key such as ``TranscodeTemplateSet``).

        Raises:
            ResourceNotFoundError: ``ResourceNotFound.TemplateNotExist``.
        """
        ...


class TemplateCatalog:
    """Presets plus custom templates, in memory.

    Presets cannot be changed or deleted and their Definitions (and the legacy transcode aliases)
    cannot be reused by a custom template. Templates handed out are copies, so a caller that merges
    an OverrideParameter into one cannot change the catalog.

    Parameters:
        presets: by set key, e.g. :func:`load_presets`.
        custom: by set key, e.g. :func:`load_template_file` on the user's file.

    Raises:
        InvalidParameterError: a custom template reuses a preset or another custom Definition.
    """

    def __init__(
        self,
        presets: Mapping[str, Iterable[WireModel]],
        custom: Mapping[str, Iterable[WireModel]] | None = None,
    ) -> None:
        self._presets: dict[str, dict[int, WireModel]] = {key: {} for key in FAMILIES}
        self._custom: dict[str, dict[int, WireModel]] = {key: {} for key in FAMILIES}
        for key, templates in presets.items():
            self._presets[family(key).set_key].update((definition_of(t), t) for t in templates)
        for key, templates in (custom or {}).items():
            for template in templates:
                self.add(key, template)

    # lookups

    def get(self, family_name: str, definition: int) -> WireModel:
        """The template ``definition`` of a family (set key or kind name).

        Parameters:
            family_name: ``TranscodeTemplateSet`` or ``TranscodeTemplate``, and so on.
            definition: the template ID; 10/20/30/40 in the transcode family are legacy aliases.

        Returns:
            A copy of the template; for an alias, the target with the alias as its Definition.

        Raises:
            ResourceNotFoundError: ``ResourceNotFound.TemplateNotExist`` (names family and Definition).
            InvalidParameterError: an unknown family name.
        """
        fam = family(family_name)
        found = self._find(fam, definition)
        if found is None:
            raise ResourceNotFoundError(
                f"{fam.kind} {definition} does not exist", code="ResourceNotFound.TemplateNotExist"
            )
        return found

    def transcode(self, definition: int) -> TranscodeTemplate:
        """:meth:`get` in ``TranscodeTemplateSet``."""
        return cast(TranscodeTemplate, self.get("TranscodeTemplateSet", definition))

    def snapshot_by_time_offset(self, definition: int) -> SnapshotByTimeOffsetTemplate:
        """:meth:`get` in ``SnapshotByTimeOffsetTemplateSet``."""
        return cast(SnapshotByTimeOffsetTemplate, self.get("SnapshotByTimeOffsetTemplateSet", definition))

    def sample_snapshot(self, definition: int) -> SampleSnapshotTemplate:
        """:meth:`get` in ``SampleSnapshotTemplateSet``."""
        return cast(SampleSnapshotTemplate, self.get("SampleSnapshotTemplateSet", definition))

    def image_sprite(self, definition: int) -> ImageSpriteTemplate:
        """:meth:`get` in ``ImageSpriteTemplateSet``."""
        return cast(ImageSpriteTemplate, self.get("ImageSpriteTemplateSet", definition))

    def animated_graphics(self, definition: int) -> AnimatedGraphicsTemplate:
        """:meth:`get` in ``AnimatedGraphicsTemplateSet``."""
        return cast(AnimatedGraphicsTemplate, self.get("AnimatedGraphicsTemplateSet", definition))

    def watermark(self, definition: int) -> WatermarkTemplate:
        """:meth:`get` in ``WatermarkTemplateSet``."""
        return cast(WatermarkTemplate, self.get("WatermarkTemplateSet", definition))

    def adaptive_dynamic_streaming(self, definition: int) -> AdaptiveDynamicStreamingTemplate:
        """:meth:`get` in ``AdaptiveDynamicStreamingTemplateSet``."""
        return cast(
            AdaptiveDynamicStreamingTemplate, self.get("AdaptiveDynamicStreamingTemplateSet", definition)
        )

    def is_preset(self, family_name: str, definition: int) -> bool:
        """Whether ``definition`` is a preset (or a legacy alias of one) of the family."""
        fam = family(family_name)
        return self._alias_target(fam, definition) in self._presets[fam.set_key]

    def describe(
        self,
        family_name: str,
        definitions: Iterable[int] | None = None,
        type: str | None = None,
        name: str | None = None,
        offset: int = 0,
        limit: int = 10,
    ) -> tuple[int, list[WireModel]]:
        """Describe*Templates: filter, order by Definition, then page.

        Parameters:
            family_name: set key or kind name.
            definitions: only these IDs (unknown ones are skipped, as Tencent does); legacy aliases
                are answered only when asked for here, so a plain listing shows each preset once.
            type: ``Preset`` or ``Custom``; for watermarks ``image`` or ``text``.
            name: only templates with exactly this Name.
            offset, limit: paging; limit 1 to 100.

        Returns:
            ``(TotalCount, page)``: the count of all matches and copies of the templates on the page.

        Raises:
            InvalidParameterError: ``InvalidParameterValue.Limit``/``Offset``/``Definitions``.
        """
        fam = family(family_name)
        wanted = None if definitions is None else sorted(set(definitions))
        _check_paging(wanted, offset, limit)
        if wanted is None:
            pool = sorted(
                [*self._presets[fam.set_key].values(), *self._custom[fam.set_key].values()], key=definition_of
            )
        else:
            found = (self._find(fam, d) for d in wanted)
            pool = [t for t in found if t is not None]
        matches = [
            t
            for t in pool
            if (type is None or cast(Any, t).Type == type) and (name is None or cast(Any, t).Name == name)
        ]
        return len(matches), [t.model_copy(deep=True) for t in matches[offset : offset + limit]]

    # custom templates

    def add(self, family_name: str, template: WireModel) -> None:
        """Add a custom template (Create*Template); its ``Type`` becomes ``Custom``.

        Raises:
            InvalidParameterError: ``InvalidParameterValue.Definition`` if the Definition is a preset,
                a legacy alias or an existing custom template.
        """
        fam = family(family_name)
        definition = definition_of(template)
        if self.is_preset(fam.set_key, definition):
            message = f"{fam.kind} {definition} is a preset; a custom template cannot reuse its Definition"
            raise InvalidParameterError.field("Definition", message)
        if definition in self._custom[fam.set_key]:
            raise InvalidParameterError.field("Definition", f"{fam.kind} {definition} already exists")
        self._custom[fam.set_key][definition] = _as_custom(fam, template)

    def replace(self, family_name: str, template: WireModel) -> None:
        """Replace a custom template (Modify*Template, once the caller has merged the changes).

        Raises:
            InvalidParameterError: ``InvalidParameterValue.ModifyDefaultTemplate`` for a preset.
            ResourceNotFoundError: ``ResourceNotFound.TemplateNotExist``.
        """
        fam = family(family_name)
        definition = definition_of(template)
        self._require_custom(fam, definition, "ModifyDefaultTemplate", "modified")
        self._custom[fam.set_key][definition] = _as_custom(fam, template)

    def remove(self, family_name: str, definition: int) -> None:
        """Delete a custom template (Delete*Template).

        Raises:
            InvalidParameterError: ``InvalidParameterValue.DeleteDefaultTemplate`` for a preset.
            ResourceNotFoundError: ``ResourceNotFound.TemplateNotExist``.
        """
        fam = family(family_name)
        self._require_custom(fam, definition, "DeleteDefaultTemplate", "deleted")
        del self._custom[fam.set_key][definition]

    # helpers

    def _alias_target(self, fam: Family, definition: int) -> int:
        if fam.set_key == "TranscodeTemplateSet":
            return LEGACY_TRANSCODE_ALIASES.get(definition, definition)
        return definition

    def _find(self, fam: Family, definition: int) -> WireModel | None:
        target = self._alias_target(fam, definition)
        found = self._presets[fam.set_key].get(target)
        if found is None:
            found = self._custom[fam.set_key].get(definition)
        if found is None:
            return None
        if target != definition:
            # Answer "what is template 10" with Definition 10, so get(x).Definition == x always holds.
            return found.model_copy(update={"Definition": str(definition)}, deep=True)
        return found.model_copy(deep=True)

    def _require_custom(self, fam: Family, definition: int, preset_code: str, verb: str) -> None:
        if self.is_preset(fam.set_key, definition):
            message = f"{fam.kind} {definition} is a preset and cannot be {verb}"
            raise InvalidParameterError.field(preset_code, message)
        if definition not in self._custom[fam.set_key]:
            raise ResourceNotFoundError(
                f"{fam.kind} {definition} does not exist", code="ResourceNotFound.TemplateNotExist"
            )


def _as_custom(fam: Family, template: WireModel) -> WireModel:
    if not isinstance(template, fam.model):
        raise InvalidParameterError(f"expected a {fam.model.__name__}, got {type(template).__name__}")
    if fam.preset_typed:
        return template.model_copy(update={"Type": "Custom"}, deep=True)
    return template.model_copy(deep=True)


def _check_paging(definitions: list[int] | None, offset: int, limit: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidParameterError.field("Limit", f"Limit must be 1 to {MAX_LIMIT}, got {limit}")
    if offset < 0:
        raise InvalidParameterError.field("Offset", f"Offset must be 0 or more, got {offset}")
    if definitions is not None and len(definitions) > MAX_DEFINITIONS:
        raise InvalidParameterError.field("Definitions", f"at most {MAX_DEFINITIONS} Definitions per request")
