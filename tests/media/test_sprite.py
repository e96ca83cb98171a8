"""Image sprites and their WebVTT with the real ffmpeg, on tiny testsrc2 clips."""

from __future__ import annotations

import math
import posixpath
import re
from pathlib import Path

from PIL import Image

from mps.media.naming import Namer
from mps.media.specs import SpriteSpec, Subtask
from mps.models.results import MediaImageSpriteItem
from mps.models.tasks import ImageSpriteTaskInput
from mps.models.templates import ImageSpriteTemplate
from mps.runner.ffmpeg import FfmpegRunner
from mps.workflow.context import OperationContext
from mps.workflow.operations.sprite import run_sprite
from tests.conftest import ClipFactory
from tests.mediatools import near, pixel

RUNNER = FfmpegRunner()
CUE = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d{3}) --> (\d\d):(\d\d):(\d\d)\.(\d{3})$")
PAYLOAD = re.compile(r"^(?P<file>[^#]+)#xywh=(?P<x>\d+),(?P<y>\d+),(?P<w>\d+),(?P<h>\d+)$")


def context(source: Path, tmp_path: Path) -> OperationContext:
    return OperationContext(
        runner=RUNNER,
        meta=RUNNER.probe(source),
        source=str(source),
        out_root=tmp_path / "root",
        namer=Namer("in.mp4", "/out/", 10),
        workdir=tmp_path / "work",
    )


def sprite(ctx: OperationContext, rows: int, cols: int, **request: object) -> MediaImageSpriteItem:
    """Tencent's preset 10 (142x80, close, stretch, jpg) sampled every second on a ``rows x cols`` grid."""
    # 142x80 is below what a client may ask for (128-4096 per side) but is Tencent's own preset size.
    template = ImageSpriteTemplate.model_construct(
        Definition=10,
        SampleType="Time",
        SampleInterval=1,
        RowCount=rows,
        ColumnCount=cols,
        Width=142,
        Height=80,
        ResolutionAdaptive="close",
        FillType="stretch",
        Format="jpg",
    )
    task = ImageSpriteTaskInput(Definition=10, **request)  # type: ignore[arg-type]
    return run_sprite(Subtask(0, "ImageSprites", SpriteSpec(10, template), task), ctx)


def _seconds(h: str, m: str, s: str, ms: str) -> float:
    return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000


def read_cues(vtt: Path) -> list[tuple[float, float, str]]:
    lines = vtt.read_text(encoding="utf-8").split("\n")
    assert lines[0] == "WEBVTT"
    cues = []
    for index, line in enumerate(lines):
        if match := CUE.match(line):
            g = match.groups()
            cues.append((_seconds(*g[:4]), _seconds(*g[4:]), lines[index + 1]))
    return cues


def check_index(ctx: OperationContext, item: MediaImageSpriteItem, thumbnails: int) -> None:
    """The VTT has one cue per thumbnail, contiguous over the whole clip, each inside a real sheet."""
    vtt = ctx.out_root / item.WebVttPath.lstrip("/")
    cues = read_cues(vtt)
    assert len(cues) == thumbnails
    assert cues[0][0] == 0.0
    assert cues[-1][1] == round(ctx.meta.media_duration, 3)
    assert all(a[1] == b[0] and a[0] < a[1] for a, b in zip(cues, cues[1:], strict=False))
    for _start, _end, payload in cues:
        match = PAYLOAD.match(payload)
        assert match, payload
        sheet = vtt.parent / match["file"]
        assert sheet.is_file()
        x, y, w, h = (int(match[k]) for k in "xywh")
        assert (w, h) == (item.Width, item.Height)
        with Image.open(sheet) as image:
            assert x + w <= image.width and y + h <= image.height


def test_a_4_s_clip_every_second_on_2x2_makes_one_full_sheet(sample_clip: Path, tmp_path: Path) -> None:
    ctx = context(sample_clip, tmp_path)
    item = sprite(ctx, 2, 2)
    assert (item.Width, item.Height, item.TotalCount) == (142, 80, 4)
    assert item.ImagePathSet == ["/out/in_imageSprite_10_0.jpg"]
    assert item.WebVttPath == "/out/in_imageSprite_10.vtt"
    sheet = ctx.out_root / "out/in_imageSprite_10_0.jpg"
    with Image.open(sheet) as image:
        assert image.format == "JPEG" and image.size == (2 * 142, 2 * 80)
    # Every cell holds a picture: no black cell in the bottom-right corner.
    assert not near(pixel(sheet, (142 + 71, 80 + 40)), (0, 0, 0), 8)
    check_index(ctx, item, 4)


def test_a_10_s_clip_on_3x3_needs_two_sheets_the_last_cropped(clip: ClipFactory, tmp_path: Path) -> None:
    ctx = context(clip(duration=10.0, audio=False), tmp_path)
    item = sprite(ctx, 3, 3)
    assert len(item.ImagePathSet) == math.ceil(10 / 9)
    sizes = []
    for wire in item.ImagePathSet:
        with Image.open(ctx.out_root / wire.lstrip("/")) as image:
            sizes.append(image.size)
    # Full sheets keep the grid; the last one is cropped to the one row it uses.
    assert sizes == [(3 * 142, 3 * 80), (3 * 142, 80)]
    check_index(ctx, item, 10)


def test_custom_names_and_a_vtt_in_another_directory_refer_to_the_sheets_relatively(
    sample_clip: Path, tmp_path: Path
) -> None:
    ctx = context(sample_clip, tmp_path)
    item = sprite(ctx, 1, 2, OutputObjectPath="/sheets/s_{number}.jpg", WebVttObjectName="index/thumbs.vtt")
    assert item.ImagePathSet == ["/sheets/s_0.jpg", "/sheets/s_1.jpg"]
    assert item.WebVttPath == "/out/index/thumbs.vtt"
    cues = read_cues(ctx.out_root / "out/index/thumbs.vtt")
    assert {posixpath.dirname(payload.split("#")[0]) for *_t, payload in cues} == {"../../sheets"}
    check_index(ctx, item, 4)
