"""The reconcile scan: start what no bucket event started.

Some stores send no notifications, and events sent while mps was down (or lost on the way) never
arrive. The scan lists each Enabled workflow's ``Bucket``/``Dir`` and hands every object it finds
to the same :func:`~mps.workflow.intake.handle_object_created` as the events do, with the ETag of
the listing: the store's deduplication on (workflow, bucket, key, ETag) makes objects that already
have their task cost nothing but a lookup, and objects mps wrote are skipped (their metadata is
read with ``head``, and only for objects that match a trigger).

A workflow fires on uploads, not on what its bucket held before: an object is a candidate for a
workflow only if it was last written after the workflow was last changed (enabling it is a
change), less :data:`CLOCK_SKEW` for the object store's clock. Enabling a workflow on a full
bucket therefore does not process the whole bucket.

Versioned buckets: a listing names no version, so an object whose events carried a version is
seen by the scan under its ETag; such an object can be started twice (once per key form).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from mps.broker.base import Broker
from mps.errors import ResourceNotFoundError
from mps.storage.base import ObjectInfo, Storage
from mps.store.base import TaskStore, WorkflowRecord
from mps.workflow.events import ObjectCreated
from mps.workflow.intake import all_enabled_workflows, handle_object_created, workflow_rule
from mps.workflow.resolve import TemplateLookup
from mps.workflow.triggers import TriggerRule, matches

logger = logging.getLogger(__name__)

#: ``source`` of the events the scan makes.
RECONCILE_SOURCE = "mps:reconcile"
#: How far the object store's clock may run behind the task store's without losing an upload.
CLOCK_SKEW = timedelta(seconds=60)

_Watch = tuple[WorkflowRecord, TriggerRule]


def reconcile(
    store: TaskStore,
    storage: Storage,
    *,
    broker: Broker,
    templates: TemplateLookup,
    account_id: str = "0",
    plan: str = "auto",
) -> int:
    """One pass over every Enabled workflow's directory; starts the tasks that are missing.

    Parameters:
        store: the workflows, and where tasks are created.
        storage: the object store that is listed.
        broker: the work queue of new tasks.
        templates: template lookup, for ProcessMedia's checks.
        account_id: first part of new TaskIds.
        plan: how sub-tasks are grouped into work messages (``MPS_PLAN``).

    Returns:
        How many tasks this pass created (0 when every event had arrived).

    Raises:
        MpsError: a store, object store or broker that did not answer (retryable); the tasks
            started before the failure stay, and the next pass carries on.
    """
    created = 0
    for bucket, watches in _watches_by_bucket(all_enabled_workflows(store)).items():
        try:
            created += _reconcile_bucket(bucket, watches, store, storage, broker, templates, account_id, plan)
        except ResourceNotFoundError as exc:
            # A workflow on a bucket that is gone (or was never created) must not stop the others.
            logger.warning("reconcile: cannot list bucket %s: %s", bucket, exc)
    if created:
        logger.info("reconcile started %d task(s) that no bucket event had started", created)
    return created


def _reconcile_bucket(
    bucket: str,
    watches: list[_Watch],
    store: TaskStore,
    storage: Storage,
    broker: Broker,
    templates: TemplateLookup,
    account_id: str,
    plan: str,
) -> int:
    created = 0
    for info in _listing(storage, bucket, [rule.prefix for _, rule in watches]):
        event = event_from_listing(info)
        eligible = [record for record, rule in watches if _eligible(record, rule, info, event)]
        if eligible:
            started = handle_object_created(
                event, store=store, broker=broker, templates=templates, storage=storage,
                workflows=eligible, account_id=account_id, plan=plan,
            )  # fmt: skip
            created += len(started)
    return created


def event_from_listing(info: ObjectInfo) -> ObjectCreated:
    """An :class:`ObjectCreated` for a listed object (metadata as listed: usually none, so the
    intake reads it with ``head`` before starting anything)."""
    return ObjectCreated(
        bucket=info.bucket,
        key=info.key,
        etag=info.etag,
        size=info.size,
        source=RECONCILE_SOURCE,
        metadata=dict(info.metadata),
    )


def _watches_by_bucket(records: Iterable[WorkflowRecord]) -> dict[str, list[_Watch]]:
    watches: dict[str, list[_Watch]] = defaultdict(list)
    for record in records:
        parsed = workflow_rule(record)
        # Timed triggers list their own directory on their ticks (mps.workflow.ticks).
        if parsed is not None and parsed[1].on_upload:
            watches[parsed[1].bucket].append((record, parsed[1]))
    return watches


def covering_prefixes(prefixes: Iterable[str]) -> list[str]:
    """The fewest prefixes whose listings hold every key under ``prefixes`` (``in/`` covers ``in/a/``).

    Returns:
        Sorted prefixes, none of them under another.
    """
    kept: list[str] = []
    for prefix in sorted(set(prefixes)):
        if not any(prefix.startswith(other) for other in kept):
            kept.append(prefix)
    return kept


def _listing(storage: Storage, bucket: str, prefixes: list[str]) -> Iterable[ObjectInfo]:
    for prefix in covering_prefixes(prefixes):
        yield from storage.list(bucket, prefix)


def _eligible(record: WorkflowRecord, rule: TriggerRule, info: ObjectInfo, event: ObjectCreated) -> bool:
    """Whether the object fires this workflow and was written while the workflow was as it is."""
    if not matches(rule, event):
        return False
    return info.last_modified is None or info.last_modified >= _since(record.update_time)


def _since(update_time: datetime) -> datetime:
    # A store that hands back a naive time means UTC (every store writes UTC).
    aware = update_time if update_time.tzinfo is not None else update_time.replace(tzinfo=UTC)
    return aware - CLOCK_SKEW


__all__ = ["CLOCK_SKEW", "RECONCILE_SOURCE", "covering_prefixes", "event_from_listing", "reconcile"]
