"""Looking at live processes through /proc (Linux), for tests about children that must not survive."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path


def process_state(pid: int) -> str | None:
    """A process's state letter from /proc (``R``, ``S``, ``Z``...), or None when it no longer exists."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def is_gone(pid: int) -> bool:
    """Dead, or a zombie waiting for whoever reaps it now."""
    return process_state(pid) in (None, "Z")


def children(pid: int) -> list[tuple[int, str]]:
    """(pid, command name) of the live (not zombie) children of ``pid``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            name, rest = stat.read_text().rsplit(")", 1)
        except (FileNotFoundError, ProcessLookupError):
            continue  # exited while we looked
        state, ppid = rest.split()[:2]
        if int(ppid) == pid and state != "Z":
            found.append((int(stat.parent.name), name.split("(", 1)[1]))
    return found


def wait_until(condition: Callable[[], object], timeout: float) -> object:
    """Poll ``condition`` every 50 ms until it is truthy or ``timeout`` seconds pass; its last value."""
    deadline = time.monotonic() + timeout
    while not (value := condition()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return value
