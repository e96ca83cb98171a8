"""What travels on the work queue: which sub-tasks of which task to run. Frozen and versioned."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class WorkMessage(BaseModel):
    """Run sub-tasks ``indexes`` of task ``task_id``.

    Everything else (the input, the templates, where outputs go) is read from the task store, so a
    message is tiny, and a redelivered one after the task moved on is recognised and dropped.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    schema_version: int = 1
    task_id: str
    indexes: tuple[int, ...] = Field(min_length=1)
