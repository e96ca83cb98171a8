"""Shared frame heads of a fused run: each conversion made once, smaller rungs cascaded from larger ones."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from mps.media.filters import FilterGraph
from mps.media.frames import DirectFrames, FrameRequest, SharedFrames
from mps.media.geometry import Size

HD = Size(1920, 1080)


def req(width: int, height: int, fill: str = "stretch", rate: str | None = None) -> FrameRequest:
    return FrameRequest(rate, Size(width, height), fill)


def take_all(requests: list[FrameRequest], source: Size = HD) -> tuple[FilterGraph, list[str]]:
    graph = FilterGraph()
    shared = SharedFrames(graph, "[0:v:0]", requests, source)
    return graph, [shared.frames(request) for request in requests]


def chains(graph: FilterGraph) -> list[tuple[list[str], str, list[str]]]:
    """Each chain as (input labels, filters, output labels)."""
    parsed = []
    for chain in graph.chains:
        match = re.fullmatch(r"((?:\[[^\]]+\])+)(.*?)((?:\[[^\]]+\])*)", chain)
        assert match, chain
        parsed.append((re.findall(r"\[[^\]]+\]", match[1]), match[2], re.findall(r"\[[^\]]+\]", match[3])))
    return parsed


def assert_well_formed(graph: FilterGraph, taken: list[str]) -> None:
    """Every pad is made once and used once (by a chain or by one output): what ffmpeg requires."""
    made = Counter(label for _, _, outs in chains(graph) for label in outs)
    used = Counter(label for ins, _, _ in chains(graph) for label in ins) + Counter(taken)
    assert all(count == 1 for count in made.values()), made
    assert used - Counter({"[0:v:0]": used["[0:v:0]"]}) == made, (made, used)
    assert used["[0:v:0]"] == 1


def scales(graph: FilterGraph) -> list[str]:
    return [f for _, filters, _ in chains(graph) for f in filters.split(",") if f.startswith("scale=")]


def origin(graph: FilterGraph, scale: str) -> str:
    """What the chain holding ``scale`` is fed from, through any splits: ``[0:v:0]`` or another scale."""
    producers = {out: (ins, filters) for ins, filters, outs in chains(graph) for out in outs}
    label = next(ins[0] for ins, filters, _ in chains(graph) if scale in filters.split(","))
    while label in producers:
        ins, filters = producers[label]
        head = next((f for f in filters.split(",") if f.startswith("scale=")), None)
        if head is not None:
            return head
        label = ins[0]
    return label


def test_equal_sizes_are_scaled_once_and_split() -> None:
    graph, taken = take_all([req(1280, 720), req(1280, 720)])
    assert scales(graph) == ["scale=1280:720"]
    assert len(set(taken)) == 2
    assert_well_formed(graph, taken)


def test_a_smaller_rung_is_scaled_from_the_larger_picture_not_the_source() -> None:
    graph, taken = take_all([req(1280, 720), req(640, 360), req(1280, 720)])
    assert sorted(scales(graph)) == ["scale=1280:720", "scale=640:360"]
    assert origin(graph, "scale=1280:720") == "[0:v:0]"
    assert origin(graph, "scale=640:360") == "scale=1280:720"
    assert_well_formed(graph, taken)


def test_a_ladder_cascades_through_the_nearest_larger_rung() -> None:
    graph, taken = take_all([req(640, 360), req(1920, 1080), req(1280, 720), req(320, 180)])
    assert origin(graph, "scale=1920:1080") == "[0:v:0]"
    assert origin(graph, "scale=1280:720") == "scale=1920:1080"
    assert origin(graph, "scale=640:360") == "scale=1280:720"
    assert origin(graph, "scale=320:180") == "scale=640:360"
    assert_well_formed(graph, taken)


def test_a_rung_a_pixel_short_of_the_factor_still_cascades() -> None:
    # 1280x720 is 1.499x 854x480 (the 480p of 16:9, rounded to even): 480p comes from 720p, not 1080p.
    graph, taken = take_all([req(1920, 1080), req(1280, 720), req(854, 480), req(640, 360)])
    assert origin(graph, "scale=854:480") == "scale=1280:720"
    assert origin(graph, "scale=640:360") == "scale=1280:720"
    assert_well_formed(graph, taken)


@pytest.mark.parametrize(
    "small",
    [
        req(1024, 576),  # less than 1.5x smaller: resampling twice at nearly one size would blur
        req(640, 360, rate="15"),  # another frame rate: its own fps filter from the source
    ],
)
def test_no_cascade_from_a_picture_too_close_or_at_another_rate(small: FrameRequest) -> None:
    graph, taken = take_all([req(1280, 720), small])
    assert origin(graph, f"scale={small.size.width}:{small.size.height}") == "[0:v:0]"
    assert_well_formed(graph, taken)


def test_a_distorted_picture_is_not_a_cascade_source() -> None:
    # 1280x1280 from a 16:9 source is stretched: a 16:9 rung scaled from it would be squashed twice.
    graph, taken = take_all([req(1280, 1280), req(640, 360)])
    assert origin(graph, "scale=640:360") == "[0:v:0]"
    assert_well_formed(graph, taken)


def test_letterboxed_requests_with_the_source_aspect_cascade_too() -> None:
    graph, taken = take_all([req(1280, 720, "black"), req(640, 360, "black")])
    big, small = (f"scale={w}:{h}:force_original_aspect_ratio=decrease:force_divisible_by=2"
                  for w, h in ((1280, 720), (640, 360)))  # fmt: skip
    assert origin(graph, big) == "[0:v:0]"
    assert origin(graph, small) == big
    assert_well_formed(graph, taken)


def test_each_rate_is_converted_once_before_its_sizes() -> None:
    graph, taken = take_all([req(1280, 720, rate="15"), req(640, 360, rate="15"), req(1280, 720)])
    fps = [f for _, filters, _ in chains(graph) for f in filters.split(",") if f.startswith("fps=")]
    assert fps == ["fps=15"]
    assert_well_formed(graph, taken)


def test_a_request_is_handed_out_as_many_times_as_announced() -> None:
    graph = FilterGraph()
    shared = SharedFrames(graph, "[0:v:0]", [req(640, 360)], HD)
    assert shared.frames(req(640, 360)) == "[v1]"
    with pytest.raises(KeyError):
        shared.frames(req(640, 360))
    with pytest.raises(KeyError):
        shared.frames(req(320, 180))


def test_direct_frames_convert_from_the_source_each_time() -> None:
    graph = FilterGraph()
    pad = DirectFrames(graph, "[0:v:0]").frames(req(640, 360, rate="10"))
    assert graph.render() == f"[0:v:0]fps=10[v1];[v1]scale=640:360,setsar=1{pad}"
