"""The planner's choices: this input and these sub-tasks give this plan (nothing is run)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mps.media.command import Command
from mps.media.ops.fused import FusedOutput, build_fused_transcodes
from mps.media.ops.snapshot import BATCH_SIZE, seek_batch_size
from mps.media.ops.transcode import build_transcode
from mps.media.plan import Plan, Step, needs_gop, plan_subtasks, seek_cost
from mps.media.specs import SampleSpec, SnapshotSpec, SpriteSpec, Subtask, TranscodeSpec
from mps.models.metadata import MediaAudioStreamItem, MediaMetaData, MediaVideoStreamItem
from mps.models.tasks import (
    ImageSpriteTaskInput,
    SampleSnapshotTaskInput,
    SnapshotByTimeOffsetTaskInput,
    TranscodeTaskInput,
)
from mps.models.templates import (
    ImageSpriteTemplate,
    RawTranscodeParameter,
    SampleKind,
    SampleSnapshotTemplate,
    SnapshotByTimeOffsetTemplate,
)

ENCODERS = frozenset({"libx264", "aac"})


def meta(duration: float, width: int = 1920, height: int = 1080) -> MediaMetaData:
    return MediaMetaData(
        Width=width, Height=height, Duration=duration, VideoDuration=duration, AudioDuration=duration,
        VideoStreamSet=[MediaVideoStreamItem(Width=width, Height=height, FpsNumerator=25, FpsDenominator=1)],
        AudioStreamSet=[MediaAudioStreamItem(Codec="aac", Bitrate=96000, SamplingRate=44100, Channel=2)],
    )  # fmt: skip


def transcode(index: int, height: int, **window: Any) -> Subtask:
    params = RawTranscodeParameter.model_validate({
        "Container": "mp4", "VideoTemplate": {"Codec": "h264", "Height": height, "Width": 0},
        "AudioTemplate": {"Codec": "aac", "Bitrate": 64, "SampleRate": 44100},
    })  # fmt: skip
    spec = TranscodeSpec(100000 + height, params, **window)
    return Subtask(index, "Transcode", spec, TranscodeTaskInput(Definition=spec.definition))


def sprite(index: int, interval: float, sample_type: SampleKind = "Time") -> Subtask:
    template = ImageSpriteTemplate(
        Definition=1, SampleType=sample_type, SampleInterval=interval, RowCount=10, ColumnCount=10,
        Width=160, Height=90,
    )  # fmt: skip
    return Subtask(index, "ImageSprites", SpriteSpec(1, template), ImageSpriteTaskInput(Definition=1))


def sample(index: int, interval: float) -> Subtask:
    template = SampleSnapshotTemplate(
        Definition=2, SampleType="Time", SampleInterval=interval, Width=640, Height=360
    )
    spec = SampleSpec(2, template)
    return Subtask(index, "SampleSnapshot", spec, SampleSnapshotTaskInput(Definition=2))


def snapshot(index: int) -> Subtask:
    spec = SnapshotSpec(10, SnapshotByTimeOffsetTemplate(Definition=10), (1.0, 2.0))
    request = SnapshotByTimeOffsetTaskInput(Definition=10, TimeOffsetSet=[1.0, 2.0])
    return Subtask(index, "SnapshotByTimeOffset", spec, request)


def test_whole_timeline_transcodes_share_one_decode_and_pictures_run_apart() -> None:
    subtasks = [transcode(0, 720), transcode(1, 360), snapshot(2), sprite(3, 1), transcode(4, 480)]
    plan = plan_subtasks(subtasks, meta(60.0), gop=2.0)
    assert plan == Plan((Step((0, 1, 4), fused=True), Step((2,)), Step((3,))), frozenset())


def test_a_trimmed_transcode_keeps_its_own_seek() -> None:
    plan = plan_subtasks([transcode(0, 720), transcode(1, 360, start=10.0), transcode(2, 240)], meta(60.0))
    assert plan.steps == (Step((0, 2), fused=True), Step((1,)))


def test_one_transcode_alone_is_not_a_fused_step() -> None:
    assert plan_subtasks([transcode(0, 720), snapshot(1)], meta(60.0)).steps == (Step((0,)), Step((1,)))


def test_split_policy_runs_every_subtask_alone() -> None:
    plan = plan_subtasks([transcode(0, 720), transcode(1, 360)], meta(60.0), fuse=False)
    assert plan.steps == (Step((0,)), Step((1,)))


def test_sprites_seek_when_the_interval_is_long_compared_with_the_gop() -> None:
    # 10 minutes, a tile every 10 s, 2 s GOP: 60 seeks of ~30 frames instead of 15,000 frames.
    assert plan_subtasks([sprite(0, 10)], meta(600.0, 1280, 720), gop=2.0).seek == {0}
    # A tile every second on a 60 s clip: 60 seeks cost more than one decode of 1,500 frames.
    assert plan_subtasks([sprite(0, 1)], meta(60.0), gop=2.0).seek == set()


def test_samples_seek_by_the_same_rule_and_an_unknown_gop_is_assumed_long() -> None:
    assert plan_subtasks([sample(0, 5)], meta(60.0), gop=2.0).seek == {0}
    assert plan_subtasks([sample(0, 5)], meta(60.0)).seek == set()
    assert seek_cost(1, meta(60.0)) > seek_cost(1, meta(60.0), gop=2.0)


def test_the_gop_is_measured_only_when_a_picture_subtask_could_seek() -> None:
    # A tile every 1 % of 20 s: 100 seeks cost more than the 500 frames of one decode even were
    # every frame a keyframe, so the plan is the same whatever the GOP (make bench's dense sprite).
    dense = sprite(0, 1, "Percent")
    assert not needs_gop([dense], meta(20.0))
    assert plan_subtasks([dense], meta(20.0), gop=0.04).seek == set()
    assert needs_gop([sprite(0, 10)], meta(600.0, 1280, 720))
    assert needs_gop([transcode(0, 720), sprite(1, 1, "Percent"), sample(2, 5)], meta(20.0))
    assert not needs_gop([transcode(0, 720), snapshot(1)], meta(60.0))


def test_pictures_share_one_decode_once_one_of_them_decodes() -> None:
    # The 1 s sprite decodes the 60 s clip anyway: the 5 s samples ride along instead of seeking.
    subtasks = [sample(0, 5), transcode(1, 720), sprite(2, 1), transcode(3, 360)]
    plan = plan_subtasks(subtasks, meta(60.0), gop=2.0)
    assert plan == Plan((Step((0, 2), fused=True), Step((1, 3), fused=True)), frozenset())


def test_pictures_that_all_seek_keep_their_seeks_and_split_shares_nothing() -> None:
    long_input = meta(600.0, 1280, 720)
    plan = plan_subtasks([sample(0, 5), sprite(1, 10)], long_input, gop=2.0)
    assert plan == Plan((Step((0,)), Step((1,))), frozenset({0, 1}))
    plan = plan_subtasks([sample(0, 5), sprite(1, 1)], meta(60.0), gop=2.0, fuse=False)
    assert plan == Plan((Step((0,)), Step((1,))), frozenset({0}))


def test_a_fused_command_decodes_once_and_keeps_each_output_as_built_alone(tmp_path: Path) -> None:
    specs = [transcode(0, 720).spec, transcode(1, 360).spec]
    assert all(isinstance(spec, TranscodeSpec) for spec in specs)
    outputs = [FusedOutput(spec, tmp_path / f"{i}.mp4") for i, spec in enumerate(specs)]  # type: ignore[arg-type]
    fused = build_fused_transcodes(outputs, meta(60.0), "/in.mp4", encoders=ENCODERS)
    alone: list[Command] = [
        build_transcode(o.spec, meta(60.0), "/in.mp4", o.output, encoders=ENCODERS) for o in outputs
    ]
    assert fused.argv.count("-i") == 1
    graph = fused.argv[fused.argv.index("-filter_complex") + 1]
    assert graph.count("[0:v:0]") == 1  # one decoded stream, read by one chain
    # the 360p rung is scaled from the 720p frames, not from the 1080p source again
    assert graph.startswith("[0:v:0]scale=1280:720") and graph.count("scale=") == 2
    for number, command in enumerate(alone):
        tail = command.argv[command.argv.index("[vout]") + 1 :]
        start = fused.argv.index(f"[vout{number}]") + 1
        assert fused.argv[start : start + len(tail)] == tail
    assert fused.outputs == [o.output for o in outputs] and fused.duration == 60.0


def test_seeked_pictures_of_large_frames_come_in_smaller_batches() -> None:
    assert seek_batch_size(meta(60.0, 320, 240)) == BATCH_SIZE
    assert seek_batch_size(meta(60.0, 1280, 720)) == 15  # 14 seeked 720p inputs peaked at 211 MiB
    assert seek_batch_size(meta(60.0)) == 6  # 8 seeked 1080p inputs peaked at 402 MiB
    assert seek_batch_size(meta(60.0, 3840, 2160)) == 1
