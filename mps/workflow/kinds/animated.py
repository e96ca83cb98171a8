"""The AnimatedGraphics kind: an animated GIF or WebP of a window of the source."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mps.media.specs import AnimationSpec
from mps.models import AnimatedGraphicResult, AnimatedGraphicsTemplate, AnimatedGraphicTaskInput
from mps.workflow.kind import JsonDict, Kind
from mps.workflow.operations.animated import run_animation

if TYPE_CHECKING:
    from mps.workflow.resolve import SubtaskResolver


def resolve(resolver: SubtaskResolver, item: AnimatedGraphicTaskInput) -> AnimationSpec:
    template = resolver.template(KIND, item.Definition, AnimatedGraphicsTemplate)
    return AnimationSpec(item.Definition, template, item.StartTimeOffset, item.EndTimeOffset)


def summary(output: JsonDict) -> tuple[list[str], str]:
    facts = f"{output['Width']}x{output['Height']} {output['Container']} {output['Size']} B"
    return [output["Path"]], facts


KIND = Kind(
    name="AnimatedGraphics",
    set_name="AnimatedGraphicTaskSet",
    input_model=AnimatedGraphicTaskInput,
    result_field="AnimatedGraphicTask",
    result_class=AnimatedGraphicResult,
    template_family="AnimatedGraphicsTemplateSet",
    activity_type="action-animated-graphics",
    resolve=resolve,
    run=run_animation,
    summary=summary,
)
