"""The SampleSnapshot kind: screenshots at a regular interval set by the template."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mps.media.specs import SampleSpec
from mps.models import SampleSnapshotResult, SampleSnapshotTaskInput, SampleSnapshotTemplate
from mps.workflow.kind import JsonDict, Kind
from mps.workflow.operations.sample import run_sample

if TYPE_CHECKING:
    from mps.workflow.resolve import SubtaskResolver

#: The work message that sampled snapshots and sprites of one task share (:mod:`mps.media.plan`
#: gives them one decode when either decodes the timeline).
PICTURES = "pictures"


def resolve(resolver: SubtaskResolver, item: SampleSnapshotTaskInput) -> SampleSpec:
    template = resolver.template(KIND, item.Definition, SampleSnapshotTemplate)
    return SampleSpec(item.Definition, template, resolver.watermarks(item.WatermarkSet))


def summary(output: JsonDict) -> tuple[list[str], str]:
    paths = list(output["ImagePathSet"])
    return paths, f"{len(paths)} images every {output['Interval']}"


KIND = Kind(
    name="SampleSnapshot",
    set_name="SampleSnapshotTaskSet",
    input_model=SampleSnapshotTaskInput,
    result_field="SampleSnapshotTask",
    result_class=SampleSnapshotResult,
    template_family="SampleSnapshotTemplateSet",
    activity_type="action-samplesnapshot",
    resolve=resolve,
    run=run_sample,
    summary=summary,
    watermarks="image",
    message_group=lambda _item: PICTURES,
)
