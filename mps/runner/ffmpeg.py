"""The real runner: ffmpeg and ffprobe as child processes.

Each run gets its own session (process group), so a kill on timeout, stall or cancellation takes
any helper process ffmpeg started with it. The calling thread reads ffmpeg's ``-progress``
stream; a background thread drains stderr keeping only its tail, and a watchdog thread enforces
the time limit, the stall limit and the cancel event. Every path ends with the process reaped
and its pipes closed.

A run *stalls* when, for ``stall_timeout`` seconds, its ``-progress`` output has not moved
(``out_time``, ``frame`` and ``total_size`` all unchanged: ffmpeg prints the same block again
while it waits) and its stderr has not grown: a hung decode or a network read that stopped
(ffmpeg's http protocol waits forever by default). It is killed and fails with
:class:`~mps.errors.ProcessStalledError` (``FailedOperation.Stalled``, retryable). The limit must
exceed the longest wait between two output frames a legitimate run has (a sparse ``select``).

On Linux every child also dies with the process that started it, however that process ends
(SIGKILL, a crash, the OOM killer): see :func:`child_argv`.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from mps.errors import ProcessingError, ProcessStalledError, ProcessTimeoutError, SourceError
from mps.media.command import Command, input_args
from mps.media.probe import KEYFRAME_WINDOW, parse_keyframe_interval, parse_probe
from mps.models.metadata import MediaMetaData

if TYPE_CHECKING:
    # Only for annotations: mps.runner imports this module to export FfmpegRunner.
    from mps.runner import ProgressCallback

#: Flags put before every command: no stdin, only errors on stderr, progress as key=value on stdout.
GLOBAL_ARGS = ("-nostdin", "-hide_banner", "-y", "-loglevel", "error", "-progress", "pipe:1", "-nostats")

#: Code of the SourceError raised when a local source does not exist (or a URL answers 404).
CODE_SOURCE_NOT_FOUND = "ResourceNotFound.SourceFile"
#: Code of the SourceError raised when a source cannot be read, is not media, or has no stream.
CODE_SOURCE_UNREADABLE = "FailedOperation.SourceFile"
#: Code of the ProcessingError raised when a run was cancelled through its event.
CODE_CANCELLED = "FailedOperation.Cancelled"

#: How often the watchdog looks at the cancel event; also bounds how late a timeout fires.
_WATCH_INTERVAL = 0.05
#: How often the watchdog looks for a stall when there is no cancel event to watch.
_STALL_INTERVAL = 0.25
#: ``-progress`` keys whose change means ffmpeg moved on (not ``speed``, which changes while stuck).
_PROGRESS_KEYS = frozenset({"out_time_us", "out_time_ms", "out_time", "frame", "total_size"})
#: The smallest progress step reported, so a callback is not called for every progress block.
_PROGRESS_STEP = 0.005
#: stderr lines ffmpeg prints after the real error; the line before them says what went wrong.
_GENERIC_ERRORS = (
    "Conversion failed",
    "Error while processing the decoded data",
    "Failed to inject frame into filter network",
    "Error reinitializing filters",
    "Exiting normally",
)
#: The same, as suffixes: "<input>: Invalid argument" only repeats the error code of the line before.
_GENERIC_ENDINGS = (": Invalid argument",)
#: "[Parsed_scale_0 @ 0x55d0c8a2b0c0] " -> "[Parsed_scale_0] ": addresses only make messages differ.
_ADDRESS = re.compile(r" @ 0x[0-9a-fA-F]+\]")
#: Longest message built from stderr; the whole tail is kept on the error for logs.
_MAX_MESSAGE_LINE = 300
#: The program :func:`child_argv` puts in front of a command on Linux: ``argv[1]`` is the pid of
#: the process that starts it, ``argv[2:]`` the command. It asks the kernel for SIGKILL when its
#: parent dies (``prctl(PR_SET_PDEATHSIG)``, kept across ``execv``), then checks the parent is still
#: the one that started it: one that died before the ``prctl`` already made this process an orphan,
#: and no signal would ever come. Exit status 127 with a message if the command cannot be executed.
_DIE_WITH_PARENT = """\
import ctypes, os, signal, sys
if ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0) != 0:
    sys.exit(f"cannot start {sys.argv[2]}: prctl: {os.strerror(ctypes.get_errno())}")
if os.getppid() != int(sys.argv[1]):
    os.kill(os.getpid(), signal.SIGKILL)
try:
    os.execv(sys.argv[2], sys.argv[2:])
except OSError as exc:
    sys.stderr.write(f"cannot start {sys.argv[2]}: {exc.strerror}\\n")
    os._exit(127)
"""
#: What a message calls the (first) input instead of its local path or presigned URL.
SOURCE_LABEL = "the source"
#: An absolute local path of two or more segments inside a message: ``/tmp/mps-x/input.mp4``.
_LOCAL_PATH = re.compile(r"(?<![\w:/.~-])/(?:[^\s/:'\"]+/)+([^\s/:'\",]*)")
#: A URL's query string (presigned URLs carry their signature there).
_URL_QUERY = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s?'\"]*)\?[^\s'\"]*")

logger = logging.getLogger(__name__)


class FfmpegRunner:
    """Runs ffmpeg and ffprobe from the ``PATH`` (or the given binaries).

    Parameters:
        ffmpeg: the ffmpeg binary.
        ffprobe: the ffprobe binary.
        default_timeout: seconds a run or probe may take when the caller gives no ``timeout``.
        stderr_tail_bytes: how much of the end of stderr to keep for error messages.
        stall_timeout: seconds a run may go without progress before it is killed (0: never;
            ``MPS_STALL_TIMEOUT``).
    """

    def __init__(
        self,
        ffmpeg: str = "ffmpeg",
        ffprobe: str = "ffprobe",
        default_timeout: float = 3600.0,
        stderr_tail_bytes: int = 4096,
        stall_timeout: float = 120.0,
    ) -> None:
        self.ffmpeg = ffmpeg
        self.ffprobe = ffprobe
        self.default_timeout = default_timeout
        self.stderr_tail_bytes = stderr_tail_bytes
        self.stall_timeout = stall_timeout
        self._encoders: frozenset[str] | None = None
        self._encoders_lock = threading.Lock()

    def run(
        self,
        command: Command,
        *,
        on_progress: ProgressCallback | None = None,
        timeout: float | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        """Run one ffmpeg command to completion.

        Parameters:
            command: the argv after the binary; ``command.duration`` turns progress into a fraction.
            on_progress: called from this thread with a non-decreasing fraction, 1.0 on success.
            timeout: seconds before the process group is killed (``default_timeout`` if None).
            cancel: when set from another thread, the process group is killed.

        Raises:
            ProcessingError: ffmpeg could not start or exited non-zero (one-line message with
                the last meaningful stderr line, ``exit_code`` and ``stderr_tail`` set), or the
                run was cancelled (code ``FailedOperation.Cancelled``).
            ProcessTimeoutError: it ran past ``timeout`` seconds and was killed.
            ProcessStalledError: it made no progress for ``stall_timeout`` seconds and was killed.
        """
        limit = self.default_timeout if timeout is None else timeout
        proc = _start([self.ffmpeg, *GLOBAL_ARGS, *command.argv])
        tail: _StderrTail | None = None
        watchdog: _Watchdog | None = None
        activity = _Activity()
        try:
            tail = _StderrTail(proc.stderr, self.stderr_tail_bytes, activity)  # type: ignore[arg-type]
            watchdog = _Watchdog(proc, limit, cancel, _Stall(activity, self.stall_timeout))
            _follow_progress(proc.stdout, command.duration, on_progress, activity)  # type: ignore[arg-type]
            exit_code = proc.wait()
        finally:
            if watchdog is not None:
                watchdog.stop()
            _reap(proc)
            if tail is not None:
                tail.join()
        assert tail is not None and watchdog is not None  # both set, or the try above raised
        limits = {"timeout": limit, "stall": self.stall_timeout}
        _raise_for_outcome(exit_code, watchdog.reason, limits, tail.text(), command.argv)
        if on_progress is not None:
            on_progress(1.0)

    def probe(self, source: str | Path, *, timeout: float | None = None) -> MediaMetaData:
        """Probe a local file or URL with ffprobe, under the same input whitelists as a run.

        Parameters:
            source: a local path or an http(s) URL.
            timeout: seconds before ffprobe is killed (``min(default_timeout, 120)`` if None).

        Returns:
            The source's metadata; ``Size`` comes from ffprobe or, for a local file, ``os.stat``.

        Raises:
            SourceError: with code ``ResourceNotFound.SourceFile`` when the file does not exist
                (or the server answers 404), ``FailedOperation.SourceFile`` when it cannot be
                read, is not media ffmpeg may open (text, playlists, ...), has neither audio nor
                video, or ffprobe timed out on it.
        """
        size = _local_size(source)
        limit = min(self.default_timeout, 120.0) if timeout is None else timeout
        argv = [
            self.ffprobe,
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_format",
            "-show_streams",
            *input_args(source),
        ]
        stdout = _probe_output(argv, limit, source)
        try:
            data = json.loads(stdout)
        except ValueError as exc:
            raise SourceError("ffprobe printed unreadable JSON", code=CODE_SOURCE_UNREADABLE) from exc
        if not isinstance(data, dict):
            raise SourceError("ffprobe printed unexpected JSON", code=CODE_SOURCE_UNREADABLE)
        return parse_probe(data, size)

    def keyframe_interval(self, source: str | Path, *, timeout: float | None = None) -> float:
        """Seconds between keyframes in the first seconds of the video (a demux, no decode).

        Raises:
            SourceError: ffprobe cannot read the source.
        """
        limit = min(self.default_timeout, 60.0) if timeout is None else timeout
        argv = [self.ffprobe, "-v", "error", "-select_streams", "v:0", "-read_intervals",
                f"%+{KEYFRAME_WINDOW:g}", "-show_entries", "packet=pts_time,flags", "-of", "csv=p=0",
                *input_args(source)]  # fmt: skip
        return parse_keyframe_interval(_probe_output(argv, limit, source))

    def encoders(self) -> frozenset[str]:
        """Names of the encoders this ffmpeg has (``libx264``, ``aac``...), asked once per instance.

        Raises:
            ProcessingError: ffmpeg could not be started or failed to list them.
        """
        with self._encoders_lock:
            if self._encoders is None:
                self._encoders = parse_encoders(self._encoder_listing().splitlines())
            return self._encoders

    def _encoder_listing(self) -> str:
        try:
            result = subprocess.run(
                child_argv([self.ffmpeg, "-nostdin", "-hide_banner", "-encoders"]),
                capture_output=True,
                text=True,
                errors="replace",
                timeout=60,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ProcessingError(f"cannot list ffmpeg encoders: {exc}") from exc
        if result.returncode != 0:
            raise ProcessingError(
                f"ffmpeg -encoders exited with {result.returncode}: {last_error_line(result.stderr)}",
                exit_code=result.returncode,
                stderr_tail=result.stderr[-4096:],
            )
        return result.stdout


def parse_encoders(lines: Iterable[str]) -> frozenset[str]:
    """Encoder names from ``ffmpeg -encoders``: the second column of the rows after ``------``.

    Parameters:
        lines: the listing, one line each.

    Returns:
        The names.
    """
    names: set[str] = set()
    in_table = False
    for line in lines:
        fields = line.split()
        if not in_table:
            in_table = fields[:1] == ["------"]
        elif len(fields) >= 2 and len(fields[0]) == 6:
            names.add(fields[1])
    return frozenset(names)


def last_error_line(stderr: str) -> str:
    """The line of ffmpeg's stderr that says what went wrong, shortened to one line.

    ffmpeg often ends with generic lines ("Conversion failed!", "<input>: Invalid argument");
    the last line that is not one of them is the cause.

    Parameters:
        stderr: ffmpeg's stderr (or its tail) as text.

    Returns:
        The line, without object addresses, at most 300 characters; ``"no error output"`` when
        stderr was empty.
    """
    lines = [_ADDRESS.sub("]", line.strip()) for line in stderr.splitlines() if line.strip()]
    if not lines:
        return "no error output"
    specific = [
        line for line in lines if not line.startswith(_GENERIC_ERRORS) and not line.endswith(_GENERIC_ENDINGS)
    ]
    line = (specific or lines)[-1]
    return line if len(line) <= _MAX_MESSAGE_LINE else line[: _MAX_MESSAGE_LINE - 3] + "..."


def progress_seconds(key: str, value: str) -> float | None:
    """The output time in seconds from one ``-progress`` line.

    ``out_time_ms`` is in microseconds too (a long-standing ffmpeg quirk); values are ``N/A``
    before the first frame.

    Parameters:
        key: the part before ``=`` (``out_time_us``, ``frame``, ``progress``...).
        value: the part after it.

    Returns:
        Seconds, or None when the line is not an output time or its value is not a number.
    """
    try:
        if key in ("out_time_us", "out_time_ms"):
            return int(value) / 1_000_000
        if key == "out_time":
            hours, minutes, secs = value.split(":")
            return int(hours) * 3600 + int(minutes) * 60 + float(secs)
    except ValueError:
        return None
    return None


def redact_paths(text: str, argv: Sequence[str] = ()) -> str:
    """``text`` with no local path, presigned URL or server address a client could see.

    ffmpeg names its inputs and outputs in its errors, and those are a worker's scratch paths or
    presigned URLs of the object store. The first input (``-i``) becomes :data:`SOURCE_LABEL`; the
    other paths and URLs of ``argv`` become their file names; any other absolute path left in
    the text becomes its file name, and URL query strings are dropped.

    Parameters:
        text: a message built from ffmpeg's or ffprobe's stderr.
        argv: the command that printed it.

    Returns:
        The text, safe for task results, events and API answers.
    """
    inputs = [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == "-i"]
    named = {token: _file_name(token) for token in argv if "://" in token or token.startswith(("/", "./"))}
    if inputs:
        named[inputs[0]] = SOURCE_LABEL
        named[inputs[0].removeprefix("./")] = SOURCE_LABEL
    for token in sorted(named, key=len, reverse=True):
        if len(token) > 1:
            text = text.replace(token, named[token])
    text = _URL_QUERY.sub(r"\1", text)
    return _LOCAL_PATH.sub(lambda match: match.group(1) or "a directory", text)


def _file_name(token: str) -> str:
    path = token.split("?", 1)[0].rstrip("/")
    return path.rsplit("/", 1)[-1] or "a directory"


def _raise_for_outcome(
    exit_code: int,
    killed_for: str | None,
    limits: dict[str, float],
    stderr: str,
    argv: Sequence[str] = (),
) -> None:
    """Raise what a finished run means: killed on timeout or stall, cancelled, or failed.

    ``limits`` holds the seconds of the ``timeout`` and the ``stall`` limits. The message is
    :func:`redact_paths` of the last error line; the whole stderr tail stays on the error, and
    the unredacted line goes to the server log.
    """
    if killed_for == "timeout":
        raise ProcessTimeoutError(
            f"ffmpeg ran past its {limits['timeout']:g} s time limit and was killed",
            exit_code=exit_code,
            stderr_tail=stderr,
        )
    if killed_for == "stall":
        logger.warning("ffmpeg made no progress for %g s; killed (argv: %s)", limits["stall"], " ".join(argv))
        raise ProcessStalledError(
            f"ffmpeg made no progress for {limits['stall']:g} s (a stalled input or a hung decode) "
            "and was killed",
            exit_code=exit_code,
            stderr_tail=stderr,
        )
    if killed_for == "cancel":
        raise ProcessingError(
            "ffmpeg was cancelled", code=CODE_CANCELLED, exit_code=exit_code, stderr_tail=stderr
        )
    if exit_code != 0:
        line = last_error_line(stderr)
        logger.warning("ffmpeg exited with %d: %s (argv: %s)", exit_code, line, " ".join(argv))
        raise ProcessingError(
            f"ffmpeg exited with {exit_code}: {redact_paths(line, argv)}",
            exit_code=exit_code,
            stderr_tail=stderr,
        )


def child_argv(argv: list[str]) -> list[str]:
    """The argv that runs ``argv`` as a child that cannot outlive this process.

    On Linux the command goes through :data:`_DIE_WITH_PARENT`, a few lines of Python (``-I -S``:
    about 10 ms) that set ``PR_SET_PDEATHSIG`` to SIGKILL and ``execv`` the binary, so the pid
    ``Popen`` returns becomes the ffmpeg itself. Why this way:

    - ``preexec_fn`` would run Python in the forked child of a threaded process (the worker runs
      ffmpeg from handler threads), which can deadlock on a lock another thread held at fork, and
      it stops ``subprocess`` from using vfork; the wrapper runs in a fresh interpreter after exec.
    - The kernel sends the signal when the *thread* that forked exits, not the process. That is
      right here because every run is synchronous: the thread that starts a child waits for it and
      reaps it (``run``, ``_probe_output``, ``_encoder_listing``), so it outlives the child unless
      the whole process dies, which is the case to catch. Code that starts a child and returns
      while it runs must not use this.
    - The parent may die between fork and ``prctl``; the wrapper checks ``getppid`` after it.
    - A process group alone is not enough: nobody is left to ``killpg`` it after a SIGKILL.

    Elsewhere (or with no Python executable to run) the command is returned as it is.

    Parameters:
        argv: the binary and its arguments.

    Returns:
        The argv to give to ``subprocess``.

    Raises:
        FileNotFoundError: the binary is not found (as ``Popen`` would raise without the wrapper).
    """
    if not sys.platform.startswith("linux") or not sys.executable:
        return argv
    binary = shutil.which(argv[0])
    if binary is None:
        raise FileNotFoundError(2, "No such file or directory", argv[0])
    return [sys.executable, "-I", "-S", "-c", _DIE_WITH_PARENT, str(os.getpid()), binary, *argv[1:]]


def _start(argv: list[str]) -> subprocess.Popen[bytes]:
    try:
        # A new session makes the process the leader of its own group, so killpg takes its children.
        return subprocess.Popen(
            child_argv(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        logger.warning("cannot start %s: %s", argv[0], exc)
        raise ProcessingError(f"cannot start {_file_name(argv[0])}: {exc.strerror or 'OS error'}") from exc


def _follow_progress(
    stdout: IO[bytes],
    duration: float,
    on_progress: ProgressCallback | None,
    activity: _Activity | None = None,
) -> None:
    """Read ``-progress`` blocks until ffmpeg closes stdout, reporting rising fractions, and
    telling ``activity`` whenever ffmpeg moved on."""
    reported = 0.0
    seen: dict[str, str] = {}
    for raw in stdout:
        key, _, value = raw.decode("ascii", "replace").strip().partition("=")
        if activity is not None and key in _PROGRESS_KEYS and seen.get(key) != value:
            seen[key] = value
            activity.touch()
        seconds = progress_seconds(key, value)
        if on_progress is None or seconds is None or duration <= 0:
            continue
        fraction = min(1.0, max(0.0, seconds / duration))
        # Reports only go up (ffmpeg's clock can step back a frame), and not for every tiny step.
        if fraction >= reported + _PROGRESS_STEP and fraction < 1.0:
            reported = fraction
            on_progress(fraction)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass  # already gone (and reaped): nothing left to kill


def _reap(proc: subprocess.Popen[bytes]) -> None:
    """Kill the group if the process still runs, wait for it, and close our ends of the pipes."""
    if proc.poll() is None:
        _kill_group(proc)
    proc.wait()
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()


class _Activity:
    """When the run last showed progress (monotonic seconds), set from the reader threads."""

    def __init__(self) -> None:
        self.last = time.monotonic()

    def touch(self) -> None:
        # One float assignment: atomic under the GIL, and a late reading only delays a kill.
        self.last = time.monotonic()


@dataclass(frozen=True)
class _Stall:
    """The stall limit of one run: ``seconds`` without ``activity`` (0: no limit)."""

    activity: _Activity
    seconds: float

    def stalled(self) -> bool:
        return self.seconds > 0 and time.monotonic() - self.activity.last >= self.seconds


class _StderrTail:
    """Drains a pipe in a daemon thread, keeping only its last ``limit`` bytes (stderr output
    counts as activity: ffmpeg is alive and saying something)."""

    def __init__(self, pipe: IO[bytes], limit: int, activity: _Activity | None = None) -> None:
        self._pipe = pipe
        self._activity = activity
        self._limit = max(0, limit)
        self._buffer = bytearray()
        self._thread = threading.Thread(target=self._drain, name="ffmpeg-stderr", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        try:
            while chunk := self._pipe.read1(65536):  # type: ignore[attr-defined]
                if self._activity is not None:
                    self._activity.touch()
                self._buffer += chunk
                if len(self._buffer) > self._limit:
                    del self._buffer[: len(self._buffer) - self._limit]
        except (OSError, ValueError):
            pass  # the pipe was closed under us: the tail so far is what we have

    def join(self) -> None:
        self._thread.join(timeout=5)

    def text(self) -> str:
        return bytes(self._buffer).decode("utf-8", "replace")


class _Watchdog:
    """Kills the process group when the time limit passes, the run stalls, or the cancel event
    is set.

    ``reason`` is ``"timeout"``, ``"stall"`` or ``"cancel"`` once it has killed, else None.
    """

    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        limit: float,
        cancel: threading.Event | None,
        stall: _Stall | None = None,
    ) -> None:
        self.reason: str | None = None
        self._proc = proc
        self._deadline = time.monotonic() + limit
        self._cancel = cancel
        self._stall = stall if stall is not None and stall.seconds > 0 else None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="ffmpeg-watchdog", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while True:
            remaining = self._deadline - time.monotonic()
            # With nothing to poll, sleep until the deadline or the end.
            if self._cancel is not None:
                wait = min(remaining, _WATCH_INTERVAL)
            elif self._stall is not None:
                wait = min(remaining, _STALL_INTERVAL)
            else:
                wait = remaining
            if self._done.wait(max(0.0, wait)):
                return
            if self._cancel is not None and self._cancel.is_set():
                reason = "cancel"
            elif time.monotonic() >= self._deadline:
                reason = "timeout"
            elif self._stall is not None and self._stall.stalled():
                reason = "stall"
            else:
                continue
            # A process that just finished on its own was not killed: its outcome stands.
            if self._proc.poll() is None:
                self.reason = reason
                _kill_group(self._proc)
            return

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def _local_size(source: str | Path) -> int | None:
    """The size of a local source, raising the right SourceError when it cannot be a file."""
    if "://" in str(source):
        return None
    # The messages never name the path: for a worker it is its scratch directory. The log does.
    try:
        stat = os.stat(source)
    except FileNotFoundError as exc:
        logger.info("source file not found: %s", source)
        raise SourceError(
            f"the source file {Path(source).name} does not exist", code=CODE_SOURCE_NOT_FOUND
        ) from exc
    except OSError as exc:
        logger.info("cannot read source file %s: %s", source, exc)
        raise SourceError(
            f"cannot read the source file: {exc.strerror}", code=CODE_SOURCE_UNREADABLE
        ) from exc
    if not os.path.isfile(source):
        logger.info("source is not a regular file: %s", source)
        raise SourceError("the source is not a regular file", code=CODE_SOURCE_UNREADABLE)
    return stat.st_size


def _probe_output(argv: list[str], limit: float, source: str | Path) -> str:
    """ffprobe's stdout, or the SourceError its failure means (naming ``source`` "the source")."""
    try:
        result = subprocess.run(
            child_argv(argv),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=limit,
            check=False,
            start_new_session=True,
        )
    except subprocess.TimeoutExpired as exc:
        raise SourceError(
            f"ffprobe ran past its {limit:g} s time limit", code=CODE_SOURCE_UNREADABLE
        ) from exc
    except OSError as exc:
        logger.warning("cannot start %s: %s", argv[0], exc)
        raise SourceError(
            f"cannot start {_file_name(argv[0])}: {exc.strerror or 'OS error'}", code=CODE_SOURCE_UNREADABLE
        ) from exc
    stderr = result.stderr[-4096:].decode("utf-8", "replace")
    if result.returncode != 0:
        line = last_error_line(stderr)
        code = CODE_SOURCE_NOT_FOUND if _means_not_found(line) else CODE_SOURCE_UNREADABLE
        logger.info("ffprobe cannot read %s: %s", source, line)
        public = redact_paths(line, argv).removeprefix(f"{SOURCE_LABEL}: ")
        raise SourceError(f"ffprobe cannot read the source: {public}", code=code)
    return result.stdout.decode("utf-8", "replace")


def _means_not_found(line: str) -> bool:
    return "No such file or directory" in line or "404 Not Found" in line
