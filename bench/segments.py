"""Segment-parallel transcode benchmark: one worker pinned to one core against N workers, each
pinned to its own core (``taskset``, standing in for N hosts). Not a timed test.

    .venv/bin/python bench/segments.py --seconds 60 --workers 2 --segment 10

Prints wall time and CPU seconds of each mode, the speed-up, and the chunking's CPU overhead.
"""

from __future__ import annotations

import argparse
import os
import queue
import resource
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from segments_service import make_source

from mps.media.command import Command
from mps.media.ops.segments import audio_command, chunk_command, concat_list, join_command, plan_chunks
from mps.media.ops.transcode import build_transcode
from mps.media.specs import TranscodeSpec
from mps.models.templates import RawTranscodeParameter
from mps.runner.ffmpeg import FfmpegRunner
from mps.runner.packets import video_packets

VERBOSE = False
#: CPU seconds each core's worker spent: the load-independent critical path on a shared machine.
CORE_CPU: dict[int, float] = {}
CORE_LOCK = threading.Lock()


def run(command: Command, core: int) -> None:
    argv = ["taskset", "-c", str(core), "ffmpeg", "-nostdin", "-y", "-v", "error", *command.argv]
    started = time.monotonic()
    proc = subprocess.Popen(argv)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, argv)
    with CORE_LOCK:
        CORE_CPU[core] = CORE_CPU.get(core, 0.0) + usage.ru_utime + usage.ru_stime
    if VERBOSE:
        print(f"  core {core}: {time.monotonic() - started:6.2f} s {command.outputs[0].name}")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--segment", type=float, default=10.0)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    global VERBOSE
    VERBOSE = args.verbose
    work = Path(tempfile.mkdtemp(prefix="mps-seg-bench-"))
    # The service benchmark's source, made once and cached in bench/work/ (the same file).
    source = make_source(args.seconds)
    runner = FfmpegRunner()
    meta, encoders = runner.probe(source), runner.encoders()
    params = RawTranscodeParameter.model_validate({
        "Container": "mp4",
        "VideoTemplate": {"Codec": "h264", "Width": 1280, "Bitrate": 2500, "Gop": 100},
        "AudioTemplate": {"Codec": "aac", "Bitrate": 128, "SampleRate": 48000},
    })  # fmt: skip
    spec = TranscodeSpec(1, params)

    cpu, started = children_cpu(), time.monotonic()
    run(build_transcode(spec, meta, str(source), work / "single.mp4", encoders=encoders), 0)
    single_wall, single_cpu = time.monotonic() - started, children_cpu() - cpu

    CORE_CPU.clear()
    cpu, started = children_cpu(), time.monotonic()
    chunks = plan_chunks(video_packets(source), args.segment)
    jobs: queue.Queue[Command] = queue.Queue()
    audio = audio_command(spec, meta, str(source), work / "audio.mp4", encoders=encoders)
    if audio is not None:
        jobs.put(audio)
    paths = [work / f"chunk{c.index}.mp4" for c in chunks]
    for chunk, path in zip(chunks, paths, strict=True):
        jobs.put(chunk_command(spec, meta, str(source), chunk, path, encoders=encoders))

    def worker(core: int) -> None:
        while True:
            try:
                command = jobs.get_nowait()
            except queue.Empty:
                return
            run(command, core)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(args.workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    listing = work / "list.txt"
    listing.write_text(concat_list(paths))
    run(join_command(listing, work / "audio.mp4", work / "joined.mp4", meta.media_duration), 0)
    chunked_wall, chunked_cpu = time.monotonic() - started, children_cpu() - cpu

    print(
        f"source {args.seconds:g} s 1080p25 -> 720p H.264 2.5 Mb/s + AAC; "
        f"{len(chunks)} chunks of ~{args.segment:g} s"
    )
    print(f"1 worker (1 core):   {single_wall:7.1f} s wall, {single_cpu:7.1f} s CPU")
    print(
        f"{args.workers} workers ({args.workers} cores): {chunked_wall:7.1f} s wall, {chunked_cpu:7.1f} s CPU"
    )
    path = max(CORE_CPU.values())
    print(f"CPU per core (chunked): {', '.join(f'{c}: {v:.1f} s' for c, v in sorted(CORE_CPU.items()))}")
    print(f"speed-up by CPU critical path (load-independent): {single_cpu / path:.2f}x")
    print(
        f"speed-up {single_wall / chunked_wall:.2f}x; "
        f"chunking CPU overhead {100 * (chunked_cpu / single_cpu - 1):+.1f} %"
    )
    for name in ("single.mp4", "joined.mp4"):
        out = subprocess.run(
            ["ffprobe", "-v", "error", "-show_entries", "stream=codec_type,duration,nb_frames",
             "-of", "csv=p=0", str(work / name)],
            capture_output=True, text=True, check=True,
        ).stdout.split()  # fmt: skip
        print(f"{name}: {' '.join(out)}; {(work / name).stat().st_size} bytes")


if __name__ == "__main__":
    main()
