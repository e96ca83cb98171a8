"""Adaptive streaming manifests as text: read ffmpeg's media playlists, rename what they point at,
measure bitrates, and write the HLS master playlist (pure, no I/O).

ffmpeg 5.1's own master playlist lacks ``FRAME-RATE`` and measures nothing, and its names are
ours, not Tencent's: mps writes the master itself, from the rungs it planned and the segment
sizes it measured, with every URI relative to the master's directory.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

from mps.media.geometry import Size

__all__ = [
    "AudioGroup",
    "MediaPlaylist",
    "Segment",
    "Variant",
    "avc_codecs",
    "build_master_playlist",
    "parse_media_playlist",
    "rename_mpd_base_urls",
    "rename_playlist_uris",
]

_MAP = re.compile(r'^#EXT-X-MAP:URI="([^"]*)"(?:,BYTERANGE="(\d+)@(\d+)")?')
_BYTERANGE = re.compile(r"^#EXT-X-BYTERANGE:(\d+)(?:@(\d+))?")


@dataclass(frozen=True)
class Segment:
    """One media segment of a playlist: its URI, duration and, for byte-range playlists, its length."""

    uri: str
    duration: float
    length: int | None = None


@dataclass(frozen=True)
class MediaPlaylist:
    """What mps needs from an ffmpeg media playlist.

    Attributes:
        version: ``EXT-X-VERSION``.
        init: the ``EXT-X-MAP`` URI (fMP4), or None.
        init_length: the byte length of the init section when it is a byte range.
        segments: in playlist order.
    """

    version: int
    init: str | None
    init_length: int | None
    segments: tuple[Segment, ...]

    @property
    def uris(self) -> list[str]:
        """Every distinct file the playlist points at, init first."""
        found = [self.init] if self.init else []
        return list(dict.fromkeys([*found, *(s.uri for s in self.segments)]))

    @property
    def duration(self) -> float:
        return sum(s.duration for s in self.segments)

    def rates(self, sizes: Mapping[str, int]) -> tuple[int, int]:
        """``(peak, average)`` bitrate in bit/s over the segments.

        Parameters:
            sizes: file sizes by URI, for segments that are whole files (byte ranges carry their own).
        """
        peak = 0.0
        total = 0
        for segment in self.segments:
            length = segment.length if segment.length is not None else sizes[segment.uri]
            total += length
            if segment.duration > 0:
                peak = max(peak, length * 8 / segment.duration)
        average = total * 8 / self.duration if self.duration else 0.0
        return round(peak), round(average)


def parse_media_playlist(text: str) -> MediaPlaylist:
    """Read an HLS media playlist as ffmpeg writes it.

    Raises:
        ValueError: a segment URI without ``#EXTINF`` before it, or no ``#EXTM3U``.
    """
    lines = text.splitlines()
    if not lines or lines[0].strip() != "#EXTM3U":
        raise ValueError("not an HLS playlist")
    version, init, init_length = 1, None, None
    segments: list[Segment] = []
    duration: float | None = None
    length: int | None = None
    for line in (raw.strip() for raw in lines[1:]):
        if line.startswith("#EXT-X-VERSION:"):
            version = int(line.split(":", 1)[1])
        elif found := _MAP.match(line):
            init = found.group(1)
            init_length = int(found.group(2)) if found.group(2) else None
        elif line.startswith("#EXTINF:"):
            duration = float(line[len("#EXTINF:") :].split(",", 1)[0])
        elif found := _BYTERANGE.match(line):
            length = int(found.group(1))
        elif line and not line.startswith("#"):
            if duration is None:
                raise ValueError(f"segment {line!r} has no #EXTINF")
            segments.append(Segment(line, duration, length))
            duration, length = None, None
    return MediaPlaylist(version, init, init_length, tuple(segments))


def rename_playlist_uris(text: str, names: Mapping[str, str]) -> str:
    """The playlist with every URI (segment lines and ``EXT-X-MAP``) replaced through ``names``."""
    out = []
    for line in text.splitlines():
        if line.startswith("#EXT-X-MAP:"):
            line = _MAP.sub(
                lambda m: m.group(0).replace(f'"{m.group(1)}"', f'"{names[m.group(1)]}"', 1), line
            )
        elif line and not line.startswith("#"):
            line = names[line.strip()]
        out.append(line)
    return "\n".join(out) + "\n"


def rename_mpd_base_urls(text: str, names: Mapping[str, str]) -> str:
    """An MPD with each ``<BaseURL>old</BaseURL>`` pointing at ``names[old]`` (escaped for XML).

    Raises:
        ValueError: a name of ``names`` is not a BaseURL of the MPD.
    """
    for old, new in names.items():
        tag = f"<BaseURL>{escape(old)}</BaseURL>"
        if tag not in text:
            raise ValueError(f"the MPD has no BaseURL {old!r}")
        text = text.replace(tag, f"<BaseURL>{escape(new)}</BaseURL>")
    return text


@dataclass(frozen=True)
class AudioGroup:
    """An ``EXT-X-MEDIA`` audio rendition, alone in its group."""

    group: str
    name: str
    uri: str
    channels: int
    peak: int
    average: int


@dataclass(frozen=True)
class Variant:
    """One ``EXT-X-STREAM-INF``: a video rung (or, in an audio-only ladder, an audio rendition).

    ``peak`` and ``average`` are of the variant's own media; the audio group's are added.
    """

    uri: str
    peak: int
    average: int
    codecs: str
    size: Size | None = None
    frame_rate: float | None = None
    audio: AudioGroup | None = None


def build_master_playlist(
    variants: Sequence[Variant], audio_groups: Sequence[AudioGroup], version: int
) -> str:
    """The master playlist: audio groups first, then one ``EXT-X-STREAM-INF`` per variant.

    ``BANDWIDTH`` is the peak segment bitrate of the variant plus its audio's, ``AVERAGE-BANDWIDTH``
    the averages' sum; ``CODECS`` lists the video's and the audio's codecs.
    """
    lines = ["#EXTM3U", f"#EXT-X-VERSION:{version}", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for index, group in enumerate(audio_groups):
        default = "YES" if index == 0 else "NO"
        lines.append(
            f'#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="{group.group}",NAME="{group.name}",DEFAULT={default},'
            f'AUTOSELECT=YES,CHANNELS="{group.channels}",URI="{group.uri}"'
        )
    for variant in variants:
        audio = variant.audio
        attributes = [
            f"BANDWIDTH={variant.peak + (audio.peak if audio else 0)}",
            f"AVERAGE-BANDWIDTH={variant.average + (audio.average if audio else 0)}",
        ]
        if variant.size is not None:
            attributes.append(f"RESOLUTION={variant.size.width}x{variant.size.height}")
        if variant.frame_rate:
            attributes.append(f"FRAME-RATE={variant.frame_rate:.3f}")
        attributes.append(f'CODECS="{variant.codecs}"')
        if audio is not None:
            attributes.append(f'AUDIO="{audio.group}"')
        lines += ["#EXT-X-STREAM-INF:" + ",".join(attributes), variant.uri]
    return "\n".join(lines) + "\n"


def avc_codecs(data: bytes) -> str | None:
    """The RFC 6381 ``avc1.PPCCLL`` of the first H.264 parameter set in ``data``.

    Reads an fMP4 init section (its ``avcC`` box) or an MPEG-TS segment (the first SPS NAL unit),
    so the string carries the profile's real constraint flags, which ffprobe does not print.
    """
    box = data.find(b"avcC")
    if box >= 0 and len(data) >= box + 8:
        profile, flags, level = data[box + 5], data[box + 6], data[box + 7]
        return f"avc1.{profile:02x}{flags:02x}{level:02x}"
    for start in (m.end() for m in re.finditer(b"\x00\x00\x01", data)):
        if start + 3 < len(data) and data[start] & 0x1F == 7:
            profile, flags, level = data[start + 1], data[start + 2], data[start + 3]
            return f"avc1.{profile:02x}{flags:02x}{level:02x}"
    return None
