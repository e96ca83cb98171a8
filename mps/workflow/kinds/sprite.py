"""The ImageSprites kind: thumbnail sheets and their WebVTT index."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mps.media.specs import SpriteSpec
from mps.models import ImageSpriteResult, ImageSpriteTaskInput, ImageSpriteTemplate
from mps.workflow.kind import JsonDict, Kind
from mps.workflow.kinds.sample import PICTURES
from mps.workflow.operations.sprite import run_sprite

if TYPE_CHECKING:
    from mps.workflow.resolve import SubtaskResolver


def resolve(resolver: SubtaskResolver, item: ImageSpriteTaskInput) -> SpriteSpec:
    return SpriteSpec(item.Definition, resolver.template(KIND, item.Definition, ImageSpriteTemplate))


def summary(output: JsonDict) -> tuple[list[str], str]:
    sheets = output["ImagePathSet"]
    tiles = f"{len(sheets)} sheets of {output['TotalCount']} tiles {output['Width']}x{output['Height']}"
    return [*sheets, output["WebVttPath"]], tiles


KIND = Kind(
    name="ImageSprites",  # sic: Tencent's tag is plural while the member is ImageSpriteTask
    set_name="ImageSpriteTaskSet",
    input_model=ImageSpriteTaskInput,
    result_field="ImageSpriteTask",
    result_class=ImageSpriteResult,
    template_family="ImageSpriteTemplateSet",
    activity_type="action-image-sprite",
    resolve=resolve,
    run=run_sprite,
    summary=summary,
    message_group=lambda _item: PICTURES,
)
