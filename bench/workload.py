"""The standard workflow of the benchmark, as plain numbers every pipeline derives its outputs from.

``bench/task.json`` and ``bench/templates.json`` say the same thing in Tencent's shapes for
``mps process``; :func:`check_task_files` keeps the two descriptions from drifting apart. The naive
and best scripts take their sizes, instants and names from :class:`Workload` so that all three
pipelines write the same files (Tencent's default names), which is what makes them comparable.

Sizes follow mps's documented rules (README, "Sizes"): ``open`` reads Width/Height as long/short
side, one 0 follows the source's aspect ratio, never upscale (a box larger than the source shrinks
until it fits), even numbers.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
TASK_FILE = BENCH / "task.json"
SPRITE_TASK_FILE = BENCH / "sprite_task.json"
TEMPLATES_FILE = BENCH / "templates.json"
#: The issue-14 workflow (time-point shots at 1280x720), many large shots, a dense sprite.
WORKFLOW20_TASK_FILE = BENCH / "workflow20_task.json"
SHOTS_TASK_FILE = BENCH / "shots_task.json"
DENSE_SPRITE_TASK_FILE = BENCH / "dense_sprite_task.json"

#: Definitions used by task.json / templates.json.
HD, FLU, HD_LOGO = 100030, 100010, 1000030
SNAPSHOT, SAMPLE, SPRITE, LONG_SPRITE, GIF = 10, 1000360, 1000160, 1000161, 1000010
#: Time-point shots at 1280x720 (the issue-14 workflow); the dense sprite (one tile every 1 %).
SNAPSHOT_720, DENSE_SPRITE = 1000720, 1000162
#: Ten time points, in percent of the duration (ExtTimeOffsetSet).
SNAPSHOT_PERCENTS = (5, 15, 25, 35, 45, 55, 65, 75, 85, 95)
#: The many-shots workload: fifty time points (1 %, 3 %, ... 99 %) at the source's size.
MANY_SNAPSHOT_PERCENTS = tuple(range(1, 100, 2))
#: The dense sprite: a tile every DENSE_SPRITE_PERCENT % of the duration (100 tiles, 0.2 s apart on 20 s).
DENSE_SPRITE_PERCENT = 1
#: Sampled snapshots every 5 s at 640x360; sprite 10x10 of 160x90 every second (60 tiles for 60 s).
SAMPLE_INTERVAL, SAMPLE_BOX = 5.0, (640, 360)
SPRITE_INTERVAL, SPRITE_GRID, TILE = 1.0, (10, 10), (160, 90)
#: The long-input sprite: every 10 s (60 tiles for 10 minutes; a multiple of the 2 s GOP).
LONG_SPRITE_INTERVAL = 10.0
#: GIF: 2 s to 5 s at 10 fps, short side 180.
GIF_WINDOW, GIF_FPS, GIF_SHORT_SIDE = (2.0, 5.0), 10, 180
#: Logo: 10 % of the frame width, 16 px from the top right corner.
LOGO_WIDTH_PERCENT, LOGO_MARGIN = 10, 16


@dataclass(frozen=True)
class Transcode:
    """One MP4 rung with 100030/100010's codec settings."""

    definition: int
    short_side: int
    video_kbps: int
    audio_kbps: int
    logo: bool = False


TRANSCODES = (
    Transcode(HD, 720, 1800, 128),
    Transcode(FLU, 360, 400, 64),
    Transcode(HD_LOGO, 720, 1800, 128, logo=True),
)


def even(value: float) -> int:
    """Round to the nearest even number, at least 2 (as mps does)."""
    return max(2, int(round(value / 2.0)) * 2)


def fit(source: tuple[int, int], width: int, height: int, adaptive: str = "open") -> tuple[int, int]:
    """mps's output size for a template box on ``source`` (see the module docstring)."""
    src_w, src_h = source
    if adaptive == "open" and src_h > src_w:
        width, height = height, width
    if not width and not height:
        box_w, box_h = float(src_w), float(src_h)
    elif not height:
        box_w, box_h = float(width), width * src_h / src_w
    elif not width:
        box_w, box_h = height * src_w / src_h, float(height)
    else:
        box_w, box_h = float(width), float(height)
    if box_w > src_w or box_h > src_h:
        factor = min(src_w / box_w, src_h / box_h)
        box_w, box_h = box_w * factor, box_h * factor
    return even(box_w), even(box_h)


def last_instant(duration: float, fps: float) -> float:
    """The latest instant that still has a frame (mps: ``duration - 1.5/fps``, in ms)."""
    return max(0.0, math.floor((duration - 1.5 / fps) * 1000 + 1e-6) / 1000)


def sample_times(duration: float, fps: float, interval: float) -> list[float]:
    """Instants ``k * interval`` from 0 that still have a frame."""
    end = last_instant(duration, fps)
    return [k * interval for k in range(int(end / interval + 1e-9) + 1)]


@dataclass(frozen=True)
class Snapshots:
    """The time-point shots of a workload: their definition, box (None: source size) and instants."""

    definition: int = SNAPSHOT
    box: tuple[int, int] | None = None
    percents: tuple[int, ...] = SNAPSHOT_PERCENTS


#: The snapshots of each standard-style workload (``--snapshots``).
SNAPSHOT_SETS = {
    "standard": Snapshots(),
    "720p": Snapshots(SNAPSHOT_720, (1280, 720)),
    "many": Snapshots(percents=MANY_SNAPSHOT_PERCENTS),
}


@dataclass(frozen=True)
class Workload:
    """Everything the pipelines need to know about one input: its name, size and timeline."""

    source: Path
    logo: Path
    width: int
    height: int
    duration: float
    fps: float
    snapshots: Snapshots = Snapshots()

    @property
    def stem(self) -> str:
        """``{inputName}`` of Tencent's output names."""
        return self.source.stem

    def name(self, kind: str, definition: int, ext: str, number: int | None = None) -> str:
        """Tencent's default output name, e.g. ``clip_sampleSnapshot_1000360_3.jpg``."""
        suffix = "" if number is None else f"_{number}"
        return f"{self.stem}_{kind}_{definition}{suffix}.{ext}"

    def transcode_size(self, rung: Transcode) -> tuple[int, int]:
        """The frame size of a transcode rung."""
        return fit((self.width, self.height), 0, rung.short_side)

    def logo_width(self, frame_width: int) -> int:
        """Pixel width of the logo on a frame ``frame_width`` wide."""
        return even(frame_width * LOGO_WIDTH_PERCENT / 100)

    def snapshot_times(self) -> list[float]:
        """The time points, clamped to the last frame."""
        end = last_instant(self.duration, self.fps)
        return [min(round(p * self.duration / 100, 3), end) for p in self.snapshots.percents]

    def snapshot_size(self) -> tuple[int, int] | None:
        """Size of a time-point shot (None: the source's, no scaling)."""
        box = self.snapshots.box
        return None if box is None else fit((self.width, self.height), *box)

    def percent_times(self, percent: int) -> list[float]:
        """Instants every ``percent`` % of the duration from 0, while a frame exists (mps's rule)."""
        last = self.duration - 1.0 / self.fps + 1e-6
        step = self.duration * percent / 100
        return [k * step for k in range(math.ceil(100 / percent)) if k * step <= last]

    def sample_times(self) -> list[float]:
        """Instants of the sampled snapshots."""
        return sample_times(self.duration, self.fps, SAMPLE_INTERVAL)

    def sample_size(self) -> tuple[int, int]:
        """Size of a sampled snapshot."""
        return fit((self.width, self.height), *SAMPLE_BOX)

    def sprite_times(self, interval: float = SPRITE_INTERVAL) -> list[float]:
        """Instants of the sprite tiles."""
        return sample_times(self.duration, self.fps, interval)

    def tile_size(self) -> tuple[int, int]:
        """Size of one sprite tile (``close``)."""
        return fit((self.width, self.height), *TILE, adaptive="close")

    def gif_size(self) -> tuple[int, int]:
        """Size of the GIF's frames."""
        return fit((self.width, self.height), 0, GIF_SHORT_SIDE)


def sprite_sheets(count: int, tile: tuple[int, int]) -> list[tuple[int, int, int]]:
    """``(first tile, tiles, rows)`` of each sheet: full sheets, the last cut to the rows it uses."""
    cols, rows = SPRITE_GRID
    per_sheet = cols * rows
    sheets = []
    for first in range(0, count, per_sheet):
        tiles = min(per_sheet, count - first)
        sheets.append((first, tiles, math.ceil(tiles / cols)))
    return sheets


def vtt_stamp(seconds: float) -> str:
    """``HH:MM:SS.mmm``."""
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def sprite_vtt(times: list[float], duration: float, sheet_names: list[str], tile: tuple[int, int]) -> str:
    """The WebVTT index of a sprite: one contiguous cue per tile, ``sheet#xywh=x,y,w,h``."""
    cols, rows = SPRITE_GRID
    stamps = [vtt_stamp(0.0 if i == 0 else t) for i, t in enumerate(times)] + [vtt_stamp(duration)]
    lines = ["WEBVTT", ""]
    for index in range(len(times)):
        cell = index % (cols * rows)
        x, y = (cell % cols) * tile[0], (cell // cols) * tile[1]
        lines += [f"{stamps[index]} --> {stamps[index + 1]}"]
        lines += [f"{sheet_names[index // (cols * rows)]}#xywh={x},{y},{tile[0]},{tile[1]}", ""]
    return "\n".join(lines)


def check_task_files() -> None:
    """Fail if task.json / templates.json no longer say what :mod:`workload` assumes."""
    task = json.loads(TASK_FILE.read_text())
    templates = json.loads(TEMPLATES_FILE.read_text())
    assert [t["Definition"] for t in task["TranscodeTaskSet"]] == [t.definition for t in TRANSCODES]
    offsets = task["SnapshotByTimeOffsetTaskSet"][0]["ExtTimeOffsetSet"]
    assert offsets == [f"{p}%" for p in SNAPSHOT_PERCENTS], offsets
    sample = templates["SampleSnapshotTemplateSet"][0]
    assert (sample["SampleInterval"], sample["Width"], sample["Height"]) == (SAMPLE_INTERVAL, *SAMPLE_BOX)
    sprites = {t["Definition"]: t for t in templates["ImageSpriteTemplateSet"]}
    assert sprites[SPRITE]["SampleInterval"] == SPRITE_INTERVAL
    assert sprites[LONG_SPRITE]["SampleInterval"] == LONG_SPRITE_INTERVAL
    snapshots = {t["Definition"]: t for t in templates["SnapshotByTimeOffsetTemplateSet"]}
    assert (snapshots[SNAPSHOT_720]["Width"], snapshots[SNAPSHOT_720]["Height"]) == SNAPSHOT_SETS["720p"].box
    workflow20 = json.loads(WORKFLOW20_TASK_FILE.read_text())
    assert workflow20["SnapshotByTimeOffsetTaskSet"][0]["Definition"] == SNAPSHOT_720
    assert {k: v for k, v in workflow20.items() if k != "SnapshotByTimeOffsetTaskSet"} == {
        k: v for k, v in task.items() if k != "SnapshotByTimeOffsetTaskSet"
    }
    shots = json.loads(SHOTS_TASK_FILE.read_text())["SnapshotByTimeOffsetTaskSet"][0]
    assert shots["ExtTimeOffsetSet"] == [f"{p}%" for p in MANY_SNAPSHOT_PERCENTS]
    dense = sprites[DENSE_SPRITE]
    assert (dense["SampleType"], dense["SampleInterval"]) == ("Percent", DENSE_SPRITE_PERCENT)
    gif = task["AnimatedGraphicTaskSet"][0]
    assert (gif["StartTimeOffset"], gif["EndTimeOffset"]) == GIF_WINDOW
    assert templates["AnimatedGraphicsTemplateSet"][0]["Height"] == GIF_SHORT_SIDE
