"""Segment-parallel transcodes: the steps (plan, chunk, audio, join) and a local run of them.

The media side (where chunks are cut, each step's argv, why audio is encoded once) is
:mod:`mps.media.ops.segments`. Each step here is self-contained (its inputs are the source, the
spec and files of earlier steps), so a step can run on any worker: :func:`run_chunked` runs them
on one machine with ``parallel`` chunk encodes at once, which is what tests and the benchmark use;
the service's distribution of chunks over workers (work messages, the join as the Followup of the
last chunk's commit) is designed in ``bench/SEGMENTS.md`` (not built yet).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from mps.media.ops.segments import (
    Chunk,
    audio_command,
    chunk_command,
    concat_list,
    join_command,
    plan_chunks,
)
from mps.media.specs import TranscodeSpec
from mps.models.metadata import MediaMetaData
from mps.runner import Runner

__all__ = ["ChunkedOutput", "chunk_path", "encode_audio", "encode_chunk", "join_chunks", "run_chunked"]


@dataclass(frozen=True)
class ChunkedOutput:
    """The joined file and what a result entry reports of it."""

    path: Path
    chunks: tuple[Chunk, ...]
    size: int
    md5: str


def chunk_path(workdir: Path, chunk: Chunk) -> Path:
    """Where chunk ``chunk`` is written (and where the join reads it)."""
    return workdir / f"chunk{chunk.index:05d}.mp4"


def encode_chunk(
    runner: Runner, spec: TranscodeSpec, meta: MediaMetaData, source: str, chunk: Chunk, workdir: Path
) -> Path:
    """Encode one chunk (video only) into ``workdir``; its path."""
    output = chunk_path(workdir, chunk)
    runner.run(chunk_command(spec, meta, source, chunk, output, encoders=runner.encoders()))
    return output


def encode_audio(
    runner: Runner, spec: TranscodeSpec, meta: MediaMetaData, source: str, workdir: Path
) -> Path | None:
    """Encode the whole input's audio once (None: the output has none)."""
    output = workdir / "audio.mp4"
    command = audio_command(spec, meta, source, output, encoders=runner.encoders())
    if command is None:
        return None
    runner.run(command)
    return output


def join_chunks(
    runner: Runner, chunks: Sequence[Path], audio: Path | None, output: Path, duration: float
) -> ChunkedOutput:
    """Lay the chunks end to end without re-encoding, mux the audio in; the file's Size and Md5."""
    listing = output.with_name(output.name + ".concat.txt")
    listing.write_text(concat_list(chunks), encoding="utf-8")
    try:
        runner.run(join_command(listing, audio, output, duration))
    finally:
        listing.unlink(missing_ok=True)
    digest = hashlib.md5(usedforsecurity=False)
    with output.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return ChunkedOutput(path=output, chunks=(), size=output.stat().st_size, md5=digest.hexdigest())


def run_chunked(
    runner: Runner,
    spec: TranscodeSpec,
    meta: MediaMetaData,
    source: str,
    output: Path,
    workdir: Path,
    *,
    packets: Sequence[tuple[float, bool]],
    segment_seconds: float,
    parallel: int = 1,
    on_chunk: Callable[[Chunk], None] | None = None,
) -> ChunkedOutput:
    """Plan, encode the chunks ``parallel`` at a time (the audio alongside), and join them."""
    workdir.mkdir(parents=True, exist_ok=True)
    chunks = plan_chunks(packets, segment_seconds)

    def one(chunk: Chunk) -> Path:
        path = encode_chunk(runner, spec, meta, source, chunk, workdir)
        if on_chunk is not None:
            on_chunk(chunk)
        return path

    with ThreadPoolExecutor(max_workers=max(1, parallel) + 1) as pool:
        audio = pool.submit(encode_audio, runner, spec, meta, source, workdir)
        paths = list(pool.map(one, chunks))
        audio_path = audio.result()
    frames = sum(chunk.frames for chunk in chunks)
    duration = frames / meta.fps if meta.fps else meta.media_duration
    joined = join_chunks(runner, paths, audio_path, output, duration)
    for path in paths:
        path.unlink(missing_ok=True)
    if audio_path is not None:
        audio_path.unlink(missing_ok=True)
    return ChunkedOutput(path=joined.path, chunks=tuple(chunks), size=joined.size, md5=joined.md5)
