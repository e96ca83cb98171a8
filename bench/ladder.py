"""The adaptive-streaming ladder (presets 10 and 20) by hand: naive and best, for ``make bench``.

The ladder is the one of ``presets/adaptive_dynamic_streaming.json``: 1080p 4500, 720p 2500, 480p
1200 and 360p 700 kbps H.264 (short side, never above the source), one AAC 128 kbps rendition,
4 s segments with keyframes at every multiple of 4 s in every rung (``-g``, ``-sc_threshold 0``,
``-force_key_frames``), exactly the encoder settings mps writes. Output names are mps's
(``{stem}_adaptiveDynamicStreaming_{definition}_{n}...``), so the harness compares the files.

- **naive**: one ffmpeg per rung and one for the audio, each decoding the source, two at a time.
  HLS: each writes its own playlist and segments, the script writes the master playlist. DASH:
  each encodes to an intermediate MP4, then one ``-c copy`` run packages them (the DASH muxer
  needs every Representation in one process).
- **best**: one ffmpeg: one decode, ``split``, the 720p scaled once and the 480p and 360p cascaded
  from it, every rung encoded and muxed by one HLS muxer (``var_stream_map``, ``master_pl_name``)
  or one DASH muxer.

Usage: ``python bench/ladder.py SOURCE OUTDIR --pipeline naive|best --package hls|dash
--preset veryfast [--log LOG]``.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass
from pathlib import Path

from procs import FFMPEG, Job, probe, run_jobs, write_log
from workload import BENCH, fit

PRESETS_FILE = BENCH.parent / "presets" / "adaptive_dynamic_streaming.json"
#: Definitions of the HLS (TS segments) and DASH (fMP4 byte ranges) presets.
HLS_LADDER, DASH_LADDER = 10, 20
SEGMENT_SECONDS = 4
AUDIO_KBPS = 128


@dataclass(frozen=True)
class Rung:
    """One video rendition: its short side and bitrate."""

    short_side: int
    kbps: int


RUNGS = (Rung(1080, 4500), Rung(720, 2500), Rung(480, 1200), Rung(360, 700))


def check_presets() -> None:
    """Fail if presets 10 and 20 no longer say what :data:`RUNGS` assumes."""
    presets = {
        t["Definition"]: t
        for t in json.loads(PRESETS_FILE.read_text())["AdaptiveDynamicStreamingTemplateSet"]
    }
    for definition, segment_type in ((HLS_LADDER, "ts-segment"), (DASH_LADDER, "mp4-byterange")):
        preset = presets[definition]
        assert preset["SegmentType"] == segment_type, preset["SegmentType"]
        videos = [(s["Video"]["Height"], s["Video"]["Bitrate"]) for s in preset["StreamInfos"]]
        assert videos == [(r.short_side, r.kbps) for r in RUNGS], videos
        assert {s["Audio"]["Bitrate"] for s in preset["StreamInfos"]} == {AUDIO_KBPS}


@dataclass(frozen=True)
class LadderJob:
    """One ladder on one source: sizes, names and the encoder settings every pipeline shares."""

    source: Path
    out: Path
    package: str
    preset: str
    width: int
    height: int
    fps: float

    @property
    def definition(self) -> int:
        return HLS_LADDER if self.package == "hls" else DASH_LADDER

    def name(self, suffix: str) -> str:
        """``{stem}_adaptiveDynamicStreaming_{definition}{suffix}`` in the output directory."""
        return str(self.out / f"{self.source.stem}_adaptiveDynamicStreaming_{self.definition}{suffix}")

    def rungs(self) -> list[Rung]:
        """The rungs made (``DisableHigherVideoResolution=1``): those above the source are dropped,
        except the smallest of them, made at the source's size unless a rung has that size already."""
        short = min(self.width, self.height)
        kept = [rung for rung in RUNGS if rung.short_side <= short]
        higher = [rung for rung in RUNGS if rung.short_side > short]
        if higher and not any(rung.short_side == short for rung in kept):
            kept.insert(0, min(higher, key=lambda rung: rung.short_side))
        return kept

    def sizes(self) -> list[tuple[int, int]]:
        """Each rung's frame size (never above the source)."""
        return [fit((self.width, self.height), 0, rung.short_side) for rung in self.rungs()]

    def sar(self, size: tuple[int, int]) -> str:
        """DASH: the pixel aspect ratio giving ``size`` the largest rung's shape (ffmpeg's DASH muxer
        refuses Representations of different aspect ratios); ``1`` for HLS."""
        top = self.sizes()[0]
        num, den = top[0] * size[1], top[1] * size[0]
        if self.package == "hls" or num == den:
            return "1"
        common = math.gcd(num, den)
        return f"r={num // common}/{den // common}:max={max(num, den) // common}"

    def video_args(self, rung: Rung, stream: str) -> list[str]:
        """x264 settings of one rung (mps's), addressed to output stream ``stream``."""
        gop = round(SEGMENT_SECONDS * self.fps)
        return [
            f"-c:{stream}", "libx264", f"-preset:{stream}", self.preset, f"-b:{stream}", f"{rung.kbps}k",
            f"-maxrate:{stream}", f"{rung.kbps}k", f"-bufsize:{stream}", f"{2 * rung.kbps}k",
            f"-pix_fmt:{stream}", "yuv420p", f"-g:{stream}", str(gop), f"-sc_threshold:{stream}", "0",
            f"-force_key_frames:{stream}", f"expr:gte(t,n_forced*{SEGMENT_SECONDS})",
        ]  # fmt: skip

    def audio_args(self, stream: str = "a") -> list[str]:
        return [
            f"-c:{stream}",
            "aac",
            f"-b:{stream}",
            f"{AUDIO_KBPS}k",
            f"-ar:{stream}",
            "44100",
            f"-ac:{stream}",
            "2",
        ]

    def hls_args(self) -> list[str]:
        return ["-f", "hls", "-hls_time", str(SEGMENT_SECONDS), "-hls_playlist_type", "vod",
                "-hls_flags", "independent_segments", "-hls_segment_type", "mpegts", "-start_number", "0"]  # fmt: skip

    def dash_args(self) -> list[str]:
        name = f"{self.source.stem}_adaptiveDynamicStreaming_{self.definition}_$RepresentationID$.mp4"
        return ["-f", "dash", "-seg_duration", str(SEGMENT_SECONDS), "-single_file", "1",
                "-single_file_name", name, "-adaptation_sets", "id=0,streams=v id=1,streams=a",
                self.name(".mpd")]  # fmt: skip


def best_job(job: LadderJob) -> Job:
    """One decode, the 720p scaled once, 480p and 360p cascaded from it, one muxer for every rung."""
    sizes, rungs = job.sizes(), job.rungs()
    argv = [*FFMPEG, "-i", str(job.source), "-filter_complex", cascade(job, sizes)]
    for n in range(len(rungs)):
        argv += ["-map", f"[v{n}]"]
    argv += ["-map", "0:a:0"]
    for n, rung in enumerate(rungs):
        argv += job.video_args(rung, f"v:{n}")
    argv += job.audio_args("a:0")
    if job.package == "dash":
        return [[*argv, *job.dash_args()]]
    streams = " ".join([*(f"v:{n},agroup:aud" for n in range(len(rungs))), "a:0,agroup:aud"])
    return [[*argv, *job.hls_args(), "-var_stream_map", streams,
             "-master_pl_name", Path(job.name(".m3u8")).name,
             "-hls_segment_filename", job.name("_%v_%d.ts"), job.name("_%v.m3u8")]]  # fmt: skip


def cascade(job: LadderJob, sizes: list[tuple[int, int]]) -> str:
    """The graph ``[0:v]`` -> ``[v0]``..: the top rung from the source, the second scaled from the
    source, every smaller one from the second (1080p -> 720p -> 480p, 360p)."""

    def tail(size: tuple[int, int]) -> str:
        return f"setsar={job.sar(size)},format=yuv420p"

    if len(sizes) < 3:
        heads = "".join(f"[h{n}]" for n in range(len(sizes)))
        chains = [f"[0:v]split={len(sizes)}{heads}" if len(sizes) > 1 else "[0:v]null[h0]"]
        chains += [f"[h{n}]scale={w}:{h},{tail((w, h))}[v{n}]" for n, (w, h) in enumerate(sizes)]
        return ";".join(chains)
    (w0, h0), (w1, h1), rest = sizes[0], sizes[1], sizes[2:]
    chains = [
        "[0:v]split=2[full][down]",
        f"[full]scale={w0}:{h0},{tail((w0, h0))}[v0]",
        f"[down]scale={w1}:{h1},split={1 + len(rest)}[c1]" + "".join(f"[c{n + 2}]" for n in range(len(rest))),
        f"[c1]{tail((w1, h1))}[v1]",
    ]  # fmt: skip
    chains += [f"[c{n}]scale={w}:{h},{tail((w, h))}[v{n}]" for n, (w, h) in enumerate(rest, start=2)]
    return ";".join(chains)


def naive_jobs(job: LadderJob, scratch: Path) -> tuple[list[Job], Job]:
    """One process per rung and one for the audio (each its own decode); then the DASH packaging."""
    jobs: list[Job] = []
    intermediates: list[str] = []
    for n, (rung, (w, h)) in enumerate(zip(job.rungs(), job.sizes(), strict=True)):
        head = [*FFMPEG, "-i", str(job.source), "-vf", f"scale={w}:{h},setsar={job.sar((w, h))}",
                "-map", "0:v:0", *job.video_args(rung, "v"), "-an"]  # fmt: skip
        intermediates.append(str(scratch / f"rung{n}.mp4"))
        jobs.append([[*head, *(_hls_tail(job, n) if job.package == "hls" else [intermediates[-1]])]])
    audio = [*FFMPEG, "-i", str(job.source), "-map", "0:a:0", "-vn", *job.audio_args()]
    intermediates.append(str(scratch / "audio.m4a"))
    jobs.append(
        [[*audio, *(_hls_tail(job, len(job.rungs())) if job.package == "hls" else [intermediates[-1]])]]
    )
    if job.package == "hls":
        return jobs, []
    package = [*FFMPEG]
    for path in intermediates:
        package += ["-i", path]
    for n in range(len(intermediates)):
        package += ["-map", f"{n}"]
    return jobs, [[*package, "-c", "copy", *job.dash_args()]]


def _hls_tail(job: LadderJob, number: int) -> list[str]:
    return [
        *job.hls_args(),
        "-hls_segment_filename",
        job.name(f"_{number}_%d.ts"),
        job.name(f"_{number}.m3u8"),
    ]


def write_master(job: LadderJob) -> None:
    """The naive HLS master playlist: the audio group and one variant per rung (nominal bitrates)."""
    stem = Path(job.name("")).name
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS",
             f'#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="audio",DEFAULT=YES,URI="{stem}_{len(job.rungs())}.m3u8"']  # fmt: skip
    for n, (rung, (w, h)) in enumerate(zip(job.rungs(), job.sizes(), strict=True)):
        bandwidth = (rung.kbps + AUDIO_KBPS) * 1000
        lines += [
            f'#EXT-X-STREAM-INF:BANDWIDTH={bandwidth},RESOLUTION={w}x{h},AUDIO="aud"',
            f"{stem}_{n}.m3u8",
        ]
    Path(job.name(".m3u8")).write_text("\n".join(lines) + "\n")


def main() -> None:
    """Parse the arguments and run one pipeline."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--pipeline", choices=("naive", "best"), required=True)
    parser.add_argument("--package", choices=("hls", "dash"), required=True)
    parser.add_argument("--preset", default="veryfast")
    parser.add_argument("--log", type=Path)
    parser.add_argument("--logo", type=Path, help="ignored (the harness passes it to every script)")
    args = parser.parse_args()
    check_presets()
    args.outdir.mkdir(parents=True, exist_ok=True)
    width, height, _duration, fps = probe(args.source)
    job = LadderJob(
        args.source.resolve(), args.outdir.resolve(), args.package, args.preset, width, height, fps
    )
    if args.pipeline == "best":
        run_jobs([best_job(job)], 1, args.log)
        return
    scratch = args.outdir.parent / f"{args.outdir.name}-scratch"
    scratch.mkdir(exist_ok=True)
    encodes, package = naive_jobs(job, scratch)
    records = run_jobs(encodes, 2, None)
    records += run_jobs([package], 1, None) if package else []
    if args.package == "hls":
        write_master(job)
    write_log(records, args.log)


if __name__ == "__main__":
    main()
