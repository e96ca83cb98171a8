"""The one place that starts processes: ffmpeg and ffprobe, with time limits and progress.

Everything else receives a :class:`Runner` and never imports ``subprocess``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from mps.media.command import Command
from mps.models.metadata import MediaMetaData
from mps.runner.fake import FakeRunner
from mps.runner.ffmpeg import FfmpegRunner

#: Called with the fraction (0.0 to 1.0) of a command's output timeline written so far.
ProgressCallback = Callable[[float], None]


class Runner(Protocol):
    """Runs ffmpeg commands and probes media."""

    def run(
        self, command: Command, *, on_progress: ProgressCallback | None = None, timeout: float | None = None
    ) -> None:
        """Run one command to completion.

        Raises:
            ProcessingError: ffmpeg exited non-zero (the message carries the stderr tail).
            ProcessTimeoutError: it ran past ``timeout`` seconds and was killed.
        """
        ...

    def probe(self, source: str | Path) -> MediaMetaData:
        """Probe a file or URL.

        Raises:
            SourceError: it does not exist, cannot be read, or holds no audio or video stream.
        """
        ...

    def keyframe_interval(self, source: str | Path) -> float:
        """Mean seconds between keyframes near the start of the video (the GOP, for the planner).

        Raises:
            SourceError: the source cannot be read.
        """
        ...

    def encoders(self) -> frozenset[str]:
        """Names of the encoders this ffmpeg has (``libx264``, ``libvpx-vp9``...)."""
        ...


__all__ = ["FakeRunner", "FfmpegRunner", "ProgressCallback", "Runner"]
