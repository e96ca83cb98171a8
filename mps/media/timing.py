"""When to take pictures: time-point offsets and regular sampling, resolved against a probed duration.

Two rules hold everywhere here:

- **Clamping to the last frame.** A requested time at or beyond the end (``"100%"``, ``"99s"`` on
  a 4 s clip) yields the last frame rather than an error or an empty file. The last frame of a
  constant-rate video starts at ``duration - 1/fps``; we seek to ``duration - 1.5/fps``, half a
  frame earlier, so that millisecond rounding of the seek time and container durations that are a
  little generous never push the seek point past that last frame (an exact seek drops every frame
  *before* the seek point, so any point inside the last frame's predecessor interval lands on it).
- **Sampling starts at 0 and never drifts.** Sample ``k`` is at ``k * step`` exactly (computed by
  multiplication, not accumulation), and only instants at which a frame still exists are kept.
"""

from __future__ import annotations

import math

from mps.errors import InvalidParameterError

#: How far before the end (in frames) the last usable instant is; see the module docstring.
_END_MARGIN_FRAMES = 1.5

#: Tolerance for comparing instants computed in floating point (well below a millisecond).
_EPSILON = 1e-6


def last_instant(duration: float, fps: float = 25.0) -> float:
    """The latest time a seek can ask for and still get a frame: ``duration - 1.5/fps``, at least 0.

    Parameters:
        duration: the video duration in seconds.
        fps: its frame rate (25 when unknown).

    Returns:
        Seconds, rounded down to the millisecond so that ffmpeg's ``-ss`` sees the same value.
    """
    frame = 1.0 / fps if fps > 0 else 0.04
    return max(0.0, math.floor((duration - _END_MARGIN_FRAMES * frame) * 1000 + _EPSILON) / 1000)


def clamp_time(time: float, duration: float, fps: float = 25.0) -> float:
    """``time`` limited to ``[0, last_instant(duration, fps)]``.

    Parameters:
        time: a requested instant in seconds.
        duration: the video duration in seconds.
        fps: its frame rate.
    """
    return min(max(0.0, time), last_instant(duration, fps))


def parse_offset(text: str, duration: float) -> float:
    """One ``ExtTimeOffsetSet`` entry in seconds: ``"3.5s"`` is 3.5, ``"10%"`` is a tenth of ``duration``.

    Parameters:
        text: the entry as the client sent it.
        duration: the source duration in seconds.

    Raises:
        InvalidParameterError: ``InvalidParameterValue.ExtTimeOffsetSet`` for anything else,
            including negative values.
    """
    value = text.strip()
    unit, number = value[-1:], value[:-1]
    try:
        amount = float(number)
    except ValueError:
        amount = -1.0
    if unit not in ("s", "%") or amount < 0 or number != number.strip():
        message = f"{text!r} is neither '<seconds>s' nor '<percent>%'"
        raise InvalidParameterError.field("ExtTimeOffsetSet", message)
    return amount if unit == "s" else amount * duration / 100.0


def resolve_offsets(
    ext_offsets: list[str], offsets: list[float], duration: float, *, fps: float = 25.0
) -> list[float]:
    """The snapshot instants of one request, in request order, each clamped to a decodable frame.

    ``ExtTimeOffsetSet`` comes first, then the deprecated ``TimeOffsetSet`` (seconds); duplicates
    are kept because each one is an output file the client asked for.

    Parameters:
        ext_offsets: ``"3.5s"`` / ``"10%"`` strings.
        offsets: plain seconds.
        duration: the video duration in seconds.
        fps: its frame rate, to find the last frame.

    Returns:
        Seconds, one per requested picture; times at or past the end become the last frame's.

    Raises:
        InvalidParameterError: an entry is malformed or negative.
    """
    times = [parse_offset(text, duration) for text in ext_offsets]
    for value in offsets:
        if value < 0:
            raise InvalidParameterError.field("TimeOffsetSet", f"{value} is negative")
        times.append(float(value))
    return [clamp_time(t, duration, fps) for t in times]


def sample_step(sample_type: str, interval: float, duration: float) -> float:
    """Seconds between two samples: ``interval`` for ``Time``, ``interval`` % of ``duration`` for ``Percent``.

    Raises:
        InvalidParameterError: ``InvalidParameterValue.SampleType`` or ``.SampleInterval``.
    """
    if interval <= 0:
        raise InvalidParameterError.field("SampleInterval", f"SampleInterval {interval} must be positive")
    if sample_type == "Time":
        return float(interval)
    if sample_type == "Percent":
        return interval * duration / 100.0
    raise InvalidParameterError.field("SampleType", f"SampleType {sample_type!r} is neither Time nor Percent")


def sample_times(sample_type: str, interval: float, duration: float, fps: float = 25.0) -> list[float]:
    """The instants of sampled snapshots and sprite tiles: ``0, step, 2*step...``.

    ``Time``: every ``interval`` seconds while a frame exists (the first image is the first frame).
    ``Percent``: every ``interval`` % of the duration from 0 %, so 10 gives ten images at 0 %..90 %
    and 30 gives four at 0, 30, 60 and 90 %. In both cases an instant after the last frame's start
    is dropped, because no frame could be taken there.

    Parameters:
        sample_type: ``Time`` or ``Percent``.
        interval: ``SampleInterval``.
        duration: the video duration in seconds.
        fps: its frame rate.

    Returns:
        At least ``[0.0]``: even a one-frame video gives one picture.

    Raises:
        InvalidParameterError: an unknown type or a non-positive interval.
    """
    step = sample_step(sample_type, interval, duration)
    if duration <= 0 or step <= 0:
        return [0.0]
    last = max(0.0, duration - 1.0 / (fps if fps > 0 else 25.0))
    limit = 100 if sample_type == "Percent" else None
    times: list[float] = []
    index = 0
    while index * step <= last + _EPSILON and (limit is None or index * interval < limit):
        times.append(index * step)
        index += 1
    return times or [0.0]
