"""When a timed trigger ticks: 5-field cron expressions and fixed intervals. Pure.

A ``Trigger.Type: "Schedule"`` (our extension, orchestration.md §4) names either ``Cron`` (the
classic five fields, minute hour day-of-month month day-of-week, evaluated in UTC, parsed by
``croniter``) or ``IntervalSeconds``. :func:`parse_schedule` checks it once (the API refuses a bad
one with ``InvalidParameterValue.Trigger``); :meth:`TickSchedule.due` then says which tick, if
any, is due at a given time, from the last tick that ran (stored with the trigger's lease in the
task store, so a restart neither skips nor repeats a tick).

Ticks missed while nothing ran (every listener down) are not replayed one by one: the latest of
them runs once, which is enough, since a tick is a backfill of everything that has no task yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from croniter import croniter

from mps.errors import InvalidParameterError

#: Wire code of a refused timed trigger.
TRIGGER_ERROR = "InvalidParameterValue.Trigger"
#: Shortest interval accepted, in seconds.
MIN_INTERVAL_SECONDS = 1
#: Longest interval accepted, in seconds (a year).
MAX_INTERVAL_SECONDS = 366 * 24 * 3600
#: Fields of a cron expression: minute, hour, day of month, month, day of week.
CRON_FIELDS = 5


@dataclass(frozen=True)
class TickSchedule:
    """A checked schedule: exactly one of ``cron`` and ``interval`` is set.

    Attributes:
        cron: a 5-field cron expression, evaluated in UTC.
        interval: seconds between ticks.
    """

    cron: str | None = None
    interval: int | None = None

    def next_after(self, moment: datetime) -> datetime:
        """The first tick strictly after ``moment`` (aware UTC; a naive time counts as UTC)."""
        moment = _aware(moment)
        if self.interval is not None:
            return moment + timedelta(seconds=self.interval)
        assert self.cron is not None
        following: datetime = croniter(self.cron, moment).get_next(datetime)
        return following.astimezone(UTC)

    def due(self, last_tick: datetime, now: datetime) -> datetime | None:
        """The tick to run at ``now``, given the last one that ran (or the trigger's start).

        Parameters:
            last_tick: when the previous tick was due; for a trigger that never ticked, when it
                was enabled or last changed.
            now: the current time.

        Returns:
            The latest tick time in ``(last_tick, now]``, or None when the next tick is still
            ahead. Several missed ticks collapse into the latest one.
        """
        last_tick, now = _aware(last_tick), _aware(now)
        following = self.next_after(last_tick)
        if following > now:
            return None
        if self.interval is not None:
            missed = int((now - following).total_seconds() // self.interval)
            return following + timedelta(seconds=missed * self.interval)
        assert self.cron is not None
        # The latest tick at or before now, without walking every minute since the last one.
        latest: datetime = croniter(self.cron, now).get_prev(datetime).astimezone(UTC)
        if (after := self.next_after(latest)) <= now:
            latest = after
        return max(latest, following)

    def describe(self) -> str:
        """``cron "0 * * * *"`` or ``every 60 s``, for logs."""
        return f'cron "{self.cron}"' if self.cron is not None else f"every {self.interval} s"


def parse_schedule(cron: str | None, interval: int | None) -> TickSchedule:
    """Check a ``ScheduleTrigger``'s ``Cron`` / ``IntervalSeconds``.

    Parameters:
        cron: a 5-field cron expression (``*/15 * * * *``), or None.
        interval: seconds between ticks, or None.

    Returns:
        The schedule.

    Raises:
        InvalidParameterError: ``InvalidParameterValue.Trigger`` when both or neither are given,
            the interval is outside :data:`MIN_INTERVAL_SECONDS`..:data:`MAX_INTERVAL_SECONDS`, or
            the expression is not five valid cron fields.
    """
    cron = cron.strip() if cron is not None and cron.strip() else None
    if (cron is None) == (interval is None):
        raise InvalidParameterError(
            "Trigger.ScheduleTrigger needs exactly one of Cron and IntervalSeconds", code=TRIGGER_ERROR
        )
    if interval is not None:
        if not MIN_INTERVAL_SECONDS <= interval <= MAX_INTERVAL_SECONDS:
            raise InvalidParameterError(
                f"Trigger.ScheduleTrigger.IntervalSeconds: {interval} is not between "
                f"{MIN_INTERVAL_SECONDS} and {MAX_INTERVAL_SECONDS}",
                code=TRIGGER_ERROR,
            )
        return TickSchedule(interval=interval)
    assert cron is not None
    fields = cron.split()
    if len(fields) != CRON_FIELDS or not croniter.is_valid(cron):
        raise InvalidParameterError(
            f"Trigger.ScheduleTrigger.Cron: {cron!r} is not a cron expression of five fields "
            "(minute hour day-of-month month day-of-week, e.g. */15 * * * *)",
            code=TRIGGER_ERROR,
        )
    return TickSchedule(cron=" ".join(fields))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


__all__ = [
    "CRON_FIELDS",
    "MAX_INTERVAL_SECONDS",
    "MIN_INTERVAL_SECONDS",
    "TRIGGER_ERROR",
    "TickSchedule",
    "parse_schedule",
]
