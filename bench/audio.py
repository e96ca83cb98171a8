"""Audio-only outputs by hand: naive and best, for ``make bench``.

The outputs of ``bench/audio_task.json``: transcode presets 1010 (MP3 128 kbps), 1110 (M4A AAC
48 kbps) and 1130 (M4A AAC 192 kbps), and the audio-only HLS ladder 40 (AAC 192, 128 and 64 kbps,
4 s TS segments), all 44.1 kHz stereo, with mps's output names. Nothing here needs a video frame.

- **naive**: one ffmpeg per output (each HLS rendition its own), two at a time; the script writes
  the master playlist.
- **best**: one ffmpeg: the video stream is never decoded (``-vn`` on the input), the audio is
  decoded once, resampled to 44.1 kHz once, ``asplit`` into the six encoders.

Usage: ``python bench/audio.py SOURCE OUTDIR --pipeline naive|best [--log LOG]``.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from procs import FFMPEG, Job, run_jobs

AUDIO_LADDER = 40
LADDER_KBPS = (192, 128, 64)
SEGMENT_SECONDS = 4
COMMON = ["-ar", "44100", "-ac", "2"]


@dataclass(frozen=True)
class AudioOutput:
    """One audio transcode preset."""

    definition: int
    ext: str
    args: tuple[str, ...]


TRANSCODES = (
    AudioOutput(1010, "mp3", ("-c:a", "libmp3lame", "-b:a", "128k", "-f", "mp3")),
    AudioOutput(1110, "m4a", ("-c:a", "aac", "-b:a", "48k", "-f", "ipod", "-movflags", "+faststart")),
    AudioOutput(1130, "m4a", ("-c:a", "aac", "-b:a", "192k", "-f", "ipod", "-movflags", "+faststart")),
)


def ladder_name(source: Path, out: Path, suffix: str) -> str:
    return str(out / f"{source.stem}_adaptiveDynamicStreaming_{AUDIO_LADDER}{suffix}")


def hls_args() -> list[str]:
    return ["-f", "hls", "-hls_time", str(SEGMENT_SECONDS), "-hls_playlist_type", "vod",
            "-hls_flags", "independent_segments", "-hls_segment_type", "mpegts", "-start_number", "0"]  # fmt: skip


def transcode_target(source: Path, out: Path, item: AudioOutput) -> str:
    return str(out / f"{source.stem}_transcode_{item.definition}.{item.ext}")


def naive_jobs(source: Path, out: Path) -> list[Job]:
    """One process per output."""
    head = [*FFMPEG, "-i", str(source), "-map", "0:a:0", "-vn"]
    jobs: list[Job] = [
        [[*head, *item.args, *COMMON, transcode_target(source, out, item)]] for item in TRANSCODES
    ]
    for n, kbps in enumerate(LADDER_KBPS):
        jobs.append([[*head, "-c:a", "aac", "-b:a", f"{kbps}k", *COMMON, *hls_args(),
                      "-hls_segment_filename", ladder_name(source, out, f"_{n}_%d.ts"),
                      ladder_name(source, out, f"_{n}.m3u8")]])  # fmt: skip
    return jobs


def write_master(source: Path, out: Path) -> None:
    """The audio-only master playlist: each rendition a variant (as mps writes it)."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for n, kbps in enumerate(LADDER_KBPS):
        uri = Path(ladder_name(source, out, f"_{n}.m3u8")).name
        lines += [f'#EXT-X-STREAM-INF:BANDWIDTH={kbps * 1000},CODECS="mp4a.40.2"', uri]
    Path(ladder_name(source, out, ".m3u8")).write_text("\n".join(lines) + "\n")


def best_job(source: Path, out: Path) -> Job:
    """One audio decode, one resample, ``asplit`` into every encoder and one HLS muxer for the ladder."""
    count = len(TRANSCODES) + len(LADDER_KBPS)
    pads = [f"[a{n}]" for n in range(count)]
    graph = f"[0:a:0]aresample=44100,aformat=channel_layouts=stereo,asplit={count}{''.join(pads)}"
    argv = [*FFMPEG, "-vn", "-i", str(source), "-filter_complex", graph]
    for item, pad in zip(TRANSCODES, pads, strict=False):
        argv += ["-map", pad, *item.args, transcode_target(source, out, item)]
    ladder = pads[len(TRANSCODES) :]
    for n, (kbps, pad) in enumerate(zip(LADDER_KBPS, ladder, strict=True)):
        argv += ["-map", pad, f"-c:a:{n}", "aac", f"-b:a:{n}", f"{kbps}k"]
    streams = " ".join(f"a:{n}" for n in range(len(LADDER_KBPS)))
    argv += [*hls_args(), "-var_stream_map", streams,
             "-master_pl_name", Path(ladder_name(source, out, ".m3u8")).name,
             "-hls_segment_filename", ladder_name(source, out, "_%v_%d.ts"), ladder_name(source, out, "_%v.m3u8")]  # fmt: skip
    return [argv]


def main() -> None:
    """Parse the arguments and run one pipeline."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--pipeline", choices=("naive", "best"), required=True)
    parser.add_argument("--log", type=Path)
    parser.add_argument("--preset", help="ignored: no video is encoded")
    parser.add_argument("--logo", type=Path, help="ignored (the harness passes it to every script)")
    args = parser.parse_args()
    args.outdir.mkdir(parents=True, exist_ok=True)
    source, out = args.source.resolve(), args.outdir.resolve()
    if args.pipeline == "best":
        run_jobs([best_job(source, out)], 1, args.log)
        return
    run_jobs(naive_jobs(source, out), 2, args.log)
    write_master(source, out)


if __name__ == "__main__":
    main()
