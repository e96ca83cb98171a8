"""What travels on the work queue: which sub-tasks of which task to run. Frozen and versioned."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from mps.store.base import EventTarget, JsonDict
from mps.workflow.notify import WORK


class WorkMessage(BaseModel):
    """Run sub-tasks ``indexes`` of task ``task_id``.

    Everything else (the input, the templates, where outputs go) is read from the task store, so a
    message is tiny, and a redelivered one after the task moved on is recognised and dropped.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    schema_version: int = 1
    task_id: str
    indexes: tuple[int, ...] = Field(min_length=1)


def work_row(task_id: str, indexes: tuple[int, ...], priority: int) -> tuple[EventTarget, JsonDict]:
    """The outbox row that publishes the work message of ``indexes`` (the relay sends it)."""
    message = WorkMessage(task_id=task_id, indexes=indexes).model_dump(mode="json")
    message_id = f"{task_id}:{'+'.join(map(str, indexes))}"
    return EventTarget(WORK, "work"), {"message": message, "priority": priority, "message_id": message_id}
