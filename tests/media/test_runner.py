"""FfmpegRunner against the real ffmpeg 5.1 on tiny generated clips."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mps.errors import ProcessingError, ProcessTimeoutError, SourceError
from mps.media.command import Command, input_args
from mps.models.metadata import MediaMetaData
from mps.runner import FakeRunner, FfmpegRunner, Runner
from mps.runner.fake import fail_with
from mps.runner.ffmpeg import (
    _DIE_WITH_PARENT,
    last_error_line,
    parse_encoders,
    progress_seconds,
    redact_paths,
)
from tests.conftest import ClipFactory
from tests.mediatools import duration_of, video_stream
from tests.processes import children, is_gone, wait_until

#: An input that never ends on its own, read at real-time speed: something to time out or cancel.
ENDLESS = ["-re", "-f", "lavfi", "-i", "testsrc2=size=64x64:rate=10", "-f", "null", "-"]


@pytest.fixture
def runner() -> FfmpegRunner:
    return FfmpegRunner()


def test_ffmpeg_runner_satisfies_the_protocol(runner: FfmpegRunner) -> None:
    checked: Runner = runner
    assert isinstance(checked, FfmpegRunner)


# -- run: progress -------------------------------------------------------------------------------


def test_transcode_reports_monotonic_progress_ending_at_one(
    runner: FfmpegRunner, sample_clip: Path, tmp_path: Path
) -> None:
    out = tmp_path / "small.mp4"
    argv = [
        *input_args(sample_clip),
        "-vf",
        "scale=160:-2",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-an",
        str(out),
    ]
    fractions: list[float] = []

    runner.run(Command(argv, duration=4.0, outputs=[out]), on_progress=fractions.append)

    assert fractions[-1] == 1.0
    assert fractions == sorted(fractions)
    assert all(0.0 <= f <= 1.0 for f in fractions)
    assert video_stream(out)["width"] == 160
    assert duration_of(out) == pytest.approx(4.0, abs=0.1)


def test_progress_arrives_while_ffmpeg_runs(runner: FfmpegRunner) -> None:
    # 0.6 s at real-time speed with a progress block every 0.05 s: several partial reports.
    argv = [
        "-stats_period",
        "0.05",
        "-re",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=64x64:rate=20:duration=0.6",
        "-f",
        "null",
        "-",
    ]
    fractions: list[float] = []

    runner.run(Command(argv, duration=0.6), on_progress=fractions.append)

    partial = [f for f in fractions if 0.0 < f < 1.0]
    assert len(partial) >= 3
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_without_a_duration_only_completion_is_reported(runner: FfmpegRunner, sample_clip: Path) -> None:
    fractions: list[float] = []
    runner.run(Command([*input_args(sample_clip), "-f", "null", "-"]), on_progress=fractions.append)
    assert fractions == [1.0]


@pytest.mark.parametrize(
    ("key", "value", "seconds"),
    [
        ("out_time_us", "1500000", 1.5),
        ("out_time_ms", "2000000", 2.0),
        ("out_time", "00:01:02.500000", 62.5),
        ("out_time_us", "N/A", None),
        ("out_time", "N/A", None),
        ("frame", "12", None),
    ],
)
def test_progress_lines_are_read_in_seconds(key: str, value: str, seconds: float | None) -> None:
    assert progress_seconds(key, value) == seconds


# -- run: failures, time limit, cancellation ---------------------------------------------------


def test_failing_command_raises_processing_error_with_the_stderr_line(
    runner: FfmpegRunner, sample_clip: Path, tmp_path: Path
) -> None:
    argv = [*input_args(sample_clip), "-c:v", "nosuchcodec", str(tmp_path / "x.mp4")]

    with pytest.raises(ProcessingError) as caught:
        runner.run(Command(argv, duration=4.0))

    error = caught.value
    assert type(error) is ProcessingError
    assert error.exit_code not in (0, None)
    assert str(error) == f"ffmpeg exited with {error.exit_code}: Unknown encoder 'nosuchcodec'"
    assert "Unknown encoder 'nosuchcodec'" in error.stderr_tail
    assert error.code == "FailedOperation.Ffmpeg"


def test_the_cause_is_preferred_to_ffmpegs_generic_last_lines(
    runner: FfmpegRunner, sample_clip: Path
) -> None:
    with pytest.raises(ProcessingError) as caught:
        runner.run(Command([*input_args(sample_clip), "-vf", "scale=bad", "-f", "null", "-"]))
    # ffmpeg ends with "Error while processing the decoded data..."; the message names the filter.
    assert "Invalid size 'bad'" in caught.value.message or "scale" in caught.value.message
    assert "\n" not in caught.value.message and "0x" not in caught.value.message


def test_stderr_tail_is_bounded(sample_clip: Path) -> None:
    runner = FfmpegRunner(stderr_tail_bytes=32)
    with pytest.raises(ProcessingError) as caught:
        runner.run(Command([*input_args(sample_clip), "-c:v", "nosuchcodec", "-f", "null", "-"]))
    assert 0 < len(caught.value.stderr_tail.encode()) <= 32


def test_timeout_kills_ffmpeg_quickly(runner: FfmpegRunner) -> None:
    started = time.monotonic()
    with pytest.raises(ProcessTimeoutError) as caught:
        runner.run(Command(ENDLESS, duration=60.0), timeout=0.5)
    assert time.monotonic() - started < 3.0
    assert caught.value.code == "FailedOperation.Timeout" and caught.value.retryable


def test_default_timeout_applies_when_none_is_given() -> None:
    with pytest.raises(ProcessTimeoutError):
        FfmpegRunner(default_timeout=0.3).run(Command(ENDLESS))


def test_timeout_kills_the_whole_process_group_and_reaps_the_child(tmp_path: Path) -> None:
    # A stand-in "ffmpeg" that starts a helper and waits: both must be gone after the timeout.
    pids = tmp_path / "pids"
    fake = tmp_path / "ffmpeg"
    fake.write_text(f"#!/bin/sh\nsleep 30 &\necho $$ $! > {pids}\nwait\n")
    fake.chmod(0o755)

    with pytest.raises(ProcessTimeoutError):
        FfmpegRunner(ffmpeg=str(fake)).run(Command([]), timeout=0.3)

    shell, helper = (int(pid) for pid in pids.read_text().split())
    assert _state(shell) is None  # reaped by the runner: no zombie left behind
    # Killed with its group (reaping it is init's job); a loaded machine may take a moment to deliver.
    assert wait_until(lambda: _state(helper) in (None, "Z"), 2.0), _state(helper)


def test_cancel_event_kills_and_raises_cancelled(runner: FfmpegRunner) -> None:
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    started = time.monotonic()

    with pytest.raises(ProcessingError) as caught:
        runner.run(Command(ENDLESS, duration=60.0), timeout=30, cancel=cancel)

    assert type(caught.value) is ProcessingError
    assert caught.value.code == "FailedOperation.Cancelled"
    assert time.monotonic() - started < 3.0


def test_a_missing_binary_is_a_processing_error() -> None:
    with pytest.raises(ProcessingError, match="cannot start"):
        FfmpegRunner(ffmpeg="/nonexistent/ffmpeg").run(Command(["-version"]))


def test_a_failing_progress_callback_still_leaves_no_process(runner: FfmpegRunner, tmp_path: Path) -> None:
    def explode(fraction: float) -> None:
        raise RuntimeError("callback failed")

    argv = ["-stats_period", "0.1", *ENDLESS]
    with pytest.raises(RuntimeError, match="callback failed"):
        runner.run(Command(argv, duration=60.0), on_progress=explode, timeout=10)
    assert [t.name for t in threading.enumerate() if t.name.startswith("ffmpeg-")] == []


# -- probe -----------------------------------------------------------------------------------------


def test_probe_of_a_rotated_clip_reports_rotate_and_display_size(
    runner: FfmpegRunner, clip: ClipFactory
) -> None:
    meta = runner.probe(clip(rotate=90, duration=1.0))
    assert meta.Rotate == 90
    assert (meta.Width, meta.Height) == (320, 240)
    assert (meta.display_width, meta.display_height) == (240, 320)


def test_probe_of_a_plain_clip(runner: FfmpegRunner, sample_clip: Path) -> None:
    meta = runner.probe(sample_clip)
    assert meta.Container == "mov,mp4,m4a,3gp,3g2,mj2"
    assert meta.Size == sample_clip.stat().st_size
    assert meta.Duration == pytest.approx(4.0, abs=0.1) and meta.Bitrate > 0
    assert (meta.Rotate, meta.Width, meta.Height) == (0, 320, 240)
    video, audio = meta.VideoStreamSet[0], meta.AudioStreamSet[0]
    assert (video.Codec, video.Fps, video.FpsNumerator, video.FpsDenominator) == ("h264", 25, 25, 1)
    assert (audio.Codec, audio.SamplingRate, audio.Channel) == ("aac", 44100, 1)


def test_probe_of_a_clip_without_audio(runner: FfmpegRunner, clip: ClipFactory) -> None:
    meta = runner.probe(clip(audio=False, duration=1.0))
    assert meta.AudioStreamSet == [] and meta.AudioDuration == 0.0
    assert meta.has_video and meta.VideoDuration == pytest.approx(1.0, abs=0.1)


def test_probe_of_an_audio_only_file(runner: FfmpegRunner, clip: ClipFactory) -> None:
    path = clip(video=False, ext="m4a", duration=1.0)
    meta = runner.probe(path)
    assert meta.VideoStreamSet == [] and (meta.Width, meta.Height) == (0, 0)
    assert meta.AudioStreamSet[0].Codec == "aac"
    assert meta.AudioDuration == pytest.approx(1.0, abs=0.1)
    assert meta.Size == path.stat().st_size


def test_probe_of_a_missing_file(runner: FfmpegRunner, tmp_path: Path) -> None:
    with pytest.raises(SourceError) as caught:
        runner.probe(tmp_path / "nothing.mp4")
    assert caught.value.code == "ResourceNotFound.SourceFile"
    assert "nothing.mp4" in caught.value.message


@pytest.mark.parametrize(
    "content",
    [b"hello, this is not a video\n" * 50, b"", bytes(range(256)) * 8],
    ids=["text", "empty", "binary"],
)
def test_probe_of_a_file_that_is_not_media(runner: FfmpegRunner, tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "notes.mp4"
    path.write_bytes(content)
    with pytest.raises(SourceError) as caught:
        runner.probe(path)
    assert caught.value.code == "FailedOperation.SourceFile"
    assert "\n" not in caught.value.message


def test_probe_of_a_directory(runner: FfmpegRunner, tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not a regular file"):
        runner.probe(tmp_path)


def test_probe_of_a_relative_name_that_looks_like_an_option(
    runner: FfmpegRunner, sample_clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "-i.mp4").write_bytes(sample_clip.read_bytes())
    monkeypatch.chdir(tmp_path)
    assert runner.probe("-i.mp4").Width == 320


# -- the input whitelists -----------------------------------------------------------------------


@pytest.fixture(params=["clip", "passwd"])
def playlist(request: pytest.FixtureRequest, sample_clip: Path, tmp_path: Path) -> Path:
    """An uploaded HLS playlist whose only segment is a local file."""
    target = str(sample_clip) if request.param == "clip" else "file:///etc/passwd"
    path = tmp_path / "upload.m3u8"
    path.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:4,\n{target}\n#EXT-X-ENDLIST\n")
    return path


def test_the_playlist_attack_works_without_whitelists(sample_clip: Path, tmp_path: Path) -> None:
    # The control: plain ffprobe follows a playlist into a local file, which is what we block.
    path = tmp_path / "upload.m3u8"
    path.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:4,\n{sample_clip}\n#EXT-X-ENDLIST\n")
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_name", "-of", "csv", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout
    assert "h264" in out


def test_probing_a_playlist_is_refused(runner: FfmpegRunner, playlist: Path) -> None:
    with pytest.raises(SourceError) as caught:
        runner.probe(playlist)
    assert "not on whitelist" in caught.value.message


def test_running_on_a_playlist_is_refused(runner: FfmpegRunner, playlist: Path, tmp_path: Path) -> None:
    out = tmp_path / "stolen.mp4"
    with pytest.raises(ProcessingError) as caught:
        runner.run(Command([*input_args(playlist), "-c", "copy", str(out)], outputs=[out]))
    assert "not on whitelist" in caught.value.message
    assert not out.exists() or out.stat().st_size == 0


def test_a_playlist_renamed_to_mp4_is_refused_too(
    runner: FfmpegRunner, sample_clip: Path, tmp_path: Path
) -> None:
    path = tmp_path / "upload.mp4"
    path.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:4,\n{sample_clip}\n#EXT-X-ENDLIST\n")
    with pytest.raises(SourceError):
        runner.probe(path)


# -- encoders --------------------------------------------------------------------------------------


def test_encoders_are_listed_once(runner: FfmpegRunner) -> None:
    names = runner.encoders()
    assert {"libx264", "aac", "png", "mjpeg"} <= names
    assert "Video" not in names and "------" not in names
    assert runner.encoders() is names


def test_parse_encoders_reads_only_the_table() -> None:
    listing = [
        "Encoders:",
        " V..... = Video",
        " ------",
        " V....D libx264              libx264 H.264 (codec h264)",
        " A..... aac   AAC",
        "",
    ]
    assert parse_encoders(listing) == {"libx264", "aac"}


def test_last_error_line_skips_generic_lines_and_addresses() -> None:
    stderr = "[Parsed_scale_0 @ 0x55d0c8a2b0c0] Invalid size 'bad'\nConversion failed!\n"
    assert last_error_line(stderr) == "[Parsed_scale_0] Invalid size 'bad'"
    assert last_error_line("[hls @ 0x1] Format not on whitelist 'mp3'\nin.m3u8: Invalid argument\n") == (
        "[hls] Format not on whitelist 'mp3'"
    )
    assert last_error_line("in.txt: Invalid argument") == "in.txt: Invalid argument"
    assert last_error_line("") == "no error output"
    assert len(last_error_line("x" * 5000)) <= 300


# -- FakeRunner ----------------------------------------------------------------------------------


def test_fake_runner_records_and_answers(tmp_path: Path) -> None:
    meta = MediaMetaData(Width=1920, Height=1080, Duration=10.0)
    fake = FakeRunner(meta, encoders={"libx264"})
    out = tmp_path / "sub" / "a.mp4"
    fractions: list[float] = []

    fake.run(Command(["-i", "in.mp4", str(out)], outputs=[out]), on_progress=fractions.append, timeout=5)

    assert [c.argv[-1] for c in fake.commands] == [str(out)] and fake.timeouts == [5]
    assert out.exists() and fractions[-1] == 1.0
    assert fake.probe("in.mp4") is meta and fake.probed == ["in.mp4"]
    assert fake.encoders() == {"libx264"}


def test_fake_runner_raises_what_it_is_told() -> None:
    fake = FakeRunner({"known.mp4": MediaMetaData()}, on_run=fail_with(ProcessTimeoutError("slow")))
    with pytest.raises(ProcessTimeoutError):
        fake.run(Command(["x"]))
    with pytest.raises(SourceError):
        fake.probe("unknown.mp4")
    assert len(fake.commands) == 1


def _state(pid: int) -> str | None:
    """A process's state letter from /proc, or None when it no longer exists."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def test_no_ffmpeg_is_left_behind() -> None:
    # Runs last in this module: every ffmpeg started above was waited for, none is a zombie.
    children = Path(f"/proc/{os.getpid()}/task/{threading.get_native_id()}/children").read_text().split()
    names = [_comm(int(pid)) for pid in children]
    assert [name for name in names if name in ("ffmpeg", "ffprobe")] == []


def _comm(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except FileNotFoundError:
        return None


#: A stand-in worker: runs a command through FfmpegRunner from a handler-like thread, then idles.
_WORKER_LIKE = """
import sys, threading, time
from mps.media.command import Command
from mps.runner import FfmpegRunner
run = lambda: FfmpegRunner().run(Command(sys.argv[1:], duration=60.0), timeout=60)
threading.Thread(target=run, name="mps-handler_0", daemon=True).start()
time.sleep(60)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_ffmpeg_dies_with_a_worker_killed_by_sigkill() -> None:
    # Given a worker-like process running a long ffmpeg from a non-main thread
    worker = subprocess.Popen([sys.executable, "-c", _WORKER_LIKE, *ENDLESS])
    ffmpeg_pid = None
    try:
        found = wait_until(lambda: [pid for pid, name in children(worker.pid) if name == "ffmpeg"], 15)
        assert found, "the worker-like process never started ffmpeg"
        (ffmpeg_pid,) = found  # type: ignore[misc]

        # When the worker is killed with no chance to clean up
        worker.send_signal(signal.SIGKILL)
        worker.wait(5)

        # Then its ffmpeg is gone within two seconds (dead, or a zombie waiting for its new reaper)
        assert wait_until(lambda: is_gone(ffmpeg_pid), 2.0), "ffmpeg outlived its worker"
    finally:
        worker.kill()
        worker.wait(5)
        if ffmpeg_pid is not None and not is_gone(ffmpeg_pid):
            os.kill(ffmpeg_pid, signal.SIGKILL)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_child_whose_starter_died_before_prctl_kills_itself_instead_of_running() -> None:
    # The wrapper is told its starter was pid 1: the parent it sees is another, as for an orphan.
    wrapper = [sys.executable, "-I", "-S", "-c", _DIE_WITH_PARENT, "1", "/bin/echo", "ran"]
    result = subprocess.run(wrapper, capture_output=True, timeout=30, check=False)
    assert result.returncode == -signal.SIGKILL and result.stdout == b""


def test_a_runner_child_runs_through_the_wrapper_under_its_own_pid(runner: FfmpegRunner) -> None:
    # The pid the runner waits for and kills is ffmpeg's own: exit codes and stderr are ffmpeg's.
    with pytest.raises(ProcessingError) as caught:
        runner.run(Command(["-f", "lavfi", "-i", "nosuchsource", "-f", "null", "-"]))
    assert caught.value.exit_code not in (None, 0, 127) and "No such filter" in caught.value.message


# -- no local path in a message a client sees ---------------------------------------------------------


@pytest.mark.parametrize(
    "content", [b"", b"\x00\x00\x00\x18ftypmp42" + b"\xde\xad" * 500, b"text, not media\n"]
)
def test_probe_messages_say_the_source_not_its_scratch_path(
    runner: FfmpegRunner, tmp_path: Path, content: bytes
) -> None:
    scratch = tmp_path / "work" / "mps-inputs-77" / "mps-input-x1"
    scratch.mkdir(parents=True)
    (scratch / "input.mp4").write_bytes(content)

    for probe in (runner.probe, runner.keyframe_interval):
        with pytest.raises(SourceError) as caught:
            probe(scratch / "input.mp4")
        assert caught.value.code == "FailedOperation.SourceFile"
        assert "the source" in caught.value.message
        assert str(tmp_path) not in caught.value.message and "mps-input" not in caught.value.message


def test_a_missing_or_odd_source_is_named_without_its_path(runner: FfmpegRunner, tmp_path: Path) -> None:
    for source, code in ((tmp_path / "gone.mp4", "ResourceNotFound.SourceFile"),
                         (tmp_path, "FailedOperation.SourceFile")):  # fmt: skip
        with pytest.raises(SourceError) as caught:
            runner.probe(source)
        assert caught.value.code == code
        assert str(tmp_path) not in caught.value.message


def test_ffmpeg_failures_name_no_local_path(runner: FfmpegRunner, sample_clip: Path, tmp_path: Path) -> None:
    missing_dir = tmp_path / "work" / "out-dir-that-is-not-there" / "clip_transcode_100010.mp4"
    broken = tmp_path / "work" / "input.mp4"
    broken.parent.mkdir()
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\xde\xad" * 500)

    failures = []
    for argv in ([*input_args(sample_clip), "-t", "0.2", str(missing_dir)],
                 [*input_args(broken), "-f", "null", "-"]):  # fmt: skip
        with pytest.raises(ProcessingError) as caught:
            runner.run(Command(argv))
        failures.append(caught.value)

    assert "clip_transcode_100010.mp4" in failures[0].message  # the output's name stays: it is the client's
    assert "the source" in failures[1].message
    for error in failures:
        assert str(tmp_path) not in error.message and "/work/" not in error.message
        assert str(tmp_path) in error.stderr_tail  # the whole detail is kept for the server log


def test_redact_paths_drops_presigned_queries_and_stray_paths() -> None:
    url = "http://127.0.0.1:9000/media/in/a.mp4?X-Amz-Signature=abc&X-Amz-Credential=AKID"
    argv = ["-i", url, "-i", "/srv/mps/assets/logo.png", "/tmp/w/out/a_transcode_10.mp4"]
    line = (f"{url}: Server returned 403 Forbidden; /srv/mps/assets/logo.png: bad; "
            "/tmp/w/out/a_transcode_10.mp4: No space; /var/tmp/x/y/other.ts: also; "
            "https://h/p?sig=1 done")  # fmt: skip

    text = redact_paths(line, argv)

    assert text == (
        "the source: Server returned 403 Forbidden; logo.png: bad; a_transcode_10.mp4: No space; "
        "other.ts: also; https://h/p done"
    )


def test_metadata_duration_is_what_the_streams_hold_not_a_lying_mp4_header(
    runner: FfmpegRunner, clip: ClipFactory, tmp_path: Path
) -> None:
    # A real 2 s MP4 whose movie header (mvhd) is edited to claim 100 hours; the tracks are left true.
    data = bytearray(clip(duration=2.0, width=64, height=48).read_bytes())
    at = data.find(b"mvhd")
    assert data[at + 4] == 0, "a version 0 mvhd: 32-bit timescale and duration"
    timescale = int.from_bytes(data[at + 16 : at + 20], "big")
    data[at + 20 : at + 24] = (timescale * 360_000).to_bytes(4, "big")
    liar = tmp_path / "liar.mp4"
    liar.write_bytes(data)
    claimed = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(liar)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert float(claimed.stdout) == 360_000.0  # ffprobe's format section believes the header

    meta = runner.probe(liar)

    assert meta.Duration == pytest.approx(2.0, abs=0.1)
    assert meta.VideoDuration == pytest.approx(2.0, abs=0.1)
    assert meta.AudioDuration == pytest.approx(2.0, abs=0.1)
