"""The best hand-written command set: what an expert would type for the standard workflow.

- **One decode for everything on the timeline's full rate**: ``split`` into the 720p transcode,
  the watermarked 720p copy (both from one 720p scale), the 360p rung (cascaded from the 720p
  frames, cheaper than from 1080p) and the GIF window (``trim``, ``fps``, ``palettegen`` and
  ``paletteuse`` in the same process).
- **The low-rate image branches in a second decode**: on ffmpeg 5.1 a low-rate ``select`` branch
  hanging off the same ``split`` as the transcodes makes the process grow with the input's length
  (the issue's memory trap), so sampled snapshots and sprite tiles share their own decode. With a
  1 s sprite interval on a 2 s GOP, seeking per tile would decode about as much, in 60 demuxers.
  Measured here on the 60 s 1080p clip: everything on one ``split`` peaked at 2357 MiB; the fused
  process below at 562 MiB and the image decode at 107 MiB.
- **Time points by input-side seek**, all ten in one process (``-ss T -t 1/fps -i SRC`` each).
- **Long-input sprites** (``--long-sprite``): the interval (10 s) is a multiple of the GOP, so either
  per-tile seeking (``seek``) or keyframe-only decoding (``nokey``: ``-skip_frame nokey``) is exact.

- **Many time points** (``--only shots``): seeked, ten per process, two processes at a time.
- **Dense sprite** (``--only dense-sprite``): tiles closer than the GOP, so one decode, ``select``
  and ``tile``: nothing better than the naive command exists.

Usage: ``python bench/best.py SOURCE OUTDIR --logo LOGO --preset veryfast [--log LOG]``
(``--snapshots 720p`` or ``many`` picks the time-point shots' size and instants).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from naive import every, sheet_outputs, sprite_job, write_vtt, x264_args
from procs import FFMPEG, Job, probe, run_jobs
from workload import (
    DENSE_SPRITE,
    DENSE_SPRITE_PERCENT,
    GIF,
    GIF_FPS,
    GIF_WINDOW,
    HD,
    LOGO_MARGIN,
    LONG_SPRITE,
    LONG_SPRITE_INTERVAL,
    SAMPLE,
    SAMPLE_INTERVAL,
    SNAPSHOT_SETS,
    SPRITE,
    SPRITE_INTERVAL,
    TRANSCODES,
    Workload,
)


def fused_job(w: Workload, preset: str, out: Path) -> Job:
    """Transcodes, watermarked copy and GIF from one decode."""
    hd, flu, logo = TRANSCODES
    (hw, hh), (fw, fh), (gw, gh) = w.transcode_size(hd), w.transcode_size(flu), w.gif_size()
    start, end = GIF_WINDOW
    graph = ";".join([
        f"[0:v]scale={hw}:{hh},setsar=1,split=4[hd][wm][lo][gi]",
        f"[1:v]scale={w.logo_width(hw)}:-1,format=yuva420p[logo]",
        f"[wm][logo]overlay=x=W-w-{LOGO_MARGIN}:y={LOGO_MARGIN}[wmo]",
        f"[lo]scale={fw}:{fh},setsar=1[flu]",
        f"[gi]trim=start={start:g}:end={end:g},setpts=PTS-STARTPTS,fps={GIF_FPS},"
        f"scale={gw}:{gh}:flags=lanczos,setsar=1,split[g1][g2]",
        "[g2]palettegen[pal]",
        "[g1][pal]paletteuse[gif]",
    ])  # fmt: skip
    outputs: list[str] = []
    for label, rung in (("hd", hd), ("flu", flu), ("wmo", logo)):
        target = str(out / w.name("transcode", rung.definition, "mp4"))
        outputs += ["-map", f"[{label}]", "-map", "0:a", *x264_args(rung, preset), target]
    outputs += ["-map", "[gif]", "-loop", "0", str(out / w.name("animatedGraphic", GIF, "gif"))]
    assert hd.definition == HD
    return [[*FFMPEG, "-i", str(w.source), "-i", str(w.logo), "-filter_complex", graph, *outputs]]


def images_job(w: Workload, out: Path) -> Job:
    """Sampled snapshots and sprite tiles from their own decode."""
    sw, sh = w.sample_size()
    tw, th = w.tile_size()
    times = w.sprite_times(SPRITE_INTERVAL)
    chains, sprite_args = sheet_outputs(w, SPRITE, len(times), out)
    graph = ";".join([
        "[0:v]split[a][b]",
        f"[a]{every(SAMPLE_INTERVAL)},scale={sw}:{sh},setsar=1[s]",
        f"[b]{every(SPRITE_INTERVAL)},scale={tw}:{th},setsar=1[t]",
        chains,
    ])  # fmt: skip
    write_vtt(w, SPRITE, times, out)
    samples = str(out / f"{w.stem}_sampleSnapshot_{SAMPLE}_%d.jpg")
    return [[*FFMPEG, "-i", str(w.source), "-filter_complex", graph,
             "-map", "[s]", "-fps_mode", "vfr", "-frames:v", str(len(w.sample_times())), "-q:v", "2",
             "-start_number", "0", samples, *sprite_args]]  # fmt: skip


def seek_inputs(w: Workload, times: list[float]) -> list[str]:
    """One input per instant: input-side seek, read one frame's worth, one decoder thread."""
    args: list[str] = []
    for t in times:
        args += ["-threads", "1", "-ss", f"{t:.3f}", "-t", f"{1 / w.fps:.3f}", "-i", str(w.source)]
    return args


def snapshots_job(w: Workload, out: Path, first: int = 0, count: int | None = None) -> Job:
    """Time points ``first`` to ``first + count`` in one process, each by input-side seek."""
    times = w.snapshot_times()[first : None if count is None else first + count]
    size = w.snapshot_size()
    outputs: list[str] = []
    chains: list[str] = []
    for i in range(len(times)):
        target = str(out / w.name("snapshotByTimeOffset", w.snapshots.definition, "jpg", first + i))
        pad = f"{i}:v"
        if size is not None:
            chains.append(f"[{i}:v]scale={size[0]}:{size[1]},setsar=1[p{i}]")
            pad = f"[p{i}]"
        outputs += ["-map", pad, "-frames:v", "1", "-q:v", "2", "-update", "1", target]
    graph = ["-filter_complex", ";".join(chains)] if chains else []
    return [[*FFMPEG, *seek_inputs(w, times), *graph, *outputs]]


def many_snapshots_jobs(w: Workload, out: Path) -> list[Job]:
    """Many time points: seeked, ten per process, two processes at a time (one per core).

    Each seeked input holds a decoder and its reference frames (about 20 MiB at 1080p), so a
    process opens ten (13 peaked at 571 MiB), under the 500 MiB every ffmpeg is held to.
    """
    count, per_process = len(w.snapshot_times()), 10
    return [snapshots_job(w, out, first, per_process) for first in range(0, count, per_process)]


def dense_sprite_job(w: Workload, out: Path) -> Job:
    """The dense sprite: one decode, ``select`` every 1 % of the duration, ``tile`` (as an expert would)."""
    times = w.percent_times(DENSE_SPRITE_PERCENT)
    return sprite_job(w, DENSE_SPRITE, w.duration * DENSE_SPRITE_PERCENT / 100, out, times)


def long_sprite_job(w: Workload, mode: str, out: Path) -> Job:
    """The long-input sprite by per-tile seeking (``seek``) or keyframe-only decoding (``nokey``)."""
    times = w.sprite_times(LONG_SPRITE_INTERVAL)
    tw, th = w.tile_size()
    chains, args = sheet_outputs(w, LONG_SPRITE, len(times), out)
    write_vtt(w, LONG_SPRITE, times, out)
    if mode == "nokey":
        graph = f"[0:v]{every(LONG_SPRITE_INTERVAL)},scale={tw}:{th},setsar=1[t];{chains}"
        return [[*FFMPEG, "-skip_frame", "nokey", "-i", str(w.source), "-filter_complex", graph, *args]]
    heads = "".join(f"[{i}:v]" for i in range(len(times)))
    graph = f"{heads}concat=n={len(times)}:v=1:a=0,scale={tw}:{th},setsar=1[t];{chains}"
    return [[*FFMPEG, *seek_inputs(w, times), "-filter_complex", graph, *args]]


def main() -> None:
    """Parse the arguments and run the best command set (two processes at a time)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--logo", type=Path, required=True)
    parser.add_argument("--preset", default="veryfast")
    parser.add_argument("--log", type=Path)
    parser.add_argument("--long-sprite", choices=("seek", "nokey"), help="only the long-input sprite")
    parser.add_argument("--only", choices=("shots", "dense-sprite"), help="only these outputs")
    parser.add_argument("--snapshots", choices=sorted(SNAPSHOT_SETS), default="standard")
    args = parser.parse_args()
    args.outdir.mkdir(parents=True, exist_ok=True)
    w = Workload(
        args.source.resolve(), args.logo.resolve(), *probe(args.source), SNAPSHOT_SETS[args.snapshots]
    )
    if args.long_sprite:
        jobs = [long_sprite_job(w, args.long_sprite, args.outdir)]
    elif args.only == "shots":
        jobs = many_snapshots_jobs(w, args.outdir)
    elif args.only == "dense-sprite":
        jobs = [dense_sprite_job(w, args.outdir)]
    else:
        fused = fused_job(w, args.preset, args.outdir)
        jobs = [fused, [*images_job(w, args.outdir), *snapshots_job(w, args.outdir)]]
    run_jobs(jobs, 2, args.log)


if __name__ == "__main__":
    main()
