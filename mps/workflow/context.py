"""What an operation needs to run one sub-task: the runner, the probe, and where files go."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mps.media.naming import Namer
from mps.models.metadata import MediaMetaData
from mps.runner import Runner


def _ignore(_fraction: float) -> None:
    return None


@dataclass
class OperationContext:
    """Everything one sub-task run touches.

    Attributes:
        runner: starts ffmpeg and ffprobe.
        meta: the probe of the source.
        source: what ffmpeg opens: a local path or an http(s) URL.
        out_root: the local directory that stands for the output root (a bucket, or
            ``--output-dir``); output keys from :attr:`namer` are relative to it.
        namer: names this sub-task's files.
        workdir: scratch space private to this sub-task, removed afterwards.
        on_progress: called with a fraction 0.0 to 1.0 as work advances.
        timeout: seconds one ffmpeg run may take.
        font_file: the TrueType font for text watermarks.
        seek_pictures: sampled snapshots and sprites take each picture with an input-side seek
            instead of one decode of the whole timeline (the plan's choice, :mod:`mps.media.plan`).
        pictures_ready: a decode shared with other sub-tasks already wrote this sampled
            snapshot's or sprite's picture sequence into :attr:`workdir`; the operation only
            names, composes and collects them (:func:`mps.workflow.fused.run_shared_pictures`).
        parallel: ffmpeg runs one sub-task may have at once (its batches of seeked pictures):
            ``mps process`` lets a sub-task use the machine's cores; a service worker keeps 1,
            its handler threads already share the cores out.
        task_id: the task the sub-task belongs to, named in every log line about it.
    """

    runner: Runner
    meta: MediaMetaData
    source: str
    out_root: Path
    namer: Namer
    workdir: Path
    on_progress: Callable[[float], None] = field(default=_ignore)
    timeout: float | None = None
    font_file: str | None = None
    seek_pictures: bool = False
    pictures_ready: bool = False
    parallel: int = 1
    task_id: str = ""

    def output_path(self, key: str) -> Path:
        """The local file for output ``key``, its directory created."""
        path = self.out_root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        return path
