"""The Transcode kind: one output file (MP4, HLS, MP3...) from a template or inline parameters."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mps.media.ops.transcode import effective_parameters
from mps.media.specs import TranscodeSpec
from mps.models import RawTranscodeParameter, TranscodeResult, TranscodeTaskInput, TranscodeTemplate
from mps.models.templates import PRESET_CONTEXT
from mps.workflow.kind import JsonDict, Kind
from mps.workflow.operations.transcode import run_transcode

if TYPE_CHECKING:
    from mps.workflow.resolve import SubtaskResolver


def resolve(resolver: SubtaskResolver, item: TranscodeTaskInput) -> TranscodeSpec:
    """The template (or ``RawParameter``) with ``OverrideParameter`` merged in."""
    preset = False
    if item.Definition:
        template = resolver.template(KIND, item.Definition, TranscodeTemplate)
        # A preset's values may lie outside the client's bounds (1020 is MP3 at 320 kbps).
        preset = template.Type == "Preset"
        base = RawTranscodeParameter.model_validate(
            template.model_dump(include=set(RawTranscodeParameter.model_fields)),
            context=PRESET_CONTEXT if preset else None,
        )
    else:
        assert item.RawParameter is not None  # the input model requires it with Definition 0
        base = item.RawParameter
    return TranscodeSpec(
        definition=item.Definition,
        params=effective_parameters(base, item.OverrideParameter, preset=preset),
        watermarks=resolver.watermarks(item.WatermarkSet),
        start=item.StartTimeOffset,
        end=item.EndTimeOffset,
        x264_preset=resolver.preset,
    )


def message_group(item: JsonDict) -> str | None:
    """Transcodes of the whole timeline travel together: one worker decodes once for all of them."""
    return None if item.get("StartTimeOffset") or item.get("EndTimeOffset") else "timeline"


def summary(output: JsonDict) -> tuple[list[str], str]:
    size = f"{output['Width']}x{output['Height']} " if output["Width"] else "audio "
    facts = f"{output['Duration']:.2f}s {output['Bitrate'] // 1000} kb/s {output['Size']} B"
    return [output["Path"]], size + facts


KIND = Kind(
    name="Transcode",
    set_name="TranscodeTaskSet",
    input_model=TranscodeTaskInput,
    result_field="TranscodeTask",
    result_class=TranscodeResult,
    template_family="TranscodeTemplateSet",
    activity_type="action-trans",
    resolve=resolve,
    run=run_transcode,
    summary=summary,
    raw_parameter=True,
    watermarks="any",
    message_group=message_group,
)
