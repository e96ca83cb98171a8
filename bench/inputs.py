"""Deterministic reference inputs made with lavfi, cached in ``bench/work/``.

Every input is ``testsrc2`` (a moving pattern with a running clock, so frames at different times
differ) plus temporal noise (so x264 has real work and the bitrate is really spent), 25 fps, a
2-second closed GOP, with a stereo sine tone. A file is made once per set of parameters: the
parameters are part of its name, so a change makes a new file instead of reusing a stale one.
"""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Clip:
    """One reference clip: size, length, video bitrate and noise strength."""

    name: str
    width: int
    height: int
    seconds: int
    bitrate: str
    noise: int
    fps: int = 25
    gop_seconds: int = 2

    def path(self, work: Path) -> Path:
        """The cached file for these exact parameters."""
        digest = hashlib.sha1(repr(sorted(asdict(self).items())).encode()).hexdigest()[:8]
        return work / f"{self.name}-{digest}.mp4"


#: The issue's 60 s 1080p upload of ~24 Mb/s.
CLIP_60S = Clip("ref60", 1920, 1080, 60, "24M", 16)
#: The issue-14 workflow's 20 s 1080p upload of 25 Mb/s (also the dense sprite's short clip).
CLIP_20S = Clip("ref20", 1920, 1080, 20, "25M", 16)
#: The 10-minute 720p clip of the long-sprite and flat-memory checks.
CLIP_10MIN = Clip("ref600", 1280, 720, 600, "6M", 8)
#: Tiny stand-ins for the smoke run (``--quick``).
QUICK_SHORT = Clip("quick6", 320, 240, 6, "1M", 8)
QUICK_LONG = Clip("quick12", 320, 240, 12, "1M", 8)


def encode_command(clip: Clip, out: Path) -> list[str]:
    """The ffmpeg argv that makes ``clip`` at ``out`` (x264 veryfast, ABR capped at the bitrate)."""
    gop = clip.fps * clip.gop_seconds
    video = (
        f"testsrc2=size={clip.width}x{clip.height}:rate={clip.fps}:duration={clip.seconds},"
        f"noise=alls={clip.noise}:allf=t,format=yuv420p"
    )
    audio = f"sine=frequency=440:sample_rate=48000:duration={clip.seconds},aformat=channel_layouts=stereo"
    return [
        "ffmpeg", "-nostdin", "-v", "error", "-y",
        "-f", "lavfi", "-i", video, "-f", "lavfi", "-i", audio,
        "-c:v", "libx264", "-preset", "veryfast", "-b:v", clip.bitrate, "-maxrate", clip.bitrate,
        "-bufsize", clip.bitrate, "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0",
        "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart", "-shortest", str(out),
    ]  # fmt: skip


def ensure_clip(clip: Clip, work: Path) -> Path:
    """Make ``clip`` under ``work`` unless it is already there; return its path."""
    out = clip.path(work)
    if out.exists():
        return out
    work.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".part.mp4")
    subprocess.run(encode_command(clip, partial), check=True)
    partial.rename(out)
    return out


def ensure_logo(work: Path) -> Path:
    """A 200x100 semi-transparent RGBA PNG for the image watermark."""
    out = work / "logo.png"
    if not out.exists():
        work.mkdir(parents=True, exist_ok=True)
        source = "color=c=red@0.7:s=200x100,format=rgba,drawbox=x=20:y=20:w=160:h=60:color=white@0.9:t=fill"
        subprocess.run(
            [
                "ffmpeg",
                "-nostdin",
                "-v",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                source,
                "-frames:v",
                "1",
                str(out),
            ],
            check=True,
        )
    return out
