"""The workloads of ``make bench`` beyond the standard workflow: each is mps vs naive vs best on one input.

Every one stresses something the standard workflow does not (issues 11 and 14):

- ``ladder-hls``, ``ladder-dash``: the adaptive-streaming presets 10 (HLS, TS) and 20 (DASH, fMP4
  byte ranges), four rungs on the 1080p clip (``bench/ladder.py``);
- ``shots``: fifty time-point shots at the source's 1920x1080 (``--only shots``);
- ``dense-sprite``: a 10x10 sprite with a tile every 1 % of a 20 s 1080p clip (0.2 s apart);
- ``audio``: audio-only outputs (MP3, two M4A, the audio-only HLS ladder 40) of the 10-minute clip
  (``bench/audio.py``);
- ``workflow20``: the issue-14 workflow, the standard one on a 20 s 1080p 25 Mb/s clip with the
  ten time-point shots at 1280x720.

The harness (``run.py``) runs the three pipelines of a workload alternately and checks that they
wrote the same outputs (``verify.py``); :func:`comparison_goals` and :func:`comparison_section`
turn the series into the report's goals and section.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from report import Goal, Series, ratio_table, series_table
from workload import (
    BENCH,
    DENSE_SPRITE_TASK_FILE,
    SHOTS_TASK_FILE,
    WORKFLOW20_TASK_FILE,
)

#: Every workload ``--workload`` may name, in the order a round runs them.
WORKLOADS = (
    "standard",
    "long-sprite",
    "ladder-hls",
    "ladder-dash",
    "shots",
    "dense-sprite",
    "audio",
    "workflow20",
)
#: mps may take at most this much of the best command set's time (wall and CPU).
WITHIN_BEST = 1.15
#: The largest RSS any ffmpeg of mps may reach, MiB.
MEMORY_CAP_MIB = 500


@dataclass(frozen=True)
class Comparison:
    """One workload: mps's task, the naive and best scripts (with their arguments), the input.

    Attributes:
        key: the ``--workload`` name.
        title: the report's heading.
        about: what is made and what the best command does, for the report.
        source: which input: ``short`` (60 s 1080p), ``clip20`` (20 s 1080p) or ``long`` (10 min 720p).
        task: mps's task file.
        naive, best: the script and its arguments (``--logo``, ``--preset``, ``--log`` are added).
    """

    key: str
    title: str
    about: str
    source: str
    task: Path
    naive: tuple[str, ...]
    best: tuple[str, ...]


def comparisons() -> list[Comparison]:
    """The comparison workloads, in :data:`WORKLOADS` order."""
    return [
        Comparison("ladder-hls", "Adaptive streaming ladder, HLS (preset 10)",
                   "1080p/720p/480p/360p H.264 and one AAC rendition, 4 s TS segments, keyframes aligned. "
                   "naive: one ffmpeg per rung; best: one decode, split, 720p once, 480p and 360p cascaded "
                   "from it, one HLS muxer (`var_stream_map`).",
                   "short", BENCH / "ladder_hls_task.json",
                   ("ladder.py", "--pipeline", "naive", "--package", "hls"),
                   ("ladder.py", "--pipeline", "best", "--package", "hls")),
        Comparison("ladder-dash", "Adaptive streaming ladder, DASH (preset 20)",
                   "the same rungs, one fragmented MP4 per rung in a static MPD. naive: one ffmpeg per "
                   "rung to an MP4, then one `-c copy` packaging run; best: one command as for HLS.",
                   "short", BENCH / "ladder_dash_task.json",
                   ("ladder.py", "--pipeline", "naive", "--package", "dash"),
                   ("ladder.py", "--pipeline", "best", "--package", "dash")),
        Comparison("shots", "Fifty time-point shots at 1920x1080",
                   "JPEG at 1 %, 3 %, ... 99 % of the 60 s clip. naive: one ffmpeg per shot (seek); best: "
                   "input-side seeks, 10 per process, one decoder thread each, two processes at a time.",
                   "short", SHOTS_TASK_FILE,
                   ("naive.py", "--only", "shots", "--snapshots", "many"),
                   ("best.py", "--only", "shots", "--snapshots", "many")),
        Comparison("dense-sprite", "Dense sprite on a short clip",
                   "a 10x10 sheet of 160x90 tiles, one every 1 % (0.2 s) of the 20 s 1080p clip, with its "
                   "WebVTT. naive and best alike: one decode, `select`, `scale`, `tile` (nothing to seek: "
                   "tiles are closer than the 2 s GOP).",
                   "clip20", DENSE_SPRITE_TASK_FILE,
                   ("naive.py", "--only", "dense-sprite"), ("best.py", "--only", "dense-sprite")),
        Comparison("audio", "Audio-only outputs of the 10-minute clip",
                   "MP3 128 kbps (1010), M4A 48 and 192 kbps (1110, 1130) and the audio-only HLS ladder "
                   "(40: AAC 192/128/64 kbps). naive: one ffmpeg per output; best: one process, video "
                   "never decoded, the audio decoded and resampled once, `asplit` into six encoders.",
                   "long", BENCH / "audio_task.json",
                   ("audio.py", "--pipeline", "naive"), ("audio.py", "--pipeline", "best")),
        Comparison("workflow20", "The issue-14 workflow on a 20 s 1080p 25 Mb/s clip",
                   "the standard workflow (720p, 360p, watermarked 720p, a sample every 5 s at 640x360, "
                   "a 10x10 sprite at a tile per second, a 3 s GIF) with the ten time-point shots at "
                   "1280x720. naive and best as for the standard workflow.",
                   "clip20", WORKFLOW20_TASK_FILE,
                   ("naive.py", "--snapshots", "720p"), ("best.py", "--snapshots", "720p")),
    ]  # fmt: skip


def comparison_goals(comparison: Comparison, series: Sequence[Series]) -> list[Goal]:
    """mps within :data:`WITHIN_BEST` of best (wall and CPU), and its ffmpegs under the memory cap."""
    mps, _naive, best = series
    wall, cpu = mps.wall / best.wall, mps.cpu / best.cpu
    return [
        Goal(f"{comparison.key}: mps within {WITHIN_BEST}x of best (wall; CPU)", f"{wall:.2f}; {cpu:.2f}",
             wall <= WITHIN_BEST and cpu <= WITHIN_BEST),
        Goal(f"{comparison.key}: every ffmpeg of mps at most {MEMORY_CAP_MIB} MiB", f"{mps.peak_mib:.0f} MiB",
             mps.peak_mib <= MEMORY_CAP_MIB),
    ]  # fmt: skip


def comparison_section(comparison: Comparison, series: Sequence[Series], source: Path) -> list[str]:
    """The report's section of one workload: what it is, the medians and spread, the ratios."""
    mps, naive, best = series
    return [
        f"## {comparison.title}",
        "",
        f"`--workload {comparison.key}` on `{source.name}`: {comparison.about}",
        "",
        *series_table(series),
        "",
        *ratio_table(mps, naive, best),
        "",
    ]
