"""Animated GIF and WebP with the real ffmpeg, on a tiny testsrc2 clip."""

from __future__ import annotations

import hashlib
from pathlib import Path

from PIL import Image

from mps.media.naming import Namer
from mps.media.specs import AnimationSpec, Subtask
from mps.models.results import MediaAnimatedGraphicsItem
from mps.models.tasks import AnimatedGraphicTaskInput
from mps.models.templates import AnimatedGraphicsTemplate
from mps.runner.ffmpeg import FfmpegRunner
from mps.workflow.context import OperationContext
from mps.workflow.operations.animated import run_animation
from tests.conftest import ClipFactory
from tests.mediatools import frame_count, video_stream

RUNNER = FfmpegRunner()


def animate(
    source: Path,
    tmp_path: Path,
    start: float,
    end: float,
    progress: list[float] | None = None,
    **template: object,
) -> tuple[MediaAnimatedGraphicsItem, Path]:
    ctx = OperationContext(
        runner=RUNNER,
        meta=RUNNER.probe(source),
        source=str(source),
        out_root=tmp_path / "root",
        namer=Namer("in.mp4", "/out/", 20),
        workdir=tmp_path / "work",
        on_progress=progress.append if progress is not None else lambda _f: None,
    )
    spec = AnimationSpec(20, AnimatedGraphicsTemplate(Definition=20, **template), start, end)  # type: ignore[arg-type]
    request = AnimatedGraphicTaskInput(Definition=20, StartTimeOffset=start, EndTimeOffset=end)
    item = run_animation(Subtask(0, "AnimatedGraphics", spec, request), ctx)
    return item, ctx.out_root / item.Path.lstrip("/")


def test_gif_of_one_to_three_seconds_at_10_fps(sample_clip: Path, tmp_path: Path) -> None:
    progress: list[float] = []
    item, path = animate(sample_clip, tmp_path, 1.0, 3.0, progress, Fps=10, Width=160)
    assert item.Path == "/out/in_animatedGraphic_20.gif"
    assert abs(frame_count(path) - 20) <= 1
    assert video_stream(path)["codec_name"] == "gif"
    with Image.open(path) as image:
        assert image.format == "GIF" and image.size == (160, 120)
        assert image.info.get("loop") == 0, "loops forever"
    data = path.read_bytes()
    assert (item.Container, item.Width, item.Height) == ("gif", 160, 120)
    assert item.Size == len(data) and item.Md5 == hashlib.md5(data).hexdigest()
    assert item.Bitrate == round(len(data) * 8 / 2.0)
    assert (item.StartTimeOffset, item.EndTimeOffset) == (1.0, 3.0)
    assert progress[-1] == 1.0 and progress == sorted(progress)


def test_webp_is_an_animated_webp(sample_clip: Path, tmp_path: Path) -> None:
    item, path = animate(sample_clip, tmp_path, 1.0, 3.0, Fps=10, Format="webp", Quality=60)
    assert path.suffix == ".webp" and item.Container == "webp"
    with Image.open(path) as image:
        assert image.format == "WEBP" and image.size == (320, 240)
        assert image.is_animated and abs(image.n_frames - 20) <= 1


def test_end_zero_runs_to_the_end_of_the_source(sample_clip: Path, tmp_path: Path) -> None:
    item, path = animate(sample_clip, tmp_path, 3.0, 0.0, Fps=5, Width=128)
    assert (item.StartTimeOffset, item.EndTimeOffset) == (3.0, 4.0)
    assert abs(frame_count(path) - 5) <= 1


def test_a_seek_that_decodes_nothing_falls_back_to_decoding(clip: ClipFactory, tmp_path: Path) -> None:
    one_keyframe = clip(ext="ts", gop=1000, audio=False)
    item, path = animate(one_keyframe, tmp_path, 1.0, 2.0, Fps=10, Width=128)
    assert item.Size > 0 and abs(frame_count(path) - 10) <= 1
