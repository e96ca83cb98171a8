"""The unit handed to the runner: one ffmpeg argv, plus what it is expected to produce."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

#: Demuxers an input may be opened with. Playlists and scripts (hls, concat, ...) are left out
#: on purpose: an uploaded ``.m3u8`` could otherwise make ffmpeg read any local file.
SAFE_DEMUXERS = (
    "mov,mp4,m4a,3gp,3g2,mj2",
    "matroska,webm",
    "avi",
    "flv",
    "mpegts",
    "mpeg",
    "asf",
    "rm",
    "ogg",
    "mp3",
    "aac",
    "wav",
    "flac",
    "amr",
    "m4v",
    "h264",
    "hevc",
    "mpegvideo",
    "gif",
    "image2",
    "png_pipe",
    "jpeg_pipe",
    "webp_pipe",
    "bmp_pipe",
)

#: Protocols an input may use: local files, and http(s) for presigned URLs of the object store.
SAFE_PROTOCOLS = "file,http,https,tcp,tls,crypto"


def input_args(source: str | Path, *, seek: float | None = None, duration: float | None = None) -> list[str]:
    """The argv fragment that opens one input safely: whitelists, optional input-side seek and length.

    Parameters:
        source: a local path or an http(s) URL.
        seek: seconds to seek to before decoding (fast, keyframe-based, then exact).
        duration: read at most this many seconds from the seek point.
    """
    args = ["-protocol_whitelist", SAFE_PROTOCOLS, "-format_whitelist", ",".join(SAFE_DEMUXERS)]
    if seek:
        args += ["-ss", seconds(seek)]
    if duration is not None:
        args += ["-t", seconds(duration)]
    source = str(source)
    # A local name that looks like an option or a protocol ("-x.mp4", "concat:a|b") is made a path.
    if "://" not in source and not source.startswith("/"):
        source = "./" + source
    return [*args, "-i", source]


def seconds(value: float) -> str:
    """A time for ffmpeg's command line, to the millisecond."""
    return f"{value:.3f}".rstrip("0").rstrip(".") or "0"


@dataclass(frozen=True)
class Command:
    """One ffmpeg run.

    Attributes:
        argv: the arguments after ``ffmpeg`` (the runner adds the binary and global flags).
        duration: the length of the output timeline in seconds, to turn progress into a percentage.
        outputs: the files this run is expected to write (sequence patterns excluded).
    """

    argv: list[str]
    duration: float = 0.0
    outputs: list[Path] = field(default_factory=list)
