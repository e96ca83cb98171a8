"""The listener's periodic loop: a pass now, then every interval; failures logged; stop at once."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from mps.broker.stub import StubBroker
from mps.errors import StorageUnavailableError
from mps.listener.service import BucketEventHandler, reconcile_loop
from mps.storage.memory import MemoryStorage
from mps.store.memory import MemoryTaskStore
from mps.templates import TemplateCatalog, load_presets
from mps.workflow.periodic import repeat_every
from mps.workflow.templates import StoreTemplates
from mps.workflow.ticks import tick_loop

LOG = logging.getLogger("tests.periodic")


def test_a_failed_pass_is_logged_and_the_next_ones_run(caplog: pytest.LogCaptureFixture) -> None:
    stop = threading.Event()
    passes = 0

    def run_pass() -> None:
        nonlocal passes
        passes += 1
        if passes == 1:
            raise RuntimeError("boom")
        if passes == 3:
            stop.set()

    with caplog.at_level(logging.ERROR, logger=LOG.name):
        repeat_every(0.001, stop, run_pass, log=LOG, failed="pass failed; next one in %s s")
    assert passes == 3
    [record] = caplog.records
    assert record.getMessage() == "pass failed; next one in 0.001 s" and record.exc_info


def test_the_first_pass_runs_at_once_and_stop_ends_the_wait() -> None:
    stop, ran = threading.Event(), threading.Event()
    loop = threading.Thread(
        target=repeat_every, args=(3600, stop, ran.set), kwargs={"log": LOG, "failed": ""}
    )
    loop.start()
    assert ran.wait(5)  # not an hour later
    started = time.monotonic()
    stop.set()
    loop.join(5)
    assert not loop.is_alive() and time.monotonic() - started < 1


def test_nothing_runs_once_stop_is_set() -> None:
    stop = threading.Event()
    stop.set()
    # pytest.fail raises a BaseException, which the loop does not catch: a pass would fail the test
    repeat_every(0.001, stop, pytest.fail, log=LOG, failed="")


class _DownStore(MemoryTaskStore):
    """A task store whose workflows cannot be read: every scan and poll fails."""

    def list_workflows(self, *args: Any, **kwargs: Any) -> Any:
        raise StorageUnavailableError("the database did not answer")


def _handler() -> BucketEventHandler:
    store = _DownStore()
    return BucketEventHandler(
        store, MemoryStorage(), StubBroker(), StoreTemplates(TemplateCatalog(load_presets()), store)
    )


@pytest.mark.parametrize(
    ("loop", "logger", "message"),
    [
        (lambda stop: reconcile_loop(_handler(), 0.001, stop), "mps.listener.service",
         "reconcile scan failed; next one in 0.001 s"),
        (lambda stop: tick_loop(_handler().scheduler(), 0.001, stop), "mps.workflow.ticks",
         "timed triggers: poll failed; next one in 0.001 s"),
    ],
    ids=["reconcile", "ticks"],
)  # fmt: skip
def test_each_loop_logs_its_own_failure_and_goes_on(
    loop: Callable[[threading.Event], None], logger: str, message: str, caplog: pytest.LogCaptureFixture
) -> None:
    stop = threading.Event()
    thread = threading.Thread(target=loop, args=(stop,))
    with caplog.at_level(logging.ERROR, logger=logger):
        thread.start()
        deadline = time.monotonic() + 5
        while len(caplog.records) < 2 and time.monotonic() < deadline:  # a second pass ran too
            time.sleep(0.005)
        stop.set()
        thread.join(5)
    assert not thread.is_alive()
    assert len(caplog.records) >= 2
    assert {(r.name, r.getMessage()) for r in caplog.records} == {(logger, message)}
