"""Run adaptive streaming ladders on tiny clips and read what they wrote (shared by the ladder tests)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

from mps.media.naming import Namer
from mps.media.specs import AdaptiveSpec, Subtask, WatermarkSpec
from mps.models.results import AdaptiveDynamicStreamingInfoItem
from mps.models.tasks import AdaptiveDynamicStreamingTaskInput
from mps.models.templates import AdaptiveDynamicStreamingTemplate
from mps.runner.ffmpeg import FfmpegRunner
from mps.workflow.context import OperationContext
from mps.workflow.operations.adaptive import run_adaptive

RUNNER = FfmpegRunner(default_timeout=120)


def stream(height: int, kbps: int, *, audio_kbps: int = 64, **video: Any) -> dict[str, Any]:
    """One StreamInfos entry: H.264 at ``height`` (short side) and ``kbps``, 1 s segments, AAC."""
    return {
        "Video": {"Codec": "h264", "Height": height, "Bitrate": kbps, "HlsTime": 1, **video},
        "Audio": {"Codec": "aac", "Bitrate": audio_kbps, "SampleRate": 44100},
    }


def ladder_template(
    fmt: str = "HLS", streams: list[dict[str, Any]] | None = None, **top: Any
) -> AdaptiveDynamicStreamingTemplate:
    """A 360/240/144 ladder (600/300/150 kbps) unless ``streams`` says otherwise."""
    body = {"Definition": 1001, "Format": fmt, **top}
    body["StreamInfos"] = streams or [stream(360, 600), stream(240, 300), stream(144, 150)]
    return AdaptiveDynamicStreamingTemplate.model_validate(body)


def run_ladder(
    source: Path,
    template: AdaptiveDynamicStreamingTemplate,
    out_root: Path,
    *,
    watermarks: tuple[WatermarkSpec, ...] = (),
    output_dir: str = "/out/",
    **request: Any,
) -> tuple[AdaptiveDynamicStreamingInfoItem, Path]:
    """Run one ladder; returns the result item and the local manifest."""
    work = out_root.parent / f"{out_root.name}-work"
    work.mkdir(parents=True, exist_ok=True)
    ctx = OperationContext(
        runner=RUNNER,
        meta=RUNNER.probe(source),
        source=str(source),
        out_root=out_root,
        namer=Namer(source.name, output_dir, template.Definition),
        workdir=work,
    )
    spec = AdaptiveSpec(template.Definition, template, watermarks, x264_preset="ultrafast")
    task = AdaptiveDynamicStreamingTaskInput(Definition=template.Definition, **request)
    item = run_adaptive(Subtask(0, "AdaptiveDynamicStreaming", spec, task), ctx)
    return item, out_root / item.Path.lstrip("/")


def master_variants(master: Path) -> list[tuple[dict[str, str], str]]:
    """``(attributes, uri)`` of every EXT-X-STREAM-INF of a master playlist."""
    lines = master.read_text().splitlines()
    return [
        (attributes(line), lines[i + 1])
        for i, line in enumerate(lines)
        if line.startswith("#EXT-X-STREAM-INF:")
    ]


def attributes(line: str) -> dict[str, str]:
    """The attribute list of one playlist tag, quotes removed."""
    body = line.split(":", 1)[1]
    return {k: v.strip('"') for k, v in re.findall(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)', body)}


def keyframe_times(path: Path) -> list[float]:
    """Presentation times of the key frames of a media file's video."""
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "frame=pts_time,key_frame",
            "-of",
            "json",
            str(path),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    return [float(f["pts_time"]) for f in json.loads(out)["frames"] if f.get("key_frame") == 1]


def run_ladder_chunked(
    source: Path,
    template: AdaptiveDynamicStreamingTemplate,
    out_root: Path,
    *,
    segment_seconds: float,
) -> tuple[AdaptiveDynamicStreamingInfoItem, Path, int]:
    """Run one ladder as chunked workers would (:mod:`mps.worker.chunked`): plan the chunks on its
    segment grid, encode each chunk and the audio apart, package them; the result item, the local
    manifest and how many chunks there were."""
    from mps.runner.packets import video_packets
    from mps.worker.chunked import CHUNKED, Fetched
    from mps.workflow.chunks import chunk_jobs

    chunked = CHUNKED["AdaptiveDynamicStreaming"]
    meta = RUNNER.probe(source)
    spec = AdaptiveSpec(template.Definition, template, (), x264_preset="ultrafast")
    assert (
        chunked.refusal(spec, AdaptiveDynamicStreamingTaskInput(Definition=template.Definition), meta) is None
    )
    chunks, audio = chunked.plan(spec, meta, video_packets(source), segment_seconds)
    work = out_root.parent / f"{out_root.name}-chunks"
    videos: list[dict[str, Path]] = []
    audio_files: dict[str, Path] = {}
    for job in chunk_jobs(0, 1, chunks, audio):
        folder = work / job.name
        folder.mkdir(parents=True)
        command = chunked.command(spec, meta, str(source), job, folder, RUNNER.encoders())
        RUNNER.run(command)
        files = {path.name: path for path in command.outputs}
        if job.chunk is None:
            audio_files = files
        else:
            videos.append(files)
    fetched = Fetched(work, tuple(videos), audio_files, sum(c.frames for c in chunks), ())
    ctx = OperationContext(
        runner=RUNNER,
        meta=meta,
        source=str(source),
        out_root=out_root,
        namer=Namer(source.name, "/out/", template.Definition),
        workdir=work,
    )
    task = AdaptiveDynamicStreamingTaskInput(Definition=template.Definition)
    operation = chunked.operation(fetched, meta)
    item = operation(Subtask(0, "AdaptiveDynamicStreaming", spec, task), ctx)
    assert isinstance(item, AdaptiveDynamicStreamingInfoItem)
    return item, out_root / item.Path.lstrip("/"), len(chunks)
