"""Batches of seeked pictures: up to ``parallel`` ffmpeg runs at once, progress that only grows,
and no new batch after a failure (FakeRunner, nothing is decoded)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from mps.errors import ProcessingError
from mps.media.command import Command
from mps.media.naming import Namer
from mps.models.metadata import MediaMetaData
from mps.runner.fake import FakeRunner
from mps.workflow.context import OperationContext
from mps.workflow.operations.snapshot import run_in_order


class Gate:
    """A run hook that counts how many commands run at once; the first ``together`` wait for each
    other (a barrier), so they overlap however slow the machine is."""

    def __init__(self, together: int = 1, fail_on: str | None = None) -> None:
        self.running = 0
        self.most = 0
        self.fail_on = fail_on
        self.lock = threading.Lock()
        self.first_wave = threading.Barrier(together)

    def __call__(self, command: Command) -> None:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        if int(command.argv[0]) < self.first_wave.parties:
            self.first_wave.wait(timeout=10)  # BrokenBarrierError if fewer run at once
        time.sleep(0.01)
        with self.lock:
            self.running -= 1
        if command.argv[0] == self.fail_on:
            raise ProcessingError(f"batch {command.argv[0]} failed")


def context(runner: FakeRunner, tmp_path: Path, parallel: int, progress: list[float]) -> OperationContext:
    return OperationContext(
        runner=runner, meta=MediaMetaData(), source="/in.mp4", out_root=tmp_path,
        namer=Namer("in.mp4", None, 10), workdir=tmp_path, on_progress=progress.append, parallel=parallel,
    )  # fmt: skip


def batches(count: int) -> list[Command]:
    return [Command(argv=[str(index)]) for index in range(count)]


@pytest.mark.parametrize("parallel", [1, 2, 3])
def test_batches_run_up_to_parallel_at_once_and_progress_only_grows(tmp_path: Path, parallel: int) -> None:
    gate = Gate(together=parallel)
    runner, progress = FakeRunner(on_run=gate), []
    run_in_order(batches(6), context(runner, tmp_path, parallel, progress), 0.8)
    assert sorted(c.argv[0] for c in runner.commands) == [str(i) for i in range(6)]
    assert gate.most == parallel
    assert progress == sorted(progress) and progress[-1] == pytest.approx(0.8)


@pytest.mark.parametrize("parallel", [1, 2])
def test_after_a_failing_batch_no_new_batch_starts(tmp_path: Path, parallel: int) -> None:
    runner = FakeRunner(on_run=Gate(fail_on="0"))
    with pytest.raises(ProcessingError, match="batch 0 failed"):
        run_in_order(batches(8), context(runner, tmp_path, parallel, []), 1.0)
    # the failing batch and those already running with it ran; the rest never started
    assert len(runner.commands) <= 2 * parallel
