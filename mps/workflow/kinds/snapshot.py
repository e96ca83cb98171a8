"""The SnapshotByTimeOffset kind: screenshots at given instants (``"3.5s"``, ``"10%"``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mps.media.specs import SnapshotSpec
from mps.media.timing import resolve_offsets
from mps.models import SnapshotByTimeOffsetResult, SnapshotByTimeOffsetTaskInput, SnapshotByTimeOffsetTemplate
from mps.workflow.kind import JsonDict, Kind
from mps.workflow.operations.snapshot import run_snapshot

if TYPE_CHECKING:
    from mps.workflow.resolve import SubtaskResolver


def resolve(resolver: SubtaskResolver, item: SnapshotByTimeOffsetTaskInput) -> SnapshotSpec:
    """Percent offsets become seconds of this source."""
    template = resolver.template(KIND, item.Definition, SnapshotByTimeOffsetTemplate)
    meta = resolver.meta
    times = resolve_offsets(item.ExtTimeOffsetSet, item.TimeOffsetSet, meta.media_duration, fps=meta.fps)
    return SnapshotSpec(item.Definition, template, tuple(times), resolver.watermarks(item.WatermarkSet))


def summary(output: JsonDict) -> tuple[list[str], str]:
    pictures = output["PicInfoSet"]
    return [picture["Path"] for picture in pictures], f"{len(pictures)} images"


KIND = Kind(
    name="SnapshotByTimeOffset",
    set_name="SnapshotByTimeOffsetTaskSet",
    input_model=SnapshotByTimeOffsetTaskInput,
    result_field="SnapshotByTimeOffsetTask",
    result_class=SnapshotByTimeOffsetResult,
    template_family="SnapshotByTimeOffsetTemplateSet",
    activity_type="action-snapshotByTimeOffset",
    resolve=resolve,
    run=run_snapshot,
    summary=summary,
    watermarks="image",
)
