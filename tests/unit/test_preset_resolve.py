"""Every preset of every kind resolves into runnable work.

Tencent's presets hold values a client may not ask for (1020 is MP3 at 320 kbps, 1100 is AAC at
24 kbps); resolving one must not judge it by the client's bounds.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mps.media.specs import TranscodeSpec
from mps.models.metadata import MediaAudioStreamItem, MediaMetaData, MediaVideoStreamItem
from mps.templates import TemplateCatalog, default_presets_dir, load_presets
from mps.workflow.kinds import KINDS
from mps.workflow.resolve import SubtaskResolver

CATALOG = TemplateCatalog(load_presets(default_presets_dir()))
META = MediaMetaData(
    Width=1280, Height=720, Duration=10.0, VideoDuration=10.0, AudioDuration=10.0,
    VideoStreamSet=[MediaVideoStreamItem(Width=1280, Height=720, FpsNumerator=25, FpsDenominator=1)],
    AudioStreamSet=[MediaAudioStreamItem(Codec="aac", Bitrate=128000, SamplingRate=44100, Channel=2)],
)  # fmt: skip


#: What each kind's input needs besides its Definition.
REQUIRED: dict[str, dict[str, object]] = {
    "AnimatedGraphics": {"StartTimeOffset": 1, "EndTimeOffset": 3},
    "SnapshotByTimeOffset": {"TimeOffsetSet": [1.0]},
}


def _no_fetch(ref: object) -> Path:
    raise AssertionError(f"a preset fetched {ref!r}")


def _every_preset() -> list[tuple[str, int]]:
    presets = load_presets(default_presets_dir())
    return [
        (kind.name, int(template.Definition))  # a string on TranscodeTemplate (Tencent quirk)
        for kind in KINDS
        if kind.set_name is not None
        for template in presets.get(kind.template_family, [])
    ]


@pytest.mark.parametrize(("kind_name", "definition"), _every_preset(), ids=lambda v: str(v))
def test_every_preset_resolves(kind_name: str, definition: int) -> None:
    kind = KINDS.named(kind_name)
    item = kind.input_model.model_validate({"Definition": definition, **REQUIRED.get(kind_name, {})})
    resolver = SubtaskResolver(CATALOG, META, _no_fetch, "veryfast", None)
    subtask = resolver.subtask(0, item)
    assert subtask.kind == kind_name and subtask.spec.definition == definition


@pytest.mark.parametrize(("definition", "kbps"), [(1020, 320), (1100, 24)])
def test_audio_presets_keep_bitrates_outside_the_client_range(definition: int, kbps: int) -> None:
    item = KINDS.named("Transcode").input_model.model_validate({"Definition": definition})
    spec = SubtaskResolver(CATALOG, META, _no_fetch, "veryfast", None).subtask(0, item).spec
    assert isinstance(spec, TranscodeSpec)
    assert spec.params.AudioTemplate is not None and spec.params.AudioTemplate.Bitrate == kbps
