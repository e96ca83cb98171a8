"""The stall watchdog of FfmpegRunner against a real stalled network read.

A local HTTP server sends the first part of an MPEG-TS clip, then stops sending without closing
the connection: ffmpeg's http protocol waits forever by default, so only the watchdog ends it.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mps.errors import ProcessStalledError, ProcessTimeoutError
from mps.media.command import Command, input_args
from mps.runner import FfmpegRunner
from tests.processes import children, is_gone

#: The stall limit of these tests, and how much later than it the run may end.
STALL, MARGIN = 2.0, 3.0
CLIP_SECONDS = 30.0


#: The first part is sent in this many pieces this far apart, so that ffmpeg reports progress
#: (it prints a -progress block at most every 0.5 s) before the input stalls.
PIECES, PIECE_GAP = 8, 0.2


class StallingServer:
    """Serves ``data`` with its full Content-Length, but sends only the first ``sent`` bytes (in
    :data:`PIECES` pieces) and then holds the connection open until :meth:`close`.
    ``stalled_at`` is when it stopped sending (monotonic)."""

    def __init__(self, data: bytes, sent: int) -> None:
        self.release = threading.Event()
        self.stalled_at = 0.0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                self.send_response(200)
                self.send_header("Content-Type", "video/mp2t")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                step = sent // PIECES
                for start in range(0, step * PIECES, step):
                    self.wfile.write(data[start : start + step])
                    self.wfile.flush()
                    time.sleep(PIECE_GAP)
                outer.stalled_at = time.monotonic()
                outer.release.wait(60)  # stalled: nothing more, and no close

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/clip.ts"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stalling(tmp_path: Path) -> Iterator[StallingServer]:
    clip = tmp_path / "clip.ts"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i",
         f"testsrc2=size=320x240:rate=25:duration={CLIP_SECONDS:g}",
         "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-f", "mpegts", str(clip)],
        check=True, timeout=60,
    )  # fmt: skip
    data = clip.read_bytes()
    server = StallingServer(data, len(data) // 2)
    yield server
    server.close()


def _ffmpeg_pids(found: set[int], stop: threading.Event) -> None:
    while not stop.is_set():
        found.update(pid for pid, name in children(os.getpid()) if name == "ffmpeg")
        time.sleep(0.05)


def test_a_url_input_that_stops_sending_is_killed_as_stalled_and_leaves_no_ffmpeg(
    stalling: StallingServer,
) -> None:
    # Given a runner with a short stall limit, and a URL input that stops sending part way
    runner = FfmpegRunner(stall_timeout=STALL)
    progress: list[float] = []
    pids: set[int] = set()
    stop = threading.Event()
    watcher = threading.Thread(target=_ffmpeg_pids, args=(pids, stop), daemon=True)
    watcher.start()
    started = time.monotonic()

    # When ffmpeg reads it
    try:
        with pytest.raises(ProcessStalledError) as caught:
            runner.run(
                Command([*input_args(stalling.url), "-f", "null", "-"], duration=CLIP_SECONDS),
                on_progress=progress.append,
                timeout=60,
            )
        ended = time.monotonic()
    finally:
        stop.set()
        watcher.join()

    # Then it made progress first, was killed within the stall limit (plus a margin) of the
    # moment the input stopped, with the retryable stall code, and no ffmpeg (nor its process
    # group) is left
    assert progress and progress[-1] < 0.9, progress
    assert ended - stalling.stalled_at < STALL + MARGIN, ended - stalling.stalled_at
    assert ended - started >= STALL
    assert caught.value.code == "FailedOperation.Stalled" and caught.value.retryable
    assert caught.value.err_code == 70000 and isinstance(caught.value, ProcessTimeoutError)
    assert len(pids) == 1, pids
    (pid,) = pids
    assert is_gone(pid)
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)


def test_a_slow_run_that_keeps_progressing_is_not_a_stall() -> None:
    # Real-time reading at 10 fps: out_time moves every 0.1 s, far within a 0.5 s stall limit.
    endless = ["-re", "-f", "lavfi", "-i", "testsrc2=size=64x64:rate=10", "-f", "null", "-"]
    started = time.monotonic()

    with pytest.raises(ProcessTimeoutError) as caught:
        FfmpegRunner(stall_timeout=0.5).run(Command(endless, duration=60.0), timeout=2.0)

    assert not isinstance(caught.value, ProcessStalledError)
    assert caught.value.code == "FailedOperation.Timeout" and time.monotonic() - started >= 2.0


def test_a_stall_limit_of_zero_is_off(stalling: StallingServer) -> None:
    # The same stalled input, no stall limit: only the time limit ends the run.
    runner = FfmpegRunner(stall_timeout=0)
    with pytest.raises(ProcessTimeoutError) as caught:
        runner.run(Command([*input_args(stalling.url), "-f", "null", "-"]), timeout=STALL + 3)
    assert not isinstance(caught.value, ProcessStalledError)
