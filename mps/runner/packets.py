"""The video packets of a source (pts and keyframe flag), for cutting it at keyframes."""

from __future__ import annotations

from pathlib import Path

from mps.media.command import input_args
from mps.media.ops.segments import parse_packets
from mps.runner.ffmpeg import _probe_output


def video_packets(
    source: str | Path, *, ffprobe: str = "ffprobe", timeout: float = 300.0
) -> list[tuple[float, bool]]:
    """``(pts seconds, is keyframe)`` of every packet of the first video stream (a demux, no decode).

    Raises:
        SourceError: ffprobe cannot read the source.
    """
    argv = [ffprobe, "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time,flags",
            "-of", "csv=p=0", *input_args(source)]  # fmt: skip
    return parse_packets(_probe_output(argv, timeout, source))


__all__ = ["video_packets"]
