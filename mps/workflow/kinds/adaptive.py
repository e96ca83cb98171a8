"""The AdaptiveDynamicStreaming kind: an HLS or DASH ladder of renditions from one decode."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mps.errors import InvalidParameterError
from mps.media.specs import AdaptiveSpec
from mps.models.results import AdaptiveDynamicStreamingResult
from mps.models.tasks import AdaptiveDynamicStreamingTaskInput
from mps.models.templates import AdaptiveDynamicStreamingTemplate
from mps.workflow.kind import JsonDict, Kind
from mps.workflow.operations.adaptive import effective_template, run_adaptive

if TYPE_CHECKING:
    from mps.workflow.resolve import SubtaskResolver


def resolve(resolver: SubtaskResolver, item: AdaptiveDynamicStreamingTaskInput) -> AdaptiveSpec:
    """The template (its ladder replaced by ``StdExtStreamInfos`` when given), and the watermarks
    burned into every rung."""
    template = resolver.template(KIND, item.Definition, AdaptiveDynamicStreamingTemplate)
    kind_of_template = "PureAudio" if template.PureAudio else "Common"
    if item.DefinitionType and item.DefinitionType != kind_of_template:
        raise InvalidParameterError.field(
            "DefinitionType",
            f"template {item.Definition} is a {kind_of_template} template, not {item.DefinitionType}",
        )
    return AdaptiveSpec(
        definition=item.Definition,
        template=effective_template(template, item),
        watermarks=resolver.watermarks(item.WatermarkSet),
        x264_preset=resolver.preset,
    )


def summary(output: JsonDict) -> tuple[list[str], str]:
    return [output["Path"]], f"{output['Package']} ladder"


KIND = Kind(
    name="AdaptiveDynamicStreaming",
    set_name="AdaptiveDynamicStreamingTaskSet",
    input_model=AdaptiveDynamicStreamingTaskInput,
    result_field="AdaptiveDynamicStreamingTask",
    result_class=AdaptiveDynamicStreamingResult,
    template_family="AdaptiveDynamicStreamingTemplateSet",
    activity_type="action-adaptive-substream",
    resolve=resolve,
    run=run_adaptive,
    summary=summary,
    watermarks="any",
)
