"""Plans against the real ffmpeg: fused and seek-based runs write what separate, decoding runs write."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

from PIL import Image, ImageChops, ImageStat

from mps.media.naming import Namer
from mps.media.plan import Step
from mps.media.specs import SampleSpec, SpriteSpec, Subtask, TranscodeSpec, WatermarkSpec
from mps.models.metadata import MediaMetaData
from mps.models.tasks import ImageSpriteTaskInput, SampleSnapshotTaskInput, TranscodeTaskInput
from mps.models.templates import ImageSpriteTemplate, RawTranscodeParameter, SampleSnapshotTemplate
from mps.runner.ffmpeg import FfmpegRunner
from mps.workflow.context import OperationContext
from mps.workflow.execute import execute_subtask
from mps.workflow.fused import run_fused, run_step
from mps.workflow.operations.sample import run_sample
from mps.workflow.operations.sprite import run_sprite
from tests.conftest import ClipFactory
from tests.mediatools import duration_of, frame_count, image_size, video_stream

RUNNER = FfmpegRunner()


def context(
    source: Path, root: Path, meta: MediaMetaData, definition: int, *, seek: bool = False
) -> OperationContext:
    return OperationContext(
        runner=RUNNER, meta=meta, source=str(source), out_root=root,
        namer=Namer("in.mp4", "/out/", definition), workdir=root / f"work{definition}", seek_pictures=seek,
    )  # fmt: skip


def transcode(index: int, height: int, container: str = "mp4") -> Subtask:
    params = RawTranscodeParameter.model_validate({
        "Container": container, "VideoTemplate": {"Codec": "h264", "Height": height, "Width": 0},
        "AudioTemplate": {"Codec": "aac", "Bitrate": 64, "SampleRate": 44100},
    })  # fmt: skip
    spec = TranscodeSpec(1000 + height, params, x264_preset="ultrafast")
    return Subtask(index, "Transcode", spec, TranscodeTaskInput(Definition=spec.definition))


def test_fused_transcodes_match_separate_runs(clip: ClipFactory, tmp_path: Path) -> None:
    source = clip(duration=3.0)
    meta = RUNNER.probe(source)
    subtasks = [transcode(0, 240), transcode(1, 120), transcode(2, 180, "hls")]
    fused_root, alone_root = tmp_path / "fused", tmp_path / "alone"
    fused = run_fused(subtasks, [context(source, fused_root, meta, s.spec.definition) for s in subtasks])
    alone = [execute_subtask(s, context(source, alone_root, meta, s.spec.definition)) for s in subtasks]
    for one, other in zip(fused, alone, strict=True):
        assert one.result.Status == other.result.Status == "SUCCESS"
        a, b = one.result.Output, other.result.Output
        assert (a.Path, a.Width, a.Height, a.Container) == (b.Path, b.Width, b.Height, b.Container)
    for name in ("in_transcode_1240.mp4", "in_transcode_1120.mp4"):
        f, s = fused_root / "out" / name, alone_root / "out" / name
        assert video_stream(f)["height"] == video_stream(s)["height"]
        assert frame_count(f) == frame_count(s)
        assert abs(duration_of(f) - duration_of(s)) < 0.05
    assert sorted(p.name for p in (fused_root / "out").iterdir()) == sorted(
        p.name for p in (alone_root / "out").iterdir()
    )


def test_a_failing_output_of_a_fused_run_fails_alone(clip: ClipFactory, tmp_path: Path) -> None:
    source = clip(duration=2.0)
    meta = RUNNER.probe(source)
    bad = transcode(1, 120)
    bad = Subtask(1, "Transcode", bad.spec, TranscodeTaskInput(Definition=1120, OutputObjectPath="x.mkv"))
    subtasks = [transcode(0, 240), bad]
    results = run_fused(subtasks, [context(source, tmp_path, meta, s.spec.definition) for s in subtasks])
    assert [r.result.Status for r in results] == ["SUCCESS", "FAIL"]


def _mean_difference(a: Path, b: Path) -> float:
    with Image.open(a) as one, Image.open(b) as other:
        diff = ImageChops.difference(one.convert("RGB"), other.convert("RGB"))
        return sum(ImageStat.Stat(diff).mean) / 3


def picture_subtasks() -> tuple[Subtask, Subtask]:
    """A 2x2 sprite of 80x60 tiles every second (index 0), and 160x120 samples every 2 s (index 1)."""
    sprite_template = ImageSpriteTemplate.model_construct(
        Definition=7, SampleType="Time", SampleInterval=1, RowCount=2, ColumnCount=2,
        Width=80, Height=60, ResolutionAdaptive="close", FillType="stretch", Format="png",
    )  # fmt: skip
    sample_template = SampleSnapshotTemplate.model_construct(
        Definition=8, SampleType="Time", SampleInterval=2, Width=160, Height=120,
        ResolutionAdaptive="close", FillType="stretch", Format="png",
    )  # fmt: skip
    return (
        Subtask(0, "ImageSprites", SpriteSpec(7, sprite_template), ImageSpriteTaskInput(Definition=7)),
        Subtask(1, "SampleSnapshot", SampleSpec(8, sample_template), SampleSnapshotTaskInput(Definition=8)),
    )


def test_seeked_sprites_and_samples_match_decoded_ones(clip: ClipFactory, tmp_path: Path) -> None:
    source = clip(duration=6.0, gop=60)  # instants fall mid-GOP
    meta = RUNNER.probe(source)
    sprite, sample = picture_subtasks()
    items = {}
    for seek in (False, True):
        root = tmp_path / str(seek)
        items[seek] = (run_sprite(sprite, context(source, root, meta, 7, seek=seek)),
                       run_sample(sample, context(source, root, meta, 8, seek=seek)))  # fmt: skip
    assert items[True] == items[False]
    sprite_item, sample_item = items[True]
    vtts = [(tmp_path / str(seek) / sprite_item.WebVttPath.lstrip("/")).read_text() for seek in (False, True)]
    assert vtts[0] == vtts[1]
    for path in [*sprite_item.ImagePathSet, *sample_item.ImagePathSet]:
        decoded, seeked = (tmp_path / str(seek) / path.lstrip("/") for seek in (False, True))
        assert image_size(decoded) == image_size(seeked)
        assert _mean_difference(decoded, seeked) < 2.0  # the same frame: only encoder noise differs


def _frame_at(video: Path, seconds: float, out: Path) -> Path:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-ss", str(seconds), "-i", str(video),
         "-frames:v", "1", str(out)],
        check=True,
    )  # fmt: skip
    return out


def test_a_cascaded_rung_shows_the_picture_a_direct_scale_shows(clip: ClipFactory, tmp_path: Path) -> None:
    # 480x360 in, 240p and 120p out in one run: the 120p frames are scaled from the 240p ones.
    source = clip(duration=2.0, width=480, height=360)
    meta = RUNNER.probe(source)
    subtasks = [transcode(0, 240), transcode(1, 120)]
    contexts = [context(source, tmp_path / "fused", meta, s.spec.definition) for s in subtasks]
    fused = run_fused(subtasks, contexts)
    alone = execute_subtask(subtasks[1], context(source, tmp_path / "alone", meta, 1120))
    assert [r.result.Status for r in fused] + [alone.result.Status] == ["SUCCESS"] * 3
    name = "out/in_transcode_1120.mp4"
    cascaded = _frame_at(tmp_path / "fused" / name, 1.0, tmp_path / "cascaded.png")
    direct = _frame_at(tmp_path / "alone" / name, 1.0, tmp_path / "direct.png")
    assert image_size(cascaded) == image_size(direct) == (160, 120)
    assert _mean_difference(cascaded, direct) < 4.0  # resampling and encoder noise, not another framing
    # and a picture shifted by a few pixels (another framing) is far more different than that
    with Image.open(direct) as img:
        img.transform(img.size, Image.Transform.AFFINE, (1, 0, 4, 0, 1, 0)).save(tmp_path / "shifted.png")
    assert _mean_difference(tmp_path / "shifted.png", direct) > 8.0


def test_pictures_sharing_one_decode_match_separate_runs(clip: ClipFactory, tmp_path: Path) -> None:
    source = clip(duration=6.0, gop=60)
    meta = RUNNER.probe(source)
    subtasks = list(picture_subtasks())
    shared_root, alone_root = tmp_path / "shared", tmp_path / "alone"
    ran: list[int] = []

    class CountingRunner(FfmpegRunner):
        def run(self, command, **kwargs):  # type: ignore[no-untyped-def]
            ran.append(1)
            return super().run(command, **kwargs)

    contexts = [context(source, shared_root, meta, s.spec.definition) for s in subtasks]
    for ctx in contexts:
        ctx.runner = CountingRunner()
    shared = run_step(Step((0, 1), fused=True), subtasks, contexts)
    alone = [execute_subtask(s, context(source, alone_root, meta, s.spec.definition)) for s in subtasks]
    assert len(ran) == 1  # one ffmpeg process for both sub-tasks
    assert [e.result.Status for e in shared] == ["SUCCESS", "SUCCESS"]
    assert [e.result.Output for e in shared] == [e.result.Output for e in alone]
    sprite_item, sample_item = (e.result.Output for e in shared)
    assert len(sample_item.ImagePathSet) == 3 and len(sprite_item.ImagePathSet) == 2  # 6 tiles on 2x2 sheets
    for path in [*sprite_item.ImagePathSet, *sample_item.ImagePathSet, sprite_item.WebVttPath]:
        one, other = (root / path.lstrip("/") for root in (shared_root, alone_root))
        assert one.read_bytes() == other.read_bytes() or _mean_difference(one, other) < 1.0


def test_a_failing_picture_of_a_shared_decode_fails_alone(clip: ClipFactory, tmp_path: Path) -> None:
    source = clip(duration=6.0, gop=60)
    meta = RUNNER.probe(source)
    sprite, sample = picture_subtasks()
    missing_logo = WatermarkSpec(1, "image", image=tmp_path / "gone.png")  # ffmpeg cannot open it
    broken = Subtask(1, sample.kind, replace(sample.spec, watermarks=(missing_logo,)), sample.request)
    results = run_step(
        Step((0, 1), fused=True), [sprite, broken], [context(source, tmp_path, meta, d) for d in (7, 8)]
    )
    assert [r.result.Status for r in results] == ["SUCCESS", "FAIL"]
    assert len(results[0].result.Output.ImagePathSet) == 2  # the sprite's sheets were still made
