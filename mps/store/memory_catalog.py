"""Custom templates, workflows and schedules of :class:`mps.store.memory.MemoryTaskStore`."""

from __future__ import annotations

import copy
import itertools
import threading
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from mps.store._rules import (
    check_family,
    duplicate_workflow_name,
    template_not_found,
    too_many_templates,
    workflow_not_found,
)
from mps.store.base import (
    CUSTOM_DEFINITION_BASE,
    TEMPLATE_LIMITS,
    BucketTrigger,
    Clock,
    JsonDict,
    TemplateRecord,
    WorkflowKind,
    WorkflowRecord,
    WorkflowStatus,
    WorkflowStatusError,
)


class MemoryCatalog:
    """Templates, workflows and bucket-event keys in dicts, behind the store's lock.

    Parameters:
        lock: the store's one lock (re-entrant).
        clock: the source of "now" (UTC).
    """

    def __init__(self, lock: threading.RLock, clock: Clock) -> None:
        self._lock = lock
        self._now = clock
        self._templates: dict[tuple[str, int], TemplateRecord] = {}
        self._next_definition: dict[str, int] = {}
        self._workflows: dict[int, WorkflowRecord] = {}
        self._workflow_ids = itertools.count(1)
        self._triggers: dict[BucketTrigger, str | None] = {}

    # -- templates -----------------------------------------------------------------------------

    def create_template(self, family: str, name: str, body: JsonDict) -> TemplateRecord:
        """See :meth:`mps.store.sql_catalog.CatalogMixin.create_template`."""
        check_family(family)
        with self._lock:
            if sum(1 for f, _ in self._templates if f == family) >= TEMPLATE_LIMITS[family]:
                raise too_many_templates(family)
            definition = self._next_definition.get(family, CUSTOM_DEFINITION_BASE)
            self._next_definition[family] = definition + 1
            now = self._now()
            record = TemplateRecord(family, definition, name, copy.deepcopy(body), now, now)
            self._templates[(family, definition)] = record
            return copy.deepcopy(record)

    def _template(self, family: str, definition: int) -> TemplateRecord:
        try:
            return self._templates[(family, definition)]
        except KeyError:
            raise template_not_found(family, definition) from None

    def get_template(self, family: str, definition: int) -> TemplateRecord:
        """See :meth:`mps.store.sql_catalog.CatalogMixin.get_template`."""
        with self._lock:
            return copy.deepcopy(self._template(family, definition))

    def list_templates(
        self,
        family: str,
        definitions: Sequence[int] | None = None,
        name: str | None = None,
        offset: int = 0,
        limit: int = 10,
    ) -> tuple[int, list[TemplateRecord]]:
        """See :meth:`mps.store.sql_catalog.CatalogMixin.list_templates`."""
        with self._lock:
            found = [
                t
                for (f, d), t in sorted(self._templates.items())
                if f == family
                and (definitions is None or d in definitions)
                and (name is None or t.name == name)
            ]
            return len(found), copy.deepcopy(found[max(offset, 0) : max(offset, 0) + max(limit, 0)])

    def update_template(
        self, family: str, definition: int, body: JsonDict, name: str | None = None
    ) -> TemplateRecord:
        """See :meth:`mps.store.sql_catalog.CatalogMixin.update_template`."""
        with self._lock:
            old = self._template(family, definition)
            new = replace(
                old,
                body=copy.deepcopy(body),
                name=old.name if name is None else name,
                update_time=self._now(),
            )
            self._templates[(family, definition)] = new
            return copy.deepcopy(new)

    def delete_template(self, family: str, definition: int) -> None:
        """See :meth:`mps.store.sql_catalog.CatalogMixin.delete_template`."""
        with self._lock:
            self._template(family, definition)
            del self._templates[(family, definition)]

    # -- workflows -----------------------------------------------------------------------------

    def create_workflow(
        self,
        name: str,
        body: JsonDict,
        trigger_bucket: str,
        trigger_dir: str = "/",
        *,
        kind: WorkflowKind = "workflow",
    ) -> WorkflowRecord:
        """See :meth:`mps.store.sql_catalog.CatalogMixin.create_workflow`."""
        with self._lock:
            if any(w.name == name and w.kind == kind for w in self._workflows.values()):
                raise duplicate_workflow_name(name, kind)
            now = self._now()
            record = WorkflowRecord(
                next(self._workflow_ids),
                name,
                "Disabled",
                copy.deepcopy(body),
                trigger_bucket,
                trigger_dir,
                now,
                now,
                kind,
            )
            self._workflows[record.workflow_id] = record
            return copy.deepcopy(record)

    def _workflow(
        self, workflow_id: int, if_status: WorkflowStatus | None = None, kind: WorkflowKind | None = None
    ) -> WorkflowRecord:
        """The stored workflow (the caller holds the lock), of ``kind`` and in ``if_status`` when given."""
        record = self._workflows.get(workflow_id)
        if record is None or (kind is not None and record.kind != kind):
            raise workflow_not_found(workflow_id)
        if if_status is not None and record.status != if_status:
            raise WorkflowStatusError(workflow_id, record.status)
        return record

    def get_workflow(self, workflow_id: int) -> WorkflowRecord:
        """See :meth:`mps.store.sql_catalog.CatalogMixin.get_workflow`."""
        with self._lock:
            return copy.deepcopy(self._workflow(workflow_id))

    def list_workflows(
        self,
        workflow_ids: Sequence[int] | None = None,
        status: WorkflowStatus | None = None,
        trigger_bucket: str | None = None,
        offset: int = 0,
        limit: int = 10,
        *,
        kind: WorkflowKind | None = "workflow",
    ) -> tuple[int, list[WorkflowRecord]]:
        """See :meth:`mps.store.sql_catalog.CatalogMixin.list_workflows`."""
        with self._lock:
            found = [
                w
                for _, w in sorted(self._workflows.items())
                if (workflow_ids is None or w.workflow_id in workflow_ids)
                and (status is None or w.status == status)
                and (trigger_bucket is None or w.trigger_bucket == trigger_bucket)
                and (kind is None or w.kind == kind)
            ]
            return len(found), copy.deepcopy(found[max(offset, 0) : max(offset, 0) + max(limit, 0)])

    def update_workflow(
        self,
        workflow_id: int,
        *,
        name: str | None = None,
        status: WorkflowStatus | None = None,
        body: JsonDict | None = None,
        trigger_bucket: str | None = None,
        trigger_dir: str | None = None,
        if_status: WorkflowStatus | None = None,
        kind: WorkflowKind | None = None,
    ) -> WorkflowRecord:
        """See :meth:`mps.store.sql_catalog.CatalogMixin.update_workflow`."""
        given = {
            "name": name,
            "status": status,
            "body": copy.deepcopy(body),
            "trigger_bucket": trigger_bucket,
            "trigger_dir": trigger_dir,
        }
        with self._lock:
            old = self._workflow(workflow_id, if_status, kind)
            if name is not None and any(
                w.name == name and w.kind == old.kind and w is not old for w in self._workflows.values()
            ):
                raise duplicate_workflow_name(name, old.kind)
            changes: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
            new = replace(old, **changes, update_time=self._now())
            self._workflows[workflow_id] = new
            return copy.deepcopy(new)

    def delete_workflow(
        self,
        workflow_id: int,
        *,
        if_status: WorkflowStatus | None = None,
        kind: WorkflowKind | None = None,
    ) -> None:
        """See :meth:`mps.store.sql_catalog.CatalogMixin.delete_workflow`."""
        with self._lock:
            self._workflow(workflow_id, if_status, kind)
            del self._workflows[workflow_id]

    def claim_trigger(self, trigger: BucketTrigger, task_id: str | None = None) -> bool:
        """See :meth:`mps.store.sql_catalog.CatalogMixin.claim_trigger`."""
        with self._lock:
            if trigger in self._triggers:
                return False
            self._triggers[trigger] = task_id
            return True
