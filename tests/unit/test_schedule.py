"""Timed trigger schedules (mps.workflow.schedule): 5-field cron and intervals, and which tick is due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mps.errors import InvalidParameterError
from mps.workflow.schedule import TRIGGER_ERROR, TickSchedule, parse_schedule

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("cron", "after", "expected"),
    [
        ("*/15 * * * *", datetime(2025, 3, 1, 12, 7, tzinfo=UTC), datetime(2025, 3, 1, 12, 15, tzinfo=UTC)),
        ("0 3 * * *", datetime(2025, 3, 1, 12, 0, tzinfo=UTC), datetime(2025, 3, 2, 3, 0, tzinfo=UTC)),
        ("30 8 * * 1-5", datetime(2025, 3, 1, 12, 0, tzinfo=UTC), datetime(2025, 3, 3, 8, 30, tzinfo=UTC)),
        ("0 0 1 * *", datetime(2025, 3, 1, 0, 0, tzinfo=UTC), datetime(2025, 4, 1, 0, 0, tzinfo=UTC)),
        ("  5   4 * * sun ", datetime(2025, 3, 1, 12, 0, tzinfo=UTC), datetime(2025, 3, 2, 4, 5, tzinfo=UTC)),
    ],
)
def test_cron_expressions_give_the_next_tick_in_utc(cron: str, after: datetime, expected: datetime) -> None:
    assert parse_schedule(cron, None).next_after(after) == expected


@pytest.mark.parametrize(
    "cron",
    ["* * * *", "0 0 * * * *", "61 * * * *", "* 24 * * *", "@daily", "every minute", "*/0 * * * *", ""],
)
def test_a_cron_that_is_not_five_valid_fields_is_refused(cron: str) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        parse_schedule(cron, None)
    assert caught.value.code == TRIGGER_ERROR


@pytest.mark.parametrize(("cron", "interval"), [(None, None), ("* * * * *", 60), ("  ", None)])
def test_exactly_one_of_cron_and_interval_is_needed(cron: str | None, interval: int | None) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        parse_schedule(cron, interval)
    assert caught.value.code == TRIGGER_ERROR and "exactly one" in caught.value.message


@pytest.mark.parametrize("interval", [0, -5, 366 * 24 * 3600 + 1])
def test_an_interval_out_of_range_is_refused(interval: int) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        parse_schedule(None, interval)
    assert caught.value.code == TRIGGER_ERROR and "IntervalSeconds" in caught.value.message


def test_no_tick_is_due_before_the_first_one() -> None:
    every_minute = parse_schedule(None, 60)
    assert every_minute.due(T0, T0 + timedelta(seconds=59)) is None
    assert every_minute.due(T0, T0 + timedelta(seconds=60)) == T0 + timedelta(seconds=60)


def test_missed_interval_ticks_collapse_into_the_latest() -> None:
    # Down from 12:00 to 12:05:30 with a 60 s interval: one tick, the 12:05 one, runs.
    assert parse_schedule(None, 60).due(T0, T0 + timedelta(minutes=5, seconds=30)) == T0 + timedelta(
        minutes=5
    )


def test_missed_cron_ticks_collapse_into_the_latest() -> None:
    quarterly = parse_schedule("*/15 * * * *", None)
    assert quarterly.due(T0, T0 + timedelta(days=2, minutes=44)) == T0 + timedelta(days=2, minutes=30)
    assert quarterly.due(T0, T0 + timedelta(minutes=14, seconds=59)) is None
    assert quarterly.due(T0, T0 + timedelta(minutes=15)) == T0 + timedelta(minutes=15)


def test_counting_from_the_stored_tick_neither_skips_nor_repeats_one() -> None:
    # A tick ran for 12:15 and stored it; a restart at 12:20 finds nothing due, at 12:30 the next one.
    quarterly = parse_schedule("*/15 * * * *", None)
    ran = T0 + timedelta(minutes=15)
    assert quarterly.due(ran, T0 + timedelta(minutes=20)) is None
    assert quarterly.due(ran, T0 + timedelta(minutes=30)) == T0 + timedelta(minutes=30)


def test_naive_times_count_as_utc() -> None:
    naive = datetime(2025, 3, 1, 12, 0)
    assert TickSchedule(interval=10).due(naive, naive + timedelta(seconds=10)) == T0 + timedelta(seconds=10)
