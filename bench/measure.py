"""Timing one pipeline: wall time, CPU time of its whole process tree, peak RSS of its ffmpegs.

- CPU time is the ``RUSAGE_CHILDREN`` delta (user + sys) around the run: it covers the pipeline's
  own process and every descendant it waited for (all the ffmpeg processes). Only one pipeline
  runs at a time, so nothing else of ours is in the delta.
- Peak memory: a thread polls the process tree every 50 ms (``/proc/PID/task/*/children``) and
  reads each ffmpeg's ``VmHWM`` (the kernel's own high-water mark of its RSS, so a poll between two
  peaks loses nothing; only the last 50 ms of a process can be missed). ``wait4`` on the pipeline's
  process gives ``tree_rss``: the largest of that process and every descendant it reaped, exact,
  an upper bound that includes the Python driver.
"""

from __future__ import annotations

import os
import resource
import shlex
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

POLL_SECONDS = 0.05


@dataclass
class Sample:
    """One measured run."""

    wall: float
    cpu: float
    ffmpeg_rss_kib: int
    tree_rss_kib: int
    commands: list[str] = field(default_factory=list)


def _read(path: str) -> str:
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return ""


def descendants(pid: int) -> list[int]:
    """Every living descendant of ``pid`` (threads' children included)."""
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for task in tasks:
            for child in _read(f"/proc/{current}/task/{task}/children").split():
                found.append(int(child))
                stack.append(int(child))
    return found


def high_water_kib(pid: int) -> int:
    """``VmHWM`` of ``pid`` in KiB (0 if it is gone)."""
    for line in _read(f"/proc/{pid}/status").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


class TreeWatcher(threading.Thread):
    """Polls the ffmpeg processes under one root until stopped: peak RSS and command lines."""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.peaks: dict[int, int] = {}
        self.commands: dict[int, str] = {}
        self.done = threading.Event()

    def run(self) -> None:
        """Poll until :attr:`done` is set."""
        while not self.done.is_set():
            self.poll()
            self.done.wait(POLL_SECONDS)

    def poll(self) -> None:
        """One look at the tree."""
        for pid in descendants(self.root):
            if _read(f"/proc/{pid}/comm").strip() != "ffmpeg":
                continue
            if pid not in self.commands:
                self.commands[pid] = shlex.join(_read(f"/proc/{pid}/cmdline").rstrip("\0").split("\0"))
            self.peaks[pid] = max(self.peaks.get(pid, 0), high_water_kib(pid))


def cpu_seconds() -> float:
    """User + system time of every reaped descendant so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(argv: Sequence[str], env: Mapping[str, str], cwd: Path, stderr: Path) -> Sample:
    """Run ``argv`` to the end and measure it; raise if it fails."""
    cpu_before = cpu_seconds()
    start = time.perf_counter()
    with stderr.open("wb") as err:
        proc = subprocess.Popen(list(argv), env=dict(env), cwd=cwd, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err)  # fmt: skip
        watcher = TreeWatcher(proc.pid)
        watcher.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        watcher.done.set()
        watcher.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        tail = stderr.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"{argv[:4]}... exited {proc.returncode}:\n{tail}")
    peak = max(watcher.peaks.values(), default=0)
    return Sample(wall, cpu_seconds() - cpu_before, peak, usage.ru_maxrss, list(watcher.commands.values()))
