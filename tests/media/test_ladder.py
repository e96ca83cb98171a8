"""Adaptive streaming ladders with real ffmpeg on a tiny clip: every rung, segment and manifest checked."""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest

from mps.media.ops.ladder_manifest import parse_media_playlist
from mps.media.specs import WatermarkSpec
from mps.models.templates import AdaptiveDynamicStreamingTemplate
from tests.media.ladder_helpers import (
    attributes,
    keyframe_times,
    ladder_template,
    master_variants,
    run_ladder,
    stream,
)
from tests.mediatools import duration_of, pixel, video_stream

ClipFactory = Callable[..., Path]
MPD = "{urn:mpeg:dash:schema:mpd:2011}"
RUNGS = [(640, 360), (426, 240), (256, 144)]


@pytest.fixture(scope="module")
def source(clip: ClipFactory) -> Path:
    """5 s of 640x360 at 25 fps with audio."""
    return clip(width=640, height=360, duration=5)


@pytest.fixture(scope="module")
def ladders(source: Path, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, str], Path]:
    """The 360/240/144 ladder in one format and segment type, made once per module; returns the manifest."""
    made: dict[tuple[str, str], Path] = {}

    def make(fmt: str, segment_type: str) -> Path:
        if (fmt, segment_type) not in made:
            out = tmp_path_factory.mktemp(segment_type) / "out"
            _, manifest = run_ladder(source, ladder_template(fmt, SegmentType=segment_type), out)
            made[(fmt, segment_type)] = manifest
        return made[(fmt, segment_type)]

    return make


def _rung_playlists(master: Path) -> list[Path]:
    return [master.parent / uri for _, uri in master_variants(master)]


def _media_files(playlist: Path) -> list[Path]:
    parsed = parse_media_playlist(playlist.read_text())
    return [playlist.parent / uri for uri in parsed.uris]


@pytest.mark.parametrize("segment_type", ["ts-segment", "mp4-segment", "ts-byterange", "mp4-byterange"])
def test_hls_master_lists_every_rung_with_its_attributes(
    ladders: Callable[[str, str], Path], segment_type: str
) -> None:
    master = ladders("HLS", segment_type)
    text = master.read_text()
    assert master.name.endswith("_adaptiveDynamicStreaming_1001.m3u8")
    assert "#EXT-X-INDEPENDENT-SEGMENTS" in text.splitlines()
    media = [attributes(line) for line in text.splitlines() if line.startswith("#EXT-X-MEDIA:")]
    assert len(media) == 1 and media[0]["TYPE"] == "AUDIO"
    variants = master_variants(master)
    assert [v["RESOLUTION"] for v, _ in variants] == [f"{w}x{h}" for w, h in RUNGS]
    for attrs, uri in variants:
        assert attrs["AUDIO"] == media[0]["GROUP-ID"]
        assert attrs["FRAME-RATE"] == "25.000"
        video_codec, audio_codec = attrs["CODECS"].split(",")
        assert video_codec.startswith("avc1.") and len(video_codec) == 11 and audio_codec == "mp4a.40.2"
        assert int(attrs["BANDWIDTH"]) >= int(attrs["AVERAGE-BANDWIDTH"]) > 0
        assert "://" not in uri and not uri.startswith("/")
    peaks = [int(v["BANDWIDTH"]) for v, _ in variants]
    assert peaks == sorted(peaks, reverse=True)
    assert "://" not in media[0]["URI"] and (master.parent / media[0]["URI"]).is_file()


@pytest.mark.parametrize("segment_type", ["ts-segment", "mp4-segment", "ts-byterange", "mp4-byterange"])
def test_hls_rungs_have_their_size_and_the_same_segments(
    ladders: Callable[[str, str], Path], segment_type: str
) -> None:
    master = ladders("HLS", segment_type)
    durations = []
    for playlist, (width, height) in zip(_rung_playlists(master), RUNGS, strict=True):
        parsed = parse_media_playlist(playlist.read_text())
        durations.append([round(s.duration, 3) for s in parsed.segments])
        files = _media_files(playlist)
        assert all(f.is_file() for f in files)
        whole = _whole_stream(
            files, playlist.parent / "whole.mp4" if parsed.init else playlist.parent / "whole.ts"
        )
        probed = video_stream(whole)
        assert (probed["width"], probed["height"]) == (width, height)
        assert keyframe_times(whole) == pytest.approx(
            _starts(durations[-1], keyframe_times(whole)[0]), abs=0.02
        )
        if segment_type.endswith("byterange"):
            assert len({s.uri for s in parsed.segments}) == 1 and "#EXT-X-BYTERANGE:" in playlist.read_text()
            _assert_contiguous_ranges(playlist)
        else:
            assert len(files) == len(parsed.segments) + (1 if parsed.init else 0)
    assert durations[0] == [1.0] * 5
    assert all(d == durations[0] for d in durations)


def _whole_stream(files: list[Path], target: Path) -> Path:
    """The files of one rung (init + segments, or one byte-range file) as one playable file."""
    target.write_bytes(b"".join(f.read_bytes() for f in dict.fromkeys(files)))
    return target


def _starts(durations: list[float], first: float) -> list[float]:
    """The start time of every segment, offset to the first frame's time (MPEG-TS starts at 1.4 s)."""
    return [first + sum(durations[:i]) for i in range(len(durations))]


def _assert_contiguous_ranges(playlist: Path) -> None:
    lines = playlist.read_text().splitlines()
    ranges = [
        tuple(map(int, line.split(":", 1)[1].split("@")))
        for line in lines
        if line.startswith("#EXT-X-BYTERANGE:")
    ]
    maps = [attributes(line) for line in lines if line.startswith("#EXT-X-MAP:")]
    position = int(maps[0]["BYTERANGE"].split("@")[0]) if maps else 0
    for length, offset in ranges:
        assert offset == position
        position += length
    media = _media_files(playlist)[0]
    assert position == media.stat().st_size


def test_hls_audio_rendition_is_one_shared_stream(ladders: Callable[[str, str], Path]) -> None:
    master = ladders("HLS", "ts-segment")
    uri = attributes(
        next(line for line in master.read_text().splitlines() if line.startswith("#EXT-X-MEDIA:"))
    )["URI"]
    segments = parse_media_playlist((master.parent / uri).read_text()).segments
    # AAC's priming frame may spill one 23 ms segment past the video's five.
    assert len(segments) in (5, 6) and all(s.duration < 1.05 for s in segments)
    assert sum(s.duration for s in segments) == pytest.approx(5.0, abs=0.1)


def test_dash_manifest_is_static_with_one_video_and_one_audio_set(
    ladders: Callable[[str, str], Path],
) -> None:
    mpd = ladders("MPEG-DASH", "mp4-byterange")
    root = ET.parse(mpd).getroot()
    assert root.get("type") == "static"
    sets = root.findall(f"{MPD}Period/{MPD}AdaptationSet")
    assert [s.get("contentType") for s in sets] == ["video", "audio"]
    video = sets[0].findall(f"{MPD}Representation")
    assert [(int(r.get("width", 0)), int(r.get("height", 0))) for r in video] == RUNGS
    bandwidths = [int(r.get("bandwidth", 0)) for r in video]
    assert bandwidths == sorted(bandwidths, reverse=True)
    assert len(sets[1].findall(f"{MPD}Representation")) == 1
    counts, keyframes = set(), []
    for representation, (width, height) in zip(video, RUNGS, strict=True):
        base = representation.findtext(f"{MPD}BaseURL") or ""
        assert "://" not in base and not base.startswith("/")
        media = mpd.parent / base
        probed = video_stream(media)
        assert (probed["width"], probed["height"]) == (width, height)
        counts.add(len(representation.findall(f"{MPD}SegmentList/{MPD}SegmentURL")))
        keyframes.append(keyframe_times(media))
    assert counts == {5}
    assert all(k == pytest.approx([0, 1, 2, 3, 4], abs=0.02) for k in keyframes)


def test_disable_higher_resolution_keeps_one_rung_at_the_source_size(source: Path, tmp_path: Path) -> None:
    template = ladder_template(
        streams=[stream(1080, 3000), stream(720, 1500), stream(240, 300)], DisableHigherVideoResolution=1
    )
    _, master = run_ladder(source, template, tmp_path / "out")
    assert [v["RESOLUTION"] for v, _ in master_variants(master)] == ["640x360", "426x240"]


def test_audio_only_ladder_lists_audio_variants(clip: ClipFactory, tmp_path: Path) -> None:
    audio = [{"RemoveVideo": 1, "Audio": {"Codec": "aac", "Bitrate": kbps}} for kbps in (128, 64)]
    template = AdaptiveDynamicStreamingTemplate(Definition=1002, Format="HLS", PureAudio=1, StreamInfos=audio)
    _, master = run_ladder(clip(width=320, height=180, duration=4), template, tmp_path / "out")
    variants = master_variants(master)
    assert [v["CODECS"] for v, _ in variants] == ["mp4a.40.2", "mp4a.40.2"]
    assert all("RESOLUTION" not in v for v, _ in variants)
    assert int(variants[0][0]["AVERAGE-BANDWIDTH"]) > int(variants[1][0]["AVERAGE-BANDWIDTH"])


def test_custom_names_and_watermark_on_every_rung(source: Path, logo_png: Path, tmp_path: Path) -> None:
    template = ladder_template(streams=[stream(360, 600), stream(144, 150)])
    mark = WatermarkSpec(definition=0, kind="image", image=logo_png, width="25%", height="0px")
    out = tmp_path / "out"
    item, master = run_ladder(
        source, template, out, watermarks=(mark,),
        OutputObjectPath="/abr/{inputName}/master.{format}",
        SubStreamObjectName="{subStreamNumber}/index.{format}",
        SegmentObjectName="{subStreamNumber}/seg_{segmentNumber}.{format}",
    )  # fmt: skip
    assert (
        item.Path == f"/abr/{source.stem}/master.m3u8" and item.Package == "HLS" and item.Definition == 1001
    )
    assert [uri for _, uri in master_variants(master)] == ["0/index.m3u8", "1/index.m3u8"]
    assert (master.parent / "1" / "seg_4.ts").is_file() and (master.parent / "2" / "seg_0.ts").is_file()
    assert "seg_0.ts" in (master.parent / "0" / "index.m3u8").read_text().splitlines()
    for rung in ("0", "1"):
        frame = tmp_path / f"frame{rung}.png"
        _extract_frame(master.parent / rung / "seg_2.ts", frame)
        assert pixel(frame, (2, 2))[0] > 200 and pixel(frame, (2, 2))[1] < 60  # the red logo, top left


def _extract_frame(segment: Path, target: Path) -> None:
    argv = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(segment), "-frames:v", "1", str(target)]
    subprocess.run(argv, check=True, timeout=60)


def test_clip_duration_is_kept(ladders: Callable[[str, str], Path]) -> None:
    mpd = ladders("MPEG-DASH", "mp4-byterange")
    assert duration_of(next(mpd.parent.glob("*_0.mp4"))) == pytest.approx(5.0, abs=0.1)
