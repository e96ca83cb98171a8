"""Chunk planning of segment-parallel transcodes: cuts at keyframes, every frame once (no ffmpeg)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mps.media.ops.segments import (
    chunk_command,
    chunkable,
    concat_list,
    join_command,
    parse_packets,
    plan_chunks,
)
from mps.media.specs import TranscodeSpec
from tests.unit.test_transcode_args import ALL_ENCODERS, meta, params


def packets(seconds: float, fps: int = 25, gop: int = 25) -> list[tuple[float, bool]]:
    return [(n / fps, n % gop == 0) for n in range(round(seconds * fps))]


def test_cuts_at_the_first_keyframe_past_each_segment() -> None:
    chunks = plan_chunks(packets(10, gop=30), 2.0)  # keyframes every 1.2 s
    assert [c.start for c in chunks] == pytest.approx([0.0, 2.4, 4.8, 7.2])
    assert all(packets(10, gop=30)[c.first][1] for c in chunks)


def test_every_frame_is_in_exactly_one_chunk() -> None:
    source = packets(9.96)
    chunks = plan_chunks(source, 3.0)
    assert sum(c.frames for c in chunks) == len(source)
    for before, after in zip(chunks, chunks[1:], strict=False):
        assert before.first + before.frames == after.first


def test_a_short_tail_is_folded_into_the_chunk_before() -> None:
    chunks = plan_chunks(packets(7.2), 3.0)  # the tail 6.0..7.2 is under half a segment
    assert [c.start for c in chunks] == [0.0, 3.0]
    assert chunks[-1].frames == 105


def test_short_input_is_one_chunk_and_offsets_count_from_the_first_packet() -> None:
    shifted = [(t + 1.5, k) for t, k in packets(2)]
    assert [(c.start, c.frames) for c in plan_chunks(shifted, 10.0)] == [(0.0, 50)]
    assert plan_chunks([], 1.0) == []
    with pytest.raises(ValueError):
        plan_chunks(packets(1), 0)


def test_parse_packets_sorts_by_presentation_and_skips_unknown_times() -> None:
    text = "0.000000,K_\n0.080000,__\n0.040000,__\nN/A,__\n\n0.120000,K_\n"
    assert parse_packets(text) == [(0.0, True), (0.04, False), (0.08, False), (0.12, True)]


def test_what_can_be_chunked() -> None:
    m = meta()
    assert chunkable(TranscodeSpec(1, params()), m) is None
    assert chunkable(TranscodeSpec(1, params("flv")), m) == "container flv"
    assert chunkable(TranscodeSpec(1, params(video={"Codec": "h265"})), m) == "codec h265"
    assert chunkable(TranscodeSpec(1, params(), start=1.0), m) == "trimmed"
    assert chunkable(TranscodeSpec(1, params(video={"Fps": 10})), m) == "frame rate changed"


def test_a_chunk_is_the_single_worker_command_sought_and_counted() -> None:
    chunk = plan_chunks(packets(4), 2.0)[1]
    command = chunk_command(TranscodeSpec(1, params(video={"Gop": 50})), meta(), "/in.mp4", chunk,
                            Path("/w/c.mp4"), encoders=ALL_ENCODERS)  # fmt: skip
    argv = command.argv
    assert argv[argv.index("-ss") + 1] == "2"
    assert argv[argv.index("-frames:v") + 1] == "50"
    assert argv[argv.index("-force_key_frames") + 1] == "0"
    assert argv[argv.index("-g") + 1] == "50"
    assert "-an" in argv and argv[-1] == "/w/c.mp4"
    assert command.duration == pytest.approx(2.0)


def test_join_copies_and_lists_quoted_paths() -> None:
    listing = concat_list([Path("/w/it's.mp4"), Path("/w/b.mp4")])
    assert listing == "file '/w/it'\\''s.mp4'\nfile '/w/b.mp4'\n"
    argv = join_command(Path("/w/l.txt"), Path("/w/a.mp4"), Path("/w/o.mp4"), 4.0).argv
    assert argv[argv.index("-c") + 1] == "copy"
    assert ["-map", "0:v:0", "-map", "1:a:0"] == argv[argv.index("-map") : argv.index("-map") + 4]
