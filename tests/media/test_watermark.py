"""Watermarks burnt in by real ffmpeg: where the logo lands, when it shows, and text that renders safely."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageStat

from mps.media.naming import Namer
from mps.media.specs import Subtask, TranscodeSpec, WatermarkSpec
from mps.models.tasks import TranscodeTaskInput
from mps.models.templates import RawTranscodeParameter
from mps.runner.ffmpeg import FfmpegRunner
from mps.workflow.assets import default_font_file
from mps.workflow.context import OperationContext
from mps.workflow.operations.transcode import run_transcode
from tests.mediatools import near, pixel

RUNNER = FfmpegRunner(default_timeout=120)
RED = (255, 0, 0)
#: Same size as the 320x240 test clip, so pixels line up with the source's.
PARAMS = RawTranscodeParameter.model_validate(
    {"Container": "mp4", "VideoTemplate": {"Codec": "h264", "Vcrf": 18}, "RemoveAudio": 1}
)
Burn = Callable[..., Path]


@pytest.fixture
def burn(tmp_path: Path, sample_clip: Path) -> Burn:
    """Transcode the sample clip (320x240 testsrc2) with ``marks``; return the output file."""
    runs = iter(range(1000))

    def run(*marks: WatermarkSpec, end: float | None = None) -> Path:
        definition = 900 + next(runs)
        spec = TranscodeSpec(definition, PARAMS, marks, end=end, x264_preset="ultrafast")
        ctx = OperationContext(
            runner=RUNNER,
            meta=RUNNER.probe(sample_clip),
            source=str(sample_clip),
            out_root=tmp_path / "out",
            namer=Namer(sample_clip.name, "/", definition),
            workdir=tmp_path / "work",
            font_file=default_font_file(),
        )
        item = run_transcode(Subtask(0, "Transcode", spec, TranscodeTaskInput(Definition=definition)), ctx)
        return ctx.out_root / item.Path.lstrip("/")

    return run


def frame_at(video: Path, seconds: float) -> Path:
    """The frame shown at ``seconds``, as a PNG next to the video."""
    picture = video.with_name(f"{video.stem}_{seconds:g}.png")
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-ss",
            str(seconds),
            "-i",
            str(video),
            "-frames:v",
            "1",
            str(picture),
        ],
        check=True,
        timeout=60,
    )
    return picture


def logo(logo_png: Path, **kwargs: object) -> WatermarkSpec:
    return WatermarkSpec(5, "image", image=logo_png, width="64px", **kwargs)  # type: ignore[arg-type]


# Corners of the 320x240 frame, a few pixels in; testsrc2 is not red at the top ones or bottom right.
CORNERS = {"TopLeft": (5, 5), "TopRight": (314, 5), "BottomRight": (314, 234), "BottomLeft": (5, 234)}
OPPOSITE = {
    "TopLeft": "BottomRight",
    "TopRight": "BottomLeft",
    "BottomRight": "TopLeft",
    "BottomLeft": "TopRight",
}


@pytest.mark.parametrize("origin", ["TopRight", "BottomRight", "TopLeft"])
def test_logo_lands_in_its_corner(burn: Burn, sample_clip: Path, logo_png: Path, origin: str) -> None:
    marked = frame_at(burn(logo(logo_png, origin=origin), end=1.5), 1.0)
    plain = frame_at(sample_clip, 1.0)
    assert near(pixel(marked, CORNERS[origin]), RED)
    assert not near(pixel(plain, CORNERS[origin]), RED)  # the red comes from the logo
    far = CORNERS[OPPOSITE[origin]]
    assert near(pixel(marked, far), pixel(plain, far)[:3])  # type: ignore[arg-type]


def test_top_right_logo_leaves_the_opposite_corner(burn: Burn, logo_png: Path) -> None:
    marked = frame_at(burn(logo(logo_png, origin="TopRight", x="10px", y="10px"), end=1.5), 1.0)
    assert near(pixel(marked, (320 - 10 - 3, 10 + 3)), RED)
    assert not near(pixel(marked, (320 - 10 - 64 - 3, 10 + 3)), RED)  # just left of the logo
    assert not near(pixel(marked, (5, 5)), RED)


def test_logo_shows_only_inside_its_window(burn: Burn, logo_png: Path) -> None:
    video = burn(logo(logo_png, origin="TopRight", start=1.0, end=2.0))
    assert not near(pixel(frame_at(video, 0.5), CORNERS["TopRight"]), RED)
    assert near(pixel(frame_at(video, 1.5), CORNERS["TopRight"]), RED)
    assert not near(pixel(frame_at(video, 2.5), CORNERS["TopRight"]), RED)


def test_percent_width_scales_with_the_frame(burn: Burn, logo_png: Path) -> None:
    mark = WatermarkSpec(6, "image", image=logo_png, width="50%", origin="TopRight")  # 160x80 on 320x240
    marked = frame_at(burn(mark, end=1.5), 1.0)
    assert near(pixel(marked, (320 - 150, 5)), RED) and near(pixel(marked, (314, 70)), RED)
    assert not near(pixel(marked, (320 - 175, 5)), RED) and not near(pixel(marked, (314, 95)), RED)


def _difference(a: Path, b: Path, box: tuple[int, int, int, int]) -> float:
    with Image.open(a) as first, Image.open(b) as second:
        diff = ImageChops.difference(first.convert("L").crop(box), second.convert("L").crop(box))
        return float(ImageStat.Stat(diff).mean[0])


def test_text_watermark_draws_in_its_box(burn: Burn) -> None:
    text = WatermarkSpec(8, "text", text="MPS 2024", font_size=40, font_color="0xFFFFFF", x="10px", y="10px")
    marked, plain = frame_at(burn(text, end=1.5), 1.0), frame_at(burn(end=1.5), 1.0)
    assert _difference(marked, plain, (10, 10, 170, 50)) > 20  # the text's box changed
    assert _difference(marked, plain, (10, 150, 170, 230)) < 5  # elsewhere it did not


@pytest.mark.parametrize(
    "text",
    [
        "x',drawbox=x=0:y=0:w=iw:h=ih:color=red:t=fill,drawtext=text='y",
        "';movie=/etc/passwd[x];[x]overlay",
        "it's 100%{pts} \\ [a]; b, c: d\nsecond line",
    ],
)
def test_hostile_text_renders_as_text(burn: Burn, sample_clip: Path, text: str) -> None:
    mark = WatermarkSpec(9, "text", text=text, font_size=12, origin="BottomLeft")
    marked = frame_at(burn(mark, end=1.5), 1.0)
    plain = frame_at(sample_clip, 1.0)
    # Had the drawbox got through, the whole frame would be red; the top half is untouched instead.
    assert _difference(marked, plain, (0, 0, 320, 120)) < 5
    assert _difference(marked, plain, (0, 200, 320, 240)) > 1  # while the text itself was drawn
