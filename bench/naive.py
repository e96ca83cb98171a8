"""The naive pipeline: one ffmpeg process per output, two at a time (MediaCMS/PeerTube style).

Every output decodes the source itself: three transcodes, one process per time-point snapshot
(input-side seek, as MediaCMS does), the sampled snapshots by decoding everything and ``select``,
the sprite by decoding every frame + ``select`` + ``tile``, and the GIF with the classic
two-process recipe (``palettegen`` to a PNG, then ``paletteuse``). Same x264 preset and codec
settings as mps's presets; same output names as ``mps process``.

Usage: ``python bench/naive.py SOURCE OUTDIR --logo LOGO --preset veryfast [--log LOG]``
(``--long-sprite`` makes only the long-input sprite, ``--only shots`` only the time-point shots,
``--only dense-sprite`` only the dense sprite; ``--snapshots`` picks the shots' size and instants).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from procs import FFMPEG, Job, probe, run_jobs
from workload import (
    DENSE_SPRITE,
    DENSE_SPRITE_PERCENT,
    GIF,
    GIF_FPS,
    GIF_WINDOW,
    LOGO_MARGIN,
    LONG_SPRITE,
    LONG_SPRITE_INTERVAL,
    SAMPLE,
    SAMPLE_INTERVAL,
    SNAPSHOT_SETS,
    SPRITE,
    SPRITE_GRID,
    SPRITE_INTERVAL,
    TRANSCODES,
    Transcode,
    Workload,
    sprite_sheets,
    sprite_vtt,
)


def x264_args(rung: Transcode, preset: str) -> list[str]:
    """Video and audio encoder settings of 100030/100010 (as mps writes them)."""
    kbps = rung.video_kbps
    return [
        "-c:v", "libx264", "-preset", preset, "-b:v", f"{kbps}k", "-maxrate", f"{kbps}k",
        "-bufsize", f"{2 * kbps}k", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-b:a", f"{rung.audio_kbps}k", "-ar", "44100", "-ac", "2", "-movflags", "+faststart",
    ]  # fmt: skip


def transcode_job(w: Workload, rung: Transcode, preset: str, out: Path) -> Job:
    """One transcode, its own decode."""
    width, height = w.transcode_size(rung)
    target = str(out / w.name("transcode", rung.definition, "mp4"))
    if not rung.logo:
        graph = f"[0:v]scale={width}:{height},setsar=1[v]"
        return [[*FFMPEG, "-i", str(w.source), "-filter_complex", graph, "-map", "[v]", "-map", "0:a",
                 *x264_args(rung, preset), target]]  # fmt: skip
    graph = (
        f"[0:v]scale={width}:{height},setsar=1[v];[1:v]scale={w.logo_width(width)}:-1,format=yuva420p[l];"
        f"[v][l]overlay=x=W-w-{LOGO_MARGIN}:y={LOGO_MARGIN}[o]"
    )
    return [[*FFMPEG, "-i", str(w.source), "-i", str(w.logo), "-filter_complex", graph,
             "-map", "[o]", "-map", "0:a", *x264_args(rung, preset), target]]  # fmt: skip


def snapshot_jobs(w: Workload, out: Path) -> list[Job]:
    """One process per time point, input-side seek."""
    size = w.snapshot_size()
    scale = [] if size is None else ["-vf", f"scale={size[0]}:{size[1]},setsar=1"]
    definition = w.snapshots.definition
    return [
        [[*FFMPEG, "-ss", f"{t:.3f}", "-i", str(w.source), *scale, "-frames:v", "1", "-q:v", "2",
          "-update", "1", str(out / w.name("snapshotByTimeOffset", definition, "jpg", i)), ]]
        for i, t in enumerate(w.snapshot_times())
    ]  # fmt: skip


def every(interval: float) -> str:
    """A ``select`` keeping the first frame at or after each multiple of ``interval``."""
    return f"select='gte(t\\,selected_n*{interval:g}-0.0005)'"


def sample_job(w: Workload, out: Path) -> Job:
    """Sampled snapshots: decode all, select one frame every interval."""
    width, height = w.sample_size()
    count = len(w.sample_times())
    pattern = str(out / f"{w.stem}_sampleSnapshot_{SAMPLE}_%d.jpg")
    chain = f"{every(SAMPLE_INTERVAL)},scale={width}:{height},setsar=1"
    return [[*FFMPEG, "-i", str(w.source), "-vf", chain, "-fps_mode", "vfr",
             "-frames:v", str(count), "-q:v", "2", "-start_number", "0", pattern]]  # fmt: skip


def sheet_outputs(w: Workload, definition: int, count: int, out: Path) -> tuple[str, list[str]]:
    """Filter chains after ``[t]`` (one scaled tile stream) and output args, one per sheet."""
    sheets = sprite_sheets(count, w.tile_size())
    cols = SPRITE_GRID[0]
    chains, args = [f"[t]split={len(sheets)}" + "".join(f"[s{k}]" for k in range(len(sheets)))], []
    for k, (first, tiles, rows) in enumerate(sheets):
        chains.append(f"[s{k}]select='between(n\\,{first}\\,{first + tiles - 1})',tile={cols}x{rows}[o{k}]")
        name = str(out / w.name("imageSprite", definition, "jpg", k))
        args += ["-map", f"[o{k}]", "-frames:v", "1", "-q:v", "2", "-update", "1", name]
    return ";".join(chains), args


def sprite_job(
    w: Workload, definition: int, interval: float, out: Path, times: list[float] | None = None
) -> Job:
    """Sprite sheets by decoding every frame, ``select`` and ``tile``; the VTT is written at once.

    ``times`` (default: every ``interval`` seconds) are the tiles' instants, ``interval`` apart.
    """
    times = w.sprite_times(interval) if times is None else times
    width, height = w.tile_size()
    chains, args = sheet_outputs(w, definition, len(times), out)
    graph = f"[0:v]{every(interval)},scale={width}:{height},setsar=1[t];{chains}"
    write_vtt(w, definition, times, out)
    return [[*FFMPEG, "-i", str(w.source), "-filter_complex", graph, *args]]


def dense_sprite_job(w: Workload, out: Path) -> Job:
    """The dense sprite (a tile every 1 % of the duration): decode all, ``select``, ``tile``."""
    times = w.percent_times(DENSE_SPRITE_PERCENT)
    return sprite_job(w, DENSE_SPRITE, w.duration * DENSE_SPRITE_PERCENT / 100, out, times)


def write_vtt(w: Workload, definition: int, times: list[float], out: Path) -> None:
    """The sprite's WebVTT (the same text for every pipeline)."""
    sheets = [
        w.name("imageSprite", definition, "jpg", k)
        for k in range(len(sprite_sheets(len(times), w.tile_size())))
    ]
    vtt = sprite_vtt(times, w.duration, sheets, w.tile_size())
    (out / w.name("imageSprite", definition, "vtt")).write_text(vtt)


def gif_job(w: Workload, out: Path) -> Job:
    """The classic two-process GIF: palettegen to a PNG, then paletteuse."""
    start, end = GIF_WINDOW
    width, height = w.gif_size()
    chain = f"fps={GIF_FPS},scale={width}:{height}:flags=lanczos,setsar=1"
    palette = str(out.parent / f"{out.name}-palette.png")
    window = ["-ss", f"{start:g}", "-t", f"{end - start:g}", "-i", str(w.source)]
    return [
        [*FFMPEG, *window, "-vf", f"{chain},palettegen", "-update", "1", palette],
        [*FFMPEG, *window, "-i", palette, "-filter_complex", f"[0:v]{chain}[x];[x][1:v]paletteuse[g]",
         "-map", "[g]", "-loop", "0", str(out / w.name("animatedGraphic", GIF, "gif"))],
    ]  # fmt: skip


def standard_jobs(w: Workload, preset: str, out: Path) -> list[Job]:
    """Every output of the standard workflow, one job each."""
    jobs = [transcode_job(w, rung, preset, out) for rung in TRANSCODES]
    jobs += [sample_job(w, out), sprite_job(w, SPRITE, SPRITE_INTERVAL, out), gif_job(w, out)]
    return jobs + snapshot_jobs(w, out)


def main() -> None:
    """Parse the arguments and run the naive pipeline."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--logo", type=Path, required=True)
    parser.add_argument("--preset", default="veryfast")
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--log", type=Path)
    parser.add_argument("--long-sprite", action="store_true", help="only the long-input sprite")
    parser.add_argument("--only", choices=("shots", "dense-sprite"), help="only these outputs")
    parser.add_argument("--snapshots", choices=sorted(SNAPSHOT_SETS), default="standard")
    args = parser.parse_args()
    args.outdir.mkdir(parents=True, exist_ok=True)
    w = Workload(
        args.source.resolve(), args.logo.resolve(), *probe(args.source), SNAPSHOT_SETS[args.snapshots]
    )
    if args.long_sprite:
        jobs = [sprite_job(w, LONG_SPRITE, LONG_SPRITE_INTERVAL, args.outdir)]
    elif args.only == "shots":
        jobs = snapshot_jobs(w, args.outdir)
    elif args.only == "dense-sprite":
        jobs = [dense_sprite_job(w, args.outdir)]
    else:
        jobs = standard_jobs(w, args.preset, args.outdir)
    run_jobs(jobs, args.parallel, args.log)


if __name__ == "__main__":
    main()
