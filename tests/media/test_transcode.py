"""Transcodes with real ffmpeg on tiny clips, through ``run_transcode``, checked with ffprobe."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mps.media.naming import Namer
from mps.media.specs import Subtask, TranscodeSpec, WatermarkSpec
from mps.models.results import MediaTranscodeItem
from mps.models.tasks import TranscodeTaskInput
from mps.models.templates import RawTranscodeParameter
from mps.runner.ffmpeg import FfmpegRunner
from mps.workflow.context import OperationContext
from mps.workflow.operations.transcode import run_transcode
from mps.workflow.outputs import file_facts
from tests.mediatools import duration_of, ffprobe, frame_count, has_audio, video_stream

ClipFactory = Callable[..., Path]
Transcode = Callable[..., tuple[MediaTranscodeItem, Path]]

RUNNER = FfmpegRunner(default_timeout=120)


def template(
    container: str = "mp4",
    video: dict[str, Any] | None = None,
    audio: dict[str, Any] | None = None,
    **top: Any,
) -> RawTranscodeParameter:
    """A 100030-like template (H.264 720 short side, 1800 kbps; AAC 128 kbps), adjustable."""
    body: dict[str, Any] = {"Container": container, **top}
    body["VideoTemplate"] = {"Codec": "libx264", "Height": 720, "Bitrate": 1800, **(video or {})}
    body["AudioTemplate"] = {"Codec": "libfdk_aac", "Bitrate": 128, "SampleRate": 44100, **(audio or {})}
    return RawTranscodeParameter.model_validate(body)


@pytest.fixture
def transcode(tmp_path: Path) -> Transcode:
    """Run one transcode of ``source``; returns the item and the output root."""

    def run(
        source: Path,
        params: RawTranscodeParameter,
        *,
        definition: int = 100030,
        watermarks: tuple[WatermarkSpec, ...] = (),
        start: float | None = None,
        end: float | None = None,
        **request: Any,
    ) -> tuple[MediaTranscodeItem, Path]:
        spec = TranscodeSpec(definition, params, watermarks, start=start, end=end, x264_preset="ultrafast")
        task = TranscodeTaskInput(Definition=definition, **request)
        out_root = tmp_path / "out"
        ctx = OperationContext(
            runner=RUNNER,
            meta=RUNNER.probe(source),
            source=str(source),
            out_root=out_root,
            namer=Namer(source.name, "/videos/", definition),
            workdir=tmp_path / "work",
        )
        return run_transcode(Subtask(0, "Transcode", spec, task), ctx), out_root

    return run


def local(out_root: Path, item: MediaTranscodeItem) -> Path:
    return out_root / item.Path.lstrip("/")


def size_of(path: Path) -> tuple[int, int]:
    stream = video_stream(path)
    return int(stream["width"]), int(stream["height"])


def test_720p_template_never_upscales_a_small_clip(sample_clip: Path, transcode: Transcode) -> None:
    item, root = transcode(sample_clip, template())
    output = local(root, item)
    assert item.Path == f"/videos/{sample_clip.stem}_transcode_100030.mp4"
    assert size_of(output) == (320, 240) == (item.Width, item.Height)
    size, md5 = file_facts(output)
    assert (item.Size, item.Md5) == (size, md5)
    assert item.Container == "mov,mp4,m4a,3gp,3g2,mj2" and item.Definition == 100030
    assert item.Duration == pytest.approx(4.0, abs=0.1) and item.Bitrate > 0
    assert [s.Codec for s in item.VideoStreamSet] == ["h264"] and [s.Codec for s in item.AudioStreamSet] == [
        "aac"
    ]
    assert item.OutputStorage is None


@pytest.mark.parametrize(("height", "expected"), [(360, (640, 360)), (180, (320, 180))])
def test_short_side_sets_the_size(
    clip: ClipFactory, transcode: Transcode, height: int, expected: tuple[int, int]
) -> None:
    item, root = transcode(clip(width=640, height=360, duration=1), template(video={"Height": height}))
    assert size_of(local(root, item)) == expected == (item.Width, item.Height)


@pytest.mark.parametrize(
    "kwargs", [{"width": 360, "height": 640}, {"width": 640, "height": 360, "rotate": 90}]
)
def test_portrait_and_rotated_sources_keep_their_shape(
    clip: ClipFactory, transcode: Transcode, kwargs: dict[str, int]
) -> None:
    item, root = transcode(clip(duration=1, **kwargs), template(video={"Height": 180}))
    assert size_of(local(root, item)) == (180, 320)


def test_hls_playlist_and_segments_beside_it(sample_clip: Path, transcode: Transcode) -> None:
    item, root = transcode(sample_clip, template("hls", video={"HlsTime": 1}), definition=100210)
    playlist = local(root, item)
    assert item.Path == f"/videos/{sample_clip.stem}_transcode_100210.m3u8" and item.Container == "hls"
    lines = playlist.read_text().splitlines()
    names = [line for line in lines if line and not line.startswith("#")]
    assert names == [f"{sample_clip.stem}_transcode_100210_{n}.ts" for n in range(len(names))]
    assert 3 <= len(names) <= 5
    segments = [playlist.parent / name for name in names]
    assert sum(
        float(line[8:].split(",")[0]) for line in lines if line.startswith("#EXTINF:")
    ) == pytest.approx(4.0, abs=0.15)
    assert sum(duration_of(segment) for segment in segments) == pytest.approx(4.0, abs=0.3)
    assert item.Duration == pytest.approx(4.0, abs=0.15)
    assert item.Size == playlist.stat().st_size + sum(s.stat().st_size for s in segments)
    assert item.Md5 == file_facts(playlist)[1] and (item.Width, item.Height) == (320, 240)
    assert sorted(p.name for p in playlist.parent.iterdir()) == sorted([playlist.name, *names])


def test_hls_custom_segment_names_and_numbers(clip: ClipFactory, transcode: Transcode) -> None:
    item, root = transcode(
        clip(duration=2),
        template("hls", video={"HlsTime": 1}),
        OutputObjectPath="hls/{inputName}.m3u8",
        SegmentObjectName="seg/part-{number}.ts",
        ObjectNumberFormat={"InitialValue": 1, "Increment": 2, "MinLength": 3},
    )
    playlist = local(root, item)
    assert item.Path.startswith("/videos/hls/")
    names = [line for line in playlist.read_text().splitlines() if line and not line.startswith("#")]
    assert names[:2] == ["seg/part-001.ts", "seg/part-003.ts"]
    assert all((playlist.parent / name).is_file() for name in names)


@pytest.mark.parametrize(("container", "codec", "expected"), [("mp3", "mp3", "mp3"), ("m4a", "aac", "aac")])
def test_audio_only_outputs_have_no_video(
    sample_clip: Path, transcode: Transcode, container: str, codec: str, expected: str
) -> None:
    item, root = transcode(sample_clip, template(container, audio={"Codec": codec}), definition=1010)
    streams = ffprobe(local(root, item))["streams"]
    assert [s["codec_type"] for s in streams] == ["audio"] and streams[0]["codec_name"] == expected
    assert item.VideoStreamSet == [] and (item.Width, item.Height) == (0, 0)


@pytest.mark.parametrize(
    ("container", "video", "audio", "codec"),
    [("mp4", "h265", "aac", "hevc"), ("webm", "vp9", "opus", "vp9")],
)
def test_other_video_codecs(
    clip: ClipFactory, transcode: Transcode, container: str, video: str, audio: str, codec: str
) -> None:
    item, root = transcode(
        clip(duration=1), template(container, video={"Codec": video, "Height": 180}, audio={"Codec": audio})
    )
    stream = video_stream(local(root, item))
    assert stream["codec_name"] == codec
    if video == "h265":
        assert stream["codec_tag_string"] == "hvc1"


def test_trim_start_1_end_3_gives_two_seconds(sample_clip: Path, transcode: Transcode) -> None:
    item, root = transcode(sample_clip, template(), start=1, end=3)
    assert duration_of(local(root, item)) == pytest.approx(2.0, abs=0.1)
    assert item.Duration == pytest.approx(2.0, abs=0.1)


def test_negative_offsets_count_from_the_end(sample_clip: Path, transcode: Transcode) -> None:
    item, root = transcode(sample_clip, template(), start=-1.5)
    assert duration_of(local(root, item)) == pytest.approx(1.5, abs=0.1)


def test_fps_10(sample_clip: Path, transcode: Transcode) -> None:
    item, root = transcode(sample_clip, template(video={"Fps": 10}))
    assert frame_count(local(root, item)) == pytest.approx(40, abs=2)
    assert item.VideoStreamSet[0].Fps == 10


def test_source_without_audio_gives_output_without_audio(clip: ClipFactory, transcode: Transcode) -> None:
    item, root = transcode(clip(duration=1, audio=False), template())
    assert not has_audio(local(root, item)) and item.AudioStreamSet == []


def test_source_without_video_gives_audio_only_mp4(clip: ClipFactory, transcode: Transcode) -> None:
    item, root = transcode(clip(duration=1, video=False), template())
    assert [s["codec_type"] for s in ffprobe(local(root, item))["streams"]] == ["audio"]
