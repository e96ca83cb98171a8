"""Timed triggers and run-once: backfill a bucket directory on a timer, or now.

A :class:`TimedJob` is a trigger plus what to submit: the location it watches (a
:class:`~mps.workflow.triggers.TriggerRule`, with a schedule for ``Schedule`` triggers) and a
function that starts the task of one object. A tick lists the location and hands every matching
object to that function; the intake's deduplication on (workflow, bucket, key, ETag) makes
objects that already have their task cost one lookup, and objects mps wrote (``mps-task``
metadata) never start anything. Every Enabled workflow and schedule (orchestration) with a
trigger is a job (:class:`WorkflowStarter`): a schedule's tick starts tasks of
``{"InputInfo", "ScheduleId"}`` through the same intake.

At most one tick of a job runs at a time across every host: a tick holds the job's lease in the
task store (``trigger_leases``). The time of the last tick is stored with the lease when a tick
ends, and the next one is computed from it, so a listener that restarts (or another that takes
over) neither skips a tick nor runs one twice; a tick that failed leaves it unchanged and is tried
again at the next poll. ``RunWorkflow`` (and ``RunSchedule``) runs a tick now under the same lease
without moving the schedule; with ``Reprocess`` it starts a new task for every matching object,
under a run id of its own in the deduplication key.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from mps.broker.base import Broker
from mps.errors import MpsError
from mps.storage.base import Storage
from mps.store.base import Clock, LeaseRecord, TaskStore, TriggerLeases, WorkflowRecord, utc_now
from mps.workflow.events import ObjectCreated
from mps.workflow.intake import SubmitTask, all_enabled_workflows, handle_object_created, workflow_rule
from mps.workflow.periodic import repeat_every
from mps.workflow.reconcile import event_from_listing
from mps.workflow.resolve import TemplateLookup
from mps.workflow.submit import submit_task
from mps.workflow.triggers import TriggerRule, matches

logger = logging.getLogger(__name__)

#: How long a tick holds its lease; a host that dies mid-tick blocks the job this long at most.
LEASE_TTL = timedelta(minutes=10)
#: Wire code of a RunWorkflow that found a tick of the same job running (Tencent's common code).
TICK_RUNNING = "ResourceInUse"
#: How long RunWorkflow waits for a running tick of the same job to end before answering that.
RUN_ONCE_WAIT = 5.0

#: Starts the task(s) of one object: (object, reprocessing run id or None) -> TaskIds created.
StartTasks = Callable[[ObjectCreated, "str | None"], Sequence[str]]


@dataclass(frozen=True)
class TimedJob:
    """A trigger and what to submit.

    Attributes:
        name: the lease's name, unique per job (``workflow:12``).
        rule: the watched location; its ``schedule`` says when the job ticks (None: only run-once).
        anchor: when the job was enabled or last changed: its first tick is the first one after
            it, and a tick stored before it does not count (enabling restarts the schedule).
        start: starts the task(s) of one matching object.
    """

    name: str
    rule: TriggerRule
    anchor: datetime
    start: StartTasks


def new_holder(role: str) -> str:
    """A lease holder name unique to this process and call site: ``role@host:pid:random``."""
    return f"{role}@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def backfill(job: TimedJob, storage: Storage, run: str | None = None) -> int:
    """List the job's location and start the task of every matching object that has none.

    Parameters:
        job: the trigger and what to submit.
        storage: the object store listed.
        run: a reprocessing run id: objects that already have a task get a new one.

    Returns:
        How many tasks were started.

    Raises:
        MpsError: the object store, task store or broker did not answer (retryable).
    """
    started = 0
    for info in storage.list(job.rule.bucket, job.rule.prefix):
        event = event_from_listing(info)
        if matches(job.rule, event):
            started += len(job.start(event, run))
    return started


def last_tick(job: TimedJob, lease: LeaseRecord | None) -> datetime:
    """What the next tick counts from: the last tick stored, unless the job changed since."""
    stored = lease.last_tick if lease is not None else None
    return job.anchor if stored is None or stored < job.anchor else stored


def run_due_tick(
    job: TimedJob, leases: TriggerLeases, storage: Storage, holder: str, now: datetime
) -> int | None:
    """Run the job's tick if one is due at ``now`` and no other host is running it.

    Parameters:
        job: a job with a schedule.
        leases: the task store's leases.
        storage: the object store listed.
        holder: this scheduler's lease holder name (:func:`new_holder`).
        now: the current time.

    Returns:
        How many tasks the tick started; None when no tick was due or another host holds it.

    Raises:
        MpsError: the tick failed (the lease is released and the last tick kept: it is due again).
    """
    schedule = job.rule.schedule
    if schedule is None or schedule.due(last_tick(job, leases.get_lease(job.name)), now) is None:
        return None
    taken = leases.acquire_lease(job.name, holder, LEASE_TTL)
    if taken is None:
        return None
    # Read again under the lease: another host may have run this very tick in the meantime.
    due = schedule.due(last_tick(job, taken), now)
    if due is None:
        leases.release_lease(job.name, holder)
        return None
    try:
        started = backfill(job, storage)
    except BaseException:
        leases.release_lease(job.name, holder)
        raise
    if not leases.release_lease(job.name, holder, last_tick=due):
        logger.warning("%s: the tick of %s outlived its lease", job.name, due.isoformat())
    logger.info("%s: tick of %s (%s) started %d task(s)", job.name, due.isoformat(),
                schedule.describe(), started)  # fmt: skip
    return started


def run_once(
    job: TimedJob,
    leases: TriggerLeases,
    storage: Storage,
    *,
    reprocess: bool = False,
    wait: float = RUN_ONCE_WAIT,
) -> int:
    """Run one tick of the job now (``RunWorkflow``), without moving its schedule.

    Parameters:
        job: the job (any trigger type: for an upload trigger this is a backfill of its directory).
        leases: the task store's leases.
        storage: the object store listed.
        reprocess: also start a new task for objects that already have one.
        wait: seconds to wait for a running tick of the same job to end.

    Returns:
        How many tasks were started.

    Raises:
        MpsError: ``ResourceInUse`` when a tick of the job is still running after ``wait``
            seconds; the failures of :func:`backfill`.
    """
    holder = new_holder("run")
    deadline = time.monotonic() + wait
    while leases.acquire_lease(job.name, holder, LEASE_TTL) is None:
        if time.monotonic() >= deadline:
            raise MpsError(f"{job.name}: a tick is running; try again when it ends", code=TICK_RUNNING)
        time.sleep(0.2)
    try:
        return backfill(job, storage, run=uuid.uuid4().hex[:16] if reprocess else None)
    finally:
        leases.release_lease(job.name, holder)


@dataclass(frozen=True)
class WorkflowStarter:
    """Starts the tasks of workflows and schedules through the bucket-event intake (the same
    checks and deduplication).

    Parameters:
        store: workflows and tasks.
        storage: asked (``head``) for an object's metadata.
        broker: the work queue of new tasks.
        templates: template lookup, for ProcessMedia's checks.
        account_id: first part of new TaskIds.
        plan: how sub-tasks are grouped into work messages (``MPS_PLAN``).
        submit: submits one task (:func:`~mps.workflow.submit.submit_task`).
    """

    store: TaskStore
    storage: Storage
    broker: Broker
    templates: TemplateLookup
    account_id: str = "0"
    plan: str = "auto"
    submit: SubmitTask = submit_task

    def job(self, record: WorkflowRecord) -> TimedJob | None:
        """The job of one workflow or schedule; None (logged) when it no longer parses."""
        parsed = workflow_rule(record)
        if parsed is None:
            return None

        def start(event: ObjectCreated, run: str | None) -> Sequence[str]:
            return handle_object_created(
                event, store=self.store, broker=self.broker, templates=self.templates,
                storage=self.storage, workflows=[record], account_id=self.account_id, plan=self.plan,
                run=run, submit=self.submit,
            )  # fmt: skip

        lease = schedule_lease if record.kind == "schedule" else workflow_lease
        return TimedJob(lease(record.workflow_id), parsed[1], record.update_time, start)

    def timed_jobs(self) -> list[TimedJob]:
        """The jobs of every Enabled workflow and schedule with a ``Schedule`` trigger, read now."""
        jobs = (self.job(record) for record in all_enabled_workflows(self.store))
        return [job for job in jobs if job is not None and job.rule.schedule is not None]


def workflow_lease(workflow_id: int) -> str:
    """The lease name of a workflow's ticks."""
    return f"workflow:{workflow_id}"


def schedule_lease(schedule_id: int) -> str:
    """The lease name of a schedule's (orchestration's) ticks."""
    return f"schedule:{schedule_id}"


class TickScheduler:
    """Runs the due ticks of every timed job, one job after the other (``mps listen``).

    Parameters:
        leases: the task store's leases (shared by every host).
        storage: the object store listed.
        jobs: reads the current jobs (called on every poll, so edits apply at once).
        clock: the source of "now" (UTC).
    """

    def __init__(
        self,
        leases: TriggerLeases,
        storage: Storage,
        jobs: Callable[[], Iterable[TimedJob]],
        clock: Clock = utc_now,
    ) -> None:
        self._leases = leases
        self._storage = storage
        self._jobs = jobs
        self._clock = clock
        self.holder = new_holder("tick")

    def run_due(self) -> int:
        """Run every tick that is due now; a job that fails is logged and tried at the next poll.

        Returns:
            How many tasks the ticks started.

        Raises:
            MpsError: the jobs could not be read (the store did not answer).
        """
        started = 0
        for job in self._jobs():
            try:
                started += run_due_tick(job, self._leases, self._storage, self.holder, self._clock()) or 0
            except MpsError as exc:
                logger.warning(
                    "%s: tick failed (%s [%s]); tried again at the next poll", job.name, exc, exc.code
                )
        return started


def tick_loop(scheduler: TickScheduler, interval: float, stop: threading.Event) -> None:
    """Run due ticks now, then every ``interval`` seconds, until ``stop`` is set; failures are logged."""
    repeat_every(
        interval, stop, scheduler.run_due, log=logger, failed="timed triggers: poll failed; next one in %s s"
    )


__all__ = [
    "LEASE_TTL",
    "RUN_ONCE_WAIT",
    "TICK_RUNNING",
    "StartTasks",
    "TickScheduler",
    "TimedJob",
    "WorkflowStarter",
    "backfill",
    "last_tick",
    "new_holder",
    "run_due_tick",
    "run_once",
    "schedule_lease",
    "tick_loop",
    "workflow_lease",
]
