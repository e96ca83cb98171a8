"""Several transcodes from one decode: the source is read and decoded once, ``split`` into every output.

Each output keeps the filters, encoder and container options of its own
:func:`~mps.media.ops.transcode.build_transcode` (both are built by
:func:`~mps.media.ops.transcode.transcode_branch`), so a fused run writes the same files as
separate runs, for the cost of one decode instead of one per output. The scaling is shared too
(:class:`~mps.media.frames.SharedFrames`): outputs of one size are scaled once, and a smaller
rung is scaled from a larger one (1080p -> 720p -> 360p) instead of from the source.

Only whole-timeline transcodes are fused: a Start/EndTimeOffset trims with an input-side seek,
which the other outputs cannot share. Low-rate picture branches (sampled shots, sprite tiles) are
deliberately kept out of this ``split`` (see :mod:`mps.media.plan`).
"""

from __future__ import annotations

from collections.abc import Sequence, Set
from dataclasses import dataclass
from pathlib import Path

from mps.errors import MpsError
from mps.media.command import Command, input_args
from mps.media.filters import FilterGraph
from mps.media.frames import DirectFrames, SharedFrames
from mps.media.geometry import Size
from mps.media.ops.transcode import frame_request, transcode_branch, trim_window
from mps.media.specs import TranscodeSpec
from mps.models.metadata import MediaMetaData


@dataclass(frozen=True)
class FusedOutput:
    """One transcode of a fused run: its spec, main output file and (HLS) segment pattern."""

    spec: TranscodeSpec
    output: Path
    segment_pattern: Path | None = None
    font_file: str | None = None


def fusable(spec: TranscodeSpec, meta: MediaMetaData) -> bool:
    """Whether ``spec`` reads the whole timeline (no trim), so it can share a decode."""
    try:
        return trim_window(spec.start, spec.end, meta.media_duration) == (0.0, None)
    except MpsError:
        return False  # a bad window fails in its own run, with its own error


def build_fused_transcodes(
    outputs: Sequence[FusedOutput], meta: MediaMetaData, source: str, *, encoders: Set[str]
) -> Command:
    """One ffmpeg command writing every transcode of ``outputs`` from a single decode.

    Parameters:
        outputs: whole-timeline transcodes (see :func:`fusable`), in the order to write them.
        meta: the probe of the source.
        source: what ffmpeg opens (local path or http(s) URL).
        encoders: the encoders this ffmpeg has.

    Returns:
        The command; its ``duration`` is the longest output's, for progress.

    Raises:
        ValueError: ``outputs`` is empty.
        InvalidParameterError, SourceError: as :func:`~mps.media.ops.transcode.build_transcode`
            for any one output (build each alone first to know which one).
    """
    if not outputs:
        raise ValueError("a fused run needs at least one output")
    graph = FilterGraph()
    requests = [frame_request(item.spec, meta) for item in outputs]
    wanted = [request for request in requests if request is not None]
    source_size = Size(meta.display_width, meta.display_height)
    frames = SharedFrames(graph, "[0:v:0]", wanted, source_size) if wanted else DirectFrames(graph, "[0:v:0]")
    inputs: list[str] = []
    tails: list[str] = []
    durations: list[float] = []
    for number, item in enumerate(outputs):
        branch = transcode_branch(
            item.spec, meta, item.output, frames, first_input=1 + _image_count(inputs),
            encoders=encoders, segment_pattern=item.segment_pattern, font_file=item.font_file,
            vout=f"[vout{number}]",
        )  # fmt: skip
        inputs += branch.inputs
        tails += branch.output
        durations.append(branch.duration)
    argv = [*input_args(source), *inputs]
    if graph.chains:
        argv += ["-filter_complex", graph.render()]
    return Command(argv=argv + tails, duration=max(durations), outputs=[o.output for o in outputs])


def _image_count(inputs: Sequence[str]) -> int:
    """How many inputs an argv fragment opens (each has one ``-i``)."""
    return sum(1 for arg in inputs if arg == "-i")
