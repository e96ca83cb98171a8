from __future__ import annotations

import pytest

from mps.media.filters import FilterGraph
from mps.media.geometry import Size, fill_filters, target_size


@pytest.mark.parametrize(
    ("source", "width", "height", "adaptive", "expected"),
    [
        # both 0: the source size
        (Size(1920, 1080), 0, 0, "open", Size(1920, 1080)),
        # short side fixed, long side follows (preset 100030 on 1080p)
        (Size(1920, 1080), 0, 720, "open", Size(1280, 720)),
        # open: the same template on a portrait source keeps the short side at 720
        (Size(1080, 1920), 0, 720, "open", Size(720, 1280)),
        # close: literal, so a portrait source gets 720 high
        (Size(1080, 1920), 0, 720, "close", Size(404, 720)),
        # never upscale: a 720p template on a 320x240 source stays 320x240
        (Size(320, 240), 0, 720, "open", Size(320, 240)),
        # a box larger than the source shrinks, keeping its own aspect ratio
        (Size(640, 360), 1280, 1280, "close", Size(360, 360)),
        # sprite preset 10 (142x80 close) on a small source
        (Size(320, 240), 142, 80, "close", Size(142, 80)),
        # odd results are rounded to even sizes
        (Size(1000, 750), 0, 361, "open", Size(482, 360)),
    ],
)
def test_target_size(source: Size, width: int, height: int, adaptive: str, expected: Size) -> None:
    assert target_size(source, width, height, adaptive) == expected


def test_upscale_only_when_asked() -> None:
    assert target_size(Size(320, 240), 0, 720, "open", upscale=True) == Size(960, 720)


def test_stretch_is_a_plain_scale() -> None:
    graph = FilterGraph()
    out = fill_filters(graph, "[0:v]", Size(640, 360), "stretch")
    assert graph.render() == f"[0:v]scale=640:360,setsar=1{out}"


@pytest.mark.parametrize(("fill", "color"), [("black", "black"), ("white", "white")])
def test_letterbox_pads_with_colour(fill: str, color: str) -> None:
    graph = FilterGraph()
    fill_filters(graph, "[0:v]", Size(640, 360), fill)
    rendered = graph.render()
    assert "force_original_aspect_ratio=decrease" in rendered
    assert f"pad=640:360:(ow-iw)/2:(oh-ih)/2:color={color}" in rendered


def test_gauss_overlays_on_a_blurred_copy() -> None:
    graph = FilterGraph()
    out = fill_filters(graph, "[0:v]", Size(640, 360), "gauss")
    rendered = graph.render()
    assert "split=2" in rendered and "boxblur" in rendered and "overlay=(W-w)/2:(H-h)/2" in rendered
    assert rendered.endswith(out)
