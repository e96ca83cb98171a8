"""Custom templates, workflows and schedules of :class:`mps.store.sql.SqlTaskStore`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

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
    ConflictError,
    JsonDict,
    TemplateRecord,
    WorkflowKind,
    WorkflowRecord,
    WorkflowStatus,
    WorkflowStatusError,
)
from mps.store.schema import bucket_events, template_sequences, templates, workflows
from mps.store.sqlbase import SqlBase, template_record, workflow_record


def _page(query: sa.Select[Any], offset: int, limit: int) -> sa.Select[Any]:
    return query.offset(max(offset, 0)).limit(max(limit, 0))


def _in_status(status: WorkflowStatus | None) -> list[sa.ColumnElement[bool]]:
    """The WHERE clause of a change allowed only in ``status`` (none when None)."""
    return [] if status is None else [workflows.c.status == status]


def _of_kind(kind: WorkflowKind | None) -> list[sa.ColumnElement[bool]]:
    """The WHERE clause of a change allowed only on a record of ``kind`` (none when None)."""
    return [] if kind is None else [workflows.c.kind == kind]


class CatalogMixin(SqlBase):
    """Templates and workflows (see :class:`mps.store.base.TaskStore` for the contract)."""

    def create_template(self, family: str, name: str, body: JsonDict) -> TemplateRecord:
        """Store a custom template under its family's next Definition.

        Definitions start at :data:`CUSTOM_DEFINITION_BASE` per family and are never reused, even
        after a delete (a task may still name the old one).

        Raises:
            InvalidParameterError: unknown family.
            MpsError: ``LimitExceeded.TooMuchTemplate`` when the family is full.
        """
        check_family(family)
        self._ensure_sequence(family)
        with self._write() as conn:
            # The UPDATE locks the family's sequence row first, so concurrent creates of one family
            # run one after the other and the count below is exact.
            definition = (
                conn.execute(
                    sa.update(template_sequences)
                    .where(template_sequences.c.family == family)
                    .values(next_definition=template_sequences.c.next_definition + 1)
                    .returning(template_sequences.c.next_definition)
                ).scalar_one()
                - 1
            )
            count = conn.execute(
                sa.select(sa.func.count()).select_from(templates).where(templates.c.family == family)
            ).scalar_one()
            if count >= TEMPLATE_LIMITS[family]:
                raise too_many_templates(family)
            now = self._now()
            conn.execute(
                sa.insert(templates).values(
                    family=family,
                    definition=definition,
                    name=name,
                    body=body,
                    create_time=now,
                    update_time=now,
                )
            )
            return self._fetch_template(conn, family, definition)

    def _ensure_sequence(self, family: str) -> None:
        try:
            with self._write() as conn:
                exists = conn.execute(
                    sa.select(template_sequences.c.family).where(template_sequences.c.family == family)
                ).first()
                if exists is None:
                    conn.execute(
                        sa.insert(template_sequences).values(
                            family=family, next_definition=CUSTOM_DEFINITION_BASE
                        )
                    )
        except ConflictError:
            pass  # another creator inserted it first: that is all we wanted

    @staticmethod
    def _fetch_template(conn: Connection, family: str, definition: int) -> TemplateRecord:
        row = conn.execute(
            sa.select(templates).where(templates.c.family == family, templates.c.definition == definition)
        ).first()
        if row is None:
            raise template_not_found(family, definition)
        return template_record(row)

    def get_template(self, family: str, definition: int) -> TemplateRecord:
        """The custom template.

        Raises:
            ResourceNotFoundError: ``ResourceNotFound.TemplateNotExist``.
        """
        with self._read() as conn:
            return self._fetch_template(conn, family, definition)

    def list_templates(
        self,
        family: str,
        definitions: Sequence[int] | None = None,
        name: str | None = None,
        offset: int = 0,
        limit: int = 10,
    ) -> tuple[int, list[TemplateRecord]]:
        """The number of matching templates and one page of them ordered by Definition."""
        where = [templates.c.family == family]
        if definitions is not None:
            where.append(templates.c.definition.in_(list(definitions)))
        if name is not None:
            where.append(templates.c.name == name)
        with self._read() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(templates).where(*where)).scalar_one()
            rows = conn.execute(
                _page(sa.select(templates).where(*where).order_by(templates.c.definition), offset, limit)
            )
            return int(total), [template_record(row) for row in rows]

    def update_template(
        self, family: str, definition: int, body: JsonDict, name: str | None = None
    ) -> TemplateRecord:
        """Replace a template's body (and name, if given).

        Raises:
            ResourceNotFoundError: ``ResourceNotFound.TemplateNotExist``.
        """
        values: dict[str, Any] = {"body": body, "update_time": self._now()}
        if name is not None:
            values["name"] = name
        with self._write() as conn:
            conn.execute(
                sa.update(templates)
                .where(templates.c.family == family, templates.c.definition == definition)
                .values(**values)
            )
            return self._fetch_template(conn, family, definition)

    def delete_template(self, family: str, definition: int) -> None:
        """Delete a custom template.

        Raises:
            ResourceNotFoundError: ``ResourceNotFound.TemplateNotExist``.
        """
        with self._write() as conn:
            deleted = conn.execute(
                sa.delete(templates).where(templates.c.family == family, templates.c.definition == definition)
            )
            if deleted.rowcount != 1:
                raise template_not_found(family, definition)

    def create_workflow(
        self,
        name: str,
        body: JsonDict,
        trigger_bucket: str,
        trigger_dir: str = "/",
        *,
        kind: WorkflowKind = "workflow",
    ) -> WorkflowRecord:
        """Store a new workflow (or schedule, with ``kind="schedule"``), Disabled (mps-api.md §9).

        Workflows and schedules share the table and its id sequence, so a ScheduleId is never
        also a WorkflowId and the bucket-event keys (by id) stay apart.

        Raises:
            InvalidParameterError: ``InvalidParameterValue.WorkflowName`` (``.ScheduleName``) when
                another of the same kind has the name.
        """
        now = self._now()
        try:
            with self._write() as conn:
                result = conn.execute(
                    sa.insert(workflows).values(
                        kind=kind,
                        name=name,
                        status="Disabled",
                        body=body,
                        trigger_bucket=trigger_bucket,
                        trigger_dir=trigger_dir,
                        create_time=now,
                        update_time=now,
                    )
                )
                assert result.inserted_primary_key is not None
                return self._fetch_workflow(conn, int(result.inserted_primary_key[0]))
        except ConflictError as exc:
            raise duplicate_workflow_name(name, kind) from exc

    @staticmethod
    def _fetch_workflow(
        conn: Connection, workflow_id: int, kind: WorkflowKind | None = None
    ) -> WorkflowRecord:
        row = conn.execute(sa.select(workflows).where(workflows.c.workflow_id == workflow_id)).first()
        if row is None or (kind is not None and row._mapping["kind"] != kind):
            raise workflow_not_found(workflow_id)
        return workflow_record(row)

    def get_workflow(self, workflow_id: int) -> WorkflowRecord:
        """The workflow or schedule (its ``kind`` says which).

        Raises:
            ResourceNotFoundError: unknown id.
        """
        with self._read() as conn:
            return self._fetch_workflow(conn, workflow_id)

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
        """The number of matching workflows (of ``kind``; None: both kinds) and one page of them
        ordered by id."""
        where: list[sa.ColumnElement[bool]] = []
        if workflow_ids is not None:
            where.append(workflows.c.workflow_id.in_(list(workflow_ids)))
        if status is not None:
            where.append(workflows.c.status == status)
        if trigger_bucket is not None:
            where.append(workflows.c.trigger_bucket == trigger_bucket)
        if kind is not None:
            where.append(workflows.c.kind == kind)
        with self._read() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(workflows).where(*where)).scalar_one()
            query = sa.select(workflows).where(*where).order_by(workflows.c.workflow_id)
            rows = conn.execute(_page(query, offset, limit))
            return int(total), [workflow_record(row) for row in rows]

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
        """Change the given fields (only while in ``if_status``, and only a record of ``kind``,
        when given: one conditional UPDATE).

        Raises:
            ResourceNotFoundError: unknown id, or a record of the other kind.
            WorkflowStatusError: it is not in ``if_status``.
            InvalidParameterError: ``InvalidParameterValue.WorkflowName`` (``.ScheduleName``) when
                the new name is taken.
        """
        given = {
            "name": name,
            "status": status,
            "body": body,
            "trigger_bucket": trigger_bucket,
            "trigger_dir": trigger_dir,
        }
        values = {k: v for k, v in given.items() if v is not None}
        try:
            with self._write() as conn:
                changed = conn.execute(
                    sa.update(workflows)
                    .where(workflows.c.workflow_id == workflow_id, *_in_status(if_status), *_of_kind(kind))
                    .values(**values, update_time=self._now())
                ).rowcount
                record = self._fetch_workflow(conn, workflow_id, kind)
                if changed != 1:
                    raise WorkflowStatusError(workflow_id, record.status)
                return record
        except ConflictError as exc:
            # Names are unique per kind: the clash is with one of this record's own kind.
            raise duplicate_workflow_name(name or "", kind or self.get_workflow(workflow_id).kind) from exc

    def delete_workflow(
        self,
        workflow_id: int,
        *,
        if_status: WorkflowStatus | None = None,
        kind: WorkflowKind | None = None,
    ) -> None:
        """Delete a workflow or schedule (its trigger keys stay, so old events stay deduplicated).

        Raises:
            ResourceNotFoundError: unknown id, or a record of the other kind than ``kind``.
            WorkflowStatusError: it is not in ``if_status`` (one conditional DELETE, so a concurrent
                Enable either happens first and blocks this, or finds nothing to enable).
        """
        with self._write() as conn:
            query = sa.delete(workflows).where(
                workflows.c.workflow_id == workflow_id, *_in_status(if_status), *_of_kind(kind)
            )
            if conn.execute(query).rowcount != 1:
                raise WorkflowStatusError(workflow_id, self._fetch_workflow(conn, workflow_id, kind).status)

    def claim_trigger(self, trigger: BucketTrigger, task_id: str | None = None) -> bool:
        """Record that a bucket event fired a workflow.

        Returns:
            True the first time; False for the same (workflow, bucket, key, ETag) again.
        """
        try:
            with self._write() as conn:
                conn.execute(
                    sa.insert(bucket_events).values(
                        workflow_id=trigger.workflow_id,
                        bucket=trigger.bucket,
                        object_key=trigger.key,
                        etag=trigger.etag,
                        task_id=task_id,
                        create_time=self._now(),
                    )
                )
            return True
        except ConflictError:
            return False
