"""Checks that pipelines wrote the same outputs, and that a sprite has no duplicate tiles.

Outputs are compared by what they are, never by bytes: the same file names; the same dimensions;
durations within 0.1 s; the same packet counts (``ffprobe -count_packets``: frames of a video, no
decoding) of every audio and video file, HLS segment included (so the segments of every rung are
cut at the same instants); the same sprite sheet sizes and WebVTT cue counts; the same segment
count and total duration of every HLS media playlist, variant count and largest size of a master
playlist, Representation count, largest size and duration of a DASH manifest.
"""

from __future__ import annotations

import json
import re
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


def ffprobe(path: Path, count: bool) -> dict:
    """ffprobe's JSON for every stream and the format (packets counted when ``count``: no decoding)."""
    extra = ["-count_packets"] if count else []
    out = subprocess.run(
        ["ffprobe", "-v", "error", *extra, "-show_entries",
         "stream=codec_type,width,height,nb_read_packets:format=duration", "-of", "json", str(path)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return json.loads(out)


def describe_playlist(text: str) -> Output:
    """An HLS playlist: a media playlist's segment count and total duration, or a master's variants."""
    lines = text.splitlines()
    variants = [line for line in lines if line.startswith("#EXT-X-STREAM-INF")]
    # ffmpeg's own master also lists the audio rendition as a variant: count the video ones, if any.
    variants = [line for line in variants if "RESOLUTION=" in line] or variants
    if variants:
        sizes = [tuple(int(v) for v in m.group(1).split("x")) for m in map(_RESOLUTION.search, variants) if m]
        width, height = max(sizes, default=(0, 0))
        return Output(width, height, cues=len(variants))
    durations = [float(line.split(":", 1)[1].split(",")[0]) for line in lines if line.startswith("#EXTINF")]
    return Output(duration=round(sum(durations), 3), cues=len(durations))


def describe_mpd(text: str) -> Output:
    """A DASH manifest: its Representations, the largest frame size, the presentation duration."""
    sizes = [(int(w), int(h)) for w, h in _REPRESENTATION_SIZE.findall(text)]
    width, height = max(sizes, default=(0, 0))
    match = _MPD_DURATION.search(text)
    duration = 0.0
    if match:
        hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
        duration = hours * 3600 + minutes * 60 + seconds
    return Output(width, height, duration, cues=text.count("<Representation "))


_RESOLUTION = re.compile(r"RESOLUTION=(\d+x\d+)")
_REPRESENTATION_SIZE = re.compile(r'<Representation [^>]*?width="(\d+)" height="(\d+)"')
_MPD_DURATION = re.compile(r'mediaPresentationDuration="PT(?:([\d.]+)H)?(?:([\d.]+)M)?(?:([\d.]+)S)?"')


def describe_file(path: Path) -> Output:
    """The checked facts of one output: packets are counted on every audio and video file."""
    if path.suffix == ".vtt":
        return Output(cues=path.read_text().count(" --> "))
    if path.suffix == ".m3u8":
        return describe_playlist(path.read_text())
    if path.suffix == ".mpd":
        return describe_mpd(path.read_text())
    if path.suffix in (".jpg", ".png", ".webp"):
        with Image.open(path) as image:
            return Output(image.width, image.height)
    data = ffprobe(path, count=True)
    streams = data.get("streams", [])
    stream = next((s for s in streams if s.get("codec_type") == "video"), streams[0] if streams else {})
    frames = int(stream.get("nb_read_packets", 0))
    return Output(stream.get("width", 0), stream.get("height", 0), float(data["format"]["duration"]), frames)


def describe(outdir: Path) -> dict[str, Output]:
    """Every output under ``outdir``, by name."""
    found = {}
    for path in sorted(outdir.iterdir()):
        if path.name in IGNORED or path.is_dir():
            continue
        found[path.name] = describe_file(path)
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
