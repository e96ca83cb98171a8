"""Helpers for tests: make clips with lavfi and measure outputs with ffprobe and Pillow."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from PIL import Image


def make_clip(
    stem: Path,
    *,
    duration: float = 4.0,
    width: int = 320,
    height: int = 240,
    fps: int = 25,
    audio: bool = True,
    video: bool = True,
    rotate: int = 0,
    ext: str = "mp4",
    gop: int = 25,
) -> Path:
    """Write a test clip: ``testsrc2`` video (moving, colourful) and a sine tone.

    ``rotate`` stores a display rotation in the container, as phones do.
    """
    path = stem.with_suffix(f".{ext}")
    argv = ["ffmpeg", "-nostdin", "-y", "-v", "error"]
    if video:
        argv += ["-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={fps}:duration={duration}"]
    if audio:
        argv += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={duration}"]
    if video:
        argv += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", str(gop)]
    if audio:
        argv += ["-c:a", "aac" if ext in ("mp4", "m4a", "mov") else "libmp3lame", "-b:a", "64k"]
    argv.append(str(path))
    subprocess.run(argv, check=True, timeout=120)
    if video and rotate % 360:
        _set_display_rotation(path, rotate % 360)
    return path


def _set_display_rotation(path: Path, clockwise: int) -> None:
    """Store a display matrix that makes players turn the picture ``clockwise`` degrees.

    ffmpeg 5.1 drops the ``rotate`` tag when encoding, and when remuxing (``-c copy``) turns it
    into a matrix of the *opposite* direction (``rotate=90`` shows 90 counter-clockwise). Try
    both signs and keep the one ffprobe reads back as wanted (its ``rotation`` counts
    counter-clockwise), so this stays right on ffmpeg versions that fix the sign.
    """
    remuxed = path.with_name(path.stem + ".rot" + path.suffix)
    for tag in ((360 - clockwise) % 360, clockwise):
        subprocess.run(
            [
                "ffmpeg",
                "-nostdin",
                "-y",
                "-v",
                "error",
                "-i",
                str(path),
                "-map",
                "0",
                "-c",
                "copy",
                "-metadata:s:v:0",
                f"rotate={tag}",
                str(remuxed),
            ],
            check=True,
            timeout=120,
        )
        side_data = video_stream(remuxed).get("side_data_list", [])
        rotation = next((float(d["rotation"]) for d in side_data if "rotation" in d), 0.0)
        if round(-rotation) % 360 == clockwise:
            remuxed.replace(path)
            return
    remuxed.unlink(missing_ok=True)
    raise RuntimeError(f"this ffmpeg cannot store a {clockwise} degree display rotation")


def make_image(path: Path, *, size: tuple[int, int], color: tuple[int, int, int]) -> Path:
    Image.new("RGB", size, color).save(path)
    return path


def ffprobe(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)],
        check=True,
        capture_output=True,
        timeout=60,
    ).stdout
    return json.loads(out)  # type: ignore[no-any-return]


def video_stream(path: Path) -> dict[str, Any]:
    return next(s for s in ffprobe(path)["streams"] if s["codec_type"] == "video")


def has_audio(path: Path) -> bool:
    return any(s["codec_type"] == "audio" for s in ffprobe(path)["streams"])


def duration_of(path: Path) -> float:
    return float(ffprobe(path)["format"]["duration"])


def frame_count(path: Path) -> int:
    """Frames actually decoded (not the header's claim)."""
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-count_frames",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=nb_read_frames",
            "-of",
            "csv=p=0",
            str(path),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    return int(out.strip().split(",")[0])


def image_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as image:
        return image.size


def pixel(path: Path, xy: tuple[int, int]) -> tuple[int, ...]:
    with Image.open(path) as image:
        value = image.convert("RGB").getpixel(xy)
    assert isinstance(value, tuple)
    return value


def near(color: tuple[int, ...], expected: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(color, expected, strict=False))
