"""The preset files hold Tencent's documented values (mps-api.md §12) and dump in the SDK's spelling."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tencentcloud.mps.v20190612 import models as sdk

from mps.errors import InvalidParameterError
from mps.models.base import WireModel
from mps.models.templates import WatermarkTemplate
from mps.templates import FAMILIES, TemplateCatalog, default_presets_dir, load_presets, load_template_file

PRESETS_DIR = Path(__file__).resolve().parents[2] / "presets"

#: MP4 ID, HLS ID, short side, video kbps, audio kbps (mps-api.md §12).
VIDEO_TIERS = [
    (100010, 100210, 360, 400, 64),
    (100020, 100220, 540, 1000, 64),
    (100030, 100230, 720, 1800, 128),
    (100040, 100240, 1080, 2500, 128),
    (100070, 100270, 1440, 3000, 160),
    (100080, 100280, 2160, 6000, 160),
]
VIDEO_PRESETS = [(mp4, "mp4", *rest) for mp4, _, *rest in VIDEO_TIERS] + [
    (hls, "hls", *rest) for _, hls, *rest in VIDEO_TIERS
]
#: ID, container, codec as Tencent reports it, kbps.
AUDIO_PRESETS = [
    (1010, "mp3", "libmp3lame", 128),
    (1020, "mp3", "libmp3lame", 320),
    (1100, "m4a", "libfdk_aac", 24),
    (1110, "m4a", "libfdk_aac", 48),
    (1120, "m4a", "libfdk_aac", 96),
    (1130, "m4a", "libfdk_aac", 192),
    (1140, "m4a", "libfdk_aac", 256),
]


@pytest.fixture(scope="module")
def catalog() -> TemplateCatalog:
    return TemplateCatalog(load_presets(PRESETS_DIR))


@pytest.mark.parametrize(("definition", "container", "short_side", "video_kbps", "audio_kbps"), VIDEO_PRESETS)
def test_video_presets_match_the_table(
    catalog: TemplateCatalog,
    definition: int,
    container: str,
    short_side: int,
    video_kbps: int,
    audio_kbps: int,
) -> None:
    template = catalog.transcode(definition)
    video, audio = template.VideoTemplate, template.AudioTemplate
    assert video is not None and audio is not None
    assert template.Definition == str(definition)  # a string on this object only, as Tencent does
    assert (template.Type, template.Container, template.ContainerType) == ("Preset", container, "Video")
    assert (template.RemoveVideo, template.RemoveAudio) == (0, 0)
    assert (video.Codec, video.Fps, video.Bitrate) == ("libx264", 25, video_kbps)
    assert (video.ResolutionAdaptive, video.Width, video.Height) == ("open", 0, short_side)
    assert (video.Gop, video.FillType, video.Mode) == (0, "stretch", "ABR")
    assert (audio.Codec, audio.Bitrate, audio.SampleRate, audio.AudioChannel) == (
        "libfdk_aac",
        audio_kbps,
        44100,
        2,
    )
    assert template.Name.startswith(f"{container.upper()}-")
    assert template.Comment


@pytest.mark.parametrize("definition", [hls for _, hls, *_ in VIDEO_TIERS])
def test_hls_presets_cut_10_second_ts_segments(catalog: TemplateCatalog, definition: int) -> None:
    template = catalog.transcode(definition)
    assert template.Container == "hls"
    assert template.VideoTemplate is not None
    assert (template.VideoTemplate.HlsTime, template.VideoTemplate.SegmentType) == (10, 0)


def test_tier_names_follow_tencents_example(catalog: TemplateCatalog) -> None:
    assert catalog.transcode(100010).Name == "MP4-FLU"
    assert catalog.transcode(100230).Name == "HLS-HD"
    assert catalog.transcode(100280).Name == "HLS-4K"


@pytest.mark.parametrize(("definition", "container", "codec", "kbps"), AUDIO_PRESETS)
def test_audio_presets_drop_video(
    catalog: TemplateCatalog, definition: int, container: str, codec: str, kbps: int
) -> None:
    template = catalog.transcode(definition)
    assert (template.Container, template.ContainerType) == (container, "PureAudio")
    assert (template.RemoveVideo, template.RemoveAudio, template.VideoTemplate) == (1, 0, None)
    assert template.AudioTemplate is not None
    audio = template.AudioTemplate
    assert (audio.Codec, audio.Bitrate, audio.SampleRate, audio.AudioChannel) == (codec, kbps, 44100, 2)


def test_snapshot_and_sample_presets_are_source_size_jpg(catalog: TemplateCatalog) -> None:
    snapshot = catalog.snapshot_by_time_offset(10)
    assert (snapshot.Format, snapshot.Width, snapshot.Height, snapshot.FillType) == ("jpg", 0, 0, "stretch")
    sample = catalog.sample_snapshot(10)
    assert (sample.Format, sample.Width, sample.Height) == ("jpg", 0, 0)
    assert (sample.SampleType, sample.SampleInterval) == ("Percent", 10)


def test_sprite_preset_is_142x80_every_10_seconds_in_10x10_sheets(catalog: TemplateCatalog) -> None:
    sprite = catalog.image_sprite(10)
    assert (sprite.Width, sprite.Height, sprite.ResolutionAdaptive) == (142, 80, "close")
    assert (sprite.SampleType, sprite.SampleInterval) == ("Time", 10)
    assert (sprite.RowCount, sprite.ColumnCount, sprite.Format) == (10, 10, "jpg")


def test_gif_preset_20000_has_our_parameters_and_says_so(catalog: TemplateCatalog) -> None:
    gif = catalog.animated_graphics(20000)
    assert (gif.Format, gif.Fps, gif.Quality) == ("gif", 10, 75)
    assert (gif.ResolutionAdaptive, gif.Width, gif.Height) == ("open", 0, 240)
    assert "chosen by mps" in gif.Comment


def test_every_file_entry_is_a_named_commented_preset() -> None:
    files = sorted(PRESETS_DIR.glob("*.json"))
    assert {f.name for f in files} == {
        "transcode.json",
        "snapshot_by_time_offset.json",
        "sample_snapshot.json",
        "image_sprite.json",
        "animated_graphics.json",
        "adaptive_dynamic_streaming.json",
    }
    for path in files:
        for set_key, entries in json.loads(path.read_text()).items():
            assert set_key in FAMILIES
            for entry in entries:
                assert entry["Type"] == "Preset", (path.name, entry["Definition"])
                assert entry["Name"] and entry["Comment"], (path.name, entry["Definition"])


def test_out_of_client_range_values_load_only_as_presets(tmp_path: Path) -> None:
    # 1100's 24 kbps and sprite 10's 80 px are Tencent's own values, below what a client may ask for.
    transcode = json.loads((PRESETS_DIR / "transcode.json").read_text())
    only_1100 = [t for t in transcode["TranscodeTemplateSet"] if t["Definition"] == "1100"]
    path = tmp_path / "custom.json"
    path.write_text(json.dumps({"TranscodeTemplateSet": only_1100}))
    assert load_template_file(path, template_type="Preset")["TranscodeTemplateSet"][0].Type == "Preset"
    with pytest.raises(InvalidParameterError, match=r"Definition 1100: AudioTemplate\.Bitrate") as caught:
        load_template_file(path)
    assert caught.value.code == "InvalidParameterValue.Bitrate"


def test_presets_are_found_without_configuration_and_cached() -> None:
    assert default_presets_dir() == PRESETS_DIR
    assert load_presets() is load_presets(PRESETS_DIR)


# --- field spelling: what we dump is what the SDK reads -------------------------------------------------

#: Our nested fields and the SDK class each one deserializes into.
SDK_NESTED = {
    "VideoTemplate": "VideoTemplateInfo",
    "AudioTemplate": "AudioTemplateInfo",
    "TEHDConfig": "TEHDConfig",
    "ImageTemplate": "ImageWatermarkTemplate",
    "TextTemplate": "TextWatermarkTemplateInput",
}


def _sdk_fields(class_name: str) -> set[str]:
    cls = getattr(sdk, class_name)
    return {name for name in dir(cls) if isinstance(getattr(cls, name), property)}


def _assert_sdk_spelling(wire: dict[str, Any], class_name: str, where: str) -> None:
    unknown = set(wire) - _sdk_fields(class_name)
    assert not unknown, f"{where}: not fields of sdk.{class_name}: {sorted(unknown)}"
    for key, value in wire.items():
        if isinstance(value, dict):
            _assert_sdk_spelling(value, SDK_NESTED[key], f"{where}.{key}")


def _all_templates() -> list[tuple[str, WireModel]]:
    presets = [(key, t) for key, templates in load_presets(PRESETS_DIR).items() for t in templates]
    # Watermark has no preset; check one custom template of each kind so its spelling is guarded too.
    image = WatermarkTemplate(Definition=5001, Type="image", ImageTemplate={"ImageUrl": "/logo.png"})
    text = WatermarkTemplate(Definition=5002, Type="text", TextTemplate={"TextContent": "mps"})
    return presets + [("WatermarkTemplateSet", image), ("WatermarkTemplateSet", text)]


@pytest.mark.parametrize(
    ("set_key", "template"), _all_templates(), ids=lambda v: v if isinstance(v, str) else str(v.Definition)
)
def test_templates_dump_with_sdk_field_names(set_key: str, template: WireModel) -> None:
    wire = json.loads(json.dumps(template.to_wire()))
    class_name = FAMILIES[set_key].kind
    _assert_sdk_spelling(wire, class_name, f"{class_name} {wire['Definition']}")
    # And the SDK reads it without its "fields are useless" warning (an error under our pytest config).
    getattr(sdk, class_name)()._deserialize(wire)
