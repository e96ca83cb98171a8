"""The worker's per-task input cache: a task's source is fetched once per worker process.

A task's sub-tasks arrive as separate messages, often at the same worker and at the same time (one
per handler thread). The first handler to ask fetches the input under the entry's lock; the others
wait on that lock and then share the file. The probe result rides along in the same entry.

Entries are keyed by task id and input identity (the ``InputInfo`` JSON), and counted while in use:
an entry is removed when its task finishes (:meth:`InputCache.discard`), when it has not been used
for ``ttl`` seconds, or when more than ``max_entries`` are kept (least recently used first), and never
while a handler still reads it. A permanent fetch failure (missing object, refused URL) is kept too,
so the task's other sub-tasks fail at once instead of fetching again; transient ones are not kept.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from mps.errors import MpsError
from mps.models import MediaInputInfo, MediaMetaData
from mps.storage import Storage, download_url, input_location

log = logging.getLogger("mps.worker.InputCache")

#: Fetches an input into the given file (replacing it). Raises MpsError subclasses.
Fetch = Callable[[MediaInputInfo, Path], None]
#: Seconds an unused entry is kept.
DEFAULT_TTL = 3600.0
#: Entries kept at most (each is one input file on disk).
DEFAULT_MAX_ENTRIES = 16


@dataclass(eq=False)
class CachedInput:
    """One task's input as this process holds it.

    Attributes:
        task_id: the task.
        path: the local file, once fetched.
        meta: the probe of the file, once known (set by the handler under :attr:`lock`).
        gop: seconds between keyframes, once measured (None: not yet, or not measurable).
        gop_measured: whether :attr:`gop` was measured, so a failed measure is not retried.
        error: the permanent failure of the fetch or probe, if there was one.
        lock: held while fetching or probing, so only one handler thread does it.
    """

    task_id: str
    key: tuple[str, str]
    directory: Path
    path: Path | None = None
    meta: MediaMetaData | None = None
    gop: float | None = None
    gop_measured: bool = False
    error: MpsError | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    users: int = 0
    last_used: float = 0.0
    doomed: bool = False


class InputCache:
    """Local copies of task inputs, shared by the handler threads of one worker process.

    Parameters:
        directory: where input files are kept (one sub-directory per entry).
        fetch: downloads an input to a file.
        ttl: seconds an unused entry is kept.
        max_entries: entries kept at most; the least recently used unused ones go first.
        clock: monotonic seconds, replaceable in tests.
    """

    def __init__(
        self, directory: Path, fetch: Fetch, *, ttl: float = DEFAULT_TTL,
        max_entries: int = DEFAULT_MAX_ENTRIES, clock: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        self.directory, self.fetch, self.ttl, self.max_entries, self.clock = (
            directory,
            fetch,
            ttl,
            max_entries,
            clock,
        )
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], CachedInput] = {}
        #: How many fetches ran (tests check "once per task").
        self.fetches = 0

    @contextmanager
    def use(self, task_id: str, info: MediaInputInfo) -> Iterator[CachedInput]:
        """The task's input, fetched if this process does not have it yet.

        Parameters:
            task_id: the task.
            info: its ``InputInfo``.

        Yields:
            The entry, its :attr:`CachedInput.path` set; it stays on disk until the block exits.

        Raises:
            MpsError: the fetch failed (now, or permanently before).
        """
        entry = self._acquire(task_id, info)
        try:
            with entry.lock:
                if entry.error is not None:
                    raise entry.error
                if entry.path is None:
                    self._fetch(entry, info)
            yield entry
        finally:
            self._release(entry)

    def discard(self, task_id: str) -> None:
        """Drop the task's entries (now, or when their last user is done): the task is finished."""
        with self._lock:
            for entry in list(self._entries.values()):
                if entry.task_id == task_id:
                    entry.doomed = True
                    if entry.users == 0:
                        self._remove(entry)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def _acquire(self, task_id: str, info: MediaInputInfo) -> CachedInput:
        key = (task_id, info.model_dump_json())
        with self._lock:
            self._expire()
            entry = self._entries.get(key)
            if entry is None or entry.doomed:
                self.directory.mkdir(parents=True, exist_ok=True)
                directory = Path(tempfile.mkdtemp(prefix="mps-input-", dir=self.directory))
                entry = CachedInput(task_id, key, directory)
                self._entries[key] = entry
            entry.users += 1
            entry.last_used = self.clock()
            return entry

    def _release(self, entry: CachedInput) -> None:
        with self._lock:
            entry.users -= 1
            entry.last_used = self.clock()
            if entry.users == 0 and entry.doomed:
                self._remove(entry)
            self._expire()

    def _fetch(self, entry: CachedInput, info: MediaInputInfo) -> None:
        target = entry.directory / ("input" + Path(info.file_name).suffix.lower()[:12])
        started = time.monotonic()
        try:
            self.fetch(info, target)
        except MpsError as exc:
            if not exc.retryable:
                entry.error = exc  # the same request would fail the same way for every sub-task
            raise
        self.fetches += 1
        entry.path = target
        size = target.stat().st_size if target.exists() else 0
        log.info("task %s: input fetched (%d bytes, %.1f s)", entry.task_id, size, time.monotonic() - started)

    def _expire(self) -> None:
        """Drop unused entries past their TTL, then the least recently used beyond the size bound."""
        now = self.clock()
        idle = sorted((e for e in self._entries.values() if e.users == 0), key=lambda e: e.last_used)
        for entry in idle:
            if now - entry.last_used > self.ttl or len(self._entries) > self.max_entries:
                self._remove(entry)

    def _remove(self, entry: CachedInput) -> None:
        """Forget ``entry`` (unless a newer entry took its key) and delete its files."""
        if self._entries.get(entry.key) is entry:
            del self._entries[entry.key]
        shutil.rmtree(entry.directory, ignore_errors=True)


def make_fetch(storage: Storage, *, url_max_bytes: int, allow_private: bool) -> Fetch:
    """The fetch of the service: COS/AWS-S3 objects from ``storage``, URLs with the SSRF guard.

    Parameters:
        storage: the configured object store.
        url_max_bytes: the largest URL input (``MPS_URL_MAX_BYTES``).
        allow_private: let URL inputs reach private addresses (``MPS_URL_ALLOW_PRIVATE``).

    Returns:
        A :data:`Fetch`.
    """

    def fetch(info: MediaInputInfo, dest: Path) -> None:
        if info.Type == "URL":
            assert info.UrlInputInfo is not None
            download_url(info.UrlInputInfo.Url, dest, max_bytes=url_max_bytes, allow_private=allow_private)
            return
        bucket, key = input_location(info)
        _input_storage(storage, info).get(bucket, key, dest)

    return fetch


def _input_storage(storage: Storage, info: MediaInputInfo) -> Storage:
    """The store with the request's own AWS-S3 keys when it brings some (and the store can use them)."""
    s3 = info.S3InputInfo
    with_credentials = getattr(storage, "with_credentials", None)
    if info.Type == "AWS-S3" and s3 is not None and s3.S3SecretId and s3.S3SecretKey and with_credentials:
        chosen: Storage = with_credentials(s3.S3SecretId, s3.S3SecretKey, s3.S3Region or None)
        return chosen
    return storage


__all__ = ["DEFAULT_MAX_ENTRIES", "DEFAULT_TTL", "CachedInput", "Fetch", "InputCache", "make_fetch"]
