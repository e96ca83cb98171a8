"""The planner: the sub-tasks one worker runs on one input -> the cheapest set of ffmpeg processes.

Pure: it reads the resolved sub-tasks and the probe, and decides; the workflow layer runs the plan.

The cost model counts **decoded source frames**, the work that grows with the input (scaling and
encoding are the same whatever the plan, so they cancel out):

- a full decode costs ``duration * fps`` frames;
- one input-side seek costs ``gop / 2 + SEEK_OVERHEAD_FRAMES`` frames: on average half a GOP is
  decoded from the keyframe before the instant, plus the cost of opening the input again;
- a picture sub-task with ``n`` instants (sampled snapshots, sprite tiles) therefore seeks when
  ``n * (gop / 2 + SEEK_OVERHEAD_FRAMES) < duration * fps``, i.e. when its interval is long
  compared with the GOP, and decodes the whole timeline otherwise. Seeking is exact (ffmpeg drops
  the frames before the instant), so both give the same pictures.

Decisions, and why:

- **Transcodes that read the whole timeline share one decode** (one process, ``split`` into every
  output): N outputs cost one decode instead of N. Trimmed transcodes keep their own seek.
- **Picture branches stay out of that split.** On ffmpeg 5.1 a ``split`` feeding both encoders and
  low-rate ``select`` branches was measured to grow in memory with the input's length (2.8 GiB for
  60 s of 1080p); a plan must not depend on the input being short. Picture sub-tasks that decode
  run in their own process.
- **Picture sub-tasks that decode share one decode** (sampled snapshots and sprite tiles, one
  ``split`` into low-rate ``select`` branches, whose memory does not grow with the input); once
  one of them decodes, the others ride along instead of seeking, which would cost more.
- **Time-point snapshots and the GIF window always seek** (they read a few frames or a few
  seconds): nothing to share with a full decode.
- When the GOP is unknown, :data:`DEFAULT_GOP_SECONDS` is assumed: long enough (x264's default
  ``keyint`` of 250 frames at 25 fps) that seeking is never chosen where it would be slower.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mps.media.ops.fused import fusable
from mps.media.specs import SampleSpec, SpriteSpec, Subtask, TranscodeSpec
from mps.media.timing import sample_times
from mps.models.metadata import MediaMetaData

#: Seconds between keyframes assumed when the input's GOP was not measured.
DEFAULT_GOP_SECONDS = 10.0
#: The cost of opening and seeking the input once more, in decoded-frame equivalents.
SEEK_OVERHEAD_FRAMES = 5.0
#: Frame rate assumed when the probe has none.
_DEFAULT_FPS = 25.0


@dataclass(frozen=True)
class Step:
    """Sub-tasks run together: ``fused`` ones by one ffmpeg process, others each by its operation."""

    indexes: tuple[int, ...]
    fused: bool = False


@dataclass(frozen=True)
class Plan:
    """How one worker runs its sub-tasks of one input.

    Attributes:
        steps: independent units of work (they may run in parallel), in sub-task order.
        seek: picture sub-tasks (sampled snapshots, sprites) whose pictures are taken by seeking.
    """

    steps: tuple[Step, ...]
    seek: frozenset[int] = frozenset()


def plan_subtasks(
    subtasks: Sequence[Subtask], meta: MediaMetaData, *, gop: float | None = None, fuse: bool = True
) -> Plan:
    """The plan for ``subtasks`` on the input probed as ``meta``.

    Parameters:
        subtasks: the resolved sub-tasks one worker runs (any subset of a task, any order).
        meta: the probe of the input.
        gop: seconds between keyframes (None: :data:`DEFAULT_GOP_SECONDS`).
        fuse: share one decode between whole-timeline transcodes (False: one process each).

    Returns:
        The plan; every sub-task appears in exactly one step.
    """
    seek = {s.index for s in subtasks if seeks_pictures(s, meta, gop)}
    groups = [
        [s.index for s in subtasks if fuse and _shares_decode(s, meta)],
        _shared_pictures(subtasks, meta, seek) if fuse else [],
    ]
    steps = [Step(tuple(group), fused=True) for group in groups if len(group) > 1]
    fused = {index for step in steps for index in step.indexes}
    steps += [Step((s.index,)) for s in subtasks if s.index not in fused]
    steps.sort(key=lambda step: step.indexes[0])
    return Plan(tuple(steps), frozenset(seek - fused))


def _shared_pictures(subtasks: Sequence[Subtask], meta: MediaMetaData, seek: set[int]) -> list[int]:
    """The picture sub-tasks that share one decode: all of them, once one of them decodes anyway.

    A picture that rides along a decode that happens anyway costs a ``select`` and a scale; its
    own seeks would cost decoding (see :func:`seek_cost`), so seeking only pays when nothing decodes.
    """
    pictures = [s.index for s in subtasks if isinstance(s.spec, SampleSpec | SpriteSpec) and meta.has_video]
    return pictures if any(index not in seek for index in pictures) else []


def needs_gop(subtasks: Sequence[Subtask], meta: MediaMetaData) -> bool:
    """Whether the plan of ``subtasks`` depends on the input's GOP (worth measuring it first).

    It does when a picture sub-task would seek were every frame a keyframe: a seek costs more as
    the GOP grows, so a sub-task that decodes even then decodes whatever the GOP (dense sprites,
    short inputs), and measuring it (an ffprobe demuxing the first seconds) would be wasted.
    """
    shortest = 1 / (meta.fps or _DEFAULT_FPS)
    return any(seeks_pictures(s, meta, shortest) for s in subtasks)


def _shares_decode(subtask: Subtask, meta: MediaMetaData) -> bool:
    return isinstance(subtask.spec, TranscodeSpec) and fusable(subtask.spec, meta)


def seeks_pictures(subtask: Subtask, meta: MediaMetaData, gop: float | None = None) -> bool:
    """Whether a sampled-snapshot or sprite sub-task should seek to each instant (see the module docstring).

    Sampled snapshots with a watermark that has its own time window decode: the window is on the
    source timeline, which a seeked picture no longer has.
    """
    spec = subtask.spec
    if not isinstance(spec, SampleSpec | SpriteSpec) or not meta.has_video:
        return False
    if isinstance(spec, SampleSpec) and any(m.start or m.end for m in spec.watermarks):
        return False
    template = spec.template
    times = sample_times(template.SampleType, template.SampleInterval, meta.media_duration, meta.fps)
    return seek_cost(len(times), meta, gop) < decode_cost(meta)


def decode_cost(meta: MediaMetaData) -> float:
    """Decoded frames of one full decode of the input."""
    return meta.media_duration * (meta.fps or _DEFAULT_FPS)


def seek_cost(count: int, meta: MediaMetaData, gop: float | None = None) -> float:
    """Decoded-frame equivalents of ``count`` input-side seeks."""
    gop_frames = (gop if gop and gop > 0 else DEFAULT_GOP_SECONDS) * (meta.fps or _DEFAULT_FPS)
    return count * (gop_frames / 2 + SEEK_OVERHEAD_FRAMES)
