"""The one place that starts processes: ffmpeg and ffprobe, with time limits and progress.

Everything else receives a :class:`Runner` and never imports ``subprocess``.
"""

from __future__ import annotations

import threading
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
        self,
        command: Command,
        *,
        on_progress: ProgressCallback | None = None,
        timeout: float | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        """Run one command to completion.

        Raises:
            ProcessingError: ffmpeg exited non-zero (the message carries the stderr tail), or
                ``cancel`` was set and the process was killed (``FailedOperation.Cancelled``).
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


class CancellableRunner:
    """``runner`` with every run stopped when ``cancel`` is set: an attempt that lost its lease, a
    task that was aborted. One per run of the executor; probes are not cancelled (they are short).

    Parameters:
        runner: the runner to delegate to.
        cancel: set from another thread to kill the running ffmpeg (and every later one).
    """

    def __init__(self, runner: Runner, cancel: threading.Event) -> None:
        self.runner, self.cancel = runner, cancel

    def run(
        self,
        command: Command,
        *,
        on_progress: ProgressCallback | None = None,
        timeout: float | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        self.runner.run(command, on_progress=on_progress, timeout=timeout, cancel=cancel or self.cancel)

    def probe(self, source: str | Path) -> MediaMetaData:
        return self.runner.probe(source)

    def keyframe_interval(self, source: str | Path) -> float:
        return self.runner.keyframe_interval(source)

    def encoders(self) -> frozenset[str]:
        return self.runner.encoders()


__all__ = ["CancellableRunner", "FakeRunner", "FfmpegRunner", "ProgressCallback", "Runner"]
