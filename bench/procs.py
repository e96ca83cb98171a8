"""Running ffmpeg for the naive and best scripts: N at a time, each one's peak memory from wait4.

Every command is logged (argv, wall seconds, peak RSS in KiB, exit status) to a JSON file the
harness reads back, so the report can print the exact commands and the largest process.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

FFMPEG = ("ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y")

#: A job is a list of commands run one after the other (e.g. palettegen, then paletteuse).
Job = Sequence[Sequence[str]]


@dataclass
class Record:
    """One finished ffmpeg process."""

    argv: list[str]
    seconds: float
    max_rss_kib: int
    status: int


class CommandFailed(RuntimeError):
    """An ffmpeg run exited non-zero."""


def run_one(argv: Sequence[str]) -> Record:
    """Run one command to the end; its peak RSS comes from ``os.wait4``'s rusage."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        record = Record(list(argv), time.perf_counter() - start, usage.ru_maxrss, proc.returncode)
        if proc.returncode:
            err.seek(0)
            tail = err.read().decode(errors="replace")[-2000:]
            raise CommandFailed(f"exit {proc.returncode}: {' '.join(argv)}\n{tail}")
    return record


def run_job(job: Job) -> list[Record]:
    """Run the commands of one job in order."""
    return [run_one(argv) for argv in job]


def run_jobs(jobs: Sequence[Job], parallel: int, log: Path | None) -> list[Record]:
    """Run ``jobs`` with at most ``parallel`` processes at once; log every record to ``log``."""
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        records = [r for done in pool.map(run_job, jobs) for r in done]
    write_log(records, log)
    return records


def write_log(records: Sequence[Record], log: Path | None) -> None:
    """Log ``records`` to ``log`` (nothing when None) for the harness to read back."""
    if log is not None:
        log.write_text(json.dumps([asdict(r) for r in records], indent=1))


def probe(source: Path) -> tuple[int, int, float, float]:
    """``(width, height, duration, fps)`` of the first video stream (one ffprobe run)."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
         "stream=width,height,avg_frame_rate:format=duration", "-of", "json", str(source)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    data = json.loads(out)
    stream = data["streams"][0]
    num, den = (int(x) for x in stream["avg_frame_rate"].split("/"))
    return int(stream["width"]), int(stream["height"]), float(data["format"]["duration"]), num / den
