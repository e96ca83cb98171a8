"""Segment-parallel transcodes: cut a long input at its keyframes, encode the chunks apart, join.

Pure (no I/O): the chunk plan and the ffmpeg argv of every step. What runs them, where, is the
workflow's business (:mod:`mps.workflow.segments`).

How a chunked transcode is made, and why
    Chunks
        Boundaries are the source's own keyframes (ffprobe packet flags), the first one at or after
        every ``segment_seconds`` of source time, so an input-side seek (``-ss`` before ``-i``)
        lands exactly on a chunk's first frame and decodes nothing twice. A chunk is encoded with
        ``-frames:v N``, N being the source frames between its keyframe and the next chunk's: the
        chunks hold exactly the source's frames, none doubled or lost at a join (a ``-t`` cut on a
        float boundary can keep or drop the frame that sits on it).
    Same settings
        Every chunk is the single-worker command itself (:func:`build_transcode`, same template,
        same ``-g``, same rate control: a bitrate target is per chunk, so the chunks add up to it),
        without audio, plus ``-force_key_frames 0`` so each chunk opens on an IDR whatever the
        encoder decides. x264's GOPs are closed: no frame of a chunk refers to another chunk.
    Join
        The concat demuxer with ``-c copy``: no re-encode, one ``moov`` (``+faststart``), the
        chunks' timestamps laid end to end (each chunk starts at 0 and lasts N frames).
    Audio
        Encoded once, over the whole input, as its own step (:func:`audio_command`, the template's
        audio settings, video removed), and muxed in by the join. Per-chunk audio would put an AAC
        priming delay and a partly filled last frame at every join (a 21 ms click or gap per join at
        48 kHz unless trimmed sample-exact with edit lists the concat demuxer does not honour);
        audio costs a few per cent of a video encode, so doing it once costs nothing worth
        parallelising, and the A/V sync at every join is the video's timestamps, which are exact.

Eligible transcodes (:func:`chunkable`): MP4 with H.264 video at the source's frame rate, no
watermark, no trim. Everything else runs on one worker as before.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence, Set
from dataclasses import dataclass
from pathlib import Path

from mps.media.command import Command
from mps.media.ops.transcode import build_transcode, output_fps
from mps.media.specs import TranscodeSpec
from mps.models.metadata import MediaMetaData

__all__ = [
    "Chunk",
    "audio_command",
    "chunk_command",
    "chunkable",
    "concat_list",
    "join_command",
    "parse_packets",
    "plan_chunks",
    "seek_point",
]

#: Video codecs a chunked transcode can join with ``-c copy`` (identical SPS/PPS per chunk).
CHUNKABLE_CODECS = ("h264", "libx264")


@dataclass(frozen=True)
class Chunk:
    """One chunk: source frames ``first`` .. ``first + frames - 1``, starting at ``start`` seconds
    (a keyframe of the source)."""

    index: int
    start: float
    first: int
    frames: int


def parse_packets(text: str) -> list[tuple[float, bool]]:
    """``(pts seconds, is keyframe)`` of every packet in ffprobe's output, in presentation order."""
    packets: list[tuple[float, bool]] = []
    for line in text.splitlines():
        fields = line.strip().split(",")
        if len(fields) < 2 or fields[0] in ("", "N/A"):
            continue
        packets.append((float(fields[0]), "K" in fields[1]))
    packets.sort(key=lambda packet: packet[0])
    return packets


def plan_chunks(packets: Sequence[tuple[float, bool]], segment_seconds: float) -> list[Chunk]:
    """Cut the frames at the first keyframe at or after every ``segment_seconds`` of source time.

    A last chunk shorter than half a segment is folded into the one before (a tiny tail costs a
    worker's start-up for nothing). One chunk (no cut) when the input is not long enough.

    Parameters:
        packets: the video packets as :func:`parse_packets` returns them.
        segment_seconds: the wanted chunk length (``MPS_SEGMENT_SECONDS``), > 0.
    """
    if segment_seconds <= 0:
        raise ValueError("segment_seconds must be positive")
    if not packets:
        return []
    origin = packets[0][0]
    end = packets[-1][0]
    starts = [0]
    next_cut = origin + segment_seconds
    for position, (pts, key) in enumerate(packets):
        if position and key and pts >= next_cut - 1e-6:
            starts.append(position)
            next_cut = pts + segment_seconds
    if len(starts) > 1 and end - packets[starts[-1]][0] < segment_seconds / 2:
        starts.pop()
    bounds = [*starts, len(packets)]
    return [
        Chunk(index=i, start=packets[a][0] - origin, first=a, frames=b - a)
        for i, (a, b) in enumerate(zip(bounds, bounds[1:], strict=False))
    ]


def seek_point(chunk: Chunk) -> float | None:
    """Where a chunk's input-side seek goes: its first frame's time rounded *down* to the
    millisecond (ffmpeg's command line carries milliseconds), so that frame is kept, never dropped
    as "before the seek", whatever the frame rate. None for the first chunk (no seek)."""
    return math.floor(chunk.start * 1000) / 1000 or None


def chunkable(spec: TranscodeSpec, meta: MediaMetaData) -> str | None:
    """Why ``spec`` cannot be chunked, or None when it can (see the module docstring)."""
    params = spec.params
    video = params.VideoTemplate
    if params.Container != "mp4":
        return f"container {params.Container}"
    if params.RemoveVideo or video is None or not meta.has_video:
        return "no video"
    if (video.Codec or "").lower() not in CHUNKABLE_CODECS:
        return f"codec {video.Codec}"
    if spec.watermarks:
        return "watermarks"
    if spec.start or spec.end:
        return "trimmed"
    if output_fps(video, meta)[0] is not None:
        return "frame rate changed"
    return None


def chunk_command(
    spec: TranscodeSpec,
    meta: MediaMetaData,
    source: str,
    chunk: Chunk,
    output: Path,
    *,
    encoders: Set[str],
) -> Command:
    """The video-only encode of one chunk: the single-worker command, sought to the chunk's
    keyframe, limited to its frames, opening on a forced keyframe."""
    params = spec.params.model_copy(update={"RemoveAudio": 1})
    chunk_spec = dataclasses.replace(spec, params=params, start=seek_point(chunk), end=None)
    command = build_transcode(chunk_spec, meta, source, output, encoders=encoders)
    argv = list(command.argv)
    duration = chunk.frames / meta.fps if meta.fps else command.duration
    argv[-1:-1] = ["-frames:v", str(chunk.frames), "-force_key_frames", "0"]
    return Command(argv=argv, duration=duration, outputs=[output])


def audio_command(
    spec: TranscodeSpec, meta: MediaMetaData, source: str, output: Path, *, encoders: Set[str]
) -> Command | None:
    """The whole input's audio, encoded once with the template's audio settings (None: no audio)."""
    if spec.params.RemoveAudio or not meta.has_audio:
        return None
    params = spec.params.model_copy(update={"RemoveVideo": 1})
    return build_transcode(
        dataclasses.replace(spec, params=params, watermarks=()), meta, source, output, encoders=encoders
    )


def concat_list(paths: Sequence[Path]) -> str:
    """The concat demuxer's list of the chunks, in order (absolute paths, quotes escaped)."""
    lines = []
    for path in paths:
        quoted = str(path.resolve()).replace("'", "'\\''")
        lines.append(f"file '{quoted}'")
    return "\n".join(lines) + "\n"


def join_command(list_file: Path, audio: Path | None, output: Path, duration: float) -> Command:
    """The chunks laid end to end (``-c copy``), the audio muxed in, one ``moov`` at the front.

    The list is ours (written by the join step), never an input's: ``-safe 0`` and the concat
    demuxer are allowed here only.
    """
    argv = ["-f", "concat", "-safe", "0", "-i", str(list_file)]
    if audio is not None:
        argv += ["-i", str(audio), "-map", "0:v:0", "-map", "1:a:0"]
    else:
        argv += ["-map", "0:v:0"]
    argv += ["-c", "copy", "-movflags", "+faststart", "-f", "mp4", str(output)]
    return Command(argv=argv, duration=duration, outputs=[output])
