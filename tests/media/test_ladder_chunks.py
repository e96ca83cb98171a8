"""Adaptive streaming ladders made chunk by chunk (MPS_SEGMENT_SECONDS) with real ffmpeg: the same
sub-streams, segments, frames and manifests as the ladder made in one run."""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest

from mps.media.ops.ladder_manifest import parse_media_playlist
from tests.media.ladder_helpers import ladder_template, master_variants, run_ladder, run_ladder_chunked
from tests.media.test_segments import packets

ClipFactory = Callable[..., Path]
MPD = "{urn:mpeg:dash:schema:mpd:2011}"
FRAMES = 200  # 8 s at 25 fps


@pytest.fixture(scope="module")
def source(clip: ClipFactory) -> Path:
    """8 s of 640x360 at 25 fps with audio; source keyframes every 0.4 s."""
    return clip(width=640, height=360, duration=8, gop=10)


def _both(source: Path, tmp: Path, fmt: str, segment_type: str) -> tuple[Path, Path, int]:
    template = ladder_template(fmt, SegmentType=segment_type)
    _, whole = run_ladder(source, template, tmp / "whole")
    _, chunked, count = run_ladder_chunked(source, template, tmp / "chunked", segment_seconds=2.0)
    return whole, chunked, count


def _playlists(master: Path) -> list[Path]:
    return [master.parent / uri for _, uri in master_variants(master)]


def _frames(playlist: Path) -> int:
    """Video frames of one HLS sub-stream, its segments read in playlist order."""
    media = [playlist.parent / uri for uri in parse_media_playlist(playlist.read_text()).uris]
    joined = playlist.parent / f"{playlist.stem}.joined"
    joined.write_bytes(b"".join(path.read_bytes() for path in dict.fromkeys(media)))
    return len(packets(joined, "v:0"))


@pytest.mark.parametrize("segment_type", ["ts-segment", "mp4-segment"])
def test_a_chunked_hls_ladder_has_the_segments_and_frames_of_one_run(
    source: Path, tmp_path: Path, segment_type: str
) -> None:
    whole, chunked, count = _both(source, tmp_path, "HLS", segment_type)

    assert count == 4, "8 s cut into 2 s chunks on the 1 s segment grid"
    variants = [(a["RESOLUTION"], a["CODECS"]) for a, _ in master_variants(whole)]
    assert [(a["RESOLUTION"], a["CODECS"]) for a, _ in master_variants(chunked)] == variants
    for one, other in zip(_playlists(whole), _playlists(chunked), strict=True):
        durations = [s.duration for s in parse_media_playlist(one.read_text()).segments]
        assert [s.duration for s in parse_media_playlist(other.read_text()).segments] == pytest.approx(
            durations, abs=0.002
        )
        assert len(durations) == 8
        assert _frames(other) == _frames(one) == FRAMES


def test_a_chunked_dash_ladder_has_the_representations_and_frames_of_one_run(
    source: Path, tmp_path: Path
) -> None:
    whole, chunked, _ = _both(source, tmp_path, "MPEG-DASH", "mp4-byterange")

    def representations(mpd: Path) -> list[tuple[str | None, str | None]]:
        root = ET.parse(mpd).getroot()
        return [(r.get("width"), r.get("codecs")) for r in root.iter(f"{MPD}Representation")]

    assert representations(chunked) == representations(whole)
    streams = sorted(chunked.parent.glob("*.mp4"))
    videos = [s for s in streams if packets(s, "v:0")]
    assert len(videos) == 3
    for stream in videos:
        assert len(packets(stream, "v:0")) == FRAMES
    duration = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(videos[0])],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert float(duration) == pytest.approx(8.0, abs=0.05)
