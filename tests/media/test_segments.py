"""Segment-parallel transcodes with the real ffmpeg: a 6 s clip cut into 1.5 s chunks, joined."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from mps.media.ops.transcode import build_transcode
from mps.media.specs import TranscodeSpec
from mps.models.templates import RawTranscodeParameter
from mps.runner.ffmpeg import FfmpegRunner
from mps.runner.packets import video_packets
from mps.workflow.segments import ChunkedOutput, run_chunked
from tests.conftest import ClipFactory

RUNNER = FfmpegRunner()
FPS = 25
FRAME = 1 / FPS
FIELDS = ("pts_time", "dts_time", "duration_time", "flags")


def packets(path: Path, stream: str) -> list[dict[str, Any]]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", stream, "-show_entries",
         "packet=pts_time,dts_time,duration_time,flags", "-of", "json", str(path)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return [
        {k: v if k == "flags" else float(v) for k, v in p.items() if k in FIELDS}
        for p in json.loads(out)["packets"]
    ]


def top_level_boxes(path: Path) -> list[str]:
    data, boxes, at = path.read_bytes(), [], 0
    while at + 8 <= len(data):
        size = int.from_bytes(data[at : at + 4], "big")
        boxes.append(data[at + 4 : at + 8].decode("latin-1"))
        at += size if size else len(data)
    return boxes


@pytest.fixture(scope="module")
def joined(clip: ClipFactory, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ChunkedOutput, Path]:
    source = clip(duration=6.0, gop=10)  # keyframes every 0.4 s
    params = RawTranscodeParameter.model_validate({
        "Container": "mp4",
        "VideoTemplate": {"Codec": "h264", "Bitrate": 600, "Gop": 50},
        "AudioTemplate": {"Codec": "aac", "Bitrate": 64, "SampleRate": 48000},
    })  # fmt: skip
    spec = TranscodeSpec(1, params)
    work = tmp_path_factory.mktemp("segments")
    meta = RUNNER.probe(source)
    result = run_chunked(
        RUNNER, spec, meta, str(source), work / "out.mp4", work / "chunks",
        packets=video_packets(source), segment_seconds=1.5, parallel=2,
    )  # fmt: skip
    single = work / "single.mp4"
    RUNNER.run(build_transcode(spec, meta, str(source), single, encoders=RUNNER.encoders()))
    return source, result, single


def test_it_was_chunked_at_source_keyframes(joined: tuple[Path, ChunkedOutput, Path]) -> None:
    _, result, _ = joined
    assert [c.start for c in result.chunks] == pytest.approx([0.0, 1.6, 3.2, 4.8])


def test_one_video_stream_with_every_frame_and_continuous_timestamps(
    joined: tuple[Path, ChunkedOutput, Path],
) -> None:
    source, result, single = joined
    video = packets(result.path, "v:0")
    assert len(video) == len(packets(source, "v:0")) == len(packets(single, "v:0")) == 150
    pts = sorted(p["pts_time"] for p in video)
    assert pts == pytest.approx([n * FRAME for n in range(150)], abs=1e-3)
    dts = [p["dts_time"] for p in video]
    assert all(a < b for a, b in zip(dts, dts[1:], strict=False))
    keyframes = {round(p["pts_time"], 3) for p in video if "K" in p["flags"]}
    assert {c.start for c in result.chunks} <= keyframes  # every join opens on a keyframe


def test_duration_within_one_frame_and_audio_without_gaps(joined: tuple[Path, ChunkedOutput, Path]) -> None:
    source, result, single = joined
    video = packets(result.path, "v:0")
    end = max(p["pts_time"] + p["duration_time"] for p in video)
    assert end == pytest.approx(6.0, abs=FRAME)
    audio = packets(result.path, "a:0")
    assert audio, "the joined output has audio"
    for before, after in zip(audio, audio[1:], strict=False):  # sample-contiguous: no gap anywhere
        assert after["pts_time"] == pytest.approx(before["pts_time"] + before["duration_time"], abs=1e-4)
    audio_end = audio[-1]["pts_time"] + audio[-1]["duration_time"]
    assert audio_end == pytest.approx(6.0, abs=0.025)  # within one AAC frame
    # The audio is the single-worker encode's, packet for packet (A/V offset 0 at every join).
    assert [p["pts_time"] for p in audio] == [p["pts_time"] for p in packets(single, "a:0")]


def test_one_moov_and_the_reported_size_and_md5_are_the_file(
    joined: tuple[Path, ChunkedOutput, Path],
) -> None:
    _, result, _ = joined
    boxes = top_level_boxes(result.path)
    assert boxes.count("moov") == 1 and boxes.index("moov") < boxes.index("mdat")  # faststart
    data = result.path.read_bytes()
    assert result.size == len(data)
    assert result.md5 == hashlib.md5(data, usedforsecurity=False).hexdigest()
    assert not list((result.path.parent / "chunks").glob("chunk*"))  # scratch cleaned up


def frame_psnr(path: Path, reference: Path) -> list[float]:
    """The PSNR (dB, luma and chroma) of every frame of ``path`` against the same frame of ``reference``."""
    log = path.with_suffix(".psnr.log")
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-i", str(reference),
         "-lavfi", f"[0:v][1:v]psnr=stats_file={log}", "-f", "null", "-"],
        check=True,
    )  # fmt: skip
    values = []
    for line in log.read_text().splitlines():
        field = next(f for f in line.split() if f.startswith("psnr_avg:"))
        values.append(min(float(field.split(":")[1]), 99.0))
    return values


def test_no_visible_seam_at_the_joins(joined: tuple[Path, ChunkedOutput, Path]) -> None:
    # Every frame of the joined output looks like the same frame of the single encode: a doubled,
    # dropped or shifted frame at a join would fall to ~15 dB on this moving test pattern.
    source, result, single = joined
    chunked, whole = frame_psnr(result.path, source), frame_psnr(single, source)
    assert len(chunked) == len(whole) == 150
    joins = [round(c.start * FPS) for c in result.chunks[1:]]
    for frame in [j + d for j in joins for d in (-1, 0, 1)]:
        assert chunked[frame] >= whole[frame] - 3.0, f"frame {frame} at a join"
    assert min(chunked) >= 30.0
