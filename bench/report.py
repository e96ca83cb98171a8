"""``bench/RESULTS.md``: the machine, the commands, the medians, the ratios and the goals."""

from __future__ import annotations

import math
import os
import platform
import re
import statistics
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from measure import Sample

MIB = 1024


@dataclass
class Series:
    """Every run of one pipeline, plus its commands (from its first run)."""

    name: str
    samples: list[Sample] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)

    @property
    def wall(self) -> float:
        """Median wall seconds (NaN before the first run)."""
        return statistics.median(s.wall for s in self.samples) if self.samples else math.nan

    @property
    def cpu(self) -> float:
        """Median CPU seconds (NaN before the first run)."""
        return statistics.median(s.cpu for s in self.samples) if self.samples else math.nan

    @property
    def peak_mib(self) -> float:
        """The largest ffmpeg RSS over every run, MiB (NaN before the first run)."""
        return max((s.ffmpeg_rss_kib / MIB for s in self.samples), default=math.nan)

    @property
    def tree_mib(self) -> float:
        """The largest RSS of any process of the tree (driver included), MiB."""
        return max((s.tree_rss_kib / MIB for s in self.samples), default=math.nan)


@dataclass(frozen=True)
class Goal:
    """One goal of the issue and whether it holds."""

    text: str
    measured: str
    holds: bool


def machine() -> list[str]:
    """Cores, CPU model, RAM, kernel and ffmpeg's version line."""
    model = "unknown"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as meminfo:
        ram_kib = int(meminfo.readline().split()[1])
    version = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True).stdout.splitlines()[0]
    return [
        f"- cores (nproc): {os.cpu_count()}; CPU: {model}; RAM: {ram_kib / 1024**2:.1f} GiB",
        f"- kernel: {platform.release()}; Python {platform.python_version()}",
        f"- {version}",
    ]


def series_table(series: Sequence[Series]) -> list[str]:
    """Medians and peaks, one row per pipeline."""
    rows = [
        "| pipeline | runs | wall median (s) | CPU median (s) | walls (s) | spread (max-min)/median "
        "| peak ffmpeg RSS (MiB) | peak tree RSS (MiB) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in series:
        walls = ", ".join(f"{x.wall:.1f}" for x in s.samples)
        spread = (
            (max(x.wall for x in s.samples) - min(x.wall for x in s.samples)) / s.wall if s.samples else 0
        )
        rows.append(
            f"| {s.name} | {len(s.samples)} | {s.wall:.2f} | {s.cpu:.2f} | {walls} | {spread:.0%} | "
            f"{s.peak_mib:.0f} | {s.tree_mib:.0f} |"
        )
    return rows


def ratio_table(mps: Series, naive: Series, best: Series) -> list[str]:
    """naive/mps, mps/best, naive/best and the share of the possible gain mps takes."""
    rows = ["| ratio | wall | CPU |", "|---|---|---|"]
    for label, top, bottom in (
        ("naive / mps", naive, mps),
        ("mps / best", mps, best),
        ("naive / best", naive, best),
    ):
        rows.append(f"| {label} | {top.wall / bottom.wall:.2f} | {top.cpu / bottom.cpu:.2f} |")
    share_wall = (naive.wall / mps.wall) / (naive.wall / best.wall)
    share_cpu = (naive.cpu / mps.cpu) / (naive.cpu / best.cpu)
    rows.append(f"| (naive/mps) / (naive/best) | {share_wall:.2f} | {share_cpu:.2f} |")
    return rows


def commands_section(
    series: Sequence[Series], groups: Mapping[str, Sequence[Series]] | None = None
) -> list[str]:
    """The exact ffmpeg commands of each pipeline's first run (named ``group: name`` when grouped)."""
    owner = {id(s): key for key, members in (groups or {}).items() for s in members}
    lines = []
    for s in series:
        name = f"{owner[id(s)]}: {s.name}" if id(s) in owner else s.name
        lines += [f"#### {name} ({len(s.commands)} ffmpeg processes)", "", "```"]
        lines += s.commands or ["(none recorded)"]
        lines += ["```", ""]
    return lines


def goals_section(goals: Sequence[Goal]) -> list[str]:
    """One line per goal: holds or not, with the number."""
    rows = ["| goal | measured | holds |", "|---|---|---|"]
    for goal in goals:
        if "nan" in goal.measured:
            rows.append(f"| {goal.text} | not measured yet | |")
        else:
            rows.append(f"| {goal.text} | {goal.measured} | {'yes' if goal.holds else '**no**'} |")
    return rows


def replace_section(path: Path, start: str, end: str, section: str) -> None:
    """Replace the part of ``path`` between the markers ``start`` and ``end`` with ``section`` (which
    carries the markers itself), or append ``section`` when there is none: each benchmark owns its
    own section of ``bench/RESULTS.md``."""
    text = path.read_text() if path.exists() else ""
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end) + r"\n?", re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _match: section, text)
    else:
        text = (text.rstrip("\n") + "\n\n" if text else "") + section
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
