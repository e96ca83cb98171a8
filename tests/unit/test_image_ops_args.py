"""The argv of the image operations (snapshots, samples, sprite tiles, animations), built without ffmpeg."""

from __future__ import annotations

from pathlib import Path

import pytest

from mps.errors import InvalidParameterError, SourceError
from mps.media.geometry import Size
from mps.media.ops.animated import animation_window, build_animation
from mps.media.ops.sample import FrameSequence, build_frame_sequences, build_sample, select_filters
from mps.media.ops.snapshot import build_snapshots
from mps.media.ops.sprite import build_thumbnails
from mps.media.specs import AnimationSpec, SampleSpec, SnapshotSpec, SpriteSpec, WatermarkSpec
from mps.models.metadata import MediaAudioStreamItem, MediaMetaData, MediaVideoStreamItem
from mps.models.templates import (
    AnimatedGraphicsTemplate,
    ImageSpriteTemplate,
    SampleSnapshotTemplate,
    SnapshotByTimeOffsetTemplate,
)

META = MediaMetaData(
    Width=320,
    Height=240,
    Duration=4.0,
    VideoDuration=4.0,
    VideoStreamSet=[MediaVideoStreamItem(Width=320, Height=240, FpsNumerator=25, FpsDenominator=1)],
)
SOURCE = "/media/in.mp4"


def snapshot_spec(times: tuple[float, ...], **template: object) -> SnapshotSpec:
    return SnapshotSpec(10, SnapshotByTimeOffsetTemplate(Definition=10, **template), times)  # type: ignore[arg-type]


def seeks_before_inputs(argv: list[str]) -> list[str]:
    """The ``-ss`` value of every ``-i``, checking each seek comes before its input."""
    seeks, pending = [], None
    for index, arg in enumerate(argv):
        if arg == "-ss":
            pending = argv[index + 1]
        elif arg == "-i" and argv[index + 1] == SOURCE:
            seeks.append(pending or "0")
            pending = None
    assert pending is None, "a -ss after the last input would be an output-side (decoding) seek"
    return seeks


def test_each_snapshot_is_an_input_side_seek_with_one_frame_out(tmp_path: Path) -> None:
    outputs = [tmp_path / "a.jpg", tmp_path / "b.jpg", tmp_path / "c.jpg"]
    [command] = build_snapshots(snapshot_spec((1.0, 2.5, 99.0)), META, SOURCE, outputs)
    # 99 s on a 4 s clip is the last frame (3.94 = 4 - 1.5/25).
    assert seeks_before_inputs(command.argv) == ["1", "2.5", "3.94"]
    # each seeked input decodes its half GOP on one thread (frame threads only add frames in flight)
    assert [command.argv[i + 1] for i, a in enumerate(command.argv) if a == "-threads"] == ["1"] * 3
    assert command.argv.count("-frames:v") == 3
    assert command.argv.count("-q:v") == 3
    graph = command.argv[command.argv.index("-filter_complex") + 1]
    maps = [command.argv[i + 1] for i, a in enumerate(command.argv) if a == "-map"]
    assert len(set(maps)) == 3 and all(graph.count(pad) == 1 for pad in maps)
    assert all(f"[{i}:v:0]" in graph for i in range(3))
    assert command.outputs == outputs
    assert all(str(path) in command.argv for path in outputs)
    # A single named file, never a sequence pattern: "%d" in a client's name stays literal.
    assert command.argv.count("-update") == 3


def test_snapshots_are_batched_per_process(tmp_path: Path) -> None:
    times = tuple(float(i) / 4 for i in range(10))
    outputs = [tmp_path / f"{i}.jpg" for i in range(10)]
    commands = build_snapshots(snapshot_spec(times), META, SOURCE, outputs, batch_size=8)
    assert [len(c.outputs) for c in commands] == [8, 2]
    assert [p for c in commands for p in c.outputs] == outputs


def test_snapshot_outputs_must_match_times(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        build_snapshots(snapshot_spec((1.0, 2.0)), META, SOURCE, [tmp_path / "a.jpg"])


@pytest.mark.parametrize(("fmt", "codec"), [("png", "png"), ("webp", "libwebp"), ("jpg", "mjpeg")])
def test_snapshot_formats_pick_their_encoder(tmp_path: Path, fmt: str, codec: str) -> None:
    [command] = build_snapshots(snapshot_spec((1.0,), Format=fmt), META, SOURCE, [tmp_path / f"a.{fmt}"])
    assert command.argv[command.argv.index("-c:v") + 1] == codec


@pytest.mark.parametrize(("fill", "expected"), [("black", "color=black"), ("white", "color=white")])
def test_snapshot_letterbox_fills_with_the_template_colour(tmp_path: Path, fill: str, expected: str) -> None:
    spec = snapshot_spec((1.0,), Width=256, Height=144, ResolutionAdaptive="close", FillType=fill)
    [command] = build_snapshots(spec, META, SOURCE, [tmp_path / "a.jpg"])
    graph = command.argv[command.argv.index("-filter_complex") + 1]
    assert "pad=256:144" in graph and expected in graph


def test_a_source_without_video_cannot_be_snapshotted(tmp_path: Path) -> None:
    audio = MediaMetaData(Duration=4.0, AudioStreamSet=[MediaAudioStreamItem(Codec="aac")])
    with pytest.raises(SourceError):
        build_snapshots(snapshot_spec((1.0,)), audio, SOURCE, [tmp_path / "a.jpg"])


def test_select_counts_pictures_taken_so_it_cannot_drift() -> None:
    assert select_filters(1.0) == ["setpts=PTS-STARTPTS", r"select=gte(t\,selected_n*1.000000-0.0005)"]


def test_sample_decodes_once_into_a_numbered_sequence(tmp_path: Path) -> None:
    template = SampleSnapshotTemplate(Definition=11, SampleType="Percent", SampleInterval=25, Format="png")
    command, times = build_sample(SampleSpec(11, template), META, SOURCE, tmp_path)
    argv = command.argv
    assert times == [0.0, 1.0, 2.0, 3.0]
    assert "-ss" not in argv and argv.count("-i") == 1
    assert argv[argv.index("-frames:v") + 1] == "4"
    assert argv[argv.index("-fps_mode") + 1] == "vfr"
    assert argv[argv.index("-start_number") + 1] == "0"
    assert argv[-1] == str(tmp_path / "sample_%06d.png")
    graph = argv[argv.index("-filter_complex") + 1]
    assert graph.index("setpts=PTS-STARTPTS") < graph.index("select=") < graph.index("scale=")


def test_sequences_of_one_decode_are_branches_of_one_split(tmp_path: Path) -> None:
    logo = WatermarkSpec(1, "image", image=tmp_path / "logo.png")
    jpg, png = ("-q:v", "2"), ("-c:v", "png")
    samples = FrameSequence(tmp_path / "s_%06d.jpg", 5.0, 12, Size(640, 360), "stretch", jpg, (logo,))
    tiles = FrameSequence(tmp_path / "t_%06d.png", 1.0, 60, Size(160, 90), "stretch", png)
    argv = build_frame_sequences([samples, tiles], META, SOURCE).argv
    assert argv.count("-i") == 2 and argv[argv.index("-i", argv.index("-i") + 1) + 1] == str(logo.image)
    graph = argv[argv.index("-filter_complex") + 1]
    assert graph.startswith("[0:v:0]split=2") and graph.count("[0:v:0]") == 1
    assert "selected_n*5.000000" in graph and "selected_n*1.000000" in graph and "[1:v" in graph
    frames = [argv[i + 1] for i, arg in enumerate(argv) if arg == "-frames:v"]
    assert frames == ["12", "60"] and argv[-1] == str(tmp_path / "t_%06d.png")
    with pytest.raises(ValueError):
        build_frame_sequences([], META, SOURCE)


def test_sprite_thumbnails_have_the_template_size() -> None:
    template = ImageSpriteTemplate.model_construct(
        Definition=10,
        SampleType="Time",
        SampleInterval=1,
        RowCount=2,
        ColumnCount=2,
        Width=142,
        Height=80,
        ResolutionAdaptive="close",
        FillType="stretch",
        Format="jpg",
    )
    command, times, size = build_thumbnails(SpriteSpec(10, template), META, SOURCE, Path("/work"))
    assert (size.width, size.height) == (142, 80)
    assert times == [0.0, 1.0, 2.0, 3.0]
    graph = command.argv[command.argv.index("-filter_complex") + 1]
    assert "scale=142:80" in graph and "pad=" not in graph
    assert command.argv[-1] == "/work/tile_%06d.bmp"


def animation(start: float, end: float, **template: object) -> AnimationSpec:
    return AnimationSpec(20, AnimatedGraphicsTemplate(Definition=20, **template), start, end)  # type: ignore[arg-type]


def test_gif_reads_only_its_window_and_builds_its_palette_in_one_process(tmp_path: Path) -> None:
    command = build_animation(animation(1.0, 3.0, Fps=10, Width=160), META, SOURCE, tmp_path / "a.gif")
    argv = command.argv
    i = argv.index("-i")
    assert argv[argv.index("-ss") + 1] == "1" and argv.index("-ss") < i
    assert argv[argv.index("-t") + 1] == "2" and argv.index("-t") < i
    graph = argv[argv.index("-filter_complex") + 1]
    assert graph.startswith("[0:v:0]setpts=PTS-STARTPTS,fps=10")
    assert "split" in graph and "palettegen=stats_mode=diff" in graph and "paletteuse=dither=bayer" in graph
    assert argv[argv.index("-loop") + 1] == "0" and "-an" in argv
    assert command.duration == 2.0


def test_webp_animation_uses_libwebp_anim_with_the_template_quality(tmp_path: Path) -> None:
    spec = animation(0, 2, Fps=10, Format="webp", Quality=60)
    command = build_animation(spec, META, SOURCE, tmp_path / "a.webp")
    argv = command.argv
    assert argv[argv.index("-c:v") + 1] == "libwebp_anim"
    assert argv[argv.index("-quality") + 1] == "60"
    assert argv[argv.index("-lossless") + 1] == "0"
    assert "palettegen" not in argv[argv.index("-filter_complex") + 1]


def test_animation_window_end_zero_or_past_the_end_is_the_end_of_the_source() -> None:
    assert animation_window(animation(1, 0, Fps=10), META) == (1.0, 4.0)
    assert animation_window(animation(1, 60, Fps=10), META) == (1.0, 4.0)


def test_animation_window_starting_after_the_end_is_refused() -> None:
    with pytest.raises(InvalidParameterError) as caught:
        animation_window(animation(5, 6, Fps=10), META)
    assert caught.value.code == "InvalidParameterValue.StartTimeOffset"


def test_animation_never_upscales(tmp_path: Path) -> None:
    command = build_animation(animation(0, 1, Fps=5, Width=1280), META, SOURCE, tmp_path / "a.gif")
    graph = command.argv[command.argv.index("-filter_complex") + 1]
    assert "scale=320:240" in graph


def test_snapshot_fallback_decodes_once_and_keeps_the_first_frame_at_each_instant(tmp_path: Path) -> None:
    outputs = [tmp_path / "a.jpg", tmp_path / "b.jpg"]
    [command] = build_snapshots(snapshot_spec((1.0, 2.5)), META, SOURCE, outputs, decode=True)
    argv = command.argv
    assert "-ss" not in argv and argv.count("-i") == 1
    graph = argv[argv.index("-filter_complex") + 1]
    assert "split=2" in graph
    assert r"select=gte(t\,1),trim=end_frame=1" in graph and r"select=gte(t\,2.5),trim=end_frame=1" in graph
    assert command.outputs == outputs


def test_animation_fallback_trims_the_window_out_of_a_full_decode(tmp_path: Path) -> None:
    command = build_animation(animation(1.0, 3.0, Fps=10), META, SOURCE, tmp_path / "a.gif", decode=True)
    argv = command.argv
    assert "-ss" not in argv and "-t" not in argv
    assert "trim=start=1:end=3" in argv[argv.index("-filter_complex") + 1]
