"""Time-point and sampled snapshots with the real ffmpeg, on tiny testsrc2 clips."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageStat

from mps.media.naming import Namer
from mps.media.specs import SampleSpec, SnapshotSpec, Subtask, WatermarkSpec
from mps.media.timing import resolve_offsets
from mps.media.watermark import watermark_input_args
from mps.models.common import NumberFormat
from mps.models.tasks import SampleSnapshotTaskInput, SnapshotByTimeOffsetTaskInput
from mps.models.templates import SampleSnapshotTemplate, SnapshotByTimeOffsetTemplate
from mps.runner.ffmpeg import FfmpegRunner
from mps.workflow.context import OperationContext
from mps.workflow.operations.sample import run_sample
from mps.workflow.operations.snapshot import run_snapshot
from tests.conftest import ClipFactory
from tests.mediatools import image_size, near, pixel

RUNNER = FfmpegRunner()


@pytest.fixture
def logo(logo_png: Path) -> Path:
    """The red logo, or a skip while :mod:`mps.media.watermark` is still a stub."""
    try:
        watermark_input_args([WatermarkSpec(definition=1, kind="image", image=logo_png)])
    except NotImplementedError:
        pytest.skip("mps.media.watermark is not implemented yet")
    return logo_png


def context(
    source: Path, tmp_path: Path, definition: int, progress: list[float] | None = None
) -> OperationContext:
    """An operation context writing under ``tmp_path/out`` with OutputDir ``/out/``."""
    return OperationContext(
        runner=RUNNER,
        meta=RUNNER.probe(source),
        source=str(source),
        out_root=tmp_path / "root",
        namer=Namer("in.mp4", "/out/", definition),
        workdir=tmp_path / "work",
        on_progress=progress.append if progress is not None else lambda _f: None,
    )


def local(ctx: OperationContext, wire: str) -> Path:
    """The file behind a result ``Path`` (``/out/x.jpg``)."""
    return ctx.out_root / wire.lstrip("/")


def snapshot(
    ctx: OperationContext,
    ext: list[str],
    plain: list[float],
    watermarks: tuple[WatermarkSpec, ...] = (),
    **template: object,
) -> list[Path]:
    request = SnapshotByTimeOffsetTaskInput(Definition=10, ExtTimeOffsetSet=ext, TimeOffsetSet=plain)
    times = tuple(resolve_offsets(ext, plain, ctx.meta.media_duration))
    spec = SnapshotSpec(10, SnapshotByTimeOffsetTemplate(Definition=10, **template), times, watermarks)  # type: ignore[arg-type]
    item = run_snapshot(Subtask(0, "SnapshotByTimeOffset", spec, request), ctx)
    assert item.Definition == 10
    assert all(pic.WaterMarkDefinition == [m.definition for m in watermarks] for pic in item.PicInfoSet)
    return [local(ctx, pic.Path) for pic in item.PicInfoSet]


def test_offsets_in_seconds_percent_and_past_the_end_each_give_a_picture(
    sample_clip: Path, tmp_path: Path
) -> None:
    progress: list[float] = []
    ctx = context(sample_clip, tmp_path, 10, progress)
    request = SnapshotByTimeOffsetTaskInput(
        Definition=10, ExtTimeOffsetSet=["1s", "50%"], TimeOffsetSet=[2.5, 99]
    )
    times = tuple(resolve_offsets(request.ExtTimeOffsetSet, request.TimeOffsetSet, ctx.meta.media_duration))
    spec = SnapshotSpec(10, SnapshotByTimeOffsetTemplate(Definition=10), times)
    item = run_snapshot(Subtask(0, "SnapshotByTimeOffset", spec, request), ctx)
    assert [pic.TimeOffset for pic in item.PicInfoSet] == [1.0, 2.0, 2.5, 3.94]
    assert [pic.Path for pic in item.PicInfoSet] == [
        f"/out/in_snapshotByTimeOffset_10_{n}.jpg" for n in range(4)
    ]
    for pic in item.PicInfoSet:
        with Image.open(local(ctx, pic.Path)) as image:
            assert image.format == "JPEG" and image.size == (320, 240)
    assert progress[-1] == 1.0 and progress == sorted(progress)


def test_pictures_at_different_instants_show_different_frames(sample_clip: Path, tmp_path: Path) -> None:
    first, second, again = snapshot(context(sample_clip, tmp_path, 10), ["1s", "3s", "1s"], [], Format="png")
    with Image.open(first) as a, Image.open(second) as b, Image.open(again) as c:
        moved = ImageStat.Stat(ImageChops.difference(a.convert("RGB"), b.convert("RGB"))).mean
        same = ImageStat.Stat(ImageChops.difference(a.convert("RGB"), c.convert("RGB"))).mean
    assert sum(moved) > 10 * max(sum(same), 0.1)


@pytest.mark.parametrize(("fmt", "pillow_format"), [("png", "PNG"), ("webp", "WEBP")])
def test_png_and_webp_formats(sample_clip: Path, tmp_path: Path, fmt: str, pillow_format: str) -> None:
    [path] = snapshot(context(sample_clip, tmp_path, 10), ["2s"], [], Format=fmt, Width=160)
    assert path.suffix == f".{fmt}"
    with Image.open(path) as image:
        assert image.format == pillow_format and image.size == (160, 120)


@pytest.mark.parametrize(("fill", "bar"), [("black", (0, 0, 0)), ("white", (255, 255, 255))])
def test_a_16_9_box_on_a_4_3_clip_is_pillarboxed(
    sample_clip: Path, tmp_path: Path, fill: str, bar: tuple[int, int, int]
) -> None:
    [path] = snapshot(
        context(sample_clip, tmp_path, 10),
        ["1s"],
        [],
        Format="png",
        Width=256,
        Height=144,
        ResolutionAdaptive="close",
        FillType=fill,
    )
    assert image_size(path) == (256, 144)
    # 320x240 fits as 192x144 in the middle: 32 px bars left and right.
    for xy in [(2, 2), (2, 140), (253, 70), (30, 70)]:
        assert near(pixel(path, xy), bar, 24), xy


def test_a_4_3_box_on_a_16_9_clip_is_letterboxed_top_and_bottom(clip: ClipFactory, tmp_path: Path) -> None:
    wide = clip(width=320, height=180, audio=False)
    [path] = snapshot(
        context(wide, tmp_path, 10),
        ["1s"],
        [],
        Format="png",
        Width=160,
        Height=120,
        ResolutionAdaptive="close",
        FillType="black",
    )
    assert image_size(path) == (160, 120)
    # 320x180 fits as 160x90: 15 px rows above and below.
    assert all(near(pixel(path, (x, 3)), (0, 0, 0), 24) for x in (5, 80, 155))
    assert all(near(pixel(path, (x, 116)), (0, 0, 0), 24) for x in (5, 80, 155))


def test_open_adaptive_puts_the_long_side_on_height_for_portrait_video(
    clip: ClipFactory, tmp_path: Path
) -> None:
    portrait = clip(rotate=90, audio=False)  # stored 320x240, displayed 240x320
    [path] = snapshot(context(portrait, tmp_path, 10), ["1s"], [], Width=256, Height=0)
    assert image_size(path) == (192, 256)


def test_snapshot_watermark_is_burned_in(sample_clip: Path, tmp_path: Path, logo: Path) -> None:
    mark = WatermarkSpec(definition=7, kind="image", image=logo, width="64px", x="8px", y="8px")
    ctx = context(sample_clip, tmp_path, 10)
    [path] = snapshot(ctx, ["1s"], [], (mark,), Format="png")
    assert near(pixel(path, (30, 20)), (255, 0, 0))
    assert not near(pixel(path, (200, 200)), (255, 0, 0), 10)


def sample(
    ctx: OperationContext,
    request: SampleSnapshotTaskInput,
    watermarks: tuple[WatermarkSpec, ...] = (),
    **template: object,
) -> list[Path]:
    spec = SampleSpec(11, SampleSnapshotTemplate(Definition=11, **template), watermarks)  # type: ignore[arg-type]
    item = run_sample(Subtask(0, "SampleSnapshot", spec, request), ctx)
    assert (item.SampleType, item.Interval) == (template["SampleType"], template["SampleInterval"])
    assert item.WaterMarkDefinition == [mark.definition for mark in watermarks]
    return [local(ctx, wire) for wire in item.ImagePathSet]


def test_sampling_every_second_of_a_4_s_clip_gives_4_numbered_pictures(
    sample_clip: Path, tmp_path: Path
) -> None:
    ctx = context(sample_clip, tmp_path, 11)
    number = NumberFormat(InitialValue=1, MinLength=3)
    request = SampleSnapshotTaskInput(Definition=11, ObjectNumberFormat=number)
    paths = sample(ctx, request, SampleType="Time", SampleInterval=1, Width=160)
    assert [p.name for p in paths] == [f"in_sampleSnapshot_11_{n:03d}.jpg" for n in (1, 2, 3, 4)]
    assert all(p.is_file() and image_size(p) == (160, 120) for p in paths)
    assert not list(ctx.workdir.glob("sample_*")), "scratch pictures are moved, not copied"


def test_sampling_every_25_percent_gives_4_pictures_at_custom_names(
    sample_clip: Path, tmp_path: Path
) -> None:
    ctx = context(sample_clip, tmp_path, 11)
    request = SampleSnapshotTaskInput(Definition=11, OutputObjectPath="/shots/frame.png")
    paths = sample(ctx, request, SampleType="Percent", SampleInterval=25, Format="png")
    names = [p.relative_to(ctx.out_root).as_posix() for p in paths]
    assert names == [f"shots/frame_{n}.png" for n in range(4)]
    with Image.open(paths[0]) as a, Image.open(paths[2]) as b:
        assert ImageChops.difference(a.convert("RGB"), b.convert("RGB")).getbbox() is not None


def test_sampled_pictures_carry_the_watermark(sample_clip: Path, tmp_path: Path, logo: Path) -> None:
    mark = WatermarkSpec(definition=7, kind="image", image=logo, width="64px", origin="BottomRight")
    ctx = context(sample_clip, tmp_path, 11)
    request = SampleSnapshotTaskInput(Definition=11)
    paths = sample(ctx, request, (mark,), SampleType="Time", SampleInterval=2, Format="png")
    assert len(paths) == 2
    assert all(near(pixel(path, (300, 230)), (255, 0, 0)) for path in paths)


def test_a_seek_that_decodes_nothing_falls_back_to_decoding(clip: ClipFactory, tmp_path: Path) -> None:
    # An MPEG-TS with a single keyframe has no index: an input-side seek lands mid-GOP and
    # ffmpeg "succeeds" with no picture at all.
    one_keyframe = clip(ext="ts", gop=1000, audio=False)
    paths = snapshot(context(one_keyframe, tmp_path, 10), ["1s", "2s"], [], Format="png")
    assert all(image_size(path) == (320, 240) for path in paths)
    with Image.open(paths[0]) as a, Image.open(paths[1]) as b:
        assert ImageChops.difference(a.convert("RGB"), b.convert("RGB")).getbbox() is not None
