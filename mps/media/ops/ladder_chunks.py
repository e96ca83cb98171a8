"""Chunked adaptive streaming: a ladder's rungs encoded chunk by chunk, then packaged whole (pure).

The counterpart of :mod:`mps.media.ops.segments` for ladders (:mod:`mps.media.ops.ladder`):

Chunks on the segment grid
    Every rung has a keyframe at every multiple of the segment length and the muxers cut segments
    there, so a chunk must start on that grid: chunks are whole numbers of segments
    (:func:`plan_grid_chunks`), each starting at the first source frame at or after its grid
    instant. A chunk's rungs then get their forced keyframes at the same instants as in one
    encode of the whole input (the keyframe expression counts from the chunk's start).
One decode per chunk
    A chunk encodes every rung from one decode of its slice (the same shared scaling as the
    whole ladder), each rung into a video-only MP4 of exactly the chunk's frames (``-frames:v``).
Audio once
    Each audio rendition is encoded once over the whole input, as for chunked transcodes.
Packaging
    Each rung's chunks are laid end to end by the concat demuxer and, with the audio files, copied
    (``-c copy``) into the very muxers (HLS per sub-stream, or DASH) the whole-input command uses:
    same segment length, same cuts, same manifests. Nothing is encoded twice.

Eligible ladders (:func:`ladder_chunkable`): video rungs at the source's frame rate, no watermark.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from pathlib import Path

from mps.media.command import Command, input_args
from mps.media.ops.ladder import (
    Ladder,
    LadderFiles,
    audio_args,
    dash_muxer,
    hls_muxer,
    rung_frames,
    rung_video_args,
)
from mps.media.ops.segments import Chunk, seek_point
from mps.media.specs import AdaptiveSpec
from mps.models.metadata import MediaMetaData

__all__ = [
    "audio_file",
    "ladder_audio_command",
    "ladder_chunk_command",
    "ladder_chunkable",
    "ladder_package_command",
    "plan_grid_chunks",
    "rung_file",
]

#: How far a rung's frame rate may be from the source's and still count as the same (frames map 1:1).
_FPS_SLACK = 0.01


def plan_grid_chunks(
    packets: Sequence[tuple[float, bool]], segment_seconds: float, grid: float
) -> list[Chunk]:
    """Cut the frames into chunks of a whole number of ``grid`` seconds, about ``segment_seconds``
    long each, each starting at the first frame at or after its instant on the grid (a frame that
    need not be a source keyframe: the chunk's seek decodes from the keyframe before it).

    A last chunk shorter than half a chunk is folded into the one before.

    Parameters:
        packets: every video packet, as :func:`~mps.media.ops.segments.parse_packets` returns them.
        segment_seconds: the wanted chunk length (``MPS_SEGMENT_SECONDS``), > 0.
        grid: the ladder's segment length.
    """
    if segment_seconds <= 0 or grid <= 0:
        raise ValueError("segment_seconds and grid must be positive")
    if not packets:
        return []
    length = grid * max(1, round(segment_seconds / grid))
    origin, end = packets[0][0], packets[-1][0]
    starts = [0]
    next_cut = origin + length
    for position, (pts, _) in enumerate(packets):
        if position and pts >= next_cut - 1e-6:
            starts.append(position)
            next_cut += length
    if len(starts) > 1 and end - packets[starts[-1]][0] < length / 2:
        starts.pop()
    bounds = [*starts, len(packets)]
    return [
        Chunk(index=i, start=packets[a][0] - origin, first=a, frames=b - a)
        for i, (a, b) in enumerate(zip(bounds, bounds[1:], strict=False))
    ]


def ladder_chunkable(spec: AdaptiveSpec, ladder: Ladder, meta: MediaMetaData) -> str | None:
    """Why the ladder cannot be made chunk by chunk, or None when it can."""
    if not ladder.rungs:
        return "no video rungs"
    if spec.watermarks:
        return "watermarks"
    if not meta.fps or any(abs(rung.fps - meta.fps) > _FPS_SLACK for rung in ladder.rungs):
        return "frame rate changed"
    return None


def rung_file(directory: Path, number: int) -> Path:
    """Where a chunk's rung ``number`` is written."""
    return directory / f"rung{number}.mp4"


def audio_file(directory: Path, index: int) -> Path:
    """Where audio rendition ``index`` is written."""
    return directory / f"audio{index}.mp4"


def ladder_chunk_command(
    spec: AdaptiveSpec,
    ladder: Ladder,
    meta: MediaMetaData,
    source: str,
    chunk: Chunk,
    directory: Path,
    *,
    encoders: Set[str],
) -> Command:
    """Every rung of one chunk from one decode of its slice, each into :func:`rung_file`."""
    graph, _ = rung_frames(spec, ladder, meta, None)
    argv = [*input_args(source, seek=seek_point(chunk)), "-filter_complex", graph.render()]
    outputs = []
    for rung in ladder.rungs:
        output = rung_file(directory, rung.number)
        video = rung_video_args(rung, ladder, spec.x264_preset, encoders, "v:0")
        argv += ["-map", f"[rung{rung.number}]", *video,
                 "-an", "-frames:v", str(chunk.frames), "-f", "mp4", str(output)]  # fmt: skip
        outputs.append(output)
    return Command(argv=argv, duration=chunk.frames / meta.fps, outputs=outputs)


def ladder_audio_command(
    ladder: Ladder, meta: MediaMetaData, source: str, directory: Path, *, encoders: Set[str]
) -> Command | None:
    """Every audio rendition over the whole input, each into :func:`audio_file` (None: no audio)."""
    if not ladder.audios:
        return None
    argv = [*input_args(source)]
    outputs = []
    for index, audio in enumerate(ladder.audios):
        output = audio_file(directory, index)
        argv += ["-map", "0:a:0", *audio_args(audio, meta, encoders, "a:0"), "-vn", "-f", "mp4", str(output)]
        outputs.append(output)
    return Command(argv=argv, duration=meta.media_duration, outputs=outputs)


def ladder_package_command(
    ladder: Ladder,
    rung_lists: Mapping[int, Path],
    audios: Sequence[Path],
    files: LadderFiles,
    duration: float,
) -> Command:
    """The ladder's muxers fed by copies: each rung's chunks (concat lists, by rung number) and the
    audio files, written to ``files`` exactly as :func:`~mps.media.ops.ladder.build_ladder` would.

    The lists are ours (written by the join step), never an input's: ``-safe 0`` is allowed here.
    """
    argv: list[str] = []
    for rung in ladder.rungs:
        argv += ["-f", "concat", "-safe", "0", "-i", str(rung_lists[rung.number])]
    for path in audios:
        argv += ["-i", str(path)]
    first_audio = len(ladder.rungs)
    if ladder.package == "MPEG-DASH":
        argv += [arg for i in range(first_audio) for arg in ("-map", f"{i}:v:0")]
        argv += [arg for j in range(len(audios)) for arg in ("-map", f"{first_audio + j}:a:0")]
        argv += ["-c", "copy", *dash_muxer(ladder, files)]
        written = [files.mpd]
    else:
        for i, rung in enumerate(ladder.rungs):
            argv += ["-map", f"{i}:v:0", "-c:v", "copy", "-an", *hls_muxer(ladder, files, rung.number)]
        for j in range(len(audios)):
            number = ladder.audio_number(j)
            argv += [
                "-map",
                f"{first_audio + j}:a:0",
                "-c:a",
                "copy",
                "-vn",
                *hls_muxer(ladder, files, number),
            ]
        numbers = [*(r.number for r in ladder.rungs), *(ladder.audio_number(j) for j in range(len(audios)))]
        written = [files.playlist(n) for n in numbers]
    return Command(argv=argv, duration=duration, outputs=written)
