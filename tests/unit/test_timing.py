"""When pictures are taken: offsets, clamping to the last frame, and sampling instants."""

from __future__ import annotations

import pytest

from mps.errors import InvalidParameterError
from mps.media.timing import (
    clamp_time,
    last_instant,
    parse_offset,
    resolve_offsets,
    sample_step,
    sample_times,
)


def test_seconds_and_percent_offsets_are_resolved_in_request_order() -> None:
    # ExtTimeOffsetSet first, then the deprecated TimeOffsetSet, duplicates kept.
    assert resolve_offsets(["1s", "50%", "3.5s"], [2.5, 1.0], 4.0) == [1.0, 2.0, 3.5, 2.5, 1.0]


def test_offsets_at_or_past_the_end_become_the_last_frame() -> None:
    # 4 s at 25 fps: the last frame starts at 3.96; we seek half a frame earlier.
    assert resolve_offsets(["100%", "99s"], [4.0], 4.0, fps=25) == [3.94, 3.94, 3.94]


def test_last_instant_lands_inside_the_last_frame_for_ntsc_rates() -> None:
    fps = 30000 / 1001
    duration = 120 / fps  # 120 frames
    last_frame, previous = 119 / fps, 118 / fps
    assert previous < last_instant(duration, fps) <= last_frame


def test_last_instant_is_never_negative() -> None:
    assert last_instant(0.01, 25) == 0.0
    assert clamp_time(-3, 4.0) == 0.0


@pytest.mark.parametrize("text", ["", "3", "s", "-1s", "10 %", "abc%", "1.5m"])
def test_malformed_offsets_are_refused_with_the_field_name(text: str) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        parse_offset(text, 10.0)
    assert caught.value.code == "InvalidParameterValue.ExtTimeOffsetSet"


def test_negative_plain_offsets_are_refused() -> None:
    with pytest.raises(InvalidParameterError, match="negative"):
        resolve_offsets([], [-1.0], 10.0)


def test_time_sampling_starts_at_zero_and_stops_at_the_last_frame() -> None:
    assert sample_times("Time", 1, 4.0, 25) == [0.0, 1.0, 2.0, 3.0]
    # A 3 s clip has no frame at 3.0: three pictures, not four.
    assert sample_times("Time", 1, 3.0, 25) == [0.0, 1.0, 2.0]
    assert sample_times("Time", 10, 4.0, 25) == [0.0]


def test_percent_sampling_takes_every_n_percent_from_zero() -> None:
    assert sample_times("Percent", 10, 10.0, 25) == [float(i) for i in range(10)]
    assert sample_times("Percent", 25, 4.0, 25) == [0.0, 1.0, 2.0, 3.0]
    assert sample_times("Percent", 30, 4.0, 25) == pytest.approx([0.0, 1.2, 2.4, 3.6])
    assert sample_times("Percent", 100, 4.0, 25) == [0.0]


def test_sampling_instants_are_multiples_not_accumulated_sums() -> None:
    times = sample_times("Percent", 1, 1000.0, 25)
    assert len(times) == 100
    assert times[-1] == 99 * 10.0


def test_empty_or_zero_duration_still_gives_one_picture() -> None:
    assert sample_times("Percent", 10, 0.0, 25) == [0.0]
    assert sample_times("Time", 1, 0.0, 25) == [0.0]


def test_sample_step_checks_its_inputs() -> None:
    assert sample_step("Percent", 25, 8.0) == 2.0
    with pytest.raises(InvalidParameterError) as caught:
        sample_step("Frames", 1, 8.0)
    assert caught.value.code == "InvalidParameterValue.SampleType"
    with pytest.raises(InvalidParameterError):
        sample_step("Time", 0, 8.0)
