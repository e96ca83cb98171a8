"""Template files, lookups, Describe semantics and custom-template rules of the catalog."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mps.errors import InvalidParameterError, MpsError, ResourceNotFoundError
from mps.models.base import WireModel
from mps.models.templates import TEMPLATE_SETS, SnapshotByTimeOffsetTemplate, TranscodeTemplate
from mps.templates import (
    FAMILIES,
    LEGACY_TRANSCODE_ALIASES,
    TemplateCatalog,
    TemplateSource,
    load_presets,
    load_template_file,
)

PRESETS_DIR = Path(__file__).resolve().parents[2] / "presets"

CUSTOM_MP4: dict[str, Any] = {
    "Definition": 500001,
    "Name": "my-720p",
    "Container": "mp4",
    "VideoTemplate": {"Codec": "h264", "Fps": 30, "Bitrate": 2000, "Height": 720},
    "AudioTemplate": {"Codec": "aac", "Bitrate": 128, "SampleRate": 48000},
}
TEXT_WATERMARK: dict[str, Any] = {"Definition": 5001, "Type": "text", "TextTemplate": {"TextContent": "mps"}}


def write(tmp_path: Path, document: object, name: str = "TEMPLATES.json") -> Path:
    path = tmp_path / name
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


@pytest.fixture(scope="module")
def presets() -> Any:
    return load_presets(PRESETS_DIR)


@pytest.fixture
def catalog(presets: Any, tmp_path: Path) -> TemplateCatalog:
    snapshot = {"Definition": 7001, "Name": "thumb", "Width": 320, "Format": "png"}
    custom = load_template_file(
        write(
            tmp_path,
            {
                "TranscodeTemplateSet": [CUSTOM_MP4],
                "SnapshotByTimeOffsetTemplateSet": [snapshot],
                "WatermarkTemplateSet": [TEXT_WATERMARK],
            },
        )
    )
    return TemplateCatalog(presets, custom)


# --- families -------------------------------------------------------------------------------------------


def test_families_are_the_six_describe_sets() -> None:
    assert {key: f.model for key, f in FAMILIES.items()} == TEMPLATE_SETS
    assert all(f.kind + "Set" == key for key, f in FAMILIES.items())
    assert [key for key, f in FAMILIES.items() if not f.preset_typed] == ["WatermarkTemplateSet"]


# --- template files -------------------------------------------------------------------------------------


def test_user_file_templates_become_custom_and_watermarks_keep_their_kind(tmp_path: Path) -> None:
    claims_preset = {**CUSTOM_MP4, "Type": "Preset"}
    loaded = load_template_file(
        write(tmp_path, {"TranscodeTemplateSet": [claims_preset], "WatermarkTemplateSet": [TEXT_WATERMARK]})
    )
    (transcode,) = loaded["TranscodeTemplateSet"]
    assert isinstance(transcode, TranscodeTemplate)
    assert (transcode.Definition, transcode.Type) == ("500001", "Custom")
    assert loaded["WatermarkTemplateSet"][0].Type == "text"  # type: ignore[attr-defined]


def test_a_saved_describe_response_loads_as_is(tmp_path: Path) -> None:
    document = {"TotalCount": 1, "TranscodeTemplateSet": [CUSTOM_MP4], "RequestId": "abc"}
    assert list(load_template_file(write(tmp_path, document))) == ["TranscodeTemplateSet"]


@pytest.mark.parametrize(
    ("document", "message", "code"),
    [
        ("{not json", r"TEMPLATES\.json: not valid JSON: Expecting", "InvalidParameterValue"),
        ([CUSTOM_MP4], r"TEMPLATES\.json: expected a JSON object", "InvalidParameterValue"),
        (
            {"TranscodeTemplates": []},
            r"TEMPLATES\.json: unknown key 'TranscodeTemplates'",
            "InvalidParameterValue",
        ),
        ({"TranscodeTemplateSet": {}}, r"TEMPLATES\.json: TranscodeTemplateSet must be a list", None),
        (
            {"TranscodeTemplateSet": [CUSTOM_MP4, {"Name": "no id", "Container": "mp3"}]},
            r"TEMPLATES\.json: TranscodeTemplateSet\[1\]: missing Definition",
            "MissingParameter",
        ),
        (
            {"ImageSpriteTemplateSet": [{"Definition": "abc"}]},
            r"TEMPLATES\.json: ImageSpriteTemplateSet\[0\]: Definition 'abc' is not a positive integer",
            "InvalidParameterValue.Definition",
        ),
        (
            {"TranscodeTemplateSet": [CUSTOM_MP4, CUSTOM_MP4]},
            r"TEMPLATES\.json: TranscodeTemplateSet Definition 500001: duplicate Definition",
            "InvalidParameterValue.Definition",
        ),
        (
            {
                "TranscodeTemplateSet": [
                    {**CUSTOM_MP4, "VideoTemplate": {**CUSTOM_MP4["VideoTemplate"], "Bitrate": 5}}
                ]
            },
            r"TEMPLATES\.json: TranscodeTemplateSet Definition 500001: VideoTemplate\.Bitrate: must be 0",
            "InvalidParameterValue.Bitrate",
        ),
        (
            {"AnimatedGraphicsTemplateSet": [{"Definition": 9, "Fps": 60}]},
            r"TEMPLATES\.json: AnimatedGraphicsTemplateSet Definition 9: Fps: ",
            "InvalidParameterValue.Fps",
        ),
    ],
)
def test_bad_files_fail_with_one_line_naming_file_set_and_definition(
    tmp_path: Path, document: object, message: str, code: str | None
) -> None:
    with pytest.raises(InvalidParameterError, match=message) as caught:
        load_template_file(write(tmp_path, document))
    assert "\n" not in str(caught.value)
    if code is not None:
        assert caught.value.code == code


def test_a_missing_file_is_an_invalid_parameter(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterError, match=r"nope\.json: cannot read"):
        load_template_file(tmp_path / "nope.json")


def test_two_preset_files_cannot_define_the_same_template(tmp_path: Path) -> None:
    gif = {"Definition": 20000, "Type": "Preset", "Name": "g", "Comment": "c", "Fps": 10}
    write(tmp_path, {"AnimatedGraphicsTemplateSet": [gif]}, "a.json")
    write(tmp_path, {"AnimatedGraphicsTemplateSet": [gif]}, "b.json")
    with pytest.raises(
        InvalidParameterError,
        match=r"b\.json: AnimatedGraphicsTemplateSet Definition 20000: "
        r"already defined in .*a\.json",
    ):
        load_presets(tmp_path)


def test_a_missing_presets_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(MpsError, match="does not exist"):
        load_presets(tmp_path / "absent")


# --- lookups --------------------------------------------------------------------------------------------


def test_get_finds_presets_and_custom_templates_by_set_key_or_kind(catalog: TemplateCatalog) -> None:
    assert catalog.get("TranscodeTemplateSet", 100010).Name == "MP4-FLU"  # type: ignore[attr-defined]
    assert catalog.get("TranscodeTemplate", 500001).Name == "my-720p"  # type: ignore[attr-defined]
    assert catalog.snapshot_by_time_offset(7001).Format == "png"
    assert catalog.watermark(5001).TextTemplate is not None


@pytest.mark.parametrize(
    ("family", "definition", "kind"),
    [
        ("TranscodeTemplateSet", 123, "TranscodeTemplate"),
        ("SampleSnapshotTemplateSet", 20, "SampleSnapshotTemplate"),
        ("WatermarkTemplateSet", 10, "WatermarkTemplate"),
    ],
)
def test_an_unknown_definition_is_template_not_exist(
    catalog: TemplateCatalog, family: str, definition: int, kind: str
) -> None:
    with pytest.raises(ResourceNotFoundError, match=f"{kind} {definition} does not exist") as caught:
        catalog.get(family, definition)
    assert caught.value.code == "ResourceNotFound.TemplateNotExist"


def test_an_unknown_family_is_refused(catalog: TemplateCatalog) -> None:
    with pytest.raises(InvalidParameterError, match="unknown template family 'Foo'"):
        catalog.get("Foo", 1)


def test_templates_handed_out_are_copies(catalog: TemplateCatalog) -> None:
    template = catalog.transcode(100010)
    assert template.VideoTemplate is not None
    template.VideoTemplate.Bitrate = 9999
    assert catalog.transcode(100010).VideoTemplate.Bitrate == 400  # type: ignore[union-attr]


def test_the_catalog_is_a_template_source(catalog: TemplateCatalog) -> None:
    def lookup(source: TemplateSource) -> WireModel:
        return source.get("ImageSpriteTemplateSet", 10)

    assert lookup(catalog).Definition == 10  # type: ignore[attr-defined]


# --- legacy aliases -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("alias", "target"), sorted(LEGACY_TRANSCODE_ALIASES.items()))
def test_legacy_short_ids_answer_with_the_mp4_preset(
    catalog: TemplateCatalog, alias: int, target: int
) -> None:
    template = catalog.transcode(alias)
    expected = catalog.transcode(target)
    assert template.Definition == str(alias)
    assert template.model_dump(exclude={"Definition"}) == expected.model_dump(exclude={"Definition"})
    assert catalog.is_preset("TranscodeTemplateSet", alias)


def test_aliases_exist_only_in_the_transcode_family(catalog: TemplateCatalog) -> None:
    assert catalog.snapshot_by_time_offset(10).Name == "Snapshot-JPG"  # its own preset, not an alias
    with pytest.raises(ResourceNotFoundError):
        catalog.image_sprite(20)


def test_aliases_are_listed_only_when_asked_for(catalog: TemplateCatalog) -> None:
    total, listed = catalog.describe("TranscodeTemplateSet", limit=100)
    assert "10" not in {t.Definition for t in listed}  # type: ignore[attr-defined]
    assert total == 19 + 1  # 19 presets and one custom template
    total, page = catalog.describe("TranscodeTemplateSet", definitions=[10, 100010])
    assert total == 2
    assert [t.Definition for t in page] == ["10", "100010"]  # type: ignore[attr-defined]


# --- describe -------------------------------------------------------------------------------------------


def test_describe_pages_in_definition_order(catalog: TemplateCatalog) -> None:
    total, first = catalog.describe("TranscodeTemplateSet", offset=0, limit=3)
    _, rest = catalog.describe("TranscodeTemplateSet", offset=3, limit=100)
    assert total == 20 and len(first) == 3 and len(rest) == 17
    ids = [int(t.Definition) for t in first + rest]  # type: ignore[attr-defined]
    assert ids == sorted(ids) and ids[:3] == [1010, 1020, 1100]
    assert catalog.describe("TranscodeTemplateSet", offset=50)[1] == []


def test_describe_filters_by_type_name_and_definitions(catalog: TemplateCatalog) -> None:
    total, page = catalog.describe("TranscodeTemplateSet", type="Custom")
    assert total == 1 and page[0].Name == "my-720p"  # type: ignore[attr-defined]
    assert catalog.describe("TranscodeTemplateSet", type="Preset", limit=100)[0] == 19
    total, page = catalog.describe("TranscodeTemplateSet", name="HLS-HD")
    assert total == 1 and page[0].Definition == "100230"  # type: ignore[attr-defined]
    # Unknown Definitions are skipped; the rest come back in Definition order.
    total, page = catalog.describe("TranscodeTemplateSet", definitions=[500001, 424242, 100040])
    assert [t.Definition for t in page] == ["100040", "500001"]  # type: ignore[attr-defined]
    assert catalog.describe("WatermarkTemplateSet", type="text")[0] == 1
    assert catalog.describe("WatermarkTemplateSet", type="image")[0] == 0


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"limit": 0}, "InvalidParameterValue.Limit"),
        ({"limit": 101}, "InvalidParameterValue.Limit"),
        ({"offset": -1}, "InvalidParameterValue.Offset"),
        ({"definitions": list(range(101))}, "InvalidParameterValue.Definitions"),
    ],
)
def test_describe_checks_paging(catalog: TemplateCatalog, kwargs: dict[str, Any], code: str) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        catalog.describe("TranscodeTemplateSet", **kwargs)
    assert caught.value.code == code


# --- custom templates -----------------------------------------------------------------------------------


@pytest.mark.parametrize("definition", [100010, 10])
def test_a_custom_template_cannot_reuse_a_preset_or_alias_definition(
    presets: Any, tmp_path: Path, definition: int
) -> None:
    custom = load_template_file(
        write(tmp_path, {"TranscodeTemplateSet": [{**CUSTOM_MP4, "Definition": definition}]})
    )
    with pytest.raises(InvalidParameterError, match=f"TranscodeTemplate {definition} is a preset") as caught:
        TemplateCatalog(presets, custom)
    assert caught.value.code == "InvalidParameterValue.Definition"


def test_add_refuses_an_existing_definition(catalog: TemplateCatalog) -> None:
    with pytest.raises(InvalidParameterError, match="already exists"):
        catalog.add("TranscodeTemplateSet", TranscodeTemplate.model_validate(CUSTOM_MP4))


def test_add_replace_remove_a_custom_template(catalog: TemplateCatalog) -> None:
    template = SnapshotByTimeOffsetTemplate(Definition=7002, Type="Preset", Name="a")
    catalog.add("SnapshotByTimeOffsetTemplateSet", template)
    assert catalog.snapshot_by_time_offset(7002).Type == "Custom"
    catalog.replace("SnapshotByTimeOffsetTemplateSet", template.model_copy(update={"Name": "b"}))
    assert catalog.snapshot_by_time_offset(7002).Name == "b"
    catalog.remove("SnapshotByTimeOffsetTemplateSet", 7002)
    with pytest.raises(ResourceNotFoundError):
        catalog.snapshot_by_time_offset(7002)


def test_add_refuses_a_template_of_another_family(catalog: TemplateCatalog) -> None:
    with pytest.raises(InvalidParameterError, match="expected a SnapshotByTimeOffsetTemplate"):
        catalog.add("SnapshotByTimeOffsetTemplateSet", TranscodeTemplate.model_validate(CUSTOM_MP4))


def test_presets_cannot_be_modified_or_deleted(catalog: TemplateCatalog) -> None:
    preset = catalog.transcode(100010)
    with pytest.raises(InvalidParameterError) as modified:
        catalog.replace("TranscodeTemplateSet", preset)
    assert modified.value.code == "InvalidParameterValue.ModifyDefaultTemplate"
    for definition in (100010, 10):
        with pytest.raises(InvalidParameterError) as deleted:
            catalog.remove("TranscodeTemplateSet", definition)
        assert deleted.value.code == "InvalidParameterValue.DeleteDefaultTemplate"
    assert catalog.transcode(100010).Name == "MP4-FLU"


def test_modify_or_delete_of_an_unknown_custom_template_is_not_found(catalog: TemplateCatalog) -> None:
    with pytest.raises(ResourceNotFoundError) as caught:
        catalog.remove("TranscodeTemplateSet", 424242)
    assert caught.value.code == "ResourceNotFound.TemplateNotExist"
    with pytest.raises(ResourceNotFoundError):
        catalog.replace(
            "TranscodeTemplateSet", TranscodeTemplate.model_validate({**CUSTOM_MP4, "Definition": 9})
        )
