"""A runner that starts nothing: for unit tests of the layers above the runner.

::

    runner = FakeRunner(metadata=MediaMetaData(Width=1920, Height=1080, Duration=10.0))
    runner.on_run = lambda command: [path.write_bytes(b"x") for path in command.outputs]
    plan_and_run(task, runner=runner)
    assert runner.commands[0].argv[-1].endswith(".mp4")
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from mps.errors import ProcessingError, SourceError
from mps.media.command import Command
from mps.models.metadata import MediaMetaData

if TYPE_CHECKING:
    from mps.runner import ProgressCallback

#: Called with each command run; it may write the outputs, or raise the error the test wants.
RunHook = Callable[[Command], object]

#: The encoders a FakeRunner reports unless told otherwise: what Debian's ffmpeg has for our outputs.
DEFAULT_ENCODERS = frozenset(
    {
        "libx264",
        "libx265",
        "libvpx-vp9",
        "libaom-av1",
        "aac",
        "libmp3lame",
        "libopus",
        "mjpeg",
        "png",
        "gif",
        "libwebp",
        "libwebp_anim",
    }
)


class FakeRunner:
    """Records what it is asked to do and answers with canned values.

    Parameters:
        metadata: what :meth:`probe` returns; a dict maps a source (as ``str``) to its own
            metadata, and a source not in it raises ``SourceError`` like a missing file.
        on_run: called with each command after it is recorded; by default every path in
            ``command.outputs`` is created (empty), so callers that check outputs succeed.
        encoders: what :meth:`encoders` returns.

    Attributes:
        commands: every command given to :meth:`run`, in order (also those that then failed).
        probed: every source given to :meth:`probe`, as ``str``.
        timeouts: the ``timeout`` passed with each command, in order.
    """

    def __init__(
        self,
        metadata: MediaMetaData | dict[str, MediaMetaData] | None = None,
        *,
        on_run: RunHook | None = None,
        encoders: Iterable[str] = DEFAULT_ENCODERS,
    ) -> None:
        self.metadata = metadata if metadata is not None else MediaMetaData()
        self.on_run: RunHook = on_run if on_run is not None else touch_outputs
        self._encoders = frozenset(encoders)
        #: What :meth:`keyframe_interval` answers.
        self.gop = 2.0
        self.commands: list[Command] = []
        self.probed: list[str] = []
        self.timeouts: list[float | None] = []
        # Layers above may run commands from several threads (a worker pool); keep the lists whole.
        self._lock = threading.Lock()

    def run(
        self,
        command: Command,
        *,
        on_progress: ProgressCallback | None = None,
        timeout: float | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        """Record the command, call the hook, report progress 0.5 then 1.0.

        Raises:
            ProcessingError: the hook raised it, or ``cancel`` was already set
                (code ``FailedOperation.Cancelled``).
            ProcessTimeoutError: the hook raised it.
        """
        with self._lock:
            self.commands.append(command)
            self.timeouts.append(timeout)
        if cancel is not None and cancel.is_set():
            raise ProcessingError("ffmpeg was cancelled", code="FailedOperation.Cancelled")
        self.on_run(command)
        if on_progress is not None:
            on_progress(0.5)
            on_progress(1.0)

    def probe(self, source: str | Path) -> MediaMetaData:
        """The canned metadata for ``source``.

        Raises:
            SourceError: ``metadata`` is a dict without this source (``ResourceNotFound.SourceFile``).
        """
        with self._lock:
            self.probed.append(str(source))
        if isinstance(self.metadata, dict):
            if str(source) not in self.metadata:
                raise SourceError("the source file does not exist", code="ResourceNotFound.SourceFile")
            return self.metadata[str(source)]
        return self.metadata

    def keyframe_interval(self, source: str | Path) -> float:
        """The canned GOP (:attr:`gop`, seconds)."""
        return self.gop

    def encoders(self) -> frozenset[str]:
        """The configured encoder names."""
        return self._encoders


def touch_outputs(command: Command) -> None:
    """The default run hook: create every expected output (and its folder) as an empty file.

    Parameters:
        command: the command whose ``outputs`` to create.
    """
    for path in command.outputs:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()


def fail_with(error: ProcessingError | SourceError) -> RunHook:
    """A run hook that raises ``error`` for every command, e.g. ``fail_with(ProcessTimeoutError(...))``.

    Parameters:
        error: the exception to raise.

    Returns:
        The hook.
    """

    def hook(command: Command) -> None:
        raise error

    return hook


__all__ = ["DEFAULT_ENCODERS", "FakeRunner", "RunHook", "fail_with", "touch_outputs"]
