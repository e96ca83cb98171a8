"""Sprite sheet geometry and the WebVTT index, without running anything."""

from __future__ import annotations

import re

import pytest

from mps.media.geometry import Size
from mps.media.ops.sprite import Tile, build_vtt, sheet_layout, sheet_sizes, vtt_timestamp

TILE = Size(142, 80)
CUE = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d{3}) --> (\d\d):(\d\d):(\d\d)\.(\d{3})$")


def _seconds(h: str, m: str, s: str, ms: str) -> float:
    return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000


def parse_vtt(text: str) -> list[tuple[float, float, str]]:
    lines = text.split("\n")
    assert lines[0] == "WEBVTT"
    cues = []
    for index, line in enumerate(lines):
        match = CUE.match(line)
        if match:
            g = match.groups()
            cues.append((_seconds(*g[:4]), _seconds(*g[4:]), lines[index + 1]))
    return cues


def test_tiles_fill_rows_left_to_right_then_the_next_sheet() -> None:
    layout = sheet_layout(5, 2, 2, TILE)
    assert layout == [Tile(0, 0, 0), Tile(0, 142, 0), Tile(0, 0, 80), Tile(0, 142, 80), Tile(1, 0, 0)]


def test_ten_tiles_on_three_by_three_need_two_sheets() -> None:
    layout = sheet_layout(10, 3, 3, TILE)
    assert max(place.sheet for place in layout) + 1 == 2


def test_full_sheets_keep_the_grid_and_the_last_is_cropped_to_its_rows() -> None:
    sizes = sheet_sizes(sheet_layout(10, 3, 3, TILE), 3, TILE)
    assert sizes == [Size(3 * 142, 3 * 80), Size(3 * 142, 80)]
    assert sheet_sizes(sheet_layout(4, 2, 2, TILE), 2, TILE) == [Size(284, 160)]


def test_a_grid_needs_rows_and_columns() -> None:
    with pytest.raises(ValueError):
        sheet_layout(3, 0, 2, TILE)


def test_vtt_timestamps() -> None:
    assert vtt_timestamp(0) == "00:00:00.000"
    assert vtt_timestamp(3723.4567) == "01:02:03.457"


def test_vtt_cues_are_contiguous_from_zero_to_the_duration() -> None:
    times = [0.0, 1.0, 2.0, 3.0, 4.0]
    layout = sheet_layout(5, 2, 2, TILE)
    text = build_vtt(times, 4.5, layout, ["s_0.jpg", "s_1.jpg"], TILE)
    cues = parse_vtt(text)
    assert len(cues) == 5
    assert cues[0][0] == 0.0 and cues[-1][1] == 4.5
    assert all(a[1] == b[0] for a, b in zip(cues, cues[1:], strict=False))
    assert cues[3][2] == "s_0.jpg#xywh=142,80,142,80"
    assert cues[4][2] == "s_1.jpg#xywh=0,0,142,80"


def test_vtt_last_cue_never_ends_before_it_starts() -> None:
    cues = parse_vtt(build_vtt([0.0, 2.0], 1.5, sheet_layout(2, 1, 2, TILE), ["s.jpg"], TILE))
    assert cues[-1][0] <= cues[-1][1]


def test_vtt_needs_one_tile_per_time() -> None:
    with pytest.raises(ValueError):
        build_vtt([0.0, 1.0], 2.0, sheet_layout(1, 1, 1, TILE), ["s.jpg"], TILE)
