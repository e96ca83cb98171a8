"""Checks that pipelines wrote the same outputs, and that a sprite has no duplicate tiles.

Outputs are compared by what they are, never by bytes: the same file names; the same dimensions;
durations within 0.1 s; the same frame counts (``ffprobe -count_frames``) on the GIF and on the
100030 transcode; the same sprite sheet sizes and WebVTT cue counts.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageChops, ImageStat

#: Files a pipeline may write besides its outputs.
IGNORED = {"result.json"}
DURATION_TOLERANCE = 0.1
#: Mean absolute difference (0-255, grey) below which two adjacent sprite tiles count as the same.
DUPLICATE_BELOW = 1.0


@dataclass(frozen=True)
class Output:
    """What is checked of one output file."""

    width: int = 0
    height: int = 0
    duration: float = 0.0
    frames: int = 0
    cues: int = 0


class Mismatch(AssertionError):
    """Two pipelines wrote different outputs."""


def ffprobe(path: Path, count_frames: bool) -> dict:
    """ffprobe's JSON for the first video stream and the format."""
    extra = ["-count_frames"] if count_frames else []
    out = subprocess.run(
        ["ffprobe", "-v", "error", *extra, "-select_streams", "v:0", "-show_entries",
         "stream=width,height,nb_read_frames:format=duration", "-of", "json", str(path)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return json.loads(out)


def describe_file(path: Path, count_frames: bool) -> Output:
    """The checked facts of one output."""
    if path.suffix == ".vtt":
        return Output(cues=path.read_text().count(" --> "))
    if path.suffix in (".jpg", ".png", ".webp"):
        with Image.open(path) as image:
            return Output(image.width, image.height)
    data = ffprobe(path, count_frames)
    stream = data["streams"][0]
    frames = int(stream.get("nb_read_frames", 0)) if count_frames else 0
    return Output(stream["width"], stream["height"], float(data["format"]["duration"]), frames)


def describe(outdir: Path, count_frames_of: tuple[str, ...] = (".gif", "_100030.mp4")) -> dict[str, Output]:
    """Every output under ``outdir``, by name (frames counted on names ending with the suffixes)."""
    found = {}
    for path in sorted(outdir.iterdir()):
        if path.name in IGNORED or path.is_dir():
            continue
        found[path.name] = describe_file(path, path.name.endswith(count_frames_of))
    return found


def compare(reference: dict[str, Output], other: dict[str, Output], label: str) -> None:
    """Raise :class:`Mismatch` naming every difference between two pipelines' outputs."""
    problems = []
    if set(reference) != set(other):
        missing, extra = sorted(set(reference) - set(other)), sorted(set(other) - set(reference))
        problems.append(f"files differ: missing {missing}, extra {extra}")
    for name in sorted(set(reference) & set(other)):
        ref, got = reference[name], other[name]
        if (ref.width, ref.height, ref.frames, ref.cues) != (got.width, got.height, got.frames, got.cues):
            problems.append(f"{name}: {ref} vs {got}")
        elif abs(ref.duration - got.duration) > DURATION_TOLERANCE:
            problems.append(f"{name}: duration {ref.duration:.3f} vs {got.duration:.3f}")
    if problems:
        raise Mismatch(f"{label}: outputs differ:\n  " + "\n  ".join(problems))


def sprite_tiles(vtt: Path) -> list[Image.Image]:
    """Every tile of a sprite, cut from its sheets as its WebVTT says."""
    sheets: dict[str, Image.Image] = {}
    tiles = []
    for line in vtt.read_text().splitlines():
        if "#xywh=" not in line:
            continue
        sheet, _, box = line.partition("#xywh=")
        if sheet not in sheets:
            with Image.open(vtt.parent / sheet) as image:
                sheets[sheet] = image.convert("L")
        x, y, w, h = (int(v) for v in box.split(","))
        tiles.append(sheets[sheet].crop((x, y, x + w, y + h)))
    return tiles


def adjacent_differences(vtt: Path) -> list[float]:
    """Mean absolute grey difference between each pair of neighbouring tiles."""
    tiles = sprite_tiles(vtt)
    return [
        ImageStat.Stat(ImageChops.difference(a, b)).mean[0] for a, b in zip(tiles, tiles[1:], strict=False)
    ]
